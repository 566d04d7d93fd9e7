//! Header fields as raw bytes: the one splitter of a header section into fields, shared by the
//! submission and inbound header rewrites (`message::submit`), DKIM signing and verification
//! (`dkim`), the delivery reports and the fuzz targets.
//!
//! Invariants: pure; never panics on any input; a field's `raw` bytes are exactly the input's,
//! continuation lines included, so a caller can copy untouched fields byte for byte.

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// One header field of a message header block, as raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawField<'a> {
    /// The field name as written (no trailing WSP), e.g. `Subject`.
    pub name: &'a [u8],
    /// The whole field including continuation lines, without the final line end.
    pub raw: &'a [u8],
}

/// Splits a header block into fields (RFC 5322 §2.2.3: a line starting with WSP continues the
/// previous field). Stops at the first empty line, so the separator and anything after it may
/// be included. Lines may end in CRLF or bare LF. Leading continuation lines with no field to
/// continue are ignored.
pub fn split_fields(header: &[u8]) -> Vec<RawField<'_>> {
    let mut fields: Vec<RawField<'_>> = Vec::new();
    let mut start: Option<usize> = None; // start of the current field
    let mut pos = 0;
    let mut end_of_current = 0;
    while pos < header.len() {
        let nl = memchr::memchr(b'\n', &header[pos..]).map_or(header.len(), |i| pos + i);
        let mut line_end = nl;
        if line_end > pos && header[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let line = &header[pos..line_end];
        if line.is_empty() {
            break; // RFC 5322 §2.1: the empty line ends the header section
        }
        if is_wsp(line[0]) {
            if start.is_some() {
                end_of_current = line_end;
            }
        } else {
            if let Some(s) = start {
                fields.push(make_field(&header[s..end_of_current]));
            }
            start = Some(pos);
            end_of_current = line_end;
        }
        pos = nl.saturating_add(1);
    }
    if let Some(s) = start {
        fields.push(make_field(&header[s..end_of_current]));
    }
    fields
}

fn make_field(raw: &[u8]) -> RawField<'_> {
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    let name = &raw[..colon];
    let name_end = name.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
    RawField {
        name: &name[..name_end],
        raw,
    }
}
