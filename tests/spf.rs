//! SPF (RFC 7208) checks against `MockResolver` zones: the Appendix A examples, the test vectors of
//! the openspf.org RFC 7208 test suite (release 2014.04, `rfc7208-tests.yml`), transcribed as
//! zone/case tables, processing limits and outcome details; and one check through the real
//! `StubResolver` against the in-process test DNS server on loopback.
//!
//! Suite conventions kept by [`zone`]: `SPF` entries are served as TXT records unless the name
//! has TXT entries of its own (or `TXT-NONE`), since RFC 7208 dropped the SPF RR type; `TIMEOUT`
//! makes every other query for the name time out. Where the suite allows several results, any
//! of them passes. Explanations are compared ignoring ASCII case (the suite writes IPv6 nibbles
//! in uppercase); `DEFAULT` means "no explanation from the domain".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use futures_lite::future::block_on;
use mailnook::dns::mock::MockResolver;
use mailnook::dns::{Error, Mx, RecordType, Records};
use mailnook::spf::{Limits, SpfOutcome, SpfResult, check_host, verify_helo, verify_mail_from};

/// Builds a resolver from lines `name TYPE value` (TYPE: A, AAAA, MX "pref host", PTR, TXT,
/// SPF, TXT-NONE, TIMEOUT).
fn zone(text: &str) -> MockResolver {
    let mut names: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut it = line.splitn(3, ' ');
        let name = it.next().unwrap().to_ascii_lowercase();
        let ty = it.next().expect("type").to_string();
        let value = it.next().unwrap_or("").to_string();
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push((ty, value)),
            None => names.push((name, vec![(ty, value)])),
        }
    }
    let mut m = MockResolver::new();
    for (name, recs) in &names {
        let of = |t: &str| -> Vec<&String> {
            recs.iter()
                .filter(|(ty, _)| ty == t)
                .map(|(_, v)| v)
                .collect()
        };
        let a: Vec<Ipv4Addr> = of("A").iter().map(|v| v.parse().unwrap()).collect();
        let aaaa: Vec<Ipv6Addr> = of("AAAA").iter().map(|v| v.parse().unwrap()).collect();
        let mx: Vec<Mx> = of("MX")
            .iter()
            .map(|v| {
                let (p, x) = v.split_once(' ').unwrap();
                Mx {
                    preference: p.parse().unwrap(),
                    exchange: root_if_empty(x.trim_end_matches('.').to_ascii_lowercase()),
                }
            })
            .collect();
        let ptr: Vec<String> = of("PTR")
            .iter()
            .map(|v| v.trim_end_matches('.').to_string())
            .collect();
        let mut txt: Vec<String> = of("TXT").into_iter().cloned().collect();
        if txt.is_empty() && of("TXT-NONE").is_empty() {
            txt = of("SPF").into_iter().cloned().collect();
        }
        let timeout = !of("TIMEOUT").is_empty();
        let mut have = Vec::new();
        if !a.is_empty() {
            m = m.with(name, Records::A(a));
            have.push(RecordType::A);
        }
        if !aaaa.is_empty() {
            m = m.with(name, Records::Aaaa(aaaa));
            have.push(RecordType::Aaaa);
        }
        if !mx.is_empty() {
            m = m.with(name, Records::Mx(mx));
            have.push(RecordType::Mx);
        }
        if !ptr.is_empty() {
            m = m.with(name, Records::Ptr(ptr));
            have.push(RecordType::Ptr);
        }
        if !txt.is_empty() {
            m = m.with(name, Records::Txt(txt));
            have.push(RecordType::Txt);
        }
        if timeout {
            for t in [
                RecordType::A,
                RecordType::Aaaa,
                RecordType::Mx,
                RecordType::Ptr,
                RecordType::Txt,
            ] {
                if !have.contains(&t) {
                    m = m.with_error(name, t, Error::Timeout);
                }
            }
        }
    }
    m
}

/// An exchange of "." (or nothing) is the root (null MX).
fn root_if_empty(x: String) -> String {
    if x.is_empty() { ".".into() } else { x }
}

fn parse_result(s: &str) -> SpfResult {
    match s {
        "pass" => SpfResult::Pass,
        "fail" => SpfResult::Fail,
        "softfail" => SpfResult::SoftFail,
        "neutral" => SpfResult::Neutral,
        "none" => SpfResult::None,
        "temperror" => SpfResult::TempError,
        "permerror" => SpfResult::PermError,
        other => panic!("unknown result {other}"),
    }
}

/// Runs cases, one per line: `name|helo|host|mailfrom|result[,result]|explanation`.
fn suite(zone_text: &str, cases: &str) {
    let m = zone(zone_text);
    let mut failures = Vec::new();
    for line in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        assert!(f.len() >= 5, "bad case line {line}");
        let (name, helo, host, mailfrom) = (f[0], f[1], f[2], f[3]);
        let want: Vec<SpfResult> = f[4].split(',').map(parse_result).collect();
        let ip: IpAddr = host.parse().unwrap();
        let got = block_on(verify_mail_from(&m, ip, mailfrom, helo, &Limits::default()));
        if !want.contains(&got.result) {
            failures.push(format!("{name}: want {:?}, got {got:?}", f[4]));
            continue;
        }
        if let Some(exp) = f.get(5) {
            let ok = match (*exp, &got.explanation) {
                ("DEFAULT", None) => true,
                (e, Some(g)) => e.eq_ignore_ascii_case(g),
                _ => false,
            };
            if !ok {
                failures.push(format!("{name}: want explanation {exp:?}, got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn suite_initial_processing() {
    suite(
        "example.com TIMEOUT
         example.net SPF v=spf1 -all exp=exp.example.net
         a.example.net SPF v=spf1 -all exp=exp.example.net
         exp.example.net TXT %{l}
         a12345678901234567890123456789012345678901234567890123456789012.example.com SPF v=spf1 -all
         hosed.example.com SPF v=spf1 a:\u{feff}garbage.example.net -all
         hosed2.example.com SPF v=spf1 \u{80}a:example.net -all
         hosed3.example.com SPF v=spf1 a:example.net \u{96}all
         nothosed.example.com SPF v=spf1 a:example.net -all
         nothosed.example.com SPF \u{96}
         ctrl.example.com SPF v=spf1 a:ctrl.example.com\rptr -all
         ctrl.example.com A 192.0.2.3
         fine.example.com TXT v=spf1 a  -all",
        "toolonglabel|mail.example.net|1.2.3.5|lyme.eater@A123456789012345678901234567890123456789012345678901234567890123.example.com|none
         longlabel|mail.example.net|1.2.3.5|lyme.eater@A12345678901234567890123456789012345678901234567890123456789012.example.com|fail
         emptylabel|mail.example.net|1.2.3.5|lyme.eater@A...example.com|none
         helo-not-fqdn|A2345678|1.2.3.5||none
         helo-domain-literal|[1.2.3.5]|1.2.3.5||none
         nolocalpart|mail.example.net|1.2.3.4|@example.net|fail|postmaster
         domain-literal|OEMCOMPUTER|1.2.3.5|foo@[1.2.3.5]|none
         non-ascii-policy|hosed|1.2.3.4|foobar@hosed.example.com|permerror
         non-ascii-mech|hosed|1.2.3.4|foobar@hosed2.example.com|permerror
         non-ascii-result|hosed|1.2.3.4|foobar@hosed3.example.com|permerror
         non-ascii-non-spf|hosed|1.2.3.4|foobar@nothosed.example.com|fail|DEFAULT
         control-char-policy|hosed|192.0.2.3|foobar@ctrl.example.com|permerror
         two-spaces|hosed|1.2.3.4|actually@fine.example.com|fail",
    );
}

#[test]
fn suite_record_lookup_and_selection() {
    suite(
        "both.example.net TXT v=spf1 -all
         both.example.net SPF v=spf1 -all
         txtonly.example.net TXT v=spf1 -all
         spfonly.example.net SPF v=spf1 -all
         spfonly.example.net TXT-NONE
         spftimeout.example.net TXT v=spf1 -all
         spftimeout.example.net TIMEOUT
         txttimeout.example.net SPF v=spf1 -all
         txttimeout.example.net TXT-NONE
         txttimeout.example.net TIMEOUT
         nospftxttimeout.example.net SPF v=spf3 !a:yahoo.com -all
         nospftxttimeout.example.net TXT-NONE
         nospftxttimeout.example.net TIMEOUT
         alltimeout.example.net TIMEOUT
         example3.com SPF v=spf10
         example3.com SPF v=spf1 mx
         example3.com MX 0 mail.example1.com
         example1.com SPF v=spf1
         example2.com SPF v=spf1mx
         mail.example1.com A 1.2.3.4
         example4.com SPF v=spf1 +all
         example4.com TXT v=spf1 -all
         example5.com SPF v=spf1 +all
         example5.com TXT v=spf1 -all
         example5.com TXT v=spf1 +all
         example6.com SPF v=spf1 -all
         example6.com SPF V=sPf1 +all
         example7.com SPF v=spf1 -all
         example7.com SPF v=spf1 -all
         example8.com SPF V=spf1 -all
         example8.com SPF v=spf1 -all
         example8.com TXT v=spf1 +all
         example9.com SPF v=SpF1 ~all",
        "both|mail.example.net|1.2.3.4|foo@both.example.net|fail
         txtonly|mail.example.net|1.2.3.4|foo@txtonly.example.net|fail
         spfonly|mail.example.net|1.2.3.4|foo@spfonly.example.net|none
         spftimeout|mail.example.net|1.2.3.4|foo@spftimeout.example.net|fail
         txttimeout|mail.example.net|1.2.3.4|foo@txttimeout.example.net|temperror
         nospftxttimeout|mail.example.net|1.2.3.4|foo@nospftxttimeout.example.net|temperror
         alltimeout|mail.example.net|1.2.3.4|foo@alltimeout.example.net|temperror
         nospace1|mail.example1.com|1.2.3.4|foo@example2.com|none
         empty|mail1.example1.com|1.2.3.4|foo@example1.com|neutral
         nospace2|mail.example1.com|1.2.3.4|foo@example3.com|pass
         spfoverride|mail.example1.com|1.2.3.4|foo@example4.com|fail
         multitxt1|mail.example1.com|1.2.3.4|foo@example5.com|permerror
         multitxt2|mail.example1.com|1.2.3.4|foo@example6.com|permerror
         multispf1|mail.example1.com|1.2.3.4|foo@example7.com|permerror,fail
         multispf2|mail.example1.com|1.2.3.4|foo@example8.com|pass
         nospf|mail.example1.com|1.2.3.4|foo@mail.example1.com|none
         case-insensitive|mail.example1.com|1.2.3.4|foo@example9.com|softfail",
    );
}

#[test]
fn suite_record_evaluation_and_all() {
    suite(
        "mail.example.com A 1.2.3.4
         t1.example.com SPF v=spf1 ip4:1.2.3.4 -all moo
         t2.example.com SPF v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all
         t3.example.com SPF v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all
         t4.example.com SPF v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all
         t5.example.com SPF v=spf1 redirect=t5.example.com ~all
         t6.example.com SPF v=spf1 ip4:1.2.3.4 redirect=t2.example.com
         t7.example.com SPF v=spf1 ip4:1.2.3.4
         t8.example.com SPF v=spf1 ip4:1.2.3.4 redirect:t2.example.com
         t9.example.com SPF v=spf1 a:foo-bar -all
         t10.example.com SPF v=spf1 a:mail.example...com -all
         t11.example.com SPF v=spf1 a:a123456789012345678901234567890123456789012345678901234567890123.example.com -all
         t12.example.com SPF v=spf1 a:%{H}.bar -all
         e1.example.com SPF v=spf1 -all.
         e2.example.com SPF v=spf1 -all:foobar
         e3.example.com SPF v=spf1 -all/8
         e4.example.com SPF v=spf1 ?all
         e5.example.com SPF v=spf1 all -all",
        "detect-errors-anywhere|mail.example.com|1.2.3.4|foo@t1.example.com|permerror
         modifier-charset-good|mail.example.com|1.2.3.4|foo@t2.example.com|pass
         modifier-charset-bad1|mail.example.com|1.2.3.4|foo@t3.example.com|permerror
         modifier-charset-bad2|mail.example.com|1.2.3.4|foo@t4.example.com|permerror
         redirect-after-mechanisms1|mail.example.com|1.2.3.4|foo@t5.example.com|softfail
         redirect-after-mechanisms2|mail.example.com|1.2.3.5|foo@t6.example.com|fail
         default-result|mail.example.com|1.2.3.5|foo@t7.example.com|neutral
         redirect-is-modifier|mail.example.com|1.2.3.4|foo@t8.example.com|permerror
         invalid-domain|mail.example.com|1.2.3.4|foo@t9.example.com|permerror
         invalid-domain-empty-label|mail.example.com|1.2.3.4|foo@t10.example.com|fail,permerror
         invalid-domain-long|mail.example.com|1.2.3.4|foo@t11.example.com|fail,permerror
         invalid-domain-long-via-macro|%%%%%%%%%%%%%%%%%%%%%%|1.2.3.4|foo@t12.example.com|fail,permerror
         all-dot|mail.example.com|1.2.3.4|foo@e1.example.com|permerror
         all-arg|mail.example.com|1.2.3.4|foo@e2.example.com|permerror
         all-cidr|mail.example.com|1.2.3.4|foo@e3.example.com|permerror
         all-neutral|mail.example.com|1.2.3.4|foo@e4.example.com|neutral
         all-double|mail.example.com|1.2.3.4|foo@e5.example.com|pass",
    );
}

#[test]
fn suite_ptr() {
    suite(
        "mail.example.com A 1.2.3.4
         mail.example.com AAAA 2001:db8::1
         e1.example.com SPF v=spf1 ptr/0 -all
         e2.example.com SPF v=spf1 ptr:example.com -all
         4.3.2.1.in-addr.arpa PTR e3.example.com
         4.3.2.1.in-addr.arpa PTR e4.example.com
         4.3.2.1.in-addr.arpa PTR mail.example.com
         1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa PTR e3.example.com
         1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.D.0.1.0.0.2.ip6.arpa PTR mail.Example.com
         e3.example.com SPF v=spf1 ptr -all
         e3.example.com A 1.2.3.4
         e3.example.com AAAA CAFE:BABE::1
         e4.example.com SPF v=spf1 ptr -all
         e5.example.com SPF v=spf1 ptr:
         e6.example.com SPF v=spf1 ptr:example.Com -all",
        "ptr-cidr|mail.example.com|1.2.3.4|foo@e1.example.com|permerror
         ptr-match-target|mail.example.com|1.2.3.4|foo@e2.example.com|pass
         ptr-match-implicit|mail.example.com|1.2.3.4|foo@e3.example.com|pass
         ptr-nomatch-invalid|mail.example.com|1.2.3.4|foo@e4.example.com|fail
         ptr-match-ip6|mail.example.com|CAFE:BABE::1|foo@e3.example.com|pass
         ptr-empty-domain|mail.example.com|1.2.3.4|foo@e5.example.com|permerror
         ptr-case-change|mail.example.com|2001:db8::1|bar@e6.example.com|pass",
    );
}

#[test]
fn suite_a() {
    suite(
        "mail.example.com A 1.2.3.4
         e1.example.com SPF v=spf1 a/0 -all
         e2.example.com A 1.1.1.1
         e2.example.com AAAA 1234::2
         e2.example.com SPF v=spf1 a/0 -all
         e2a.example.com AAAA 1234::1
         e2a.example.com SPF v=spf1 a//0 -all
         e2b.example.com A 1.1.1.1
         e2b.example.com SPF v=spf1 a//0 -all
         ipv6.example.com AAAA 1234::1
         ipv6.example.com A 1.1.1.1
         ipv6.example.com SPF v=spf1 a -all
         e3.example.com SPF v=spf1 a:foo.example.com\0
         e4.example.com SPF v=spf1 a:111.222.33.44
         e5.example.com SPF v=spf1 a:abc.123
         e5a.example.com SPF v=spf1 a:museum
         e5b.example.com SPF v=spf1 a:museum.
         e6.example.com SPF v=spf1 a//33 -all
         e6a.example.com SPF v=spf1 a/33 -all
         e7.example.com SPF v=spf1 a//129 -all
         e8.example.com A 1.2.3.5
         e8.example.com AAAA 2001:db8:1234::dead:beef
         e8.example.com SPF v=spf1 a/24//64 -all
         e8e.example.com A 1.2.3.5
         e8e.example.com AAAA 2001:db8:1234::dead:beef
         e8e.example.com SPF v=spf1 a/24/64 -all
         e8a.example.com A 1.2.3.5
         e8a.example.com AAAA 2001:db8:1234::dead:beef
         e8a.example.com SPF v=spf1 a/24 -all
         e8b.example.com A 1.2.3.5
         e8b.example.com AAAA 2001:db8:1234::dead:beef
         e8b.example.com SPF v=spf1 a//64 -all
         e9.example.com SPF v=spf1 a:example.com:8080
         e10.example.com SPF v=spf1 a:foo.example.com/24
         foo.example.com A 1.1.1.1
         foo.example.com A 1.2.3.5
         e11.example.com SPF v=spf1 a:foo:bar/baz.example.com
         foo:bar/baz.example.com A 1.2.3.4
         e12.example.com SPF v=spf1 a:example.-com
         e13.example.com SPF v=spf1 a:
         e14.example.com SPF v=spf1 a:foo.example.xn--zckzah -all
         foo.example.xn--zckzah A 1.2.3.4",
        "a-cidr6|mail.example.com|1.2.3.4|foo@e6.example.com|fail
         a-bad-cidr4|mail.example.com|1.2.3.4|foo@e6a.example.com|permerror
         a-bad-cidr6|mail.example.com|1.2.3.4|foo@e7.example.com|permerror
         a-dual-cidr-ip4-match|mail.example.com|1.2.3.4|foo@e8.example.com|pass
         a-dual-cidr-ip4-err|mail.example.com|1.2.3.4|foo@e8e.example.com|permerror
         a-dual-cidr-ip6-match|mail.example.com|2001:db8:1234::cafe:babe|foo@e8.example.com|pass
         a-dual-cidr-ip4-default|mail.example.com|1.2.3.4|foo@e8b.example.com|fail
         a-dual-cidr-ip6-default|mail.example.com|2001:db8:1234::cafe:babe|foo@e8a.example.com|fail
         a-multi-ip1|mail.example.com|1.2.3.4|foo@e10.example.com|pass
         a-bad-domain|mail.example.com|1.2.3.4|foo@e9.example.com|permerror
         a-nxdomain|mail.example.com|1.2.3.4|foo@e1.example.com|fail
         a-cidr4-0|mail.example.com|1.2.3.4|foo@e2.example.com|pass
         a-cidr4-0-ip6|mail.example.com|1234::1|foo@e2.example.com|fail
         a-cidr6-0-ip4|mail.example.com|1.2.3.4|foo@e2a.example.com|fail
         a-cidr6-0-ip4mapped|mail.example.com|::FFFF:1.2.3.4|foo@e2a.example.com|fail
         a-cidr6-0-ip6|mail.example.com|1234::1|foo@e2a.example.com|pass
         a-ip6-dualstack|mail.example.com|1234::1|foo@ipv6.example.com|pass
         a-cidr6-0-nxdomain|mail.example.com|1234::1|foo@e2b.example.com|fail
         a-null|mail.example.com|1.2.3.5|foo@e3.example.com|permerror
         a-numeric|mail.example.com|1.2.3.4|foo@e4.example.com|permerror
         a-numeric-toplabel|mail.example.com|1.2.3.4|foo@e5.example.com|permerror
         a-dash-in-toplabel|mail.example.com|1.2.3.4|foo@e14.example.com|pass
         a-bad-toplabel|mail.example.com|1.2.3.4|foo@e12.example.com|permerror
         a-only-toplabel|mail.example.com|1.2.3.4|foo@e5a.example.com|permerror
         a-only-toplabel-trailing-dot|mail.example.com|1.2.3.4|foo@e5b.example.com|permerror
         a-colon-domain|mail.example.com|1.2.3.4|foo@e11.example.com|pass
         a-colon-domain-ip4mapped|mail.example.com|::FFFF:1.2.3.4|foo@e11.example.com|pass
         a-empty-domain|mail.example.com|1.2.3.4|foo@e13.example.com|permerror",
    );
}

#[test]
fn suite_include() {
    suite(
        "mail.example.com A 1.2.3.4
         ip5.example.com SPF v=spf1 ip4:1.2.3.5 -all
         ip6.example.com SPF v=spf1 ip4:1.2.3.6 ~all
         ip7.example.com SPF v=spf1 ip4:1.2.3.7 ?all
         ip8.example.com TIMEOUT
         erehwon.example.com TXT v=spfl am not an SPF record
         e1.example.com SPF v=spf1 include:ip5.example.com ~all
         e2.example.com SPF v=spf1 include:ip6.example.com all
         e3.example.com SPF v=spf1 include:ip7.example.com -all
         e4.example.com SPF v=spf1 include:ip8.example.com -all
         e5.example.com SPF v=spf1 include:e6.example.com -all
         e6.example.com SPF v=spf1 include +all
         e7.example.com SPF v=spf1 include:erehwon.example.com -all
         e8.example.com SPF v=spf1 include: -all
         e9.example.com SPF v=spf1 include:ip5.example.com/24 -all",
        "include-fail|mail.example.com|1.2.3.4|foo@e1.example.com|softfail
         include-softfail|mail.example.com|1.2.3.4|foo@e2.example.com|pass
         include-neutral|mail.example.com|1.2.3.4|foo@e3.example.com|fail
         include-temperror|mail.example.com|1.2.3.4|foo@e4.example.com|temperror
         include-permerror|mail.example.com|1.2.3.4|foo@e5.example.com|permerror
         include-syntax-error|mail.example.com|1.2.3.4|foo@e6.example.com|permerror
         include-cidr|mail.example.com|1.2.3.4|foo@e9.example.com|permerror
         include-none|mail.example.com|1.2.3.4|foo@e7.example.com|permerror
         include-empty-domain|mail.example.com|1.2.3.4|foo@e8.example.com|permerror",
    );
}

#[test]
fn suite_mx() {
    suite(
        "mail.example.com A 1.2.3.4
         mail.example.com MX 0 .
         mail.example.com SPF v=spf1 mx
         e1.example.com SPF v=spf1 mx/0 -all
         e1.example.com MX 0 e1.example.com
         e2.example.com A 1.1.1.1
         e2.example.com AAAA 1234::2
         e2.example.com MX 0 e2.example.com
         e2.example.com SPF v=spf1 mx/0 -all
         e2a.example.com AAAA 1234::1
         e2a.example.com MX 0 e2a.example.com
         e2a.example.com SPF v=spf1 mx//0 -all
         e2b.example.com A 1.1.1.1
         e2b.example.com MX 0 e2b.example.com
         e2b.example.com SPF v=spf1 mx//0 -all
         e3.example.com SPF v=spf1 mx:foo.example.com\0
         e4.example.com SPF v=spf1 mx
         e4.example.com A 1.2.3.4
         e5.example.com SPF v=spf1 mx:abc.123
         e6.example.com SPF v=spf1 mx//33 -all
         e6a.example.com SPF v=spf1 mx/33 -all
         e7.example.com SPF v=spf1 mx//129 -all
         e9.example.com SPF v=spf1 mx:example.com:8080
         e10.example.com SPF v=spf1 mx:foo.example.com/24
         foo.example.com MX 0 foo1.example.com
         foo1.example.com A 1.1.1.1
         foo1.example.com A 1.2.3.5
         e11.example.com SPF v=spf1 mx:foo:bar/baz.example.com
         foo:bar/baz.example.com MX 0 foo:bar/baz.example.com
         foo:bar/baz.example.com A 1.2.3.4
         e12.example.com SPF v=spf1 mx:example.-com
         e13.example.com SPF v=spf1 mx: -all",
        "mx-cidr6|mail.example.com|1.2.3.4|foo@e6.example.com|fail
         mx-bad-cidr4|mail.example.com|1.2.3.4|foo@e6a.example.com|permerror
         mx-bad-cidr6|mail.example.com|1.2.3.4|foo@e7.example.com|permerror
         mx-multi-ip1|mail.example.com|1.2.3.4|foo@e10.example.com|pass
         mx-bad-domain|mail.example.com|1.2.3.4|foo@e9.example.com|permerror
         mx-nxdomain|mail.example.com|1.2.3.4|foo@e1.example.com|fail
         mx-cidr4-0|mail.example.com|1.2.3.4|foo@e2.example.com|pass
         mx-cidr4-0-ip6|mail.example.com|1234::1|foo@e2.example.com|fail
         mx-cidr6-0-ip4|mail.example.com|1.2.3.4|foo@e2a.example.com|fail
         mx-cidr6-0-ip4mapped|mail.example.com|::FFFF:1.2.3.4|foo@e2a.example.com|fail
         mx-cidr6-0-ip6|mail.example.com|1234::1|foo@e2a.example.com|pass
         mx-cidr6-0-nxdomain|mail.example.com|1234::1|foo@e2b.example.com|fail
         mx-null|mail.example.com|1.2.3.5|foo@e3.example.com|permerror
         mx-numeric-top-label|mail.example.com|1.2.3.4|foo@e5.example.com|permerror
         mx-colon-domain|mail.example.com|1.2.3.4|foo@e11.example.com|pass
         mx-colon-domain-ip4mapped|mail.example.com|::FFFF:1.2.3.4|foo@e11.example.com|pass
         mx-bad-toplab|mail.example.com|1.2.3.4|foo@e12.example.com|permerror
         mx-empty|mail.example.com|1.2.3.4||neutral
         mx-implicit|mail.example.com|1.2.3.4|foo@e4.example.com|neutral
         mx-empty-domain|mail.example.com|1.2.3.4|foo@e13.example.com|permerror",
    );
}

#[test]
fn suite_exists_ip4_ip6() {
    suite(
        "mail.example.com A 1.2.3.4
         mail6.example.com AAAA CAFE:BABE::4
         err.example.com TIMEOUT
         e1.example.com SPF v=spf1 exists:
         e2.example.com SPF v=spf1 exists
         e3.example.com SPF v=spf1 exists:mail.example.com/24
         e4.example.com SPF v=spf1 exists:mail.example.com
         e5.example.com SPF v=spf1 exists:mail6.example.com -all
         e6.example.com SPF v=spf1 exists:err.example.com -all",
        "exists-empty-domain|mail.example.com|1.2.3.4|foo@e1.example.com|permerror
         exists-implicit|mail.example.com|1.2.3.4|foo@e2.example.com|permerror
         exists-cidr|mail.example.com|1.2.3.4|foo@e3.example.com|permerror
         exists-ip4|mail.example.com|1.2.3.4|foo@e4.example.com|pass
         exists-ip6|mail.example.com|CAFE:BABE::3|foo@e4.example.com|pass
         exists-ip6only|mail.example.com|CAFE:BABE::3|foo@e5.example.com|fail
         exists-dnserr|mail.example.com|CAFE:BABE::3|foo@e6.example.com|temperror",
    );
    suite(
        "mail.example.com A 1.2.3.4
         e1.example.com SPF v=spf1 ip4:1.1.1.1/0 -all
         e2.example.com SPF v=spf1 ip4:1.2.3.4/32 -all
         e3.example.com SPF v=spf1 ip4:1.2.3.4/33 -all
         e4.example.com SPF v=spf1 ip4:1.2.3.4/032 -all
         e5.example.com SPF v=spf1 ip4
         e6.example.com SPF v=spf1 ip4:1.2.3.4//32
         e7.example.com SPF v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4
         e8.example.com SPF v=spf1 ip4:1.2.3.4:8080
         e9.example.com SPF v=spf1 ip4:1.2.3",
        "cidr4-0|mail.example.com|1.2.3.4|foo@e1.example.com|pass
         cidr4-32|mail.example.com|1.2.3.4|foo@e2.example.com|pass
         cidr4-33|mail.example.com|1.2.3.4|foo@e3.example.com|permerror
         cidr4-032|mail.example.com|1.2.3.4|foo@e4.example.com|permerror
         bare-ip4|mail.example.com|1.2.3.4|foo@e5.example.com|permerror
         bad-ip4-port|mail.example.com|1.2.3.4|foo@e8.example.com|permerror
         bad-ip4-short|mail.example.com|1.2.3.4|foo@e9.example.com|permerror
         ip4-dual-cidr|mail.example.com|1.2.3.4|foo@e6.example.com|permerror
         ip4-mapped-ip6|mail.example.com|::FFFF:1.2.3.4|foo@e7.example.com|fail",
    );
    suite(
        "mail.example.com A 1.2.3.4
         e1.example.com SPF v=spf1 -all ip6
         e2.example.com SPF v=spf1 ip6:::1.1.1.1/0
         e3.example.com SPF v=spf1 ip6:::1.1.1.1/129
         e4.example.com SPF v=spf1 ip6:::1.1.1.1//33
         e5.example.com SPF v=spf1 ip6:Cafe:Babe:8000::/33
         e6.example.com SPF v=spf1 ip6::CAFE::BABE",
        "bare-ip6|mail.example.com|1.2.3.4|foo@e1.example.com|permerror
         cidr6-0-ip4|mail.example.com|1.2.3.4|foo@e2.example.com|neutral
         cidr6-ip4|mail.example.com|::FFFF:1.2.3.4|foo@e2.example.com|neutral
         cidr6-0|mail.example.com|DEAF:BABE::CAB:FEE|foo@e2.example.com|pass
         cidr6-129|mail.example.com|1.2.3.4|foo@e3.example.com|permerror
         cidr6-bad|mail.example.com|1.2.3.4|foo@e4.example.com|permerror
         cidr6-33|mail.example.com|CAFE:BABE:8000::|foo@e5.example.com|pass
         cidr6-33-ip4|mail.example.com|1.2.3.4|foo@e5.example.com|neutral
         ip6-bad1|mail.example.com|1.2.3.4|foo@e6.example.com|permerror",
    );
}

#[test]
fn suite_modifiers_and_exp() {
    suite(
        "mail.example.com A 1.2.3.4
         e1.example.com SPF v=spf1 exp=exp1.example.com redirect=e2.example.com
         e2.example.com SPF v=spf1 -all
         e3.example.com SPF v=spf1 exp=exp1.example.com redirect=e4.example.com
         e4.example.com SPF v=spf1 -all exp=exp2.example.com
         exp1.example.com TXT No-see-um
         exp2.example.com TXT See me.
         exp3.example.com TXT Correct!
         exp4.example.com TXT %{l} in implementation
         e5.example.com SPF v=spf1 1up=foo
         e6.example.com SPF v=spf1 =all
         e7.example.com SPF v=spf1 include:e3.example.com -all exp=exp3.example.com
         e8.example.com SPF v=spf1 -all exp=exp4.example.com
         e9.example.com SPF v=spf1 -all foo=%abc
         e10.example.com SPF v=spf1 redirect=erehwon.example.com
         e11.example.com SPF v=spf1 -all exp=e11msg.example.com
         e11msg.example.com TXT Answer a fool according to his folly.
         e11msg.example.com TXT Do not answer a fool according to his folly.
         e12.example.com SPF v=spf1 exp= -all
         e13.example.com SPF v=spf1 exp=e13msg.example.com -all
         e13msg.example.com TXT The %{x}-files.
         e14.example.com SPF v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com
         e15.example.com SPF v=spf1 redirect=e12.example.com -all redirect=e12.example.com
         e16.example.com SPF v=spf1 exp=-all
         e17.example.com SPF v=spf1 redirect=-all ?all
         e18.example.com SPF v=spf1 ?all redirect=
         e19.example.com SPF v=spf1 default=pass
         e20.example.com SPF v=spf1 default=+
         e21.example.com SPF v=spf1 exp=e21msg.example.com -all
         e21msg.example.com TIMEOUT
         e22.example.com SPF v=spf1 exp=mail.example.com -all
         nonascii.example.com SPF v=spf1 exp=badexp.example.com -all
         badexp.example.com TXT \u{feff}Explanation
         tworecs.example.com SPF v=spf1 exp=twoexp.example.com -all
         twoexp.example.com TXT one
         twoexp.example.com TXT two
         e23.example.com SPF v=spf1 a:erehwon.example.com a:foobar.com exp=nxdomain.com -all
         e24.example.com SPF v=spf1 redirect=testimplicit.example.com
         e24.example.com A 192.0.2.1
         testimplicit.example.com SPF v=spf1 a -all
         testimplicit.example.com A 192.0.2.2",
        "redirect-none|mail.example.com|1.2.3.4|foo@e10.example.com|permerror
         redirect-cancels-exp|mail.example.com|1.2.3.4|foo@e1.example.com|fail|DEFAULT
         redirect-syntax-error|mail.example.com|1.2.3.4|foo@e17.example.com|permerror
         include-ignores-exp|mail.example.com|1.2.3.4|foo@e7.example.com|fail|Correct!
         redirect-cancels-prior-exp|mail.example.com|1.2.3.4|foo@e3.example.com|fail|See me.
         invalid-modifier|mail.example.com|1.2.3.4|foo@e5.example.com|permerror
         empty-modifier-name|mail.example.com|1.2.3.4|foo@e6.example.com|permerror
         dorky-sentinel|mail.example.com|1.2.3.4|Macro Error@e8.example.com|fail|Macro Error in implementation
         exp-multiple-txt|mail.example.com|1.2.3.4|foo@e11.example.com|fail|DEFAULT
         exp-no-txt|mail.example.com|1.2.3.4|foo@e22.example.com|fail|DEFAULT
         exp-dns-error|mail.example.com|1.2.3.4|foo@e21.example.com|fail|DEFAULT
         exp-empty-domain|mail.example.com|1.2.3.4|foo@e12.example.com|permerror
         explanation-syntax-error|mail.example.com|1.2.3.4|foo@e13.example.com|fail|DEFAULT
         exp-syntax-error|mail.example.com|1.2.3.4|foo@e16.example.com|permerror
         exp-twice|mail.example.com|1.2.3.4|foo@e14.example.com|permerror
         redirect-empty-domain|mail.example.com|1.2.3.4|foo@e18.example.com|permerror
         redirect-twice|mail.example.com|1.2.3.4|foo@e15.example.com|permerror
         unknown-modifier-syntax|mail.example.com|1.2.3.4|foo@e9.example.com|permerror
         default-modifier-obsolete|mail.example.com|1.2.3.4|foo@e19.example.com|neutral
         default-modifier-obsolete2|mail.example.com|1.2.3.4|foo@e20.example.com|neutral
         non-ascii-exp|hosed|1.2.3.4|foobar@nonascii.example.com|fail|DEFAULT
         two-exp-records|hosed|1.2.3.4|foobar@tworecs.example.com|fail|DEFAULT
         exp-void|mail.example.com|1.2.3.4|foo@e23.example.com|fail
         redirect-implicit|e24.example.com|192.0.2.2|bar@e24.example.com|pass",
    );
}

/// The suite's "macro-mania-in-domain" case is left out: its target name contains spaces, which
/// our resolver refuses to query (`dns::normalize_name`).
#[test]
fn suite_macro_expansion() {
    suite(
        "example.com.d.spf.example.com SPF v=spf1 redirect=a.spf.example.com
         a.spf.example.com SPF v=spf1 include:o.spf.example.com. ~all
         o.spf.example.com SPF v=spf1 ip4:192.168.218.40
         msgbas2x.cos.example.com A 192.168.218.40
         example.com A 192.168.90.76
         example.com SPF v=spf1 redirect=%{d}.d.spf.example.com.
         exp.example.com SPF v=spf1 exp=msg.example.com. -all
         msg.example.com TXT This is a test.
         e1.example.com SPF v=spf1 -exists:%(ir).sbl.example.com ?all
         e1e.example.com SPF v=spf1 exists:foo%(ir).sbl.example.com ?all
         e1t.example.com SPF v=spf1 exists:foo%.sbl.example.com ?all
         e2.example.com SPF v=spf1 -all exp=%{r}.example.com
         e3.example.com SPF v=spf1 -all exp=%{ir}.example.com
         40.218.168.192.example.com TXT Connections from %{c} not authorized.
         somewhat.long.exp.example.com SPF v=spf1 -all exp=foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com
         somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com.example.com TXT Congratulations!  That was tricky.
         e4.example.com SPF v=spf1 -all exp=e4msg.example.com
         e4msg.example.com TXT %{c} is queried as %{ir}.%{v}.arpa
         e5.example.com SPF v=spf1 a:%{a}.example.com -all
         e6.example.com SPF v=spf1 -all exp=e6msg.example.com
         e6msg.example.com TXT connect from %{p}
         mx.example.com A 192.168.218.41
         mx.example.com A 192.168.218.42
         mx.example.com AAAA CAFE:BABE::2
         mx.example.com AAAA CAFE:BABE::3
         40.218.168.192.in-addr.arpa PTR mx.example.com
         41.218.168.192.in-addr.arpa PTR mx.example.com
         42.218.168.192.in-addr.arpa PTR mx.example.com
         42.218.168.192.in-addr.arpa PTR mx.e7.example.com
         1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa PTR mx.example.com
         3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa PTR mx.example.com
         mx.e7.example.com A 192.168.218.42
         mx.e7.example.com.should.example.com A 127.0.0.2
         mx.example.com.ok.example.com A 127.0.0.2
         e7.example.com SPF v=spf1 exists:%{p}.should.example.com ~exists:%{p}.ok.example.com
         e8.example.com SPF v=spf1 -all exp=msg8.%{D2}
         msg8.example.com TXT http://example.com/why.html?l=%{L}
         e9.example.com SPF v=spf1 a:%{H} -all
         e10.example.com SPF v=spf1 -include:_spfh.%{d2} ip4:1.2.3.0/24 -all
         _spfh.example.com SPF v=spf1 -a:%{h} +all
         e11.example.com SPF v=spf1 exists:%{i}.%{l2r-}.user.%{d2}
         1.2.3.4.gladstone.philip.user.example.com A 127.0.0.2
         e12.example.com SPF v=spf1 exists:%{l2r+-}.user.%{d2}
         bar.foo.user.example.com A 127.0.0.2",
        "trailing-dot-domain|msgbas2x.cos.example.com|192.168.218.40|test@example.com|pass
         trailing-dot-exp|msgbas2x.cos.example.com|192.168.218.40|test@exp.example.com|fail|This is a test.
         exp-only-macro-char|msgbas2x.cos.example.com|192.168.218.40|test@e2.example.com|permerror
         invalid-macro-char|msgbas2x.cos.example.com|192.168.218.40|test@e1.example.com|permerror
         invalid-embedded-macro-char|msgbas2x.cos.example.com|192.168.218.40|test@e1e.example.com|permerror
         invalid-trailing-macro-char|msgbas2x.cos.example.com|192.168.218.40|test@e1t.example.com|permerror
         exp-txt-macro-char|msgbas2x.cos.example.com|192.168.218.40|test@e3.example.com|fail|Connections from 192.168.218.40 not authorized.
         domain-name-truncation|msgbas2x.cos.example.com|192.168.218.40|test@somewhat.long.exp.example.com|fail|Congratulations!  That was tricky.
         v-macro-ip4|msgbas2x.cos.example.com|192.168.218.40|test@e4.example.com|fail|192.168.218.40 is queried as 40.218.168.192.in-addr.arpa
         v-macro-ip6|msgbas2x.cos.example.com|CAFE:BABE::1|test@e4.example.com|fail|cafe:babe::1 is queried as 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa
         undef-macro|msgbas2x.cos.example.com|CAFE:BABE::192.168.218.40|test@e5.example.com|permerror
         p-macro-ip4-novalid|msgbas2x.cos.example.com|192.168.218.40|test@e6.example.com|fail|connect from unknown
         p-macro-ip4-valid|msgbas2x.cos.example.com|192.168.218.41|test@e6.example.com|fail|connect from mx.example.com
         p-macro-ip6-novalid|msgbas2x.cos.example.com|CAFE:BABE::1|test@e6.example.com|fail|connect from unknown
         p-macro-ip6-valid|msgbas2x.cos.example.com|CAFE:BABE::3|test@e6.example.com|fail|connect from mx.example.com
         p-macro-multiple|msgbas2x.cos.example.com|192.168.218.42|test@e7.example.com|pass,softfail
         upper-macro|msgbas2x.cos.example.com|192.168.218.42|~jack&jill=up-a_b3.c@e8.example.com|fail|http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c
         hello-macro|msgbas2x.cos.example.com|192.168.218.40|test@e9.example.com|pass
         invalid-hello-macro|JUMPIN' JUPITER|192.168.218.40|test@e9.example.com|fail
         hello-domain-literal|[192.168.218.40]|192.168.218.40|test@e9.example.com|fail
         require-valid-helo|OEMCOMPUTER|1.2.3.4|test@e10.example.com|fail
         macro-reverse-split-on-dash|mail.example.com|1.2.3.4|philip-gladstone-test@e11.example.com|pass
         macro-multiple-delimiters|mail.example.com|1.2.3.4|foo-bar+zip+quux@e12.example.com|pass",
    );
}

const LIMITS_ZONE: &str = "mail.example.com A 1.2.3.4
     e1.example.com SPF v=spf1 ip4:1.1.1.1 redirect=e1.example.com
     e1.example.com A 1.2.3.6
     e2.example.com SPF v=spf1 include:e3.example.com
     e2.example.com A 1.2.3.7
     e3.example.com SPF v=spf1 include:e2.example.com
     e3.example.com A 1.2.3.8
     e4.example.com SPF v=spf1 mx
     e4.example.com MX 0 mail.example.com
     e4.example.com MX 1 mail.example.com
     e4.example.com MX 2 mail.example.com
     e4.example.com MX 3 mail.example.com
     e4.example.com MX 4 mail.example.com
     e4.example.com MX 5 mail.example.com
     e4.example.com MX 6 mail.example.com
     e4.example.com MX 7 mail.example.com
     e4.example.com MX 8 mail.example.com
     e4.example.com MX 9 mail.example.com
     e4.example.com MX 10 e4.example.com
     e4.example.com A 1.2.3.5
     e5.example.com SPF v=spf1 ptr
     e5.example.com A 1.2.3.5
     5.3.2.1.in-addr.arpa PTR e1.example.com.
     5.3.2.1.in-addr.arpa PTR e2.example.com.
     5.3.2.1.in-addr.arpa PTR e3.example.com.
     5.3.2.1.in-addr.arpa PTR e4.example.com.
     5.3.2.1.in-addr.arpa PTR example.com.
     5.3.2.1.in-addr.arpa PTR e6.example.com.
     5.3.2.1.in-addr.arpa PTR e7.example.com.
     5.3.2.1.in-addr.arpa PTR e8.example.com.
     5.3.2.1.in-addr.arpa PTR e9.example.com.
     5.3.2.1.in-addr.arpa PTR e10.example.com.
     5.3.2.1.in-addr.arpa PTR e5.example.com.
     e6.example.com SPF v=spf1 a mx a mx a mx a mx a ptr ip4:1.2.3.4 -all
     e6.example.com A 1.2.3.8
     e6.example.com MX 10 e6.example.com
     e7.example.com SPF v=spf1 a mx a mx a mx a mx a ptr a ip4:1.2.3.4 -all
     e7.example.com A 1.2.3.20
     e8.example.com SPF v=spf1 a include:inc.example.com ip4:1.2.3.4 mx -all
     e8.example.com A 1.2.3.4
     inc.example.com SPF v=spf1 a a a a a a a a
     inc.example.com A 1.2.3.10
     e9.example.com SPF v=spf1 a include:inc.example.com a ip4:1.2.3.4 -all
     e9.example.com A 1.2.3.21
     e10.example.com SPF v=spf1 a -all
     e10.example.com A 1.2.3.1
     e10.example.com A 1.2.3.2
     e10.example.com A 1.2.3.3
     e10.example.com A 1.2.3.4
     e10.example.com A 1.2.3.5
     e10.example.com A 1.2.3.6
     e10.example.com A 1.2.3.7
     e10.example.com A 1.2.3.8
     e10.example.com A 1.2.3.9
     e10.example.com A 1.2.3.10
     e10.example.com A 1.2.3.11
     e10.example.com A 1.2.3.12
     e11.example.com TXT v=spf1 a:err.example.com a:err1.example.com a:err2.example.com ?all
     e12.example.com TXT v=spf1 a:err.example.com a:err1.example.com ?all";

#[test]
fn suite_processing_limits() {
    suite(
        LIMITS_ZONE,
        "redirect-loop|mail.example.com|1.2.3.4|foo@e1.example.com|permerror
         include-loop|mail.example.com|1.2.3.4|foo@e2.example.com|permerror
         mx-limit|mail.example.com|1.2.3.5|foo@e4.example.com|permerror
         ptr-limit|mail.example.com|1.2.3.5|foo@e5.example.com|neutral,pass
         false-a-limit|mail.example.com|1.2.3.12|foo@e10.example.com|pass
         mech-at-limit|mail.example.com|1.2.3.4|foo@e6.example.com|pass
         mech-over-limit|mail.example.com|1.2.3.4|foo@e7.example.com|permerror
         include-at-limit|mail.example.com|1.2.3.4|foo@e8.example.com|pass
         include-over-limit|mail.example.com|1.2.3.4|foo@e9.example.com|permerror
         void-at-limit|mail.example.com|1.2.3.4|foo@e12.example.com|neutral
         void-over-limit|mail.example.com|1.2.3.4|foo@e11.example.com|permerror",
    );
}

#[test]
fn suite_implementation_bugs() {
    suite(
        "example.org SPF v=spf1 mx redirect=_spf.example.com
         example.org MX 10 smtp.example.org
         example.org MX 10 smtp1.example.com
         smtp.example.org A 198.51.100.2
         smtp.example.org AAAA 2001:db8:ff0:100::3
         smtp1.example.com A 192.0.2.26
         smtp1.example.com AAAA 2001:db8:ff0:200::2
         2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.F.F.0.8.B.D.0.1.0.0.2.ip6.arpa PTR smtp6-v.fe.example.org
         smtp6-v.fe.example.org AAAA 2001:db8:ff0:100::2
         _spf.example.com SPF v=spf1 ptr:fe.example.org ptr:sgp.example.com exp=_expspf.example.org -all
         _expspf.example.org TXT Sender domain not allowed from this host. Please see http://www.openspf.org/Why?s=mfrom&id=%{S}&ip=%{C}&r=%{R}",
        "bytes-bug|example.org|2001:db8:ff0:100::2|test@example.org|pass",
    );
}

/// RFC 7208 Appendix A: the example.com/example.org zone of its introduction.
const APPENDIX_A: &str = "example.com MX 10 mx.example.com
     example.com MX 20 mx2.example.com
     mx.example.com A 192.0.2.1
     mx2.example.com A 192.0.2.129
     example.com A 192.0.2.10
     example.com A 192.0.2.11
     amy.example.com A 192.0.2.65
     bob.example.com A 192.0.2.66
     mail-a.example.com A 192.0.2.129
     mail-b.example.com A 192.0.2.130
     www.example.com A 192.0.2.10
     www.example.com A 192.0.2.11
     mail-c.example.org A 192.0.2.140
     example.org MX 10 mail-c.example.org
     10.2.0.192.in-addr.arpa PTR example.com
     11.2.0.192.in-addr.arpa PTR example.com
     65.2.0.192.in-addr.arpa PTR amy.example.com
     66.2.0.192.in-addr.arpa PTR bob.example.com
     129.2.0.192.in-addr.arpa PTR mail-a.example.com
     130.2.0.192.in-addr.arpa PTR mail-b.example.com
     140.2.0.192.in-addr.arpa PTR mail-c.example.org
     10.0.0.10.in-addr.arpa PTR bob.example.com";

/// A.1: each record published at example.com, with the hosts the RFC says pass; every other
/// host of the zone fails.
#[test]
fn appendix_a1_simple_examples() {
    let hosts = [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.2.10",
        "192.0.2.11",
        "192.0.2.65",
        "192.0.2.66",
        "192.0.2.129",
        "192.0.2.130",
        "192.0.2.140",
        "192.0.2.143",
        "192.0.2.144",
        "10.0.0.10",
    ];
    let cases: &[(&str, &[&str])] = &[
        ("v=spf1 +all", &hosts),
        ("v=spf1 a -all", &["192.0.2.10", "192.0.2.11"]),
        ("v=spf1 a:example.org -all", &[]),
        ("v=spf1 mx -all", &["192.0.2.1", "192.0.2.129"]),
        ("v=spf1 mx:example.org -all", &["192.0.2.140"]),
        (
            "v=spf1 mx mx:example.org -all",
            &["192.0.2.1", "192.0.2.129", "192.0.2.140"],
        ),
        (
            "v=spf1 mx/30 mx:example.org/30 -all",
            &[
                "192.0.2.1",
                "192.0.2.2",
                "192.0.2.3",
                "192.0.2.129",
                "192.0.2.130",
                "192.0.2.140",
                "192.0.2.143",
            ],
        ),
        (
            "v=spf1 ptr -all",
            &[
                "192.0.2.10",
                "192.0.2.11",
                "192.0.2.65",
                "192.0.2.66",
                "192.0.2.129",
                "192.0.2.130",
            ],
        ),
        (
            "v=spf1 ip4:192.0.2.128/28 -all",
            &["192.0.2.129", "192.0.2.130", "192.0.2.140", "192.0.2.143"],
        ),
    ];
    for (record, pass) in cases {
        let m = zone(&format!("{APPENDIX_A}\nexample.com TXT {record}"));
        for host in hosts {
            let ip: IpAddr = host.parse().unwrap();
            let got = block_on(check_host(
                &m,
                ip,
                "example.com",
                "joe@example.com",
                "mail.example.com",
                &Limits::default(),
            ));
            let want = if pass.contains(&host) {
                SpfResult::Pass
            } else {
                SpfResult::Fail
            };
            assert_eq!(got.result, want, "{record} from {host}: {got:?}");
        }
    }
}

/// A.2: several domains sharing one policy through include and redirect.
#[test]
fn appendix_a2_multiple_domains() {
    let m = zone(&format!(
        "{APPENDIX_A}
         example.com TXT v=spf1 mx -all
         example.net TXT v=spf1 ip4:198.51.100.0/24 -all
         example.org TXT v=spf1 include:example.com include:example.net -all
         la.example.org TXT v=spf1 redirect=example.org
         ny.example.org TXT v=spf1 redirect=example.org
         sf.example.org TXT v=spf1 redirect=example.org"
    ));
    for (domain, host, want) in [
        ("la.example.org", "192.0.2.1", SpfResult::Pass),
        ("ny.example.org", "198.51.100.7", SpfResult::Pass),
        ("sf.example.org", "192.0.2.10", SpfResult::Fail),
        ("example.org", "192.0.2.129", SpfResult::Pass),
    ] {
        let got = block_on(check_host(
            &m,
            host.parse().unwrap(),
            domain,
            &format!("joe@{domain}"),
            "h.example",
            &Limits::default(),
        ));
        assert_eq!(got.result, want, "{domain} {host}: {got:?}");
    }
    // The result of a redirect names the target record's term.
    let got = block_on(check_host(
        &m,
        "198.51.100.7".parse().unwrap(),
        "la.example.org",
        "joe@la.example.org",
        "h.example",
        &Limits::default(),
    ));
    assert_eq!(got.mechanism.as_deref(), Some("include:example.net"));
    assert_eq!(got.lookups, 4);
}

/// A.3: DNSBL-style lookups with exists and macros, and an explanation for failures.
#[test]
fn appendix_a3_dnsbl_style() {
    let m = zone(&format!(
        "{APPENDIX_A}
         example.com TXT v=spf1 mx include:mobile-users._spf.%{{d}} include:remote-users._spf.%{{d}} -all exp=explain._spf.%{{d}}
         mobile-users._spf.example.com TXT v=spf1 exists:%{{l1r+}}.%{{d}}
         remote-users._spf.example.com TXT v=spf1 exists:%{{ir}}.%{{l1r+}}.%{{d}}
         mary.mobile-users._spf.example.com A 127.0.0.2
         fred.mobile-users._spf.example.com A 127.0.0.2
         15.15.168.192.joel.remote-users._spf.example.com A 127.0.0.2
         16.15.168.192.joel.remote-users._spf.example.com A 127.0.0.2
         explain._spf.example.com TXT %{{s}} is not allowed to send from %{{i}}; see http://%{{d}}/spf"
    ));
    let run = |sender: &str, host: &str| {
        block_on(check_host(
            &m,
            host.parse().unwrap(),
            "example.com",
            sender,
            "h.example",
            &Limits::default(),
        ))
    };
    assert_eq!(
        run("mary@example.com", "203.0.113.9").result,
        SpfResult::Pass
    );
    assert_eq!(
        run("fred+bulk@example.com", "203.0.113.9").result,
        SpfResult::Pass
    );
    assert_eq!(
        run("joel@example.com", "192.168.15.15").result,
        SpfResult::Pass
    );
    assert_eq!(
        run("joe@example.com", "192.0.2.129").result,
        SpfResult::Pass
    );
    let failed = run("joel@example.com", "192.168.15.17");
    assert_eq!(failed.result, SpfResult::Fail);
    assert_eq!(failed.mechanism.as_deref(), Some("-all"));
    assert_eq!(
        failed.explanation.as_deref(),
        Some(
            "joel@example.com is not allowed to send from 192.168.15.17; see http://example.com/spf"
        )
    );
}

/// A.4: multiple requirements through negated includes: in 192.0.2.0/24 and with a PTR name
/// under example.com.
#[test]
fn appendix_a4_multiple_requirements() {
    let m = zone(&format!(
        "{APPENDIX_A}
         example.com TXT v=spf1 -include:ip4._spf.%{{d}} -include:ptr._spf.%{{d}} +all
         ip4._spf.example.com TXT v=spf1 -ip4:192.0.2.0/24 +all
         ptr._spf.example.com TXT v=spf1 -ptr:example.com +all"
    ));
    for (host, want) in [
        ("192.0.2.65", SpfResult::Pass),
        ("192.0.2.129", SpfResult::Pass),
        ("192.0.2.140", SpfResult::Fail),
        ("10.0.0.10", SpfResult::Fail),
        ("198.51.100.1", SpfResult::Fail),
    ] {
        let got = block_on(check_host(
            &m,
            host.parse().unwrap(),
            "example.com",
            "joe@example.com",
            "h.example",
            &Limits::default(),
        ));
        assert_eq!(got.result, want, "{host}: {got:?}");
    }
}

fn one(record: &str, extra: &str) -> MockResolver {
    zone(&format!("example.test TXT {record}\n{extra}"))
}

fn check(m: &MockResolver, ip: &str) -> SpfOutcome {
    block_on(check_host(
        m,
        ip.parse().unwrap(),
        "example.test",
        "user@example.test",
        "mail.example.test",
        &Limits::default(),
    ))
}

#[test]
fn outcome_reports_term_lookups_and_keywords() {
    let m = one(
        "v=spf1 a:a.example.test ip6:2001:db8::/32 ~all",
        "a.example.test A 192.0.2.1",
    );
    let got = check(&m, "2001:db8:1::5");
    assert_eq!(got.result, SpfResult::Pass);
    assert_eq!(got.mechanism.as_deref(), Some("ip6:2001:db8::/32"));
    assert_eq!(got.lookups, 1);
    let got = check(&m, "198.51.100.1");
    assert_eq!(got.result, SpfResult::SoftFail);
    assert_eq!(got.mechanism.as_deref(), Some("~all"));
    assert_eq!(got.explanation, None);
    let words: Vec<&str> = [
        SpfResult::None,
        SpfResult::Neutral,
        SpfResult::Pass,
        SpfResult::Fail,
        SpfResult::SoftFail,
        SpfResult::TempError,
        SpfResult::PermError,
    ]
    .iter()
    .map(|r| r.as_str())
    .collect();
    assert_eq!(
        words,
        [
            "none",
            "neutral",
            "pass",
            "fail",
            "softfail",
            "temperror",
            "permerror"
        ]
    );
}

#[test]
fn temporary_errors_propagate_as_temperror() {
    let m = one("v=spf1 a:down.example.test -all", "").with_error(
        "down.example.test",
        RecordType::A,
        Error::ServFail,
    );
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::TempError);
    let m = one("v=spf1 mx -all", "example.test MX 10 mx.example.test").with_error(
        "mx.example.test",
        RecordType::A,
        Error::Timeout,
    );
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::TempError);
    let m = MockResolver::new().with_error("example.test", RecordType::Txt, Error::ServFail);
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::TempError);
    // A PTR lookup failure is a no-match (§5.5), not a TempError.
    let m = one("v=spf1 ptr -all", "").with_error(
        "1.2.0.192.in-addr.arpa",
        RecordType::Ptr,
        Error::ServFail,
    );
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::Fail);
}

#[test]
fn redirect_to_nxdomain_and_include_without_spf_are_permerror() {
    let m = one("v=spf1 redirect=gone.example.test", "");
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::PermError);
    let m = one(
        "v=spf1 include:nospf.example.test -all",
        "nospf.example.test TXT hello",
    );
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::PermError);
    let m = one("v=spf1 include:gone.example.test -all", "");
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::PermError);
}

#[test]
fn lookup_limit_counts_every_dns_term() {
    let ten = "v=spf1 a a a a a a a a a exists:x.example.test -all";
    let m = one(ten, "example.test A 192.0.2.9\nx.example.test A 127.0.0.2");
    let got = check(&m, "192.0.2.1");
    assert_eq!((got.result, got.lookups), (SpfResult::Pass, 10));
    let eleven = "v=spf1 a a a a a a a a a a exists:x.example.test -all";
    let m = one(
        eleven,
        "example.test A 192.0.2.9\nx.example.test A 127.0.0.2",
    );
    assert_eq!(check(&m, "192.0.2.1").result, SpfResult::PermError);
    // Lower limits are honoured.
    let got = block_on(check_host(
        &m,
        "192.0.2.1".parse().unwrap(),
        "example.test",
        "u@example.test",
        "h.example",
        &Limits {
            dns_lookups: 3,
            ..Limits::default()
        },
    ));
    assert_eq!((got.result, got.lookups), (SpfResult::PermError, 4));
}

#[test]
fn query_budget_and_timeout_bound_the_work() {
    // Within the RFC limits, but over a small total budget.
    let m = one(
        "v=spf1 mx mx:b.example.test -all",
        "example.test MX 1 a1.example.test
         example.test MX 2 a2.example.test
         example.test MX 3 a3.example.test
         b.example.test MX 1 a4.example.test
         a1.example.test A 198.51.100.1
         a2.example.test A 198.51.100.2
         a3.example.test A 198.51.100.3
         a4.example.test A 198.51.100.4",
    );
    let limits = Limits {
        max_queries: 5,
        ..Limits::default()
    };
    let run = |limits: &Limits| {
        block_on(check_host(
            &m,
            "192.0.2.1".parse().unwrap(),
            "example.test",
            "u@example.test",
            "h.example",
            limits,
        ))
    };
    assert_eq!(run(&limits).result, SpfResult::PermError);
    assert!(m.queries().len() <= 5);
    assert_eq!(run(&Limits::default()).result, SpfResult::Fail);
    let zero = Limits {
        timeout: Duration::ZERO,
        ..Limits::default()
    };
    // A zero budget may still finish first against an instant resolver; never anything else.
    let r = run(&zero).result;
    assert!(matches!(r, SpfResult::TempError | SpfResult::Fail), "{r:?}");
}

#[test]
fn mail_from_and_helo_identities() {
    let m = zone(
        "example.test TXT v=spf1 ip4:192.0.2.0/24 -all
         mail.example.test TXT v=spf1 a -all
         mail.example.test A 198.51.100.25",
    );
    let limits = Limits::default();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let mf = |from: &str, host: &str| {
        block_on(verify_mail_from(
            &m,
            ip(host),
            from,
            "mail.example.test",
            &limits,
        ))
        .result
    };
    assert_eq!(mf("user@example.test", "192.0.2.7"), SpfResult::Pass);
    assert_eq!(mf("<user@example.test>", "198.51.100.25"), SpfResult::Fail);
    // Null reverse-path: postmaster@HELO (§2.4).
    assert_eq!(mf("", "198.51.100.25"), SpfResult::Pass);
    assert_eq!(mf("<>", "192.0.2.7"), SpfResult::Fail);
    let helo = |h: &str, host: &str| block_on(verify_helo(&m, ip(host), h, &limits)).result;
    assert_eq!(helo("mail.example.test", "198.51.100.25"), SpfResult::Pass);
    assert_eq!(helo("[198.51.100.25]", "198.51.100.25"), SpfResult::None);
    assert_eq!(helo("localhost", "198.51.100.25"), SpfResult::None);
}

#[test]
fn explanations_are_bounded() {
    let m = one(
        "v=spf1 -all exp=why.example.test",
        "why.example.test TXT %{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}%{s}",
    );
    let limits = Limits {
        max_explanation: 40,
        ..Limits::default()
    };
    let got = block_on(check_host(
        &m,
        "192.0.2.1".parse().unwrap(),
        "example.test",
        "someone-with-a-long-name@example.test",
        "h.example",
        &limits,
    ));
    assert_eq!(got.result, SpfResult::Fail);
    assert_eq!(got.explanation.map(|e| e.len()), Some(40));
    // A UTF-8 sender (SMTPUTF8) keeps the explanation ASCII and the cut on a boundary.
    let got = block_on(check_host(
        &m,
        "192.0.2.1".parse().unwrap(),
        "example.test",
        "élève-ünïcødé@example.test",
        "h.example",
        &limits,
    ));
    let e = got.explanation.unwrap();
    assert!(e.is_ascii() && e.len() == 40, "{e}");
}

/// The real stub resolver against the in-process DNS server on loopback.
#[test]
fn through_stub_resolver_and_test_server() {
    use mailnook::dns::stub::{Options, StubResolver};
    use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
    let txt = |s: &str| TestRecord::Txt(vec![s.to_string()]);
    let server = TestServer::start(
        Zone::new()
            .add(
                "example.test",
                TestRecord::Txt(vec![
                    "v=spf1 ip4:192.0.2.0/24 include:_spf.example.test ".into(),
                    "mx -all exp=why.example.test".into(),
                ]),
            )
            .add("example.test", txt("google-site-verification=xyz"))
            .add("example.test", TestRecord::Mx(10, "mx.example.test".into()))
            .add(
                "mx.example.test",
                TestRecord::Aaaa("2001:db8::25".parse().unwrap()),
            )
            .add("_spf.example.test", txt("v=spf1 a:out.example.test ?all"))
            .add(
                "out.example.test",
                TestRecord::A(Ipv4Addr::new(198, 51, 100, 7)),
            )
            .add("why.example.test", txt("%{i} may not send for %{d}")),
    )
    .expect("test DNS server");
    let r = StubResolver::with_servers(
        vec![server.addr()],
        Options {
            timeout: Duration::from_millis(700),
            ..Options::default()
        },
    );
    let run = |host: &str| {
        async_io::block_on(verify_mail_from(
            &r,
            host.parse().unwrap(),
            "someone@example.test",
            "client.example",
            &Limits::default(),
        ))
    };
    assert_eq!(run("192.0.2.200").result, SpfResult::Pass);
    let inc = run("198.51.100.7");
    assert_eq!(inc.result, SpfResult::Pass);
    assert_eq!(inc.mechanism.as_deref(), Some("include:_spf.example.test"));
    assert_eq!(run("2001:db8::25").result, SpfResult::Pass);
    let fail = run("203.0.113.5");
    assert_eq!(fail.result, SpfResult::Fail);
    assert_eq!(
        fail.explanation.as_deref(),
        Some("203.0.113.5 may not send for example.test")
    );
    assert_eq!(run("::ffff:192.0.2.1").result, SpfResult::Pass);
}
