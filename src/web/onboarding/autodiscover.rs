//! Outlook autodiscover, the POX ("plain old XML") protocol: Outlook POSTs a small XML request
//! naming the address to `https://autodiscover.<domain>/autodiscover/autodiscover.xml` (or
//! `https://<domain>/autodiscover/autodiscover.xml`) and reads back the account settings in the
//! `outlook/responseschema/2006a` schema (Microsoft's "POX Autodiscover XML elements for
//! Exchange": `Account`, `Protocol`, `Error`).
//!
//! The request is the only input here that comes from the network, so its parser is bounded:
//! - at most [`MAX_REQUEST_BYTES`], checked before anything else;
//! - UTF-8 only (the protocol's requests and responses "must be UTF-8 encoded");
//! - any `<!DOCTYPE` or `<!ENTITY` refuses the request outright, whatever it declares: there
//!   is no entity expansion and no external resource, ever (roxmltree's DTD refusal stays on
//!   as a second lock, and it never fetches anything);
//! - at most [`MAX_NODES`] nodes in the tree.
//!
//! The response offers IMAP (implicit TLS), SMTP submission (implicit TLS) and POP3 (implicit
//! TLS), each with password authentication (`SPA` off: no NTLM), authentication required and
//! the full address as `LoginName`. Values are XML-escaped.

use std::fmt::Write as _;

use super::{MailSettings, xml_escape};

/// The Content-Type of responses (success and error alike).
pub const AUTODISCOVER_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Largest request body accepted. Outlook's request is about 350 bytes.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// Most XML nodes (elements, text, comments, processing instructions) a request may have.
pub const MAX_NODES: u32 = 256;

/// The request schema's root namespace (Outlook writes it with `http:`).
const REQUEST_SCHEMA_SUFFIX: &str = "/exchange/autodiscover/outlook/requestschema/2006";
/// The only response schema we write.
const RESPONSE_SCHEMA_SUFFIX: &str = "/exchange/autodiscover/outlook/responseschema/2006a";
const RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
const RESPONSE_NS_2006A: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// Why a request body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AutodiscoverError {
    /// Longer than [`MAX_REQUEST_BYTES`].
    #[error("autodiscover request larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("autodiscover request is not UTF-8")]
    NotUtf8,
    /// It has a document type declaration or declares entities.
    #[error("autodiscover request has a DOCTYPE or entity declaration")]
    Doctype,
    /// Not well-formed XML, or more than [`MAX_NODES`] nodes.
    #[error("autodiscover request is not well-formed XML")]
    Malformed,
    /// Well-formed, but not `<Autodiscover><Request>…` of the Outlook request schema.
    #[error("not an Outlook autodiscover request")]
    NotARequest,
    /// The client accepts only a response schema other than Outlook's 2006a (e.g. ActiveSync's
    /// `mobilesync` schema).
    #[error("autodiscover response schema not supported")]
    UnsupportedSchema,
    /// No `EMailAddress` element (or more than one).
    #[error("autodiscover request names no single EMailAddress")]
    NoAddress,
    /// `EMailAddress` is not an address we could serve (`crate::message::address::normalize`).
    #[error("autodiscover request's EMailAddress is not a valid address")]
    BadAddress,
}

impl AutodiscoverError {
    /// The error response for this refusal.
    pub fn fault(self) -> AutodiscoverFault {
        match self {
            AutodiscoverError::UnsupportedSchema => AutodiscoverFault::UnsupportedSchema,
            _ => AutodiscoverFault::InvalidRequest,
        }
    }
}

/// The errors a response can carry (`Error/ErrorCode` and `Message`, as Exchange words them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutodiscoverFault {
    /// 600 "Invalid Request": unparseable or not a request (also Exchange's answer to a GET).
    InvalidRequest,
    /// 601 "Provider is not available": a response schema we do not write was asked for.
    UnsupportedSchema,
    /// 500 "The e-mail address cannot be found.": a well-formed request for an address that is
    /// not a user here (decided by the caller, which knows the users).
    UnknownAddress,
}

impl AutodiscoverFault {
    /// `(ErrorCode, Message)`.
    pub fn code_and_message(self) -> (u16, &'static str) {
        match self {
            AutodiscoverFault::InvalidRequest => (600, "Invalid Request"),
            AutodiscoverFault::UnsupportedSchema => (601, "Provider is not available"),
            AutodiscoverFault::UnknownAddress => (500, "The e-mail address cannot be found."),
        }
    }
}

/// The address an Outlook POX request asks about, normalised (lower case, checked syntax).
pub fn parse_autodiscover_request(body: &[u8]) -> Result<String, AutodiscoverError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(AutodiscoverError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| AutodiscoverError::NotUtf8)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    // No DTD of any kind: no internal entities to expand, no external ones to fetch (XML 1.0
    // §2.8: a DOCTYPE may only open the prolog, and nothing else starts with `<!D` or `<!E`).
    if memchr::memmem::find(text.as_bytes(), b"<!DOCTYPE").is_some()
        || memchr::memmem::find(text.as_bytes(), b"<!ENTITY").is_some()
    {
        return Err(AutodiscoverError::Doctype);
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => AutodiscoverError::Doctype,
        _ => AutodiscoverError::Malformed,
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "Autodiscover"
        || !root
            .tag_name()
            .namespace()
            .is_some_and(|ns| ns.ends_with(REQUEST_SCHEMA_SUFFIX))
    {
        return Err(AutodiscoverError::NotARequest);
    }
    let request = only_child(root, "Request").ok_or(AutodiscoverError::NotARequest)?;
    // Absent, the client takes what it gets; present, it must be Outlook's schema.
    if let Some(schema) = request
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "AcceptableResponseSchema")
        && !text_of(schema).is_some_and(|s| s.trim().ends_with(RESPONSE_SCHEMA_SUFFIX))
    {
        return Err(AutodiscoverError::UnsupportedSchema);
    }
    let address = only_child(request, "EMailAddress").ok_or(AutodiscoverError::NoAddress)?;
    let address = text_of(address).ok_or(AutodiscoverError::BadAddress)?;
    crate::message::address::normalize(&address).ok_or(AutodiscoverError::BadAddress)
}

/// The one element child of `node` named `name` (in its namespace), if exactly one.
fn only_child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    let ns = node.tag_name().namespace();
    let mut found = node.children().filter(|n| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == ns
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The text of an element that has only text (comments allowed), concatenated.
fn text_of(node: roxmltree::Node<'_, '_>) -> Option<String> {
    let mut out = String::new();
    for child in node.children() {
        if child.is_element() {
            return None;
        }
        if let Some(t) = child.text().filter(|_| child.is_text()) {
            out.push_str(t);
        }
    }
    Some(out)
}

/// The settings response for `s.email` (`Account` of type `email`, action `settings`).
pub fn autodiscover_response(s: &MailSettings) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(out, "<Autodiscover xmlns=\"{RESPONSE_NS}\">");
    let _ = writeln!(out, "  <Response xmlns=\"{RESPONSE_NS_2006A}\">");
    if !s.display_name.is_empty() {
        out.push_str("    <User>\n");
        let _ = writeln!(
            out,
            "      <DisplayName>{}</DisplayName>",
            xml_escape(&s.display_name)
        );
        out.push_str("    </User>\n");
    }
    out.push_str("    <Account>\n");
    out.push_str("      <AccountType>email</AccountType>\n");
    out.push_str("      <Action>settings</Action>\n");
    protocol(&mut out, "IMAP", s, s.imaps_port);
    protocol(&mut out, "SMTP", s, s.submissions_port);
    protocol(&mut out, "POP3", s, s.pop3s_port);
    out.push_str("    </Account>\n");
    out.push_str("  </Response>\n");
    out.push_str("</Autodiscover>\n");
    out
}

/// One `Protocol` element, its children in the schema's order.
fn protocol(out: &mut String, kind: &str, s: &MailSettings, port: u16) {
    out.push_str("      <Protocol>\n");
    let _ = writeln!(out, "        <Type>{kind}</Type>");
    let _ = writeln!(out, "        <Server>{}</Server>", xml_escape(&s.host));
    let _ = writeln!(out, "        <Port>{port}</Port>");
    let _ = writeln!(
        out,
        "        <LoginName>{}</LoginName>",
        xml_escape(&s.email)
    );
    out.push_str("        <DomainRequired>off</DomainRequired>\n");
    // SPA (NTLM) defaults to on when absent: say off, the password goes in TLS.
    out.push_str("        <SPA>off</SPA>\n");
    out.push_str("        <SSL>on</SSL>\n");
    out.push_str("        <AuthRequired>on</AuthRequired>\n");
    if kind == "SMTP" {
        // Log in to SMTP itself, not "POP before SMTP".
        out.push_str("        <UsePOPAuth>off</UsePOPAuth>\n");
        out.push_str("        <SMTPLast>off</SMTPLast>\n");
    }
    out.push_str("      </Protocol>\n");
}

/// The error response for `fault` (what Exchange sends, without its `Time` and `Id`
/// attributes, which only identify a server for its logs).
pub fn autodiscover_error_response(fault: AutodiscoverFault) -> String {
    let (code, message) = fault.code_and_message();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"{RESPONSE_NS}\">\n  \
         <Response>\n    \
         <Error>\n      \
         <ErrorCode>{code}</ErrorCode>\n      \
         <Message>{message}</Message>\n      \
         <DebugData />\n    \
         </Error>\n  \
         </Response>\n\
         </Autodiscover>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(address: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n\
             <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\r\n\
             <Request>\r\n\
             <EMailAddress>{address}</EMailAddress>\r\n\
             <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\r\n\
             </Request>\r\n\
             </Autodiscover>\r\n"
        )
    }

    #[test]
    fn reads_outlooks_request() {
        assert_eq!(
            parse_autodiscover_request(request("Alice@Example.TEST").as_bytes()),
            Ok("alice@example.test".to_string())
        );
        // BOM, a prefixed namespace, https, a comment inside the address, no schema element.
        let other = "\u{FEFF}<a:Autodiscover xmlns:a=\"https://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\
                     <a:Request><a:EMailAddress> bob@<!-- x -->example.test </a:EMailAddress></a:Request></a:Autodiscover>";
        assert_eq!(
            parse_autodiscover_request(other.as_bytes()),
            Ok("bob@example.test".to_string())
        );
    }

    #[test]
    fn refuses_what_is_not_a_plain_request() {
        use AutodiscoverError::*;
        let cases: Vec<(Vec<u8>, AutodiscoverError)> = vec![
            (
                request("&e;")
                    .replacen("?>", "?><!DOCTYPE a [<!ENTITY e \"alice@example.test\">]>", 1)
                    .into_bytes(),
                Doctype,
            ),
            (
                request("alice@example.test").replace("<?xml version=\"1.0\" encoding=\"utf-8\"?>", "<?xml version=\"1.0\"?><!DOCTYPE Autodiscover SYSTEM \"http://evil.test/x.dtd\">").into_bytes(),
                Doctype,
            ),
            (request("&e;").into_bytes(), Malformed),
            (
                {
                    let mut b = request("alice@example.test").into_bytes();
                    b.extend(std::iter::repeat_n(b' ', MAX_REQUEST_BYTES));
                    b
                },
                TooLarge,
            ),
            (b"\xff<Autodiscover/>".to_vec(), NotUtf8),
            (b"".to_vec(), Malformed),
            (b"<a><b></a>".to_vec(), Malformed),
            (
                request("alice@example.test").replace("requestschema", "other").into_bytes(),
                NotARequest,
            ),
            (
                request("alice@example.test").replace("<Request>", "<Req>").replace("</Request>", "</Req>").into_bytes(),
                NotARequest,
            ),
            (
                request("alice@example.test").replace("outlook/responseschema/2006a", "mobilesync/responseschema/2006").into_bytes(),
                UnsupportedSchema,
            ),
            (
                request("alice@example.test").replace("<EMailAddress>alice@example.test</EMailAddress>", "<LegacyDN>/o=x</LegacyDN>").into_bytes(),
                NoAddress,
            ),
            (
                request("alice@example.test").replace("<EMailAddress>", "<EMailAddress>a@b.test</EMailAddress><EMailAddress>").into_bytes(),
                NoAddress,
            ),
            (request("not an address").into_bytes(), BadAddress),
            (request("a%b@example.test").into_bytes(), BadAddress),
            (request("<x>alice@example.test</x>").into_bytes(), BadAddress),
            (
                format!(
                    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">{}</Autodiscover>",
                    "<x/>".repeat(300)
                )
                .into_bytes(),
                Malformed,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                parse_autodiscover_request(&body),
                Err(want),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn response_carries_the_settings() {
        let s = MailSettings::with_standard_ports(
            "alice@example.test",
            "Alice <A>",
            "example.test",
            "mail.example.test",
        );
        let xml = autodiscover_response(&s);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let root = doc.root_element();
        assert_eq!(root.tag_name().namespace(), Some(RESPONSE_NS));
        let response = root.first_element_child().unwrap();
        assert_eq!(response.tag_name().namespace(), Some(RESPONSE_NS_2006A));
        let text = |n: roxmltree::Node<'_, '_>, name: &str| {
            n.children()
                .find(|c| c.has_tag_name(name))
                .and_then(|c| c.text())
                .unwrap_or_default()
                .to_string()
        };
        let user = response
            .children()
            .find(|c| c.has_tag_name("User"))
            .unwrap();
        assert_eq!(text(user, "DisplayName"), "Alice <A>");
        let account = response
            .children()
            .find(|c| c.has_tag_name("Account"))
            .unwrap();
        assert_eq!(text(account, "AccountType"), "email");
        assert_eq!(text(account, "Action"), "settings");
        let protocols: Vec<_> = account
            .children()
            .filter(|c| c.has_tag_name("Protocol"))
            .map(|p| {
                (
                    text(p, "Type"),
                    text(p, "Server"),
                    text(p, "Port"),
                    text(p, "SSL"),
                    text(p, "SPA"),
                    text(p, "AuthRequired"),
                    text(p, "LoginName"),
                )
            })
            .collect();
        let row = |t: &str, p: &str| {
            (
                t.to_string(),
                "mail.example.test".to_string(),
                p.to_string(),
                "on".to_string(),
                "off".to_string(),
                "on".to_string(),
                "alice@example.test".to_string(),
            )
        };
        assert_eq!(
            protocols,
            vec![row("IMAP", "993"), row("SMTP", "465"), row("POP3", "995")]
        );
    }

    #[test]
    fn error_responses_are_well_formed_with_exchanges_codes() {
        for (fault, code) in [
            (AutodiscoverFault::InvalidRequest, "600"),
            (AutodiscoverFault::UnsupportedSchema, "601"),
            (AutodiscoverFault::UnknownAddress, "500"),
        ] {
            let xml = autodiscover_error_response(fault);
            let doc = roxmltree::Document::parse(&xml).expect("well-formed");
            let error = doc.descendants().find(|n| n.has_tag_name("Error")).unwrap();
            let code_el = error
                .children()
                .find(|n| n.has_tag_name("ErrorCode"))
                .unwrap();
            assert_eq!(code_el.text(), Some(code));
            assert_eq!(code_el.tag_name().namespace(), Some(RESPONSE_NS));
        }
        assert_eq!(
            AutodiscoverError::Doctype.fault(),
            AutodiscoverFault::InvalidRequest
        );
        assert_eq!(
            AutodiscoverError::UnsupportedSchema.fault(),
            AutodiscoverFault::UnsupportedSchema
        );
    }
}
