//! Apple configuration profiles (`.mobileconfig`): one unsigned XML property list with one
//! `com.apple.mail.managed` payload, which iOS, iPadOS and macOS install as a Mail account
//! (Apple's Configuration Profile Reference, "Mail").
//!
//! The account is IMAP over implicit TLS and SMTP submission over implicit TLS (RFC 8314 §3:
//! implicit TLS preferred to STARTTLS), both with password authentication and the full address
//! as the user name. No password is included: the device asks for it once while installing
//! (`OutgoingPasswordSameAsIncomingPassword`).
//!
//! Invariants:
//! - Deterministic: `PayloadIdentifier` and both `PayloadUUID`s derive from the address and the
//!   host (SHA-256, laid out as an RFC 9562 §5.8 version-8 UUID), so downloading the profile
//!   again updates the installed one instead of adding a second account.
//! - Every string is XML-escaped (`super::xml_escape`); dictionary keys are written in sorted
//!   order, as Apple's tools write them.
//! - Unsigned: iOS shows it as "Not Signed". Signing needs a CMS signature by a certificate the
//!   device trusts, which a self-signed server has not got.

use std::fmt::Write as _;

use ring::digest::{SHA256, digest};

use super::{MailSettings, xml_escape};

/// The Content-Type Safari needs to offer the profile for installation.
pub const MOBILECONFIG_CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// The profile for `s.email` at `s.host`.
pub fn mobileconfig(s: &MailSettings) -> String {
    let base = identifier(s);
    let mut mail = Dict::default();
    mail.string("EmailAccountDescription", &s.email);
    if !s.display_name.is_empty() {
        // Absent, the device asks for the name while installing.
        mail.string("EmailAccountName", &s.display_name);
    }
    mail.string("EmailAccountType", "EmailTypeIMAP");
    mail.string("EmailAddress", &s.email);
    mail.string("IncomingMailServerAuthentication", "EmailAuthPassword");
    mail.string("IncomingMailServerHostName", &s.host);
    mail.integer("IncomingMailServerPortNumber", s.imaps_port);
    mail.boolean("IncomingMailServerUseSSL", true);
    mail.string("IncomingMailServerUsername", &s.email);
    mail.string("OutgoingMailServerAuthentication", "EmailAuthPassword");
    mail.string("OutgoingMailServerHostName", &s.host);
    mail.integer("OutgoingMailServerPortNumber", s.submissions_port);
    mail.boolean("OutgoingMailServerUseSSL", true);
    mail.string("OutgoingMailServerUsername", &s.email);
    mail.boolean("OutgoingPasswordSameAsIncomingPassword", true);
    mail.string(
        "PayloadDescription",
        &format!("Configures Mail for {} on {}.", s.email, s.host),
    );
    mail.string("PayloadDisplayName", &format!("Mail: {}", s.email));
    mail.string("PayloadIdentifier", &format!("{base}.mail"));
    mail.string("PayloadType", "com.apple.mail.managed");
    mail.string("PayloadUUID", &derived_uuid("mail", s));
    mail.integer("PayloadVersion", 1);

    let mut profile = Dict::default();
    profile.array_of_dict("PayloadContent", mail);
    profile.string(
        "PayloadDescription",
        &format!(
            "Sets up {} in Mail: IMAP and SMTP over TLS on {}. The password is asked for while \
             the profile is installed.",
            s.email, s.host
        ),
    );
    profile.string("PayloadDisplayName", &format!("{} mail", s.domain));
    profile.string("PayloadIdentifier", &base);
    profile.string("PayloadOrganization", &s.domain);
    profile.boolean("PayloadRemovalDisallowed", false);
    profile.string("PayloadType", "Configuration");
    profile.string("PayloadUUID", &derived_uuid("profile", s));
    profile.integer("PayloadVersion", 1);

    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n",
    );
    profile.write(&mut out, 0);
    out.push_str("</plist>\n");
    out
}

/// A reverse-DNS identifier unique to the account: the host's labels reversed (letters, digits
/// and hyphens only), `mailnook`, and 16 hex digits of the address's and host's hash.
fn identifier(s: &MailSettings) -> String {
    let mut labels: Vec<String> = s
        .host
        .split('.')
        .map(|l| {
            l.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .collect();
    labels.reverse();
    labels.push("mailnook".to_string());
    let hash = account_hash("identifier", s);
    let mut out = labels.join(".");
    out.push('.');
    for b in &hash[..8] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// SHA-256 over a purpose, the lower-cased address and the lower-cased host, NUL-separated.
fn account_hash(purpose: &str, s: &MailSettings) -> [u8; 32] {
    let input = format!(
        "mailnook mobileconfig\0{purpose}\0{}\0{}",
        s.email.to_lowercase(),
        s.host.to_ascii_lowercase()
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, input.as_bytes()).as_ref());
    out
}

/// A name-based UUID from SHA-256 (RFC 9562 §5.8 version 8, the construction of its Appendix
/// B.2): the hash's first 16 bytes with the version nibble set to 8 and the variant bits to
/// `10` (§4.1), upper-case hex as Apple's tools write.
fn derived_uuid(purpose: &str, s: &MailSettings) -> String {
    let h = account_hash(purpose, s);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

/// One property-list value.
enum Value {
    String(String),
    Integer(u16),
    Boolean(bool),
    ArrayOfDict(Dict),
}

/// A property-list dictionary, written with its keys in the order added (callers add them
/// sorted).
#[derive(Default)]
struct Dict(Vec<(&'static str, Value)>);

impl Dict {
    fn string(&mut self, key: &'static str, value: &str) {
        self.0.push((key, Value::String(value.to_string())));
    }
    fn integer(&mut self, key: &'static str, value: u16) {
        self.0.push((key, Value::Integer(value)));
    }
    fn boolean(&mut self, key: &'static str, value: bool) {
        self.0.push((key, Value::Boolean(value)));
    }
    fn array_of_dict(&mut self, key: &'static str, value: Dict) {
        self.0.push((key, Value::ArrayOfDict(value)));
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = "\t".repeat(depth);
        let _ = writeln!(out, "{pad}<dict>");
        for (key, value) in &self.0 {
            let _ = writeln!(out, "{pad}\t<key>{}</key>", xml_escape(key));
            match value {
                Value::String(s) => {
                    let _ = writeln!(out, "{pad}\t<string>{}</string>", xml_escape(s));
                }
                Value::Integer(i) => {
                    let _ = writeln!(out, "{pad}\t<integer>{i}</integer>");
                }
                Value::Boolean(b) => {
                    let _ = writeln!(out, "{pad}\t<{}/>", if *b { "true" } else { "false" });
                }
                Value::ArrayOfDict(d) => {
                    let _ = writeln!(out, "{pad}\t<array>");
                    d.write(out, depth + 2);
                    let _ = writeln!(out, "{pad}\t</array>");
                }
            }
        }
        let _ = writeln!(out, "{pad}</dict>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> MailSettings {
        MailSettings::with_standard_ports(
            "alice@example.test",
            "Alice Example",
            "example.test",
            "mail.example.test",
        )
    }

    /// A dictionary's entries as (key, value element name, value text).
    type Entries = Vec<(String, String, String)>;

    /// The top-level dictionary's entries and the one payload's.
    fn entries(xml: &str) -> (Entries, Entries) {
        let doc = roxmltree::Document::parse_with_options(
            xml,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            },
        )
        .expect("well-formed");
        let plist = doc.root_element();
        assert_eq!(plist.tag_name().name(), "plist");
        let dict = |node: roxmltree::Node<'_, '_>| -> Entries {
            let children: Vec<_> = node.children().filter(|n| n.is_element()).collect();
            assert_eq!(children.len() % 2, 0);
            children
                .chunks(2)
                .map(|kv| {
                    assert_eq!(kv[0].tag_name().name(), "key");
                    (
                        kv[0].text().unwrap_or("").to_string(),
                        kv[1].tag_name().name().to_string(),
                        kv[1].text().unwrap_or("").to_string(),
                    )
                })
                .collect()
        };
        let top = plist.children().find(|n| n.is_element()).unwrap();
        let array = top
            .children()
            .find(|n| n.has_tag_name("array"))
            .expect("PayloadContent");
        let payload = array.children().find(|n| n.is_element()).unwrap();
        (dict(top), dict(payload))
    }

    fn get<'a>(d: &'a [(String, String, String)], key: &str) -> (&'a str, &'a str) {
        d.iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, t, v)| (t.as_str(), v.as_str()))
            .unwrap_or_else(|| panic!("no {key}"))
    }

    #[test]
    fn one_imap_payload_over_tls_with_the_address_as_user() {
        let xml = mobileconfig(&alice());
        let (top, mail) = entries(&xml);
        assert_eq!(get(&top, "PayloadType"), ("string", "Configuration"));
        assert_eq!(get(&top, "PayloadVersion"), ("integer", "1"));
        assert_eq!(get(&top, "PayloadRemovalDisallowed"), ("false", ""));
        assert_eq!(
            get(&mail, "PayloadType"),
            ("string", "com.apple.mail.managed")
        );
        assert_eq!(get(&mail, "EmailAccountType"), ("string", "EmailTypeIMAP"));
        assert_eq!(get(&mail, "EmailAccountName"), ("string", "Alice Example"));
        assert_eq!(
            get(&mail, "IncomingMailServerHostName"),
            ("string", "mail.example.test")
        );
        assert_eq!(
            get(&mail, "IncomingMailServerPortNumber"),
            ("integer", "993")
        );
        assert_eq!(get(&mail, "IncomingMailServerUseSSL"), ("true", ""));
        assert_eq!(
            get(&mail, "OutgoingMailServerPortNumber"),
            ("integer", "465")
        );
        assert_eq!(get(&mail, "OutgoingMailServerUseSSL"), ("true", ""));
        for key in [
            "IncomingMailServerUsername",
            "OutgoingMailServerUsername",
            "EmailAddress",
        ] {
            assert_eq!(get(&mail, key), ("string", "alice@example.test"));
        }
        for key in [
            "IncomingMailServerAuthentication",
            "OutgoingMailServerAuthentication",
        ] {
            assert_eq!(get(&mail, key), ("string", "EmailAuthPassword"));
        }
        assert!(
            mail.iter()
                .all(|(k, _, _)| k != "IncomingPassword" && k != "OutgoingPassword")
        );
        // Keys sorted, as Apple's tools write them.
        for d in [&top, &mail] {
            assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "{d:?}");
        }
    }

    #[test]
    fn identifiers_are_stable_per_account_and_distinct_between_accounts() {
        let a = mobileconfig(&alice());
        assert_eq!(a, mobileconfig(&alice()));
        let (top, mail) = entries(&a);
        let id = get(&top, "PayloadIdentifier").1.to_string();
        assert!(id.starts_with("test.example.mail.mailnook."), "{id}");
        assert_eq!(id.len(), "test.example.mail.mailnook.".len() + 16);
        assert_eq!(get(&mail, "PayloadIdentifier").1, format!("{id}.mail"));
        let (u1, u2) = (get(&top, "PayloadUUID").1, get(&mail, "PayloadUUID").1);
        assert_ne!(u1, u2);
        for u in [u1, u2] {
            let groups: Vec<&str> = u.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(
                u.chars()
                    .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase())
            );
            assert!(groups[2].starts_with('8'), "version 8: {u}");
            assert!(
                matches!(&groups[3][..1], "8" | "9" | "A" | "B"),
                "variant: {u}"
            );
        }
        // Case of the address or host does not matter; another user or host does.
        let mut upper = alice();
        upper.email = "Alice@Example.TEST".into();
        upper.host = "MAIL.example.test".into();
        assert_eq!(
            derived_uuid("profile", &upper),
            derived_uuid("profile", &alice())
        );
        let mut bob = alice();
        bob.email = "bob@example.test".into();
        assert_ne!(
            derived_uuid("profile", &bob),
            derived_uuid("profile", &alice())
        );
        assert_ne!(identifier(&bob), identifier(&alice()));
        let mut other_host = alice();
        other_host.host = "mx.example.test".into();
        assert_ne!(
            derived_uuid("mail", &other_host),
            derived_uuid("mail", &alice())
        );
    }

    #[test]
    fn every_string_is_escaped() {
        let mut s = alice();
        s.display_name = "Ann & \"Bob\" <x></string><key>IncomingPassword</key>\u{1}".into();
        s.host = "evil<host>.test".into();
        let xml = mobileconfig(&s);
        let (_, mail) = entries(&xml);
        assert_eq!(
            get(&mail, "EmailAccountName").1,
            "Ann & \"Bob\" <x></string><key>IncomingPassword</key>"
        );
        assert_eq!(
            get(&mail, "IncomingMailServerHostName").1,
            "evil<host>.test"
        );
        assert!(mail.iter().all(|(k, _, _)| k != "IncomingPassword"));
        assert!(identifier(&s).starts_with("test.evilhost.mailnook."));
    }

    #[test]
    fn an_empty_display_name_is_left_for_the_device_to_ask() {
        let mut s = alice();
        s.display_name.clear();
        let (_, mail) = entries(&mobileconfig(&s));
        assert!(mail.iter().all(|(k, _, _)| k != "EmailAccountName"));
    }
}
