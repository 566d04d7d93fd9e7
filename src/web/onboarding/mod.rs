//! Client onboarding documents: what the web page hands a phone or a mail program so that it
//! configures itself for a user's account. Pure functions from [`MailSettings`] to text; no I/O,
//! no store, no clock (the web server fetches the settings and serves the bytes).
//!
//! One module per format:
//! - [`mobileconfig`](mod@mobileconfig): an Apple configuration profile (iOS, iPadOS, macOS Mail);
//! - [`autoconfig`](mod@autoconfig): Thunderbird's `config-v1.1.xml` (also read by K-9/Thunderbird for Android,
//!   Evolution, KMail and others);
//! - [`autodiscover`](mod@autodiscover): Outlook's POX autodiscover, the one format that reads a request body;
//! - [`qr`](mod@qr): a QR code as inline SVG, for a phone to open the setup link or an authenticator
//!   app to take a TOTP secret (`crate::auth::totp::otpauth_uri`).
//!
//! Invariants:
//! - Every value from the settings or a request is written through `xml_escape`: markup
//!   characters and tab/LF/CR become references and characters XML 1.0 does not allow (§2.2
//!   `Char`: the other C0 controls, U+FFFE, U+FFFF) are dropped, so no input can change a
//!   document's structure or make it ill-formed, and a parser reads back every value as given
//!   less those characters.
//! - Only implicit-TLS and STARTTLS endpoints are ever offered, always with password
//!   authentication and the full address as the login name; no document carries a password.
//! - The same settings give the same bytes (profile identifiers are derived, not random), so a
//!   profile downloaded twice replaces itself instead of adding a second account.
//! - The one parser ([`autodiscover::parse_autodiscover_request`]) is bounded: at most
//!   [`autodiscover::MAX_REQUEST_BYTES`] of input, no DTD, a node limit.

pub mod autoconfig;
pub mod autodiscover;
pub mod mobileconfig;
pub mod qr;

pub use autoconfig::{AUTOCONFIG_CONTENT_TYPE, autoconfig};
pub use autodiscover::{
    AUTODISCOVER_CONTENT_TYPE, AutodiscoverError, AutodiscoverFault, MAX_REQUEST_BYTES,
    autodiscover_error_response, autodiscover_response, parse_autodiscover_request,
};
pub use mobileconfig::{MOBILECONFIG_CONTENT_TYPE, mobileconfig};
pub use qr::{MAX_QR_TEXT_BYTES, QR_CONTENT_TYPE, QrError, qr_svg};

/// What a mail client needs to reach one account: the input of every onboarding document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The user's address, also the login name. May be empty for [`autoconfig()`] (Thunderbird
    /// asks before it knows the user, and fills in `%EMAILADDRESS%` itself).
    pub email: String,
    /// The user's name as shown on sent mail; may be empty.
    pub display_name: String,
    /// The mail domain (the part after `@`).
    pub domain: String,
    /// The server host name clients connect to (the one on its TLS certificate).
    pub host: String,
    /// IMAP over implicit TLS (RFC 8314 §3.3; 993).
    pub imaps_port: u16,
    /// IMAP with STARTTLS (RFC 9051 §6.2.1; 143).
    pub imap_port: u16,
    /// Submission over implicit TLS (RFC 8314 §3.3; 465).
    pub submissions_port: u16,
    /// Submission with STARTTLS (RFC 6409; 587).
    pub submission_port: u16,
    /// POP3 over implicit TLS (RFC 8314 §3.3; 995).
    pub pop3s_port: u16,
    /// POP3 with STLS (RFC 2595 §4; 110).
    pub pop3_port: u16,
}

impl MailSettings {
    /// Settings with the standard ports (993, 143, 465, 587, 995, 110).
    pub fn with_standard_ports(
        email: &str,
        display_name: &str,
        domain: &str,
        host: &str,
    ) -> MailSettings {
        MailSettings {
            email: email.to_string(),
            display_name: display_name.to_string(),
            domain: domain.to_string(),
            host: host.to_string(),
            imaps_port: 993,
            imap_port: 143,
            submissions_port: 465,
            submission_port: 587,
            pop3s_port: 995,
            pop3_port: 110,
        }
    }
}

/// `s` as XML character data or an attribute value (either quote style): `&`, `<`, `>`, `"`
/// and `'` become entity references, tab, LF and CR character references (so neither line-end
/// normalisation, §2.11, nor attribute-value normalisation, §3.3.3, changes them), and
/// characters outside XML 1.0's `Char` production (§2.2) are dropped. A parser reads back
/// exactly `s` without those characters.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether XML 1.0 allows `c` in a document (§2.2: `Char ::= #x9 | #xA | #xD |
/// [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`; a Rust `char` is never a surrogate).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_forbids() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'d'"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(xml_escape("x\u{0}\u{1b}y\u{FFFE}\u{FFFF}z"), "xyz");
        assert_eq!(xml_escape("t\tl\nc\r"), "t&#9;l&#10;c&#13;");
        assert_eq!(xml_escape("Zoë 名前 😀"), "Zoë 名前 😀");
        assert_eq!(xml_escape(""), "");
    }

    #[test]
    fn escaped_text_parses_back_to_the_allowed_characters() {
        let input = "Ann & \"Bob\" <bob@example.test> ]]> \u{7}\u{FFFF}é\r\n\t\r";
        let doc = format!("<a x=\"{0}\" y='{0}'>{0}</a>", xml_escape(input));
        let parsed = roxmltree::Document::parse(&doc).expect("well-formed");
        let root = parsed.root_element();
        let expected = "Ann & \"Bob\" <bob@example.test> ]]> é\r\n\t\r";
        assert_eq!(root.text(), Some(expected));
        assert_eq!(root.attribute("x"), Some(expected));
        assert_eq!(root.attribute("y"), Some(expected));
    }
}
