//! Trace headers added on arrival (RFC 5321 §4.4).

use std::net::IpAddr;

/// What the `Received:` header says about one SMTP transaction.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    /// The client's EHLO/HELO argument.
    pub helo: &'a str,
    /// The client's address.
    pub client_ip: IpAddr,
    /// This server's host name.
    pub by: &'a str,
    /// RFC 3848 / RFC 6531 protocol keyword (`ESMTPS`, `UTF8SMTPS`, ...).
    pub with: &'a str,
    /// TLS version and cipher suite, if any.
    pub tls: Option<&'a str>,
    /// Transaction id for logs.
    pub id: &'a str,
    /// The recipient, named only when there is exactly one (RFC 5321 §7.2: privacy).
    pub for_rcpt: Option<&'a str>,
    /// Unix seconds.
    pub when: u64,
}

/// Removes characters that would break the header: controls and, for comment text, parentheses
/// and backslashes.
fn clean(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !matches!(c, '(' | ')' | '\\'))
        .take(max)
        .collect()
}

impl Received<'_> {
    /// The folded header, ending in CRLF.
    pub fn to_header(&self) -> String {
        let mut h = format!(
            "Received: from {} ([{}])\r\n\tby {} (mailnook) with {}",
            clean(self.helo, 255),
            self.client_ip,
            self.by,
            self.with
        );
        if let Some(tls) = self.tls {
            h.push_str(&format!(" ({})", clean(tls, 100)));
        }
        h.push_str(&format!(" id {}", self.id));
        if let Some(rcpt) = self.for_rcpt {
            h.push_str(&format!("\r\n\tfor <{}>", clean(rcpt, 320)));
        }
        h.push_str(&format!("; {}\r\n", crate::time::rfc5322(self.when)));
        h
    }
}

/// The RFC 3848 / RFC 6531 `with` keyword.
pub fn with_keyword(esmtp: bool, tls: bool, authenticated: bool, utf8: bool) -> &'static str {
    match (utf8, esmtp, tls, authenticated) {
        (true, _, false, false) => "UTF8SMTP",
        (true, _, true, false) => "UTF8SMTPS",
        (true, _, false, true) => "UTF8SMTPA",
        (true, _, true, true) => "UTF8SMTPSA",
        (false, false, _, _) => "SMTP",
        (false, true, false, false) => "ESMTP",
        (false, true, true, false) => "ESMTPS",
        (false, true, false, true) => "ESMTPA",
        (false, true, true, true) => "ESMTPSA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_folded_received_header() {
        let r = Received {
            helo: "client.test (evil)\r\nX-Injected: 1",
            client_ip: "192.0.2.1".parse().unwrap(),
            by: "mx.example.test",
            with: with_keyword(true, true, false, false),
            tls: Some("TLSv1.3 TLS13_AES_256_GCM_SHA384"),
            id: "abc",
            for_rcpt: Some("u@example.test"),
            when: 0,
        };
        assert_eq!(
            r.to_header(),
            "Received: from client.test evilX-Injected: 1 ([192.0.2.1])\r\n\tby mx.example.test (mailnook) with ESMTPS \
             (TLSv1.3 TLS13_AES_256_GCM_SHA384) id abc\r\n\tfor <u@example.test>; Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }
}
