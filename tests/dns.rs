//! The real `StubResolver` against the in-process test DNS server (`mailnook::dns::testserver`)
//! on loopback: record types, MX rules (RFC 5321 §5.1 implicit MX, RFC 7505 null MX), NXDOMAIN
//! versus NODATA, CNAME chains, TC → TCP fallback, retries across servers, timeouts, answers with
//! a wrong ID or from a wrong port, and the cache (positive and negative) counted at the server.
//!
//! Each test starts its own server on a free port, so tests run in parallel. Timing assertions are
//! lower bounds only (timers never fire early).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::block_on;
use mailnook::dns::stub::{Options, StubResolver};
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use mailnook::dns::{Error, MailRoute, Mx, RecordType, Records, Resolver, mail_route};

fn zone() -> Zone {
    let mut z = Zone::new()
        .add(
            "example.test",
            TestRecord::Mx(20, "mx2.example.test".into()),
        )
        .add("example.test", TestRecord::Mx(5, "mx0.example.test".into()))
        .add(
            "example.test",
            TestRecord::Mx(10, "mx1.example.test".into()),
        )
        .add(
            "example.test",
            TestRecord::Txt(vec!["v=spf1 ".into(), "ip4:192.0.2.0/24 -all".into()]),
        )
        .add(
            "example.test",
            TestRecord::Txt(vec!["second record".into()]),
        )
        .add("null.test", TestRecord::Mx(0, ".".into()))
        .add("null.test", TestRecord::A(Ipv4Addr::new(192, 0, 2, 99)))
        .add("nomx.test", TestRecord::A(Ipv4Addr::new(192, 0, 2, 10)))
        .add("host.test", TestRecord::A(Ipv4Addr::new(192, 0, 2, 1)))
        .add(
            "host.test",
            TestRecord::Aaaa("2001:db8::1".parse().unwrap()),
        )
        .add("alias.test", TestRecord::Cname("alias2.test".into()))
        .add("alias2.test", TestRecord::Cname("host.test".into()))
        .add(
            "1.2.0.192.in-addr.arpa",
            TestRecord::Ptr("host.test".into()),
        );
    // Enough addresses that the answer (~600 octets) would not fit in 512-octet UDP anyway.
    for i in 0..40 {
        z = z.add("big.test", TestRecord::A(Ipv4Addr::new(198, 51, 100, i)));
    }
    z
}

fn options() -> Options {
    Options {
        timeout: Duration::from_millis(700),
        attempts: 1,
        ..Options::default()
    }
}

fn start() -> TestServer {
    TestServer::start(zone()).expect("test DNS server")
}

fn resolver(servers: &[&TestServer], options: Options) -> StubResolver {
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr()).collect();
    StubResolver::with_servers(addrs, options)
}

fn mx(preference: u16, exchange: &str) -> Mx {
    Mx {
        preference,
        exchange: exchange.into(),
    }
}

#[test]
fn mx_records_come_sorted_by_preference() {
    let s = start();
    let r = resolver(&[&s], options());
    let got = block_on(r.mx("Example.TEST.")).unwrap();
    assert_eq!(
        got,
        vec![
            mx(5, "mx0.example.test"),
            mx(10, "mx1.example.test"),
            mx(20, "mx2.example.test")
        ]
    );
    assert_eq!(
        block_on(mail_route(&r, "example.test")),
        Ok(MailRoute::Exchanges(got))
    );
}

#[test]
fn null_mx_is_detected() {
    let s = start();
    let r = resolver(&[&s], options());
    assert_eq!(block_on(r.mx("null.test")), Ok(vec![mx(0, ".")]));
    assert_eq!(block_on(mail_route(&r, "null.test")), Ok(MailRoute::NullMx));
}

#[test]
fn no_mx_is_nodata_and_means_implicit_mx_but_nxdomain_is_not() {
    let s = start();
    let r = resolver(&[&s], options());
    assert_eq!(block_on(r.mx("nomx.test")), Err(Error::NoRecords));
    assert_eq!(
        block_on(mail_route(&r, "nomx.test")),
        Ok(MailRoute::Implicit)
    );
    assert_eq!(
        block_on(r.a("nomx.test")),
        Ok(vec![Ipv4Addr::new(192, 0, 2, 10)])
    );
    let nx = block_on(r.mx("nowhere.test")).unwrap_err();
    assert_eq!(nx, Error::NxDomain);
    assert!(!nx.is_temporary());
    assert_eq!(
        block_on(mail_route(&r, "nowhere.test")),
        Err(Error::NxDomain)
    );
}

#[test]
fn a_and_aaaa() {
    let s = start();
    let r = resolver(&[&s], options());
    assert_eq!(
        block_on(r.a("host.test")),
        Ok(vec![Ipv4Addr::new(192, 0, 2, 1)])
    );
    assert_eq!(
        block_on(r.aaaa("host.test")),
        Ok(vec!["2001:db8::1".parse::<Ipv6Addr>().unwrap()])
    );
    assert_eq!(block_on(r.aaaa("nomx.test")), Err(Error::NoRecords));
}

#[test]
fn txt_strings_are_joined_per_record() {
    let s = start();
    let r = resolver(&[&s], options());
    let mut got = block_on(r.txt("example.test")).unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            "second record".to_string(),
            "v=spf1 ip4:192.0.2.0/24 -all".to_string()
        ]
    );
}

#[test]
fn ptr_lookup() {
    let s = start();
    let r = resolver(&[&s], options());
    assert_eq!(
        block_on(r.ptr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))),
        Ok(vec!["host.test".to_string()])
    );
    assert_eq!(
        block_on(r.ptr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)))),
        Err(Error::NxDomain)
    );
}

#[test]
fn cname_chain_is_followed() {
    let s = start();
    let r = resolver(&[&s], options());
    assert_eq!(
        block_on(r.a("alias.test")),
        Ok(vec![Ipv4Addr::new(192, 0, 2, 1)])
    );
    assert_eq!(block_on(r.mx("alias.test")), Err(Error::NoRecords));
}

#[test]
fn truncated_udp_answer_is_retried_over_tcp() {
    let s = start();
    s.truncate_udp(true);
    let r = resolver(&[&s], options());
    let got = block_on(r.a("big.test")).unwrap();
    assert_eq!(got.len(), 40);
    assert_eq!(got[39], Ipv4Addr::new(198, 51, 100, 39));
    assert_eq!((s.udp_queries(), s.tcp_queries()), (1, 1));
}

#[test]
fn silent_first_server_is_skipped_for_the_second() {
    let dead = start();
    dead.drop_queries(true);
    let live = start();
    let r = resolver(&[&dead, &live], options());
    assert_eq!(
        block_on(r.a("host.test")),
        Ok(vec![Ipv4Addr::new(192, 0, 2, 1)])
    );
    assert_eq!(dead.udp_queries(), 1);
    assert_eq!(live.udp_queries(), 1);
}

#[test]
fn timeouts_are_temporary_and_every_try_is_made() {
    let dead = start();
    dead.drop_queries(true);
    let r = resolver(
        &[&dead],
        Options {
            timeout: Duration::from_millis(200),
            attempts: 2,
            ..Options::default()
        },
    );
    let t0 = Instant::now();
    let err = block_on(r.mx("example.test")).unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(err.is_temporary());
    assert!(t0.elapsed() >= Duration::from_millis(400));
    assert_eq!(dead.udp_queries(), 2);
}

#[test]
fn servfail_is_temporary_and_not_cached() {
    let s = start();
    s.servfail(true);
    let r = resolver(&[&s], options());
    let err = block_on(r.a("host.test")).unwrap_err();
    assert_eq!(err, Error::ServFail);
    assert!(err.is_temporary());
    s.servfail(false);
    assert!(block_on(r.a("host.test")).is_ok());
    assert_eq!(s.udp_queries(), 2);
}

#[test]
fn answer_with_wrong_id_is_ignored() {
    let s = start();
    s.bogus_id_first(true);
    let r = resolver(&[&s], options());
    // A SERVFAIL with the right question but a wrong ID arrives first; taking it would fail the
    // lookup (attempts is 1).
    assert_eq!(block_on(r.mx("example.test")).unwrap().len(), 3);
    assert_eq!(block_on(r.a("nomx.test")).unwrap().len(), 1);
    assert_eq!(s.udp_queries(), 2);
}

#[test]
fn answer_from_another_port_is_ignored() {
    let s = start();
    s.spoof_source_first(true);
    let r = resolver(&[&s], options());
    assert_eq!(block_on(r.mx("example.test")).unwrap().len(), 3);
    assert_eq!(s.udp_queries(), 1);
}

#[test]
fn cache_hit_avoids_a_second_query() {
    let s = start();
    let r = resolver(&[&s], options());
    let first = block_on(r.mx("example.test")).unwrap();
    let second = block_on(r.mx("EXAMPLE.test.")).unwrap();
    assert_eq!(first, second);
    assert_eq!(s.udp_queries(), 1);
    // Another type is another key.
    block_on(r.txt("example.test")).unwrap();
    assert_eq!(s.udp_queries(), 2);
}

#[test]
fn negative_answers_are_cached() {
    let s = start();
    let r = resolver(&[&s], options());
    for _ in 0..3 {
        assert_eq!(block_on(r.a("nowhere.test")), Err(Error::NxDomain));
        assert_eq!(block_on(r.mx("host.test")), Err(Error::NoRecords));
    }
    assert_eq!(s.udp_queries(), 2);
}

#[test]
fn lookups_run_concurrently_on_a_local_executor() {
    let s = start();
    let r = Rc::new(resolver(&[&s], options()));
    let ex = LocalExecutor::new();
    let tasks: Vec<_> = ["host.test", "nomx.test", "alias.test"]
        .into_iter()
        .map(|name| {
            let r = r.clone();
            ex.spawn(async move { r.query(name, RecordType::A).await })
        })
        .collect();
    let results = block_on(ex.run(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    }));
    assert_eq!(
        results,
        vec![
            Ok(Records::A(vec![Ipv4Addr::new(192, 0, 2, 1)])),
            Ok(Records::A(vec![Ipv4Addr::new(192, 0, 2, 10)])),
            Ok(Records::A(vec![Ipv4Addr::new(192, 0, 2, 1)])),
        ]
    );
}
