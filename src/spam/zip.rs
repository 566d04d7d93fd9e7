//! A tiny, bounded zip central-directory reader: the file names inside an archive, for the
//! dangerous-attachment check. Reads only the end-of-central-directory record (APPNOTE 4.3.16)
//! and the central directory headers (4.3.12); never decompresses. Zip64 and archives whose
//! directory does not lie within the data are refused (an empty list).

/// Most names returned.
pub const MAX_ENTRIES: usize = 1024;
/// Longest name returned (longer ones are cut).
pub const MAX_NAME: usize = 512;

fn u16_at(d: &[u8], i: usize) -> Option<usize> {
    Some(u16::from_le_bytes(d.get(i..i + 2)?.try_into().ok()?) as usize)
}

fn u32_at(d: &[u8], i: usize) -> Option<usize> {
    Some(u32::from_le_bytes(d.get(i..i + 4)?.try_into().ok()?) as usize)
}

/// Whether `data` starts like a zip archive.
pub fn is_zip(data: &[u8]) -> bool {
    data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06")
}

/// The names in the central directory of the zip archive `data` (lossy UTF-8), at most
/// [`MAX_ENTRIES`]; empty if `data` is not a readable archive.
pub fn entry_names(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    // The end record is 22 bytes plus a comment of at most 65535.
    let lowest = data.len().saturating_sub(22 + 65535);
    let Some(eocd) = (lowest..data.len().saturating_sub(21))
        .rev()
        .find(|&i| data[i..].starts_with(b"PK\x05\x06"))
    else {
        return out;
    };
    let (Some(count), Some(size), Some(offset)) = (
        u16_at(data, eocd + 10),
        u32_at(data, eocd + 12),
        u32_at(data, eocd + 16),
    ) else {
        return out;
    };
    if offset == 0xFFFF_FFFF || offset.checked_add(size).is_none_or(|end| end > eocd) {
        return out;
    }
    let dir = &data[offset..offset + size];
    let mut at = 0;
    for _ in 0..count.min(MAX_ENTRIES) {
        if !dir[at..].starts_with(b"PK\x01\x02") {
            break;
        }
        let (Some(name_len), Some(extra), Some(comment)) = (
            u16_at(dir, at + 28),
            u16_at(dir, at + 30),
            u16_at(dir, at + 32),
        ) else {
            break;
        };
        let Some(name) = dir.get(at + 46..at + 46 + name_len) else {
            break;
        };
        out.push(String::from_utf8_lossy(&name[..name.len().min(MAX_NAME)]).into_owned());
        at += 46 + name_len + extra + comment;
        if at > dir.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stored (uncompressed) zip archive holding `files`.
    pub(crate) fn make_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut dir = Vec::new();
        for (name, body) in files {
            let off = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&0u32.to_le_bytes()); // crc (not checked)
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(body);
            dir.extend_from_slice(b"PK\x01\x02");
            dir.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            dir.extend_from_slice(&0u32.to_le_bytes());
            dir.extend_from_slice(&(body.len() as u32).to_le_bytes());
            dir.extend_from_slice(&(body.len() as u32).to_le_bytes());
            dir.extend_from_slice(&(name.len() as u16).to_le_bytes());
            dir.extend_from_slice(&[0; 12]); // extra, comment, disk, attrs
            dir.extend_from_slice(&off.to_le_bytes());
            dir.extend_from_slice(name.as_bytes());
        }
        let dir_off = out.len() as u32;
        out.extend_from_slice(&dir);
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(&dir_off.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_names() {
        let z = make_zip(&[("readme.txt", b"hi"), ("dir/setup.exe", b"MZ..")]);
        assert!(is_zip(&z));
        assert_eq!(entry_names(&z), ["readme.txt", "dir/setup.exe"]);
    }

    #[test]
    fn refuses_broken_archives() {
        let z = make_zip(&[("a.exe", b"x")]);
        for cut in 0..z.len() {
            let _ = entry_names(&z[..cut]);
            let mut bad = z.clone();
            bad[cut] ^= 0xff;
            assert!(entry_names(&bad).len() <= 1);
        }
        assert!(entry_names(b"PK\x05\x06").is_empty());
        assert!(entry_names(b"").is_empty());
    }
}
