//! A streaming POSIX ustar writer (POSIX.1-2001 `pax` format for names that do not fit), for
//! downloading a folder of mbox files as one file. Each entry's size must be known before its
//! data, which is written straight through: memory is one 512-byte header.

use std::io::{self, Write};

const BLOCK: usize = 512;

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let text = text.as_bytes();
    // A value too large for the field keeps its lowest digits; callers keep sizes in range
    // (11 octal digits: 8 GiB; larger sizes go in a pax record).
    field[..digits].copy_from_slice(&text[text.len() - digits..]);
    field[digits] = 0;
}

fn header(name: &[u8], size: u64, mtime: u64, kind: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    octal(&mut h[100..108], 0o600);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size.min(0o77_777_777_777));
    octal(&mut h[136..148], mtime.min(0o77_777_777_777));
    h[148..156].copy_from_slice(b"        ");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// One pax extended header record: `LEN key=value\n`, LEN counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + body.to_string().len();
    if len.to_string().len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// Writes a tar stream to `out`.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    out: W,
}

impl<W: Write> TarWriter<W> {
    /// Starts a tar stream.
    pub fn new(out: W) -> TarWriter<W> {
        TarWriter { out }
    }

    /// Adds a regular file: `write` must write exactly `size` bytes.
    pub fn file(
        &mut self,
        path: &str,
        size: u64,
        mtime: u64,
        write: impl FnOnce(&mut W) -> io::Result<u64>,
    ) -> io::Result<()> {
        if path.len() > 100 || size > 0o77_777_777_777 {
            let mut pax = pax_record("path", path.as_bytes());
            pax.extend(pax_record("size", size.to_string().as_bytes()));
            self.out
                .write_all(&header(b"PaxHeader", pax.len() as u64, mtime, b'x'))?;
            self.out.write_all(&pax)?;
            self.pad(pax.len() as u64)?;
        }
        self.out
            .write_all(&header(path.as_bytes(), size, mtime, b'0'))?;
        let written = write(&mut self.out)?;
        if written != size {
            return Err(io::Error::other(format!(
                "{path}: {written} bytes written, {size} announced"
            )));
        }
        self.pad(size)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rest = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        self.out.write_all(&[0u8; BLOCK][..rest])
    }

    /// Ends the stream (two zero blocks) and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_tar_reads() {
        let mut t = TarWriter::new(Vec::new());
        t.file("mail/INBOX", 5, 1_700_000_000, |w| {
            w.write_all(b"hello").map(|_| 5)
        })
        .unwrap();
        let long = format!("mail/{}/x", "d".repeat(120));
        t.file(&long, 0, 0, |_| Ok(0)).unwrap();
        let bytes = t.finish().unwrap();
        assert_eq!(bytes.len() % BLOCK, 0);
        assert_eq!(&bytes[257..263], b"ustar\0");
        assert_eq!(pax_record("path", b"abc"), b"12 path=abc\n");
        assert_eq!(
            pax_record("a", &[b'x'; 94]),
            [b"101 a=".as_slice(), &[b'x'; 94], b"\n"].concat()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.tar");
        std::fs::write(&file, &bytes).unwrap();
        if let Ok(out) = std::process::Command::new("tar")
            .arg("-tvf")
            .arg(&file)
            .output()
        {
            let list = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                list.contains("mail/INBOX") && list.contains(&long),
                "{list}"
            );
        }
        let mut t = TarWriter::new(Vec::new());
        assert!(t.file("x", 3, 0, |_| Ok(2)).is_err());
    }
}
