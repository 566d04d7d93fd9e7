//! `MockResolver`: a [`Resolver`] answering from a map, for unit tests of the code that uses DNS
//! (delivery evidence, the MX walk). No I/O, no clock.
//!
//! Semantics follow a real zone: a name with records of some type but not the one asked for
//! gives NODATA; a name with none at all gives NXDOMAIN; an injected error is returned as is.
//! Every query is logged so tests can assert what was (not) asked.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use super::{Error, RecordType, Records, Resolver, normalize_name};

/// A map-based resolver.
#[derive(Debug, Default)]
pub struct MockResolver {
    answers: HashMap<(String, RecordType), Result<Records, Error>>,
    log: RefCell<Vec<(String, RecordType)>>,
}

impl MockResolver {
    /// A resolver that knows no names.
    pub fn new() -> MockResolver {
        MockResolver::default()
    }

    /// Adds records for `name` (their type is the key; MX records are sorted as a real lookup
    /// would).
    pub fn with(mut self, name: &str, records: Records) -> MockResolver {
        let records = match records {
            Records::Mx(mut v) => {
                v.sort();
                Records::Mx(v)
            }
            other => other,
        };
        let key = (key_name(name), records.record_type());
        self.answers.insert(key, Ok(records));
        self
    }

    /// Makes lookups of (`name`, `rtype`) fail with `error` (e.g. `Error::ServFail`).
    pub fn with_error(mut self, name: &str, rtype: RecordType, error: Error) -> MockResolver {
        self.answers.insert((key_name(name), rtype), Err(error));
        self
    }

    /// The queries made so far, in order, with normalized names.
    pub fn queries(&self) -> Vec<(String, RecordType)> {
        self.log.borrow().clone()
    }

    fn answer(&self, name: &str, rtype: RecordType) -> Result<Records, Error> {
        let name = normalize_name(name)?;
        self.log.borrow_mut().push((name.clone(), rtype));
        if let Some(a) = self.answers.get(&(name.clone(), rtype)) {
            return a.clone();
        }
        if self.answers.keys().any(|(n, _)| *n == name) {
            Err(Error::NoRecords)
        } else {
            Err(Error::NxDomain)
        }
    }
}

fn key_name(name: &str) -> String {
    normalize_name(name).unwrap_or_else(|_| name.to_ascii_lowercase())
}

impl Resolver for MockResolver {
    fn query(&self, name: &str, rtype: RecordType) -> impl Future<Output = Result<Records, Error>> {
        let result = self.answer(name, rtype);
        async move { result }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Mx;
    use futures_lite::future::block_on;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn answers_nodata_nxdomain_and_injected_errors() {
        let m = MockResolver::new()
            .with(
                "Example.ORG.",
                Records::A(vec![Ipv4Addr::new(192, 0, 2, 1)]),
            )
            .with(
                "example.org",
                Records::Mx(vec![
                    Mx {
                        preference: 20,
                        exchange: "b.example.org".into(),
                    },
                    Mx {
                        preference: 10,
                        exchange: "a.example.org".into(),
                    },
                ]),
            )
            .with_error("broken.example", RecordType::Txt, Error::ServFail)
            .with(
                "1.2.0.192.in-addr.arpa",
                Records::Ptr(vec!["host.example.org".into()]),
            );
        assert_eq!(
            block_on(m.a("EXAMPLE.org")),
            Ok(vec![Ipv4Addr::new(192, 0, 2, 1)])
        );
        assert_eq!(block_on(m.mx("example.org")).unwrap()[0].preference, 10);
        assert_eq!(block_on(m.aaaa("example.org")), Err(Error::NoRecords));
        assert_eq!(block_on(m.txt("nowhere.example")), Err(Error::NxDomain));
        assert_eq!(block_on(m.txt("broken.example")), Err(Error::ServFail));
        assert_eq!(block_on(m.a("bad..name")), Err(Error::InvalidName));
        assert_eq!(
            block_on(m.ptr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))),
            Ok(vec!["host.example.org".to_string()])
        );
        assert_eq!(m.queries()[0], ("example.org".to_string(), RecordType::A));
        assert_eq!(m.queries().len(), 6);
    }
}
