//! The tokenizer: a parsed message → a set of 64-bit token hashes for the Bayesian model.
//!
//! Tokens are short strings with a namespace prefix (`subject:free`, `url-dom:example.com`,
//! `shape:html-only`, plain words without one), hashed with FNV-1a 64 ([`token_hash`]) so the
//! store holds no plaintext words. The hash is written here and fixed forever: a changed hash
//! would silently orphan every user's trained counts.
//!
//! Bounds: at most [`MAX_HEADER_BYTES`] of the top header are parsed, at most [`MAX_TEXT_BYTES`]
//! of decoded text (all text parts together) and at most [`MAX_WORDS`] body words are used,
//! attachments are decoded only up to [`MAX_ATTACHMENT_BYTES`] (for the attachment checks), and
//! a message yields at most [`MAX_TOKENS`] distinct tokens, whatever its size.

use crate::message::summary::{Part, PartBody, Summary};
use crate::message::transfer::{Decoder, Encoding};
use mail_parser::decoders::charsets::map::charset_decoder;
use std::borrow::Cow;

/// Most bytes of the top header handed to the header parser.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most decoded text bytes, all text parts together.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Most body words turned into tokens.
pub const MAX_WORDS: usize = 2000;
/// Most decoded bytes of one attachment kept for the attachment checks.
pub const MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;
/// Most attachments looked at.
pub const MAX_ATTACHMENTS: usize = 32;
/// Most distinct tokens of one message.
pub const MAX_TOKENS: usize = 8000;
/// Whether body word pairs are tokens too: off, because on the SpamAssassin corpus they raised
/// false negatives from 8.8 % to 11.2 % and nearly tripled the model (bench/README.md).
pub const BIGRAMS: bool = false;

/// FNV-1a 64 of `bytes`: small, stable across Rust versions and platforms.
pub fn token_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One text part after transfer decoding and charset conversion (a bounded prefix).
#[derive(Debug, Clone)]
pub struct TextBody {
    /// `plain`, `html`, … (lower-cased).
    pub subtype: String,
    /// The decoded text; HTML still has its tags.
    pub text: String,
    /// The part declares US-ASCII (or no charset) yet holds 8-bit bytes.
    pub charset_mismatch: bool,
}

/// One non-text leaf part: its name and the first bytes of its decoded body.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// `type/subtype`, lower-cased.
    pub content_type: String,
    /// Filename (Content-Disposition `filename` or Content-Type `name`), decoded.
    pub name: Option<String>,
    /// Decoded body, at most [`MAX_ATTACHMENT_BYTES`].
    pub data: Vec<u8>,
    /// `data` is all of the body.
    pub complete: bool,
}

/// A message parsed once for the tokenizer, the header heuristics and the attachment checks.
pub struct Parsed<'a> {
    /// The message as given.
    pub raw: &'a [u8],
    /// The MIME structure.
    pub summary: Summary,
    /// The top header, parsed (`None` if there is none).
    pub header: Option<mail_parser::Message<'a>>,
    /// Text leaves in order, decoded, at most [`MAX_TEXT_BYTES`] together.
    pub texts: Vec<TextBody>,
    /// Non-text leaves, at most [`MAX_ATTACHMENTS`].
    pub attachments: Vec<Attachment>,
}

impl<'a> Parsed<'a> {
    /// Parses `raw` (never panics; garbage gives an empty or odd-looking message).
    pub fn new(raw: &'a [u8]) -> Parsed<'a> {
        let summary = Summary::from_message(raw);
        let header_end = (summary.root.body_start as usize)
            .min(raw.len())
            .min(MAX_HEADER_BYTES);
        let header = mail_parser::MessageParser::default().parse_headers(&raw[..header_end]);
        let mut texts = Vec::new();
        let mut attachments = Vec::new();
        let mut budget = MAX_TEXT_BYTES;
        collect(
            raw,
            &summary.root,
            &mut budget,
            &mut texts,
            &mut attachments,
            0,
        );
        Parsed {
            raw,
            summary,
            header,
            texts,
            attachments,
        }
    }

    /// Whether the top header has the field.
    pub fn has_header(&self, name: &str) -> bool {
        self.header.as_ref().is_some_and(|h| {
            h.headers()
                .iter()
                .any(|f| f.name().eq_ignore_ascii_case(name))
        })
    }
}

fn lower(raw: &Option<Vec<u8>>) -> String {
    raw.as_deref()
        .map(|r| String::from_utf8_lossy(r).trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn collect(
    raw: &[u8],
    part: &Part,
    budget: &mut usize,
    texts: &mut Vec<TextBody>,
    attachments: &mut Vec<Attachment>,
    depth: usize,
) {
    if depth > 16 {
        return;
    }
    match &part.body {
        PartBody::Multipart(children) => children
            .iter()
            .for_each(|c| collect(raw, c, budget, texts, attachments, depth + 1)),
        PartBody::Message(m) => collect(raw, &m.root, budget, texts, attachments, depth + 1),
        PartBody::Single => {
            let start = (part.body_start as usize).min(raw.len());
            let end = (part.body_end as usize).clamp(start, raw.len());
            let body = &raw[start..end];
            let encoding =
                Encoding::from_name(part.mime.encoding.as_deref()).unwrap_or(Encoding::Identity);
            // A named text part (`run.js` as text/plain) is an attachment too.
            let is_attachment = part.mime.disposition.as_ref().is_some_and(|d| {
                d.kind.eq_ignore_ascii_case(b"attachment")
                    || d.params
                        .iter()
                        .any(|p| p.base_name().eq_ignore_ascii_case(b"filename"))
            }) || part
                .mime
                .params
                .iter()
                .any(|p| p.base_name().eq_ignore_ascii_case(b"name"));
            if part.is_text() && !is_attachment {
                if *budget == 0 || part.truncated {
                    return;
                }
                // Quoted-printable expands at most 3:1, base64 4:3.
                let take = body.len().min(budget.saturating_mul(3));
                let mut decoded = Vec::with_capacity(take.min(*budget));
                let mut d = Decoder::new(encoding);
                d.feed(&body[..take], &mut decoded);
                d.finish(&mut decoded);
                decoded.truncate(*budget);
                let charset = part
                    .mime
                    .params
                    .iter()
                    .find(|p| p.base_name().eq_ignore_ascii_case(b"charset"))
                    .map(|p| p.decoded_value().trim().to_ascii_lowercase());
                let ascii_declared = charset
                    .as_deref()
                    .is_none_or(|c| c == "us-ascii" || c.is_empty());
                let charset_mismatch = ascii_declared && !decoded.is_ascii();
                let text = match charset.as_deref() {
                    Some(c) if !matches!(c, "utf-8" | "utf8" | "us-ascii") => {
                        match charset_decoder(c.as_bytes()) {
                            Some(f) => f(&decoded),
                            None => String::from_utf8_lossy(&decoded).into_owned(),
                        }
                    }
                    _ => String::from_utf8_lossy(&decoded).into_owned(),
                };
                *budget = budget.saturating_sub(decoded.len());
                let subtype = lower(&part.mime.subtype);
                texts.push(TextBody {
                    subtype: if subtype.is_empty() {
                        "plain".into()
                    } else {
                        subtype
                    },
                    text,
                    charset_mismatch,
                });
            } else if attachments.len() < MAX_ATTACHMENTS {
                let name = part
                    .mime
                    .disposition
                    .iter()
                    .flat_map(|d| d.params.iter())
                    .find(|p| p.base_name().eq_ignore_ascii_case(b"filename"))
                    .or_else(|| {
                        part.mime
                            .params
                            .iter()
                            .find(|p| p.base_name().eq_ignore_ascii_case(b"name"))
                    })
                    .map(|p| decode_words(&p.decoded_value()));
                // Base64 needs 4 input bytes per 3 output bytes, plus line ends.
                let take = body
                    .len()
                    .min(MAX_ATTACHMENT_BYTES / 3 * 4 + MAX_ATTACHMENT_BYTES / 38);
                let mut data = Vec::new();
                let mut d = Decoder::new(encoding);
                d.feed(&body[..take], &mut data);
                d.finish(&mut data);
                let complete = take == body.len() && data.len() <= MAX_ATTACHMENT_BYTES;
                data.truncate(MAX_ATTACHMENT_BYTES);
                let ct = lower(&part.mime.media_type);
                let sub = lower(&part.mime.subtype);
                attachments.push(Attachment {
                    content_type: format!("{ct}/{sub}"),
                    name,
                    data,
                    complete,
                });
            }
        }
    }
}

/// Decodes RFC 2047 encoded words in a parameter value (mail clients put them in `name=`).
fn decode_words(value: &str) -> String {
    if !value.contains("=?") || value.len() > 2048 {
        return value.to_string();
    }
    let field = format!("Subject: {value}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(field.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

/// Collects token strings (with their prefixes), bounded and de-duplicated by the caller.
struct Sink<'f> {
    out: &'f mut dyn FnMut(&str),
    count: usize,
}

impl Sink<'_> {
    fn push(&mut self, token: &str) {
        if self.count < MAX_TOKENS * 2 {
            self.count += 1;
            (self.out)(token);
        }
    }
    fn pref(&mut self, prefix: &str, value: &str) {
        let mut s = String::with_capacity(prefix.len() + value.len() + 1);
        s.push_str(prefix);
        s.push(':');
        s.push_str(value);
        self.push(&s);
    }
}

/// The last two labels of a host name (`mail.example.com` → `example.com`).
fn domain_of(host: &str) -> &str {
    let host = host.trim_end_matches('.');
    let mut dots = host.rmatch_indices('.');
    match (dots.next(), dots.next()) {
        (Some(_), Some((i, _))) => &host[i + 1..],
        _ => host,
    }
}

/// A host name's shape: digit runs become `#` (`dsl-12-34.isp.net` → `dsl-#-#.isp.net`).
fn shape(host: &str) -> String {
    let mut s = String::with_capacity(host.len());
    let mut in_digits = false;
    for c in host.chars().take(100) {
        if c.is_ascii_digit() {
            if !in_digits {
                s.push('#');
            }
            in_digits = true;
        } else {
            s.push(c.to_ascii_lowercase());
            in_digits = false;
        }
    }
    s
}

const TRIM: &[char] = &[
    '.', ',', ';', ':', '"', '\'', '(', ')', '[', ']', '<', '>', '{', '}', '*', '?', '|', '=', '-',
    '_', '`', '/', '\\', '#', '~', '+', '&',
];

/// Lower-cased words of a header value (any length 1..=40).
fn header_words(prefix: &str, value: &str, sink: &mut Sink<'_>) {
    for w in value.split_whitespace().take(50) {
        let w = w.trim_matches(TRIM).to_lowercase();
        if !w.is_empty() && w.chars().count() <= 40 {
            sink.pref(prefix, &w);
        }
    }
}

/// The host of a URL-looking word (`http://x.y/z`, `www.x.y`), lower-cased.
fn url_host(word: &str) -> Option<String> {
    let lower = word.get(..12).unwrap_or(word).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &word[7..]
    } else if lower.starts_with("https://") {
        &word[8..]
    } else if lower.starts_with("www.") {
        word
    } else {
        return None;
    };
    let end = rest
        .find(['/', '?', '#', '"', '\'', '>', '<', ')'])
        .unwrap_or(rest.len());
    let host = &rest[..end];
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.len() <= 100).then_some(host)
}

fn url_tokens(host: &str, sink: &mut Sink<'_>) {
    if host.parse::<std::net::IpAddr>().is_ok() {
        sink.push("url:ip-address");
        return;
    }
    sink.pref("url", host);
    sink.pref("url-dom", domain_of(host));
}

/// Replaces the tags of an HTML text by spaces; returns the text, the URLs of `href`/`src`
/// attributes and the number of `<img` tags.
fn strip_html(html: &str) -> (String, Vec<String>, usize) {
    let mut text = String::with_capacity(html.len() / 2);
    let mut urls = Vec::new();
    let mut images = 0;
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let after = &rest[open + 1..];
        if after.starts_with("!--") {
            // Comments split words in spam ("vi<!-- x -->agra"): drop them without a space.
            text.pop();
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        let close = after.find('>').unwrap_or(after.len());
        let tag = &after[..close];
        let lower = tag
            .get(..tag.len().min(4000))
            .unwrap_or(tag)
            .to_ascii_lowercase();
        if lower.starts_with("img") {
            images += 1;
        }
        for attr in ["href=", "src="] {
            let mut from = 0;
            while let Some(i) = lower[from..].find(attr) {
                let v = &tag[from + i + attr.len()..];
                let v = v.trim_start_matches(['"', '\'', ' ']);
                let end = v.find(['"', '\'', ' ', '>']).unwrap_or(v.len());
                if urls.len() < 100 {
                    urls.push(v[..end].to_string());
                }
                from += i + attr.len();
            }
        }
        rest = after.get(close + 1..).unwrap_or("");
    }
    text.push_str(rest);
    let text = text
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    (text, urls, images)
}

/// Calls `out` with every token string of the message (duplicates possible; at most
/// `2 * MAX_TOKENS` calls).
pub fn token_strings(p: &Parsed<'_>, out: &mut dyn FnMut(&str)) {
    let mut sink = Sink { out, count: 0 };
    header_tokens(p, &mut sink);
    body_tokens(p, &mut sink);
}

fn header_tokens(p: &Parsed<'_>, sink: &mut Sink<'_>) {
    let Some(h) = &p.header else {
        sink.push("shape:no-header");
        return;
    };
    for f in h.headers().iter().take(200) {
        let name = f.name().to_ascii_lowercase();
        if name.len() <= 40 && !name.starts_with("x-spam") {
            sink.pref("hdr", &name);
        }
    }
    match h.subject() {
        Some(s) => header_words("subject", s, sink),
        None => sink.push("subject:none"),
    }
    if let Some(from) = h.from().and_then(|a| a.first()) {
        if let Some(name) = &from.name {
            header_words("from-name", name, sink);
        } else {
            sink.push("from-name:none");
        }
        if let Some(addr) = &from.address {
            match addr.rsplit_once('@') {
                Some((_, dom)) => {
                    let dom = dom.to_ascii_lowercase();
                    sink.pref("from-host", &dom);
                    sink.pref("from-dom", domain_of(&dom));
                }
                None => sink.push("from-dom:none"),
            }
        }
    } else {
        sink.push("from:none");
    }
    for r in h.received_all().take(4) {
        if let Some(ip) = r.from_ip {
            match ip {
                std::net::IpAddr::V4(v4) => {
                    let o = v4.octets();
                    sink.pref("rcvd-ip", &format!("{}.{}.{}", o[0], o[1], o[2]));
                    sink.pref("rcvd-ip", &format!("{}.{}", o[0], o[1]));
                }
                std::net::IpAddr::V6(v6) => {
                    let s = v6.segments();
                    sink.pref("rcvd-ip", &format!("{:x}:{:x}:{:x}", s[0], s[1], s[2]));
                }
            }
        }
        let host = r.from_iprev.as_deref().or(match &r.from {
            Some(mail_parser::Host::Name(n)) => Some(n.as_ref()),
            _ => None,
        });
        if let Some(host) = host {
            let host = host.to_ascii_lowercase();
            sink.pref("rcvd-dom", domain_of(&host));
            sink.pref("rcvd-shape", &shape(&host));
        }
    }
    if let Some(ct) = h.header("Content-Type").and_then(|v| v.as_content_type()) {
        let sub = ct.c_subtype.as_deref().unwrap_or("");
        sink.pref("ct", &format!("{}/{}", ct.c_type, sub).to_ascii_lowercase());
        if let Some(cs) = ct.attribute("charset") {
            sink.pref("charset", &cs.to_ascii_lowercase());
        }
    } else {
        sink.push("ct:none");
    }
    for name in ["X-Mailer", "User-Agent"] {
        if let Some(v) = h.header(name).and_then(|v| v.as_text()) {
            let v: String = v.chars().take(60).collect();
            sink.pref("mailer", &shape(&v));
        }
    }
    if let Some(id) = h.message_id() {
        match id.rsplit_once('@') {
            Some((_, dom)) => sink.pref("msgid-dom", &shape(domain_of(dom))),
            None => sink.push("msgid:no-at"),
        }
    }
    let to = h.to().map_or(0, |a| a.iter().count()) + h.cc().map_or(0, |a| a.iter().count());
    sink.pref(
        "rcpts",
        match to {
            0 => "0",
            1 => "1",
            2..=5 => "few",
            _ => "many",
        },
    );
}

fn body_tokens(p: &Parsed<'_>, sink: &mut Sink<'_>) {
    let mut words = 0usize;
    let mut prev: Option<String> = None;
    let mut text_len = 0usize;
    let mut images = 0;
    let mut has_plain = false;
    let mut has_html = false;
    for t in &p.texts {
        sink.pref("part", &t.subtype);
        let (text, urls) = if t.subtype == "html" {
            has_html = true;
            let (text, urls, imgs) = strip_html(&t.text);
            images += imgs;
            (Cow::Owned(text), urls)
        } else {
            has_plain |= t.subtype == "plain";
            (Cow::Borrowed(t.text.as_str()), Vec::new())
        };
        for u in &urls {
            if let Some(host) = url_host(u) {
                url_tokens(&host, sink);
            }
        }
        for raw in text.split_whitespace() {
            if words >= MAX_WORDS {
                break;
            }
            if let Some(host) = url_host(raw) {
                url_tokens(&host, sink);
                prev = None;
                continue;
            }
            let w = raw.trim_matches(TRIM);
            if w.is_empty() {
                continue;
            }
            text_len += w.len();
            words += 1;
            if let Some((_, dom)) = w.rsplit_once('@')
                && dom.contains('.')
            {
                sink.pref("email-dom", &dom.to_ascii_lowercase());
                prev = None;
                continue;
            }
            let n = w.chars().count();
            if n < 3 {
                prev = None;
                continue;
            }
            if n > 40 {
                let first = w.chars().next().unwrap_or('?');
                sink.push(&format!("skip:{first}:{}", n / 10 * 10));
                prev = None;
                continue;
            }
            let w = w.to_lowercase();
            sink.push(&w);
            if BIGRAMS {
                if let Some(p) = &prev {
                    sink.push(&format!("bi:{p} {w}"));
                }
                prev = Some(w);
            }
        }
    }
    if has_html && !has_plain {
        sink.push("shape:html-only");
    }
    if images >= 3 {
        sink.push("shape:many-images");
    } else if images > 0 {
        sink.push("shape:images");
    }
    sink.push(match text_len {
        0 => "shape:no-text",
        1..=200 => "shape:short",
        201..=20_000 => "shape:medium",
        _ => "shape:long",
    });
    for a in p.attachments.iter().take(8) {
        sink.pref("att-ct", &a.content_type);
        if let Some(ext) = a
            .name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|x| x.1)
            && ext.len() <= 8
        {
            sink.pref("att-ext", &ext.to_ascii_lowercase());
        }
    }
}

/// The distinct token hashes of a message, sorted (at most [`MAX_TOKENS`]).
pub fn tokenize(p: &Parsed<'_>) -> Vec<u64> {
    let mut out = Vec::new();
    token_strings(p, &mut |t| out.push(token_hash(t.as_bytes())));
    out.sort_unstable();
    out.dedup();
    out.truncate(MAX_TOKENS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(msg: &[u8]) -> Vec<String> {
        let p = Parsed::new(msg);
        let mut v = Vec::new();
        token_strings(&p, &mut |t| v.push(t.to_string()));
        v
    }

    #[test]
    fn fnv_is_the_published_function() {
        assert_eq!(token_hash(b""), 0xcbf29ce484222325);
        assert_eq!(token_hash(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(token_hash(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn words_headers_urls_and_shapes() {
        let msg = b"From: \"Cheap Pills\" <deals@mail.pharma.example>\r\n\
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_FREE?=\r\n\
Received: from dsl-12-34.isp.example (dsl-12-34.isp.example [192.0.2.7]) by mx.test\r\n\
X-Mailer: Blaster 5.1\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<p>Buy n=F6w at <a href=3D\"http://www.shop.example/x\">here</a> <img src=3D\"a\"><img src=3D\"b\"><img src=3D\"c\">\r\n\
vi<!-- x -->agra ab https://1.2.3.4/p</p>\r\n--b--\r\n";
        let t = strings(msg);
        for want in [
            "subject:grüße",
            "subject:free",
            "from-name:cheap",
            "from-host:mail.pharma.example",
            "from-dom:pharma.example",
            "rcvd-ip:192.0.2",
            "rcvd-shape:dsl-#-#.isp.example",
            "mailer:blaster #.#",
            "ct:multipart/alternative",
            "buy",
            "nöw",
            "viagra",
            "url:www.shop.example",
            "url-dom:shop.example",
            "url:ip-address",
            "shape:html-only",
            "shape:many-images",
            "hdr:x-mailer",
        ] {
            assert!(t.iter().any(|x| x == want), "{want} missing from {t:?}");
        }
        assert!(!t.iter().any(|x| x == "ab"), "short words dropped");
        if BIGRAMS {
            assert!(t.iter().any(|x| x == "bi:buy nöw"));
        }
    }

    #[test]
    fn bounded_output() {
        let mut msg = b"Subject: x\r\n\r\n".to_vec();
        for i in 0..200_000 {
            msg.extend_from_slice(format!("word{i} ").as_bytes());
        }
        let p = Parsed::new(&msg);
        assert!(p.texts.iter().map(|t| t.text.len()).sum::<usize>() <= MAX_TEXT_BYTES);
        let toks = tokenize(&p);
        assert!(toks.len() <= MAX_TOKENS);
        assert!(toks.len() >= MAX_WORDS, "{}", toks.len());
        let t = strings(&msg);
        assert!(
            !t.iter().any(|x| x == "word3000"),
            "words past the cap are ignored"
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for msg in [
            &b""[..],
            b"\r\n\r\n",
            b"\xff\xfe<<<>>>",
            b"Content-Type: text/html\r\n\r\n<a href=",
        ] {
            let p = Parsed::new(msg);
            let _ = tokenize(&p);
        }
    }
}
