//! Thunderbird autoconfiguration: the `config-v1.1.xml` document served at
//! `https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=…` and
//! `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml` (format: Mozilla wiki
//! "Thunderbird:Autoconfiguration:ConfigFileFormat"). Thunderbird, K-9 Mail/Thunderbird for
//! Android, Evolution and KMail read it.
//!
//! Offered, in the order a client should prefer them (the format's order is the preference):
//! IMAP over implicit TLS, IMAP with STARTTLS, POP3 over implicit TLS, POP3 with STLS;
//! submission over implicit TLS, then with STARTTLS (RFC 8314 §3: implicit TLS first). Never a
//! `plain` socket. Every server uses `password-cleartext` (AUTH PLAIN/LOGIN inside TLS) and the
//! user name `%EMAILADDRESS%`, which the client replaces with the address the user typed, so the
//! document does not depend on the user and `s.email` may be empty.

use std::fmt::Write as _;

use super::{MailSettings, xml_escape};

/// The Content-Type to serve the document with.
pub const AUTOCONFIG_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// The `socketType` values of the format: implicit TLS ("SSL") or a mandatory upgrade.
#[derive(Clone, Copy)]
enum Socket {
    Ssl,
    StartTls,
}

/// The `config-v1.1.xml` document for `s.domain` at `s.host`.
pub fn autoconfig(s: &MailSettings) -> String {
    let domain = xml_escape(&s.domain);
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<clientConfig version=\"1.1\">\n");
    let _ = writeln!(out, "  <emailProvider id=\"{domain}\">");
    let _ = writeln!(out, "    <domain>{domain}</domain>");
    let _ = writeln!(out, "    <displayName>{domain} mail</displayName>");
    let _ = writeln!(out, "    <displayShortName>{domain}</displayShortName>");
    let servers = [
        ("incomingServer", "imap", s.imaps_port, Socket::Ssl),
        ("incomingServer", "imap", s.imap_port, Socket::StartTls),
        ("incomingServer", "pop3", s.pop3s_port, Socket::Ssl),
        ("incomingServer", "pop3", s.pop3_port, Socket::StartTls),
        ("outgoingServer", "smtp", s.submissions_port, Socket::Ssl),
        (
            "outgoingServer",
            "smtp",
            s.submission_port,
            Socket::StartTls,
        ),
    ];
    for (element, kind, port, socket) in servers {
        server(&mut out, element, kind, &s.host, port, socket);
    }
    out.push_str("  </emailProvider>\n");
    out.push_str("</clientConfig>\n");
    out
}

fn server(out: &mut String, element: &str, kind: &str, host: &str, port: u16, socket: Socket) {
    let socket = match socket {
        Socket::Ssl => "SSL",
        Socket::StartTls => "STARTTLS",
    };
    let _ = writeln!(out, "    <{element} type=\"{kind}\">");
    let _ = writeln!(out, "      <hostname>{}</hostname>", xml_escape(host));
    let _ = writeln!(out, "      <port>{port}</port>");
    let _ = writeln!(out, "      <socketType>{socket}</socketType>");
    // The client substitutes the address the user entered.
    out.push_str("      <username>%EMAILADDRESS%</username>\n");
    // Password sent inside TLS: AUTH PLAIN or LOGIN (the only mechanisms we offer).
    out.push_str("      <authentication>password-cleartext</authentication>\n");
    let _ = writeln!(out, "    </{element}>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_tls_endpoints_in_preference_order() {
        let s = MailSettings::with_standard_ports("", "", "example.test", "mail.example.test");
        let xml = autoconfig(&s);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "clientConfig");
        assert_eq!(root.attribute("version"), Some("1.1"));
        let provider = root.first_element_child().unwrap();
        assert_eq!(provider.tag_name().name(), "emailProvider");
        assert_eq!(provider.attribute("id"), Some("example.test"));
        let child = |n: roxmltree::Node<'_, '_>, name: &str| {
            n.children()
                .find(|c| c.has_tag_name(name))
                .and_then(|c| c.text())
                .map(str::to_string)
        };
        assert_eq!(child(provider, "domain").as_deref(), Some("example.test"));
        let servers: Vec<(String, String, String, String, String, String, String)> = provider
            .children()
            .filter(|n| n.has_tag_name("incomingServer") || n.has_tag_name("outgoingServer"))
            .map(|n| {
                (
                    n.tag_name().name().to_string(),
                    n.attribute("type").unwrap().to_string(),
                    child(n, "hostname").unwrap(),
                    child(n, "port").unwrap(),
                    child(n, "socketType").unwrap(),
                    child(n, "username").unwrap(),
                    child(n, "authentication").unwrap(),
                )
            })
            .collect();
        let expect = |e: &str, t: &str, p: &str, st: &str| {
            (
                e.to_string(),
                t.to_string(),
                "mail.example.test".to_string(),
                p.to_string(),
                st.to_string(),
                "%EMAILADDRESS%".to_string(),
                "password-cleartext".to_string(),
            )
        };
        assert_eq!(
            servers,
            vec![
                expect("incomingServer", "imap", "993", "SSL"),
                expect("incomingServer", "imap", "143", "STARTTLS"),
                expect("incomingServer", "pop3", "995", "SSL"),
                expect("incomingServer", "pop3", "110", "STARTTLS"),
                expect("outgoingServer", "smtp", "465", "SSL"),
                expect("outgoingServer", "smtp", "587", "STARTTLS"),
            ]
        );
        assert!(!xml.contains("plain<"), "never a plain socket");
    }

    #[test]
    fn does_not_depend_on_the_user_and_escapes_the_domain() {
        let a = MailSettings::with_standard_ports("a@example.test", "A", "example.test", "h.test");
        let b = MailSettings::with_standard_ports("", "", "example.test", "h.test");
        assert_eq!(autoconfig(&a), autoconfig(&b));
        let odd = MailSettings::with_standard_ports("", "", "x\"/><evil a=\"", "h<.test");
        let xml = autoconfig(&odd);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let provider = doc.root_element().first_element_child().unwrap();
        assert_eq!(provider.attribute("id"), Some("x\"/><evil a=\""));
        assert!(doc.descendants().all(|n| !n.has_tag_name("evil")));
    }
}
