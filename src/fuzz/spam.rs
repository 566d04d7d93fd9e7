//! Spam scorer fuzz entry point: arbitrary bytes as a message through the tokenizer, the header
//! heuristics, the attachment checks and the zip directory reader.

use crate::spam::{self, Parsed, tokens, zip};

/// Feeds `data` as a message (and, raw, to the zip reader); checks the promised bounds.
pub fn fuzz_spam_tokens(data: &[u8]) {
    let p = Parsed::new(data);
    let text: usize = p.texts.iter().map(|t| t.text.len()).sum();
    // Charset conversion may grow the decoded bytes (one byte → up to 3 in UTF-8, U+FFFD).
    assert!(text <= tokens::MAX_TEXT_BYTES * 3, "text {text}");
    assert!(p.attachments.len() <= tokens::MAX_ATTACHMENTS);
    assert!(
        p.attachments
            .iter()
            .all(|a| a.data.len() <= tokens::MAX_ATTACHMENT_BYTES)
    );
    let mut calls = 0usize;
    tokens::token_strings(&p, &mut |_| calls += 1);
    assert!(calls <= tokens::MAX_TOKENS * 2, "calls {calls}");
    let t = spam::tokenize(&p);
    assert!(t.len() <= tokens::MAX_TOKENS);
    assert!(t.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    let h = spam::heuristics(&p);
    assert!(h.len() <= 16);
    let features = spam::Features {
        dangerous_attachment: spam::dangerous_attachment(&p),
        heuristics: h,
        bayes: Some(0.5),
        ..spam::Features::default()
    };
    let v = spam::verdict(&features, &spam::Thresholds::default());
    let header = spam::x_spam_score(&v);
    assert!(header.len() <= spam::MAX_HEADER_VALUE);
    assert!(
        header.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "{header:?}"
    );
    let names = zip::entry_names(data);
    assert!(names.len() <= zip::MAX_ENTRIES);
    assert!(names.iter().all(|n| n.len() <= zip::MAX_NAME * 3));
}
