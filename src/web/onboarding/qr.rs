//! QR codes as inline SVG: the setup link for a phone's camera, or an `otpauth://` URI for an
//! authenticator app.
//!
//! Encoding is Project Nayuki's `qrcodegen` (ISO/IEC 18004; pure Rust, no dependencies), at
//! error-correction level M (15 % of the code may be lost), with the smallest version that
//! fits and the automatic mask choice. Non-ASCII text goes in byte mode as UTF-8, what phone
//! scanners assume without an ECI designator.
//!
//! The SVG is self-contained: a white square with a quiet zone of four modules on every side
//! (ISO/IEC 18004 §6.3.8), one `<path>` of the dark modules (horizontal runs merged),
//! `shape-rendering="crispEdges"`, a `viewBox` in modules and no width or height (the page
//! sizes it), no external references, no scripts, no text.
//!
//! Bounded: at most [`MAX_QR_TEXT_BYTES`] of input (version 40-M holds 2331 bytes; a scanner
//! reads a small code more reliably), so the output is at most a few hundred KiB.

use std::fmt::Write as _;

use qrcodegen::{QrCode, QrCodeEcc, QrSegment, Version};

/// The Content-Type of a standalone SVG file.
pub const QR_CONTENT_TYPE: &str = "image/svg+xml";

/// Longest text encoded, in bytes of UTF-8.
pub const MAX_QR_TEXT_BYTES: usize = 1024;

/// Quiet zone around the code, in modules.
const QUIET_ZONE: i32 = 4;

/// Why no QR code was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// Nothing to encode.
    #[error("no text to encode as a QR code")]
    Empty,
    /// Longer than [`MAX_QR_TEXT_BYTES`] (or than a code can hold).
    #[error("text too long for a QR code")]
    TooLong,
}

/// `text` as a QR code in an SVG document.
pub fn qr_svg(text: &str) -> Result<String, QrError> {
    if text.is_empty() {
        return Err(QrError::Empty);
    }
    if text.len() > MAX_QR_TEXT_BYTES {
        return Err(QrError::TooLong);
    }
    let segments = QrSegment::make_segments(text);
    // Level M exactly (no boosting), any version, automatic mask.
    let code = QrCode::encode_segments_advanced(
        &segments,
        QrCodeEcc::Medium,
        Version::MIN,
        Version::MAX,
        None,
        false,
    )
    .map_err(|_| QrError::TooLong)?;
    Ok(svg(&code))
}

fn svg(code: &QrCode) -> String {
    let size = code.size();
    let total = size + 2 * QUIET_ZONE;
    let mut path = String::new();
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if !code.get_module(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < size && code.get_module(x, y) {
                x += 1;
            }
            let run = x - start;
            let _ = write!(
                path,
                "M{},{}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 {total} {total}\" \
         shape-rendering=\"crispEdges\">\
         <rect width=\"{total}\" height=\"{total}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/>\
         </svg>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dark modules of `svg`'s path, as (x, y) in the viewBox.
    fn dark_modules(svg: &str) -> Vec<(i32, i32)> {
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut out = Vec::new();
        for cmd in d.split('M').filter(|c| !c.is_empty()) {
            let (xy, rest) = cmd.split_once('h').unwrap();
            let (x, y) = xy.split_once(',').unwrap();
            let run: i32 = rest.split_once('v').unwrap().0.parse().unwrap();
            assert_eq!(rest, format!("{run}v1h-{run}z"));
            let (x, y): (i32, i32) = (x.parse().unwrap(), y.parse().unwrap());
            out.extend((x..x + run).map(|x| (x, y)));
        }
        out
    }

    #[test]
    fn path_matches_the_code_with_a_quiet_zone() {
        let text = "https://mail.example.test/setup?u=alice%40example.test";
        let svg = qr_svg(text).unwrap();
        let code = QrCode::encode_segments_advanced(
            &QrSegment::make_segments(text),
            QrCodeEcc::Medium,
            Version::MIN,
            Version::MAX,
            None,
            false,
        )
        .unwrap();
        assert_eq!(code.error_correction_level(), QrCodeEcc::Medium);
        let size = code.size();
        let total = size + 8;
        assert!(svg.contains(&format!("viewBox=\"0 0 {total} {total}\"")));
        assert!(svg.contains("shape-rendering=\"crispEdges\""));
        assert_eq!(svg.matches("<path").count(), 1);
        let dark = dark_modules(&svg);
        let mut expected = Vec::new();
        for y in 0..size {
            for x in 0..size {
                if code.get_module(x, y) {
                    expected.push((x + 4, y + 4));
                }
            }
        }
        assert_eq!(dark, expected);
        assert!(
            dark.iter()
                .all(|&(x, y)| (4..4 + size).contains(&x) && (4..4 + size).contains(&y))
        );
        // Nothing that could load or run anything.
        for bad in ["href", "<script", "<image", "url(", "<text", "<style"] {
            assert!(!svg.contains(bad), "{bad}");
        }
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
    }

    #[test]
    fn bounds() {
        assert_eq!(qr_svg(""), Err(QrError::Empty));
        assert!(qr_svg(&"a".repeat(MAX_QR_TEXT_BYTES)).is_ok());
        assert_eq!(
            qr_svg(&"a".repeat(MAX_QR_TEXT_BYTES + 1)),
            Err(QrError::TooLong)
        );
        // Byte length counts, not characters.
        assert_eq!(
            qr_svg(&"é".repeat(MAX_QR_TEXT_BYTES / 2 + 1)),
            Err(QrError::TooLong)
        );
        assert!(qr_svg("Grüße, 世界 😀").is_ok());
    }
}
