//! The structure summary stored beside each body: what IMAP FETCH ENVELOPE, BODYSTRUCTURE,
//! BODY\[section\], BINARY\[section\], HEADER.FIELDS, SORT and THREAD need, computed once while
//! the message streams in ([`super::mime::MimeParser`]) so no request ever parses a whole message.
//!
//! Owns the data model ([`Summary`], [`Part`], [`Envelope`], [`MimeFields`]), its storage
//! encoding (`encode`/`decode`, a version byte first; decode never panics and rejects records
//! whose offsets do not nest) and the rendering into `imap_types` values (RFC 3501 §7.4.2,
//! RFC 9051 §7.5.2) plus a text renderer through imap-codec's encoder for tests and the
//! reference comparison.
//!
//! Invariants:
//! - Offsets index the stored message bytes (trace prefix included): a part's MIME header is
//!   `header_start..body_start`, its body `body_start..body_end`. Header bytes themselves are not
//!   kept: HEADER.FIELDS reads the block back from the store ([`header_fields`]).
//! - Envelope and MIME field values are the header text as written, only unfolded (RFC 5322
//!   §2.2.3): RFC 2047 words and RFC 2231 encodings stay encoded, because ENVELOPE and
//!   BODYSTRUCTURE return them so (RFC 3501 §7.4.2). The decoded Subject is kept apart for SORT
//!   and THREAD (RFC 5256 §2.1).
//! - Sizes are counted on the stored bytes; `bare_lf` counts LFs without CR so the size of the
//!   CRLF form that IMAP serves (RFC 3501 §2.3.1) is `size + bare_lf`. Renderers use that form.

use crate::codec::{Dec, Enc};
use imap_codec::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition as ImapDisposition, Language, Location,
    MultiPartExtensionData, SinglePartExtensionData, SpecificFields,
};
use imap_codec::imap_types::core::{AString, IString, NString, Vec1};
use imap_codec::imap_types::envelope::{Address as ImapAddress, Envelope as ImapEnvelope};
use imap_codec::imap_types::fetch::{MessageDataItem, Part as SectionPart, Section};
use imap_codec::imap_types::response::{Data, Response};
use std::num::NonZeroU32;

/// Encoding version 2: the structure summary (version 1 held only header facts).
const SUMMARY_V2: u8 = 2;
/// Deepest part tree `decode` accepts (the parser's default depth limit is 32).
const MAX_DECODE_DEPTH: usize = 64;

/// Raw header text (bytes as written, possibly 8-bit).
pub type Raw = Vec<u8>;

/// One address of an ENVELOPE address list (RFC 3501 §7.4.2): a group is a start marker
/// (`mailbox` = group name, others `None`) and an end marker (all `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Display name, undecoded (RFC 2047 words kept); quotes and quoted-pairs resolved.
    pub name: Option<Raw>,
    /// Source route (`@a,@b`), RFC 5322 §4.4.
    pub adl: Option<Raw>,
    /// Local part; `MISSING_MAILBOX` if absent.
    pub mailbox: Option<Raw>,
    /// Domain; `MISSING_DOMAIN` if absent, `SYNTAX_ERROR` if unparsable.
    pub host: Option<Raw>,
}

/// The fields IMAP ENVELOPE returns, as written in the header (unfolded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    pub date: Option<Raw>,
    pub subject: Option<Raw>,
    pub from: Vec<Address>,
    /// Empty when absent; rendering substitutes `from` (RFC 3501 §7.4.2).
    pub sender: Vec<Address>,
    /// Empty when absent; rendering substitutes `from`.
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<Raw>,
    pub message_id: Option<Raw>,
}

/// A Content-Type or Content-Disposition parameter (RFC 2045 §5.1): name lower-cased, RFC 2231
/// continuations joined; an extended value stays encoded under the name `name*`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Param {
    pub name: Raw,
    pub value: Raw,
}

impl Param {
    /// The parameter's name without the RFC 2231 `*` marker.
    pub fn base_name(&self) -> &[u8] {
        self.name.strip_suffix(b"*").unwrap_or(&self.name)
    }

    /// The value as text: RFC 2231 §4 `charset'language'%XX` decoded for extended values
    /// (unknown charsets read as UTF-8, lossily), others read as UTF-8.
    pub fn decoded_value(&self) -> String {
        if !self.name.ends_with(b"*") {
            return String::from_utf8_lossy(&self.value).into_owned();
        }
        let mut parts = self.value.splitn(3, |&b| b == b'\'');
        let (charset, _lang, text) = match (parts.next(), parts.next(), parts.next()) {
            (Some(c), Some(l), Some(t)) => (c, l, t),
            _ => (&b""[..], &b""[..], &self.value[..]),
        };
        let mut bytes = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            match (
                text[i],
                text.get(i + 1).copied().and_then(super::transfer::hex),
                text.get(i + 2).copied().and_then(super::transfer::hex),
            ) {
                (b'%', Some(h), Some(l)) => {
                    bytes.push(h * 16 + l);
                    i += 3;
                }
                (b, _, _) => {
                    bytes.push(b);
                    i += 1;
                }
            }
        }
        match mail_parser::decoders::charsets::map::charset_decoder(charset) {
            Some(decode) => decode(&bytes),
            None => String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// RFC 2183 Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disposition {
    pub kind: Raw,
    pub params: Vec<Param>,
}

/// The MIME fields of one part (RFC 2045 §5-8, RFC 2183, RFC 3282, RFC 2557), each from its
/// first occurrence. All are empty when the part is not MIME (RFC 2045 §4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MimeFields {
    /// Media type as written; `None` if Content-Type is absent or unparsable (text/plain then,
    /// RFC 2045 §5.2; message/rfc822 inside multipart/digest, RFC 2046 §5.1.5).
    pub media_type: Option<Raw>,
    pub subtype: Option<Raw>,
    pub params: Vec<Param>,
    pub id: Option<Raw>,
    pub description: Option<Raw>,
    /// Content-Transfer-Encoding token as written; `None` means 7bit (RFC 2045 §6.1).
    pub encoding: Option<Raw>,
    pub md5: Option<Raw>,
    pub disposition: Option<Disposition>,
    pub language: Vec<Raw>,
    pub location: Option<Raw>,
}

/// What a part's body holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PartBody {
    /// A leaf: its body is content.
    #[default]
    Single,
    /// multipart/*: the body parts in order (RFC 2046 §5.1); empty if no delimiter was found.
    Multipart(Vec<Part>),
    /// message/rfc822 or message/global: the encapsulated message (RFC 2046 §5.2.1).
    Message(Box<Message>),
}

/// An encapsulated message: its envelope and its top part (whose header is the message header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub envelope: Envelope,
    pub root: Part,
}

/// One MIME part with its place in the stored message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Part {
    /// First byte of the part's header (the message start for the top part).
    pub header_start: u64,
    /// First byte after the header's blank line.
    pub body_start: u64,
    /// End of the body: before the line end that precedes the next delimiter line.
    pub body_end: u64,
    /// LFs in the body (IMAP's line count).
    pub lines: u64,
    /// LFs in the body not preceded by CR.
    pub bare_lf: u64,
    /// A limit stopped the parser from looking inside this part (depth, part count): it is
    /// shown as application/octet-stream.
    pub truncated: bool,
    pub mime: MimeFields,
    pub body: PartBody,
}

/// Which limits a message hit, for logs and diagnostics (all zero for ordinary mail).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LimitsHit {
    /// Header bytes beyond `max_header_bytes`, not parsed.
    pub header_bytes_skipped: u64,
    /// Delimiters that started no part because of `max_parts`.
    pub parts_dropped: u32,
    /// Multiparts/messages below `max_depth`, kept opaque.
    pub depth_exceeded: u32,
    /// Field values cut by `max_field_bytes` or the text budget.
    pub fields_truncated: u32,
    /// Multiparts without a usable boundary.
    pub boundaries_ignored: u32,
}

/// The revision of the summaries this parser makes: what [`super::MimeParser`] finds in a
/// message and how [`Summary::encode`] writes it. Raise it with every change that alters some
/// message's summary; a server that starts on a store whose summaries an older revision made
/// rewrites them (`delivery::summaries`).
///
/// 1: the first recorded. Stores from before it may hold list posts whose ENVELOPE lacks the
/// list's Reply-To, and summaries of over-limit headers that counted the trace prefix.
pub const SUMMARY_REVISION: u64 = 1;

/// The stored summary of one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// ENVELOPE of the message.
    pub envelope: Envelope,
    /// The top part: header `0..root.body_start`, then the body.
    pub root: Part,
    /// Stored bytes.
    pub size: u64,
    /// LFs in the whole message, and those without CR.
    pub lines: u64,
    pub bare_lf: u64,
    /// `Date:` as Unix seconds (SORT DATE, RFC 5256 §3).
    pub date: Option<i64>,
    /// `Subject:` decoded (RFC 2047) for SORT SUBJECT and THREAD (RFC 5256 §2.1) and listings.
    pub subject: Option<String>,
    /// Message ids of `References:` without brackets (RFC 5256 §2.2): the first and the last.
    pub references: Vec<String>,
    pub limits_hit: LimitsHit,
}

impl Part {
    /// The body parts of a multipart (empty for other parts).
    pub fn children(&self) -> &[Part] {
        match &self.body {
            PartBody::Multipart(c) => c,
            _ => &[],
        }
    }

    /// The encapsulated message of a message/rfc822 part.
    pub fn message(&self) -> Option<&Message> {
        match &self.body {
            PartBody::Message(m) => Some(m),
            _ => None,
        }
    }

    /// Byte range of the MIME header (BODY\[n.MIME\]).
    pub fn header_range(&self) -> std::ops::Range<u64> {
        self.header_start..self.body_start
    }

    /// Byte range of the body (BODY\[n\], BODY\[n.TEXT\] of a message part's message).
    pub fn body_range(&self) -> std::ops::Range<u64> {
        self.body_start..self.body_end
    }

    /// Body size as served with CRLF line ends.
    pub fn size_crlf(&self) -> u64 {
        self.body_end - self.body_start + self.bare_lf
    }

    /// Whether the part is text (a part without Content-Type is text/plain, RFC 2045 §5.2).
    pub fn is_text(&self) -> bool {
        self.mime
            .media_type
            .as_ref()
            .is_none_or(|t| t.eq_ignore_ascii_case(b"text"))
    }
}

impl Summary {
    /// Parses a whole message held in memory (see [`super::mime::MimeParser`] for streaming).
    pub fn from_message(message: &[u8]) -> Summary {
        super::mime::parse(message)
    }

    /// Length of the top header section, blank line included (RFC822.HEADER).
    pub fn header_bytes(&self) -> u64 {
        self.root.body_start
    }

    /// Size as served with CRLF line ends (RFC822.SIZE).
    pub fn size_crlf(&self) -> u64 {
        self.size + self.bare_lf
    }

    /// The part a section path names (RFC 3501 §6.4.5): in a multipart, `n` is its n-th body
    /// part; in anything else only `1` exists and names the part itself; after a
    /// message/rfc822 part the numbers continue inside its message. `None` if there is no
    /// such part (and for the empty path, which is the whole message).
    pub fn section(&self, path: &[u32]) -> Option<&Part> {
        let mut container = &self.root;
        let mut found = None;
        for (i, &n) in path.iter().enumerate() {
            let part = match &container.body {
                PartBody::Multipart(children) => children.get((n as usize).checked_sub(1)?)?,
                _ if n == 1 => container,
                _ => return None,
            };
            if i + 1 < path.len() {
                container = match &part.body {
                    PartBody::Message(m) => &m.root,
                    PartBody::Multipart(_) => part,
                    PartBody::Single => return None,
                };
            }
            found = Some(part);
        }
        found
    }

    /// ENVELOPE of the message.
    pub fn imap_envelope(&self) -> ImapEnvelope<'static> {
        self.envelope.to_imap()
    }

    /// BODYSTRUCTURE (`extended`) or BODY of the message.
    pub fn imap_body_structure(&self, extended: bool) -> BodyStructure<'static> {
        self.root.to_imap(extended)
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering (RFC 3501 §7.4.2)
// ---------------------------------------------------------------------------------------------

/// An IMAP string for raw header text: quoted if it can be, else a literal. NUL, which IMAP
/// strings cannot carry, becomes 0x80.
fn istring(v: &[u8]) -> IString<'static> {
    let v: Vec<u8> = v.iter().map(|&b| if b == 0 { 0x80 } else { b }).collect();
    IString::try_from(v).expect("a string without NUL is a valid IMAP string")
}

fn nstring(v: Option<&[u8]>) -> NString<'static> {
    NString(v.map(istring))
}

/// Text meant for people (Subject, display names): white space runs become one space, line
/// ends vanish, no white space at either end.
fn for_humans(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut space = false;
    for &b in v {
        match b {
            b' ' | b'\t' => space = true,
            b'\r' | b'\n' => {}
            _ => {
                if space && !out.is_empty() {
                    out.push(b' ');
                }
                space = false;
                out.push(b);
            }
        }
    }
    out
}

impl Address {
    fn to_imap(&self) -> ImapAddress<'static> {
        ImapAddress {
            name: NString(self.name.as_deref().map(|n| istring(&for_humans(n)))),
            adl: nstring(self.adl.as_deref()),
            mailbox: nstring(self.mailbox.as_deref()),
            host: nstring(self.host.as_deref()),
        }
    }
}

fn address_list(list: &[Address]) -> Vec<ImapAddress<'static>> {
    list.iter().map(Address::to_imap).collect()
}

impl Envelope {
    /// The ENVELOPE structure; Sender and Reply-To default to From (RFC 3501 §7.4.2).
    pub fn to_imap(&self) -> ImapEnvelope<'static> {
        let or_from = |l: &[Address]| address_list(if l.is_empty() { &self.from } else { l });
        ImapEnvelope {
            date: nstring(self.date.as_deref()),
            subject: NString(self.subject.as_deref().map(|s| istring(&for_humans(s)))),
            from: address_list(&self.from),
            sender: or_from(&self.sender),
            reply_to: or_from(&self.reply_to),
            to: address_list(&self.to),
            cc: address_list(&self.cc),
            bcc: address_list(&self.bcc),
            in_reply_to: nstring(self.in_reply_to.as_deref()),
            message_id: nstring(self.message_id.as_deref()),
        }
    }
}

fn param_list(
    params: &[Param],
    default_charset: bool,
) -> Vec<(IString<'static>, IString<'static>)> {
    let mut out: Vec<_> = params
        .iter()
        .map(|p| (istring(&p.name), istring(&p.value)))
        .collect();
    // RFC 2045 §5.2: text without a charset is us-ascii.
    if default_charset && !params.iter().any(|p| p.name == b"charset") {
        out.push((istring(b"charset"), istring(b"us-ascii")));
    }
    out
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Disposition, language and location: the extension data common to both part kinds.
fn extension_tail(m: &MimeFields) -> ImapDisposition<'static> {
    ImapDisposition {
        disposition: m
            .disposition
            .as_ref()
            .map(|d| (istring(&d.kind), param_list(&d.params, false))),
        tail: Some(Language {
            language: m.language.iter().map(|l| istring(l)).collect(),
            tail: Some(Location {
                location: nstring(m.location.as_deref()),
                extensions: Vec::new(),
            }),
        }),
    }
}

/// What a multipart without body parts shows (IMAP cannot express an empty multipart).
fn empty_text(extended: bool) -> BodyStructure<'static> {
    BodyStructure::Single {
        body: Body {
            basic: BasicFields {
                parameter_list: param_list(&[], true),
                id: NString(None),
                description: NString(None),
                content_transfer_encoding: istring(b"7bit"),
                size: 0,
            },
            specific: SpecificFields::Text {
                subtype: istring(b"plain"),
                number_of_lines: 0,
            },
        },
        extension_data: extended.then(|| SinglePartExtensionData {
            md5: NString(None),
            tail: Some(extension_tail(&MimeFields::default())),
        }),
    }
}

impl Part {
    /// BODYSTRUCTURE (`extended`) or BODY of this part (RFC 3501 §7.4.2).
    pub fn to_imap(&self, extended: bool) -> BodyStructure<'static> {
        let m = &self.mime;
        if let PartBody::Multipart(children) = &self.body {
            let bodies: Vec<_> = if children.is_empty() {
                vec![empty_text(extended)]
            } else {
                children.iter().map(|c| c.to_imap(extended)).collect()
            };
            return BodyStructure::Multi {
                bodies: Vec1::try_from(bodies).expect("at least one body"),
                subtype: istring(m.subtype.as_deref().unwrap_or(b"mixed")),
                extension_data: extended.then(|| MultiPartExtensionData {
                    parameter_list: param_list(&m.params, false),
                    tail: Some(extension_tail(m)),
                }),
            };
        }
        let text = !self.truncated && self.message().is_none() && self.is_text();
        let specific = match (&self.body, self.truncated) {
            (PartBody::Message(msg), false)
                if m.subtype
                    .as_ref()
                    .is_none_or(|s| s.eq_ignore_ascii_case(b"rfc822")) =>
            {
                SpecificFields::Message {
                    envelope: Box::new(msg.envelope.to_imap()),
                    body_structure: Box::new(msg.root.to_imap(extended)),
                    number_of_lines: count(self.lines),
                }
            }
            (_, true) => SpecificFields::Basic {
                r#type: istring(b"application"),
                subtype: istring(b"octet-stream"),
            },
            _ if text => SpecificFields::Text {
                subtype: istring(m.subtype.as_deref().unwrap_or(b"plain")),
                number_of_lines: count(self.lines),
            },
            // Types other than text keep theirs (message/global too: imap-types can only
            // express MESSAGE/RFC822 with an envelope).
            _ => SpecificFields::Basic {
                r#type: istring(m.media_type.as_deref().unwrap_or(b"application")),
                subtype: istring(m.subtype.as_deref().unwrap_or(b"octet-stream")),
            },
        };
        BodyStructure::Single {
            body: Body {
                basic: BasicFields {
                    parameter_list: param_list(&m.params, text),
                    id: nstring(m.id.as_deref()),
                    description: nstring(m.description.as_deref()),
                    content_transfer_encoding: istring(m.encoding.as_deref().unwrap_or(b"7bit")),
                    size: count(self.size_crlf()),
                },
                specific,
            },
            extension_data: extended.then(|| SinglePartExtensionData {
                md5: nstring(m.md5.as_deref()),
                tail: Some(extension_tail(m)),
            }),
        }
    }
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 3501 §6.4.5) over a header block read back from
/// the store: the fields whose name matches (case-insensitively) one of `names` (or none, with
/// `not`), as written and in order, then the blank line.
pub fn header_fields(block: &[u8], names: &[&[u8]], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let splitter = mail_parser::MessageParser::new()
        .ignore_header(mail_parser::HeaderName::Subject)
        .default_header_ignore();
    if let Some(parsed) = splitter.parse_headers(block)
        && let Some(part) = parsed.parts.first()
    {
        for h in &part.headers {
            let name = h.name.as_str().as_bytes();
            if names.iter().any(|n| n.eq_ignore_ascii_case(name)) != not
                && let Some(field) = block.get(h.offset_field as usize..h.offset_end as usize)
            {
                out.extend_from_slice(field);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Renders `* seq FETCH (ENVELOPE .. BODYSTRUCTURE .. BODY .. BODY[1] .. BODY[HEADER.FIELDS
/// (FROM TO SUBJECT DATE MESSAGE-ID)] .. RFC822.SIZE ..)` for `message` with imap-codec's
/// encoder: the item set `tests/imap_reference/compare.py` compares with Dovecot. Bodies are
/// sent as stored (NUL as 0x80).
#[doc(hidden)]
pub fn render_reference_fetch(seq: u32, message: &[u8], s: &Summary) -> Vec<u8> {
    use imap_codec::encode::Encoder;
    let bytes = |r: std::ops::Range<u64>| {
        let data = message
            .get(r.start as usize..r.end as usize)
            .unwrap_or_default();
        NString(Some(istring(data)))
    };
    let section_one = match s.section(&[1]) {
        Some(p) => bytes(p.body_range()),
        None => NString(Some(istring(b""))),
    };
    let names: [&[u8]; 5] = [b"FROM", b"TO", b"SUBJECT", b"DATE", b"MESSAGE-ID"];
    let fields = header_fields(
        message.get(..s.header_bytes() as usize).unwrap_or_default(),
        &names,
        false,
    );
    let items = vec![
        MessageDataItem::Envelope(s.imap_envelope()),
        MessageDataItem::BodyStructure(s.imap_body_structure(true)),
        MessageDataItem::Body(s.imap_body_structure(false)),
        MessageDataItem::BodyExt {
            section: Some(Section::Part(SectionPart(Vec1::from(NonZeroU32::MIN)))),
            origin: None,
            data: section_one,
        },
        MessageDataItem::BodyExt {
            section: Some(Section::HeaderFields(
                None,
                Vec1::try_from(
                    names
                        .iter()
                        .map(|n| AString::try_from(*n).expect("an atom"))
                        .collect::<Vec<_>>(),
                )
                .expect("five names"),
            )),
            origin: None,
            data: NString(Some(istring(&fields))),
        },
        MessageDataItem::Rfc822Size(count(s.size_crlf())),
    ];
    let response = Response::Data(Data::Fetch {
        seq: NonZeroU32::new(seq).unwrap_or(NonZeroU32::MIN),
        items: Vec1::try_from(items).expect("six items"),
    });
    imap_codec::ResponseCodec::new().encode(&response).dump()
}

// ---------------------------------------------------------------------------------------------
// Storage encoding
// ---------------------------------------------------------------------------------------------

fn put_opt(e: &mut Enc, v: Option<&[u8]>) {
    match v {
        Some(v) => e.u8(1).bytes(v),
        None => e.u8(0),
    };
}

fn get_opt(d: &mut Dec<'_>) -> Option<Option<Raw>> {
    match d.u8()? {
        0 => Some(None),
        1 => Some(Some(d.bytes()?.to_vec())),
        _ => None,
    }
}

fn len(n: usize) -> u32 {
    u32::try_from(n).expect("lists are bounded by the parser limits")
}

/// Reads a list length; the capacity reserved is capped so garbage cannot allocate much.
fn get_list<T>(d: &mut Dec<'_>, mut item: impl FnMut(&mut Dec<'_>) -> Option<T>) -> Option<Vec<T>> {
    let n = d.u32()? as usize;
    let mut v = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        v.push(item(d)?);
    }
    Some(v)
}

fn put_addresses(e: &mut Enc, list: &[Address]) {
    e.u32(len(list.len()));
    for a in list {
        for f in [&a.name, &a.adl, &a.mailbox, &a.host] {
            put_opt(e, f.as_deref());
        }
    }
}

fn get_addresses(d: &mut Dec<'_>) -> Option<Vec<Address>> {
    get_list(d, |d| {
        Some(Address {
            name: get_opt(d)?,
            adl: get_opt(d)?,
            mailbox: get_opt(d)?,
            host: get_opt(d)?,
        })
    })
}

fn put_params(e: &mut Enc, params: &[Param]) {
    e.u32(len(params.len()));
    for p in params {
        e.bytes(&p.name).bytes(&p.value);
    }
}

fn get_params(d: &mut Dec<'_>) -> Option<Vec<Param>> {
    get_list(d, |d| {
        Some(Param {
            name: d.bytes()?.to_vec(),
            value: d.bytes()?.to_vec(),
        })
    })
}

impl Envelope {
    fn put(&self, e: &mut Enc) {
        put_opt(e, self.date.as_deref());
        put_opt(e, self.subject.as_deref());
        for list in [
            &self.from,
            &self.sender,
            &self.reply_to,
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            put_addresses(e, list);
        }
        put_opt(e, self.in_reply_to.as_deref());
        put_opt(e, self.message_id.as_deref());
    }

    fn get(d: &mut Dec<'_>) -> Option<Envelope> {
        Some(Envelope {
            date: get_opt(d)?,
            subject: get_opt(d)?,
            from: get_addresses(d)?,
            sender: get_addresses(d)?,
            reply_to: get_addresses(d)?,
            to: get_addresses(d)?,
            cc: get_addresses(d)?,
            bcc: get_addresses(d)?,
            in_reply_to: get_opt(d)?,
            message_id: get_opt(d)?,
        })
    }
}

impl MimeFields {
    fn put(&self, e: &mut Enc) {
        put_opt(e, self.media_type.as_deref());
        put_opt(e, self.subtype.as_deref());
        put_params(e, &self.params);
        for f in [&self.id, &self.description, &self.encoding, &self.md5] {
            put_opt(e, f.as_deref());
        }
        match &self.disposition {
            Some(d) => {
                e.u8(1).bytes(&d.kind);
                put_params(e, &d.params);
            }
            None => {
                e.u8(0);
            }
        }
        e.u32(len(self.language.len()));
        for l in &self.language {
            e.bytes(l);
        }
        put_opt(e, self.location.as_deref());
    }

    fn get(d: &mut Dec<'_>) -> Option<MimeFields> {
        Some(MimeFields {
            media_type: get_opt(d)?,
            subtype: get_opt(d)?,
            params: get_params(d)?,
            id: get_opt(d)?,
            description: get_opt(d)?,
            encoding: get_opt(d)?,
            md5: get_opt(d)?,
            disposition: match d.u8()? {
                0 => None,
                1 => Some(Disposition {
                    kind: d.bytes()?.to_vec(),
                    params: get_params(d)?,
                }),
                _ => return None,
            },
            language: get_list(d, |d| Some(d.bytes()?.to_vec()))?,
            location: get_opt(d)?,
        })
    }
}

impl Part {
    fn put(&self, e: &mut Enc) {
        e.u64(self.header_start)
            .u64(self.body_start)
            .u64(self.body_end)
            .u64(self.lines)
            .u64(self.bare_lf)
            .u8(u8::from(self.truncated));
        self.mime.put(e);
        match &self.body {
            PartBody::Single => {
                e.u8(0);
            }
            PartBody::Multipart(children) => {
                e.u8(1).u32(len(children.len()));
                for c in children {
                    c.put(e);
                }
            }
            PartBody::Message(m) => {
                e.u8(2);
                m.envelope.put(e);
                m.root.put(e);
            }
        }
    }

    fn get(d: &mut Dec<'_>, depth: usize) -> Option<Part> {
        if depth > MAX_DECODE_DEPTH {
            return None;
        }
        let mut p = Part {
            header_start: d.u64()?,
            body_start: d.u64()?,
            body_end: d.u64()?,
            lines: d.u64()?,
            bare_lf: d.u64()?,
            truncated: match d.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            },
            mime: MimeFields::get(d)?,
            body: PartBody::Single,
        };
        p.body = match d.u8()? {
            0 => PartBody::Single,
            1 => PartBody::Multipart(get_list(d, |d| Part::get(d, depth + 1))?),
            2 => PartBody::Message(Box::new(Message {
                envelope: Envelope::get(d)?,
                root: Part::get(d, depth + 1)?,
            })),
            _ => return None,
        };
        Some(p)
    }

    /// Offsets nest: header before body, body within `lo..hi`, children in order inside it.
    fn nests(&self, lo: u64, hi: u64) -> bool {
        if !(lo <= self.header_start
            && self.header_start <= self.body_start
            && self.body_start <= self.body_end
            && self.body_end <= hi
            && self.bare_lf <= self.lines
            && self.lines <= self.body_end - self.body_start)
        {
            return false;
        }
        match &self.body {
            PartBody::Single => true,
            PartBody::Multipart(children) => {
                let mut at = self.body_start;
                children.iter().all(|c| {
                    let ok = c.nests(at, self.body_end);
                    at = c.body_end;
                    ok
                })
            }
            PartBody::Message(m) => m.root.nests(self.body_start, self.body_end),
        }
    }
}

impl Summary {
    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(SUMMARY_V2)
            .u64(self.size)
            .u64(self.lines)
            .u64(self.bare_lf);
        match self.date {
            Some(t) => e.u8(1).u64(t as u64),
            None => e.u8(0),
        };
        put_opt(&mut e, self.subject.as_deref().map(str::as_bytes));
        e.u32(len(self.references.len()));
        for r in &self.references {
            e.str(r);
        }
        let h = &self.limits_hit;
        e.u64(h.header_bytes_skipped)
            .u32(h.parts_dropped)
            .u32(h.depth_exceeded)
            .u32(h.fields_truncated)
            .u32(h.boundaries_ignored);
        self.envelope.put(&mut e);
        self.root.put(&mut e);
        e.done()
    }

    /// Decodes a stored summary; `None` if it is corrupt, of another version, or its offsets
    /// do not nest inside the message (so callers may slice the stored bytes with them).
    pub fn decode(b: &[u8]) -> Option<Summary> {
        let mut d = Dec(b);
        (d.u8()? == SUMMARY_V2).then_some(())?;
        let size = d.u64()?;
        let lines = d.u64()?;
        let bare_lf = d.u64()?;
        let date = match d.u8()? {
            0 => None,
            1 => Some(d.u64()? as i64),
            _ => return None,
        };
        let subject = match get_opt(&mut d)? {
            Some(s) => Some(String::from_utf8(s).ok()?),
            None => None,
        };
        let references = get_list(&mut d, |d| d.string())?;
        let limits_hit = LimitsHit {
            header_bytes_skipped: d.u64()?,
            parts_dropped: d.u32()?,
            depth_exceeded: d.u32()?,
            fields_truncated: d.u32()?,
            boundaries_ignored: d.u32()?,
        };
        let envelope = Envelope::get(&mut d)?;
        let root = Part::get(&mut d, 0)?;
        if !d.rest().is_empty() || root.header_start != 0 || !root.nests(0, size) {
            return None;
        }
        if bare_lf > lines || lines > size {
            return None;
        }
        Some(Summary {
            envelope,
            root,
            size,
            lines,
            bare_lf,
            date,
            subject,
            references,
            limits_hit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(msg: &[u8]) -> String {
        let s = Summary::from_message(msg);
        String::from_utf8(render_reference_fetch(1, msg, &s)).unwrap()
    }

    #[test]
    fn renders_envelope_and_structure() {
        let msg =
            b"From: =?utf-8?q?J=C3=B6rg?= <j@example.test>\r\nTo: a@b.test, \"C D\" <c@d.test>\r\n\
                    Subject:  Hello \r\n\tworld\r\nDate: Thu, 26 Nov 2026 18:29:11 +0000\r\n\
                    Message-ID: <x@y>\r\n\r\nbody\r\n";
        let out = text(msg);
        assert!(
            out.starts_with(
                "* 1 FETCH (ENVELOPE (\"Thu, 26 Nov 2026 18:29:11 +0000\" \"Hello world\" \
                 ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.test\")) \
                 ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.test\")) \
                 ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.test\")) \
                 ((NIL NIL \"a\" \"b.test\")(\"C D\" NIL \"c\" \"d.test\")) NIL NIL NIL \"<x@y>\") \
                 BODYSTRUCTURE (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) \
                 BODY (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)"
            ),
            "{out}"
        );
        assert!(out.ends_with(" RFC822.SIZE 170)\r\n"), "{out}");
        let s = Summary::from_message(msg);
        assert_eq!(s.subject.as_deref(), Some("Hello world"));
        assert_eq!(s.date, Some(1_795_717_751));
        assert_eq!(Summary::decode(&s.encode()), Some(s));
    }

    #[test]
    fn sections_follow_rfc3501() {
        let msg = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\none\r\n--x\r\n\
                    Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n--x--\r\n";
        let s = Summary::from_message(msg);
        let body = |p: &[u32]| {
            s.section(p)
                .map(|p| &msg[p.body_start as usize..p.body_end as usize])
        };
        assert_eq!(body(&[1]), Some(&b"one"[..]));
        assert_eq!(body(&[2]), Some(&b"Subject: in\r\n\r\ninner"[..]));
        assert_eq!(body(&[2, 1]), Some(&b"inner"[..]));
        assert_eq!(body(&[3]), None);
        assert_eq!(body(&[1, 1]), None);
        assert_eq!(body(&[]), None);
    }

    #[test]
    fn header_fields_keep_order_and_folding() {
        let block = b"To: a\r\nX: 1\r\nfrom: b\r\n c\r\nTo: d\r\n\r\n";
        assert_eq!(
            header_fields(block, &[b"FROM", b"to"], false),
            b"To: a\r\nfrom: b\r\n c\r\nTo: d\r\n\r\n"
        );
        assert_eq!(
            header_fields(block, &[b"FROM", b"to"], true),
            b"X: 1\r\n\r\n"
        );
    }

    #[test]
    fn rfc2231_values_decode_on_request() {
        let p = Param {
            name: b"filename*".to_vec(),
            value: b"iso-8859-1'de'%E4rger.txt".to_vec(),
        };
        assert_eq!(p.decoded_value(), "ärger.txt");
        assert_eq!(p.base_name(), b"filename");
    }

    #[test]
    fn decode_rejects_garbage_and_bad_offsets() {
        assert_eq!(Summary::decode(&[]), None);
        assert_eq!(Summary::decode(&[1]), None);
        let mut s = Summary::from_message(b"Subject: x\r\n\r\nbody\r\n");
        let good = s.encode();
        for cut in 0..good.len() {
            assert_eq!(Summary::decode(&good[..cut]), None, "prefix of {cut} bytes");
        }
        s.root.body_end = s.size + 1;
        assert_eq!(Summary::decode(&s.encode()), None);
    }
}
