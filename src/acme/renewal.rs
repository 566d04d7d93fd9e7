//! When a certificate is due: read the certificate in use and decide whether to order a new one.
//!
//! Owns: the little X.509 reading this needs (validity end, whether issuer equals subject; RFC
//! 5280 §4.1, with yasna's DER reader) and the decision ([`due`]), which is pure: the file read
//! happens in [`check_blocking`], on the blocking pool.
//!
//! Invariants: a certificate that cannot be read counts as due (replacing it is the safe move);
//! an operator's certificate that is neither self-signed nor near expiry is left alone unless it
//! is one we obtained for other names.

use std::path::Path;

/// What the leaf certificate says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertInfo {
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Issuer and subject are the same name (self-signed, or self-issued).
    pub self_issued: bool,
}

fn read_time(r: yasna::BERReader<'_, '_>) -> yasna::ASN1Result<i64> {
    if r.lookahead_tag()? == yasna::tags::TAG_UTCTIME {
        Ok(r.read_utctime()?.datetime().unix_timestamp())
    } else {
        Ok(r.read_generalized_time()?.datetime().unix_timestamp())
    }
}

/// Reads validity and names from a DER certificate (RFC 5280 §4.1).
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let info = r.next().read_sequence(|tbs| {
                // version [0] EXPLICIT, serialNumber, signature
                tbs.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_der()))?;
                tbs.next().read_der()?;
                tbs.next().read_der()?;
                let issuer = tbs.next().read_der()?;
                let not_after = tbs.next().read_sequence(|v| {
                    read_time(v.next())?;
                    read_time(v.next())
                })?;
                let subject = tbs.next().read_der()?;
                tbs.next().read_der()?; // subjectPublicKeyInfo
                // issuerUniqueID [1], subjectUniqueID [2], extensions [3]
                while tbs.read_optional(|r| r.read_der())?.is_some() {}
                Ok(CertInfo {
                    not_after,
                    self_issued: issuer == subject,
                })
            })?;
            r.next().read_der()?; // signatureAlgorithm
            r.next().read_der()?; // signatureValue
            Ok(info)
        })
    })
    .ok()
}

/// Whether to order now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Order now, for this reason.
    Now(String),
    /// Nothing to do until this Unix time.
    At(i64),
}

/// The decision, from the leaf of the certificate in use (`None`: only the self-signed pair
/// exists), the names wanted, the names we last obtained a certificate for (`None`: we never
/// did, so an existing certificate is the operator's), the renewal margin and the time.
pub fn due(
    leaf: Option<&[u8]>,
    names: &[String],
    issued_for: Option<&[String]>,
    renew_secs: i64,
    now: i64,
) -> Due {
    let Some(der) = leaf else {
        return Due::Now("only the self-signed certificate exists".into());
    };
    let Some(info) = cert_info(der) else {
        return Due::Now("the certificate in DATA/tls/cert.pem cannot be read".into());
    };
    if info.self_issued {
        return Due::Now("the certificate in use is self-signed".into());
    }
    if info.not_after - now <= renew_secs {
        let days = (info.not_after - now).div_euclid(86_400);
        return Due::Now(format!("the certificate expires in {days} days"));
    }
    if issued_for.is_some_and(|had| had != names) {
        return Due::Now(format!("the names changed to {}", names.join(",")));
    }
    Due::At(info.not_after - renew_secs)
}

/// Reads the certificate in use (blocking) and decides.
pub fn check_blocking(
    data: &Path,
    names: &[String],
    issued_for: Option<&[String]>,
    renew_secs: i64,
    now: i64,
) -> Due {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let files = crate::tls::current_files(data);
    let ours = files.cert == crate::tls::tls_dir(data).join("cert.pem");
    let leaf = if ours {
        let first = CertificateDer::pem_file_iter(&files.cert)
            .ok()
            .and_then(|mut it| it.next())
            .and_then(Result::ok);
        match first {
            Some(c) => Some(c.as_ref().to_vec()),
            None => return Due::Now("DATA/tls/cert.pem holds no certificate".into()),
        }
    } else {
        None
    };
    due(leaf.as_deref(), names, issued_for, renew_secs, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(self_signed: bool, days: i64) -> Vec<u8> {
        let now = crate::time::unix_now() as i64;
        let mut params = rcgen::CertificateParams::new(vec!["mail.example.test".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(1970, 1, 1)
            + std::time::Duration::from_secs((now + days * 86_400) as u64);
        let key = rcgen::KeyPair::generate().unwrap();
        if self_signed {
            return params.self_signed(&key).unwrap().der().to_vec();
        }
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Test CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        params.signed_by(&key, &issuer).unwrap().der().to_vec()
    }

    #[test]
    fn reads_validity_and_self_issuance() {
        let now = crate::time::unix_now() as i64;
        let c = cert(false, 90);
        let info = cert_info(&c).unwrap();
        assert!(!info.self_issued);
        assert!((info.not_after - (now + 90 * 86_400)).abs() < 5);
        assert!(cert_info(&cert(true, 90)).unwrap().self_issued);
        assert_eq!(cert_info(b"not a certificate"), None);
        assert_eq!(cert_info(&c[..c.len() - 1]), None);
    }

    #[test]
    fn decides_when_to_order() {
        let now = crate::time::unix_now() as i64;
        let names = vec!["mail.example.test".to_string()];
        let month = 30 * 86_400;
        assert!(matches!(due(None, &names, None, month, now), Due::Now(_)));
        assert!(matches!(
            due(Some(b"junk"), &names, None, month, now),
            Due::Now(_)
        ));
        let self_signed = cert(true, 365);
        assert!(
            matches!(due(Some(&self_signed), &names, None, month, now), Due::Now(w) if w.contains("self-signed"))
        );
        let soon = cert(false, 10);
        assert!(
            matches!(due(Some(&soon), &names, None, month, now), Due::Now(w) if w.contains("expires in"))
        );
        let fresh = cert(false, 90);
        match due(Some(&fresh), &names, Some(&names), month, now) {
            Due::At(t) => assert!((t - (now + 60 * 86_400)).abs() < 5),
            other => panic!("{other:?}"),
        }
        // An operator's certificate is left alone; ours is replaced when the names change.
        assert!(matches!(
            due(Some(&fresh), &names, None, month, now),
            Due::At(_)
        ));
        let other = vec!["other.example.test".to_string()];
        assert!(
            matches!(due(Some(&fresh), &names, Some(&other), month, now), Due::Now(w) if w.contains("names"))
        );
    }
}
