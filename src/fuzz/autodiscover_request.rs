//! Outlook autodiscover fuzz entry point: request bodies through
//! `web::onboarding::parse_autodiscover_request`, and whatever it accepts (and the raw input as
//! a display name) back out through the response builder and an XML parser.

use super::{header, into_tokens};
use crate::message::address;
use crate::web::onboarding::{
    AutodiscoverError, MAX_REQUEST_BYTES, MailSettings, autodiscover_error_response,
    autodiscover_response, is_xml_char, parse_autodiscover_request,
};

const NS: &[u8] =
    b"\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"";

const AUTODISCOVER_TOKENS: &[&[u8]] = &[
    b"<?xml version=\"1.0\" encoding=\"utf-8\"?>",
    b"<Autodiscover xmlns=",
    NS,
    b"<a:Autodiscover xmlns:a=",
    b">",
    b"</Autodiscover>",
    b"<Request>",
    b"</Request>",
    b"<a:Request>",
    b"</a:Request>",
    b"<EMailAddress>",
    b"</EMailAddress>",
    b"<a:EMailAddress>",
    b"</a:EMailAddress>",
    b"<AcceptableResponseSchema>",
    b"</AcceptableResponseSchema>",
    b"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
    b"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006",
    b"<LegacyDN>/o=x</LegacyDN>",
    b"alice@example.test",
    b"Alice",
    b"@",
    b".",
    b"example.test",
    b"%",
    b"!",
    b"\"",
    b"'",
    b"=",
    b" ",
    b"\r\n",
    b"<!DOCTYPE Autodiscover [",
    b"<!ENTITY e \"x\">",
    b"]>",
    b"&e;",
    b"&amp;",
    b"&lt;",
    b"&#64;",
    b"&#x40;",
    b"&#0;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?pi x?>",
    b"<x/>",
    b"<",
    b"/",
    b"\xef\xbb\xbf",
    b"\xc3\xa9",
    b"\xff",
    b"\0",
];

/// Parses a request body; checks what comes back.
///
/// Input: `[flags, payload...]`; flag bit 0 maps the payload to XML and protocol tokens.
///
/// Checks: no panic; nothing over [`MAX_REQUEST_BYTES`] is read; an accepted address is in
/// normal form, and the response built for it is well-formed XML with that address as the
/// `LoginName` of each of its three protocols; every error response is well-formed; any text
/// (the payload, lossily UTF-8) as the display name comes back from the response exactly,
/// less the characters XML cannot carry.
pub fn fuzz_autodiscover_request(data: &[u8]) {
    let (h, rest) = header::<1>(data);
    let body = if h[0] & 1 == 1 {
        into_tokens(rest, AUTODISCOVER_TOKENS)
    } else {
        rest.to_vec()
    };
    match parse_autodiscover_request(&body) {
        Ok(email) => {
            assert!(body.len() <= MAX_REQUEST_BYTES);
            assert_eq!(address::normalize(&email).as_deref(), Some(email.as_str()));
            let s = MailSettings::with_standard_ports(
                &email,
                "",
                address::domain(&email),
                "mail.fuzz.test",
            );
            let xml = autodiscover_response(&s);
            let doc = roxmltree::Document::parse(&xml).expect("our response is well-formed");
            let logins: Vec<&str> = doc
                .descendants()
                .filter(|n| n.has_tag_name("LoginName"))
                .map(|n| n.text().unwrap_or(""))
                .collect();
            assert_eq!(logins, [email.as_str(); 3]);
        }
        Err(e) => {
            if body.len() > MAX_REQUEST_BYTES {
                assert_eq!(e, AutodiscoverError::TooLarge);
            }
            let xml = autodiscover_error_response(e.fault());
            roxmltree::Document::parse(&xml).expect("our error response is well-formed");
        }
    }

    let name = String::from_utf8_lossy(rest);
    if name.is_empty() {
        return;
    }
    let s = MailSettings::with_standard_ports("a@fuzz.test", &name, "fuzz.test", "mail.fuzz.test");
    let xml = autodiscover_response(&s);
    let doc = roxmltree::Document::parse(&xml).expect("our response is well-formed");
    let shown = doc
        .descendants()
        .find(|n| n.has_tag_name("DisplayName"))
        .expect("a DisplayName for a non-empty name");
    let expected: String = name.chars().filter(|&c| is_xml_char(c)).collect();
    assert_eq!(shown.text().unwrap_or(""), expected);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token-mapped seed spells a whole request (token indices are the seed's bytes).
    #[test]
    fn token_seed_is_a_request() {
        let seed = [0u8, 1, 2, 4, 6, 10, 19, 11, 14, 16, 15, 7, 5];
        let body = into_tokens(&seed, AUTODISCOVER_TOKENS);
        assert_eq!(
            parse_autodiscover_request(&body),
            Ok("alice@example.test".to_string()),
            "{}",
            String::from_utf8_lossy(&body)
        );
        fuzz_autodiscover_request(&[1, 0, 1, 2, 4, 6, 10, 19, 11, 14, 16, 15, 7, 5]);
    }
}
