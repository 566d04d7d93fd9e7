//! SRS fuzz entry point: any local part given at RCPT, and the round trip of any sender.

use super::header;
use crate::srs;

const KEY: &[u8] = b"fuzzing key, 32 bytes long......";

/// `data[0..2]` is the day; the rest is a local part to turn back (never a panic; a success
/// only for addresses made with the key) and a sender to rewrite and turn back again.
pub fn fuzz_srs_address(data: &[u8]) {
    let (day, rest) = header::<2>(data);
    let day = u64::from(u16::from_le_bytes(day));
    let text = String::from_utf8_lossy(rest);
    let _ = srs::reverse(KEY, &text, day, 21);
    let sender = text.trim();
    if sender.is_empty() || sender.contains(['\r', '\n']) {
        return;
    }
    let Some(forwarded) = srs::forward(KEY, sender, "fwd.test", day) else {
        return;
    };
    let (local, domain) = forwarded.rsplit_once('@').expect("an address");
    assert_eq!(domain, "fwd.test");
    assert!(srs::is_srs(local));
    let back = srs::reverse(KEY, local, day, 21).expect("our own address turns back");
    if !srs::is_srs(sender.rsplit_once('@').map_or(sender, |(l, _)| l)) {
        assert_eq!(back, sender, "{forwarded}");
    }
}
