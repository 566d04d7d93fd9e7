//! A tiny binary codec for stored records: fixed-width little-endian integers and
//! length-prefixed byte strings.
//!
//! Used by the store's rows and by `message::Summary`. Every record type starts with a version
//! byte so a later release can add fields. [`Dec`] never panics on short or corrupt input: it
//! returns `None`, which callers report as a corrupt record.

/// Appends fields to a byte vector.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).expect("row fields are far below 4 GiB"));
        self.0.extend_from_slice(v);
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    pub fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// Reads fields back in the order they were written.
pub struct Dec<'a>(pub &'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn string(&mut self) -> Option<String> {
        self.bytes()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
    }
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_short_input() {
        let row = Enc::default()
            .u8(1)
            .u32(7)
            .u64(9)
            .str("hé")
            .bytes(b"")
            .done();
        let mut d = Dec(&row);
        assert_eq!(d.u8(), Some(1));
        assert_eq!(d.u32(), Some(7));
        assert_eq!(d.u64(), Some(9));
        assert_eq!(d.string().as_deref(), Some("hé"));
        assert_eq!(d.bytes(), Some(&b""[..]));
        assert_eq!(d.u8(), None);
        assert_eq!(Dec(&[5, 0, 0, 0, 1]).bytes(), None);
    }
}
