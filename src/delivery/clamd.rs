//! The optional virus check: the message's first bytes sent to a local clamd over its Unix
//! socket with the `INSTREAM` command (clamd(8): `zINSTREAM\0`, then chunks of a 4-byte
//! big-endian length and data, ended by a zero length; the answer is `stream: OK` or
//! `stream: <signature> FOUND`).
//!
//! Invariants: off unless `spam.clamd_socket` names a socket; every step has the
//! `spam.clamd_timeout_ms` deadline; clamd being absent, slow or confused never loses or refuses
//! mail (it is logged and the message is delivered unscanned); only what the scorer holds
//! (`spam.scan_bytes`) is scanned, so a virus deeper in a very large message is not seen; the
//! answer read is bounded.

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;
/// Longest answer read.
const MAX_ANSWER: usize = 1024;

/// What clamd said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Nothing found.
    Clean,
    /// A signature matched.
    Found(String),
    /// No answer (no daemon, timeout, error); the message is delivered.
    Unavailable(String),
}

async fn exchange(socket: &Path, data: &[u8]) -> std::io::Result<String> {
    let mut s = Async::<UnixStream>::connect(socket).await?;
    s.write_all(b"zINSTREAM\0").await?;
    for piece in data.chunks(CHUNK) {
        s.write_all(&(piece.len() as u32).to_be_bytes()).await?;
        s.write_all(piece).await?;
    }
    s.write_all(&0u32.to_be_bytes()).await?;
    s.flush().await?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    while answer.len() < MAX_ANSWER {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.contains(&0) {
            break;
        }
    }
    let end = answer.iter().position(|&b| b == 0).unwrap_or(answer.len());
    Ok(String::from_utf8_lossy(&answer[..end]).trim().to_string())
}

/// Parses clamd's answer to INSTREAM.
pub fn parse_answer(answer: &str) -> Scan {
    let rest = answer
        .strip_prefix("stream:")
        .map(str::trim)
        .unwrap_or(answer);
    if rest == "OK" {
        Scan::Clean
    } else if let Some(sig) = rest.strip_suffix(" FOUND") {
        let sig: String = sig
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(100)
            .collect();
        Scan::Found(sig)
    } else {
        Scan::Unavailable(format!(
            "clamd said {:?}",
            answer.chars().take(100).collect::<String>()
        ))
    }
}

/// Scans `data` with the clamd at `socket`.
pub async fn scan(socket: &Path, data: &[u8], timeout: Duration) -> Scan {
    let work = async {
        match exchange(socket, data).await {
            Ok(answer) => parse_answer(&answer),
            Err(e) => Scan::Unavailable(e.to_string()),
        }
    };
    futures_lite::future::or(work, async {
        Timer::after(timeout).await;
        Scan::Unavailable("clamd timed out".into())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse_answer("stream: OK"), Scan::Clean);
        assert_eq!(
            parse_answer("stream: Eicar-Test-Signature FOUND"),
            Scan::Found("Eicar-Test-Signature".into())
        );
        assert!(matches!(
            parse_answer("INSTREAM size limit exceeded. ERROR"),
            Scan::Unavailable(_)
        ));
    }
}
