//! `mailnook dns records`: the DNS records the operator must publish, in zone-file syntax.
//!
//! Invariants:
//! - Every owner name and target is absolute (trailing dot), so the lines paste into a zone file
//!   whatever its `$ORIGIN`; everything else the operator must read is a `;` comment line.
//! - A TXT value is written as quoted character-strings of at most 255 octets each (RFC 1035
//!   §3.3.14), grouped in parentheses when there are several, so the 2048-bit RSA key record
//!   is publishable as printed; `"` and `\` are escaped.
//! - Nothing is created or changed: missing DKIM keys are reported (`mailnook init` makes them),
//!   never generated here.

use super::admin::AdminError;
use crate::dkim::{KeyAlgorithm, SelectorKeys};
use crate::store::Store;
use crate::tls::dkim_keys;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

/// Longest character-string inside a TXT record (RFC 1035 §3.3).
pub const MAX_TXT_STRING: usize = 255;

/// The client-configuration services (RFC 6186 §3, RFC 8314 §5.1): implicit TLS first
/// (priority 0), STARTTLS as the fallback (priority 10); and ManageSieve (RFC 5804 §1.8).
pub const SRV_SERVICES: [(&str, u16, u16); 7] = [
    ("_submissions._tcp", 0, 465),
    ("_submission._tcp", 10, 587),
    ("_imaps._tcp", 0, 993),
    ("_imap._tcp", 10, 143),
    ("_pop3s._tcp", 0, 995),
    ("_pop3._tcp", 10, 110),
    ("_sieve._tcp", 0, 4190),
];

/// `value` as TXT RDATA: one quoted string, or `( "…" "…" )` when it is longer than 255 octets.
pub fn txt_rdata(value: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX_TXT_STRING);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        parts.push(quote(piece));
        rest = tail;
    }
    match parts.len() {
        0 => "\"\"".to_string(),
        1 => parts.remove(0),
        _ => format!("( {} )", parts.join(" ")),
    }
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Why a DKIM key cannot be published.
pub(crate) enum KeyProblem {
    /// The key file does not exist.
    Missing(std::path::PathBuf),
    /// It exists but cannot be read or parsed.
    Unusable(String),
}

impl KeyProblem {
    /// The comment line for `domain`'s group.
    fn comment(&self, domain: &str) -> String {
        match self {
            KeyProblem::Missing(path) => format!(
                "; DKIM key {} is missing: run `mailnook init --domain {domain}` to create it, then run this again",
                path.display()
            ),
            KeyProblem::Unusable(e) => format!("; DKIM key unusable: {}", e.replace('\n', " ")),
        }
    }
}

/// The DKIM keys of `selector` in `DATA/dkim`, or why there are none.
pub(crate) fn dkim_keys(data: &Path, selector: &str) -> Result<SelectorKeys, Vec<KeyProblem>> {
    let dir = dkim_keys::dkim_dir(data);
    let mut problems = Vec::new();
    let mut get = |alg: KeyAlgorithm| {
        let path = dkim_keys::key_path(&dir, selector, alg);
        if !path.exists() {
            problems.push(KeyProblem::Missing(path));
            return None;
        }
        match dkim_keys::load(&path, alg) {
            Ok(k) => Some(k),
            Err(e) => {
                problems.push(KeyProblem::Unusable(e.to_string()));
                None
            }
        }
    };
    let rsa = get(KeyAlgorithm::Rsa);
    let ed25519 = get(KeyAlgorithm::Ed25519);
    match (rsa, ed25519) {
        (Some(rsa), Some(ed25519)) => Ok(SelectorKeys {
            ed25519: ed25519.into(),
            rsa: rsa.into(),
        }),
        _ => Err(problems),
    }
}

/// `dns records [--ip ADDR]...`.
pub fn records(
    store: &Store,
    data: &Path,
    ips: &[IpAddr],
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let cfg = store.config()?;
    let host = cfg.hostname.trim_end_matches('.').to_ascii_lowercase();
    let domains = store.domains()?;
    writeln!(
        out,
        "; DNS records to publish for this server ({host}); names are absolute"
    )?;
    if host == "localhost" || !host.contains('.') {
        writeln!(
            out,
            "; warning: the host name `{host}` is not a public name; set it first: mailnook config set hostname mail.example.org"
        )?;
    }
    if !ips.is_empty() {
        writeln!(out)?;
        writeln!(out, "; host {host}")?;
        for ip in ips {
            let rtype = if ip.is_ipv4() { "A" } else { "AAAA" };
            writeln!(out, "{host}. {rtype} {ip}")?;
        }
        for ip in ips {
            writeln!(
                out,
                "; the PTR (reverse DNS) record of {ip} should be {host}. (ask your hosting provider or ISP)"
            )?;
        }
    }
    if domains.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "; no local domains yet: mailnook domain add example.org"
        )?;
        return Ok(());
    }
    let keys = dkim_keys(data, &cfg.dkim_selector);
    for d in &domains {
        writeln!(out)?;
        writeln!(out, "; {d}")?;
        writeln!(out, "{d}. MX 10 {host}.")?;
        writeln!(out, "{d}. TXT {}", txt_rdata("v=spf1 mx -all"))?;
        if let Some(relay) = &cfg.smarthost {
            writeln!(
                out,
                "; outbound mail goes through the relay {}: add its SPF include to the record above as its provider documents (\"v=spf1 mx include:... -all\")",
                relay.host
            )?;
        }
        match &keys {
            Ok(k) => {
                for (name, value) in k.dns_records(&cfg.dkim_selector, d) {
                    writeln!(out, "{name}. TXT {}", txt_rdata(&value))?;
                }
            }
            Err(problems) => {
                for p in problems {
                    writeln!(out, "{}", p.comment(d))?;
                }
            }
        }
        writeln!(
            out,
            "_dmarc.{d}. TXT {}",
            txt_rdata(&format!(
                "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@{d}"
            ))
        )?;
        for (service, priority, port) in SRV_SERVICES {
            writeln!(out, "{service}.{d}. SRV {priority} 1 {port} {host}.")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_txt_values_are_split_into_255_octet_strings() {
        assert_eq!(txt_rdata("v=spf1 mx -all"), "\"v=spf1 mx -all\"");
        let long = "a".repeat(600);
        let r = txt_rdata(&long);
        assert!(r.starts_with("( \"") && r.ends_with("\" )"), "{r}");
        let parts: Vec<&str> = r
            .trim_start_matches("( ")
            .trim_end_matches(" )")
            .split(' ')
            .map(|p| p.trim_matches('"'))
            .collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [255, 255, 90]
        );
        assert_eq!(parts.concat(), long);
        assert_eq!(txt_rdata(&"b".repeat(255)).matches('"').count(), 2);
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(txt_rdata(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
