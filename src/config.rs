//! Typed settings, their defaults and validation.
//!
//! Settings live in the store's `settings` table as `key = value` text (there is no config file to
//! parse); this module is the one list of keys, what each means, its default and its bounds.
//! Every limit the servers enforce is a setting here, with its unit in its name. Reading never
//! fails: an unknown or unparsable stored value falls back to the default and is reported by
//! `mailnook config list`; writing validates first, so a bad value never reaches the store.
//!
//! The defaults of the memory-bound settings depend on the board's RAM ([`board`]): a missing
//! value takes [`Spec::default_on`] the board in force, never the fixed text alone.

pub mod board;

use board::{Board, Detected};
use std::collections::BTreeMap;

/// How a setting's text is checked before it is stored.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An unsigned integer within `min..=max`.
    Int { min: u64, max: u64 },
    /// A DNS host name.
    Host,
    /// An email address (may be empty: unset).
    Email,
    /// A host name, or empty for "off".
    OptionalHost,
    /// One DNS label (a host name without dots), or empty.
    OptionalLabel,
    /// Comma-separated `ip:port` socket addresses, or empty.
    Servers,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// Printable text of at most 256 bytes (trimmed like every value), shown masked by
    /// `config get|list`.
    Secret,
    /// Printable text without spaces of at most 256 bytes, or empty.
    Word,
    /// Comma-separated host names (at most 8), or empty.
    Hosts,
    /// An absolute file system path, or empty.
    Path,
    /// Comma-separated email addresses (at most 16), or empty.
    Emails,
    /// An `https://` URL of at most 1024 bytes without spaces or control characters.
    HttpsUrl,
    /// A size in bytes, at most `max`, written as a number or with a binary suffix (`500M`,
    /// [`parse_size`]); stored as the plain number.
    Size { max: u64 },
}

/// One known setting.
#[derive(Debug)]
pub struct Spec {
    /// The key, e.g. `smtp.max_message_bytes`.
    pub key: &'static str,
    /// Default value as text; for the settings sized by the board ([`board::sized_keys`])
    /// this is the medium class's, and [`Spec::default_on`] gives the one in force.
    default: &'static str,
    /// One-line description for `config list`.
    pub help: &'static str,
    kind: Kind,
}

const fn int(
    key: &'static str,
    default: &'static str,
    min: u64,
    max: u64,
    help: &'static str,
) -> Spec {
    Spec {
        key,
        default,
        help,
        kind: Kind::Int { min, max },
    }
}

const fn text(key: &'static str, default: &'static str, kind: Kind, help: &'static str) -> Spec {
    Spec {
        key,
        default,
        help,
        kind,
    }
}

impl Spec {
    /// Whether the value is a secret that is never shown.
    pub fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::Secret)
    }

    /// The default on `board`: the board class's value for a memory-bound setting, else the
    /// fixed one.
    pub fn default_on(&self, board: &Board) -> &'static str {
        board::sized_default(self.key, board.class).unwrap_or(self.default)
    }

    /// Whether the default depends on the board's RAM.
    pub fn is_sized(&self) -> bool {
        board::sized_default(self.key, board::Class::Medium).is_some()
    }

    /// The value as `config get|list` shows it (secrets masked).
    pub fn shown(&self, value: &str) -> String {
        if self.is_secret() && !value.is_empty() {
            "********".to_string()
        } else {
            value.to_string()
        }
    }
}

/// Every setting mailnook knows, in display order.
pub const SPECS: &[Spec] = &[
    Spec {
        key: "hostname",
        default: "localhost",
        help: "this server's host name (EHLO, Received, certificate)",
        kind: Kind::Host,
    },
    Spec {
        key: "admin",
        default: "",
        help: "address that receives postmaster@ mail (empty: the first user added)",
        kind: Kind::Email,
    },
    int(
        "smtp.max_line_bytes",
        "1000",
        512,
        65_536,
        "longest SMTP command line, CRLF included (RFC 5321 §4.5.3.1)",
    ),
    int(
        "smtp.max_message_bytes",
        "52428800",
        1024,
        1 << 32,
        "largest accepted message (advertised as SIZE)",
    ),
    int(
        "smtp.max_recipients",
        "100",
        1,
        10_000,
        "recipients per message (RFC 5321 §4.5.3.1.8 asks for at least 100)",
    ),
    int(
        "smtp.max_errors",
        "10",
        1,
        1000,
        "protocol errors before the session is closed with 421",
    ),
    int(
        "smtp.command_timeout_secs",
        "300",
        5,
        3600,
        "idle time allowed while waiting for a command (RFC 5321 §4.5.3.2.7)",
    ),
    int(
        "smtp.data_timeout_secs",
        "180",
        5,
        3600,
        "idle time allowed inside DATA/BDAT (RFC 5321 §4.5.3.2.6)",
    ),
    int(
        "smtp.min_data_rate",
        "1024",
        0,
        1 << 30,
        "bytes per second message data must average after the first data timeout (0: off)",
    ),
    int(
        "imap.max_command_bytes",
        "65536",
        1024,
        1 << 24,
        "longest IMAP command, literals included (APPEND messages are streamed, not counted)",
    ),
    int(
        "imap.max_errors",
        "20",
        1,
        1000,
        "IMAP protocol errors before the session is closed",
    ),
    int(
        "imap.login_timeout_secs",
        "60",
        5,
        3600,
        "time allowed to log in after connecting (in all, however the client spaces its bytes)",
    ),
    int(
        "imap.idle_timeout_secs",
        "1800",
        60,
        86_400,
        "autologout of an idle logged-in session (RFC 9051 §5.4 asks for at least 30 minutes)",
    ),
    int(
        "imap.idle_keepalive_secs",
        "900",
        30,
        86_400,
        "keep-alive interval inside IDLE (sparse: phones wake for each one)",
    ),
    int(
        "imap.command_timeout_secs",
        "300",
        5,
        3600,
        "logged in: time allowed to finish a command once its first byte has arrived, and the longest pause inside an APPEND message",
    ),
    int(
        "imap.min_append_rate",
        "1024",
        0,
        1 << 30,
        "bytes per second APPEND message data must average after its first imap.command_timeout_secs (0: off)",
    ),
    int(
        "imap.plaintext_loopback",
        "0",
        0,
        1,
        "1: allow LOGIN without TLS from 127.0.0.1/::1 (for local tools); never from the network",
    ),
    int(
        "pop3.max_line_bytes",
        "512",
        64,
        65_536,
        "longest POP3 command line in octets, CRLF included (RFC 2449 §4: at least 255)",
    ),
    int(
        "pop3.max_errors",
        "10",
        1,
        1000,
        "POP3 protocol errors before the session is closed",
    ),
    int(
        "pop3.timeout_secs",
        "600",
        30,
        86_400,
        "autologout after this long without a command (RFC 1939 §3: at least 10 minutes)",
    ),
    int(
        "pop3.plaintext_loopback",
        "0",
        0,
        1,
        "1: allow USER/PASS and AUTH without TLS from 127.0.0.1/::1; never from the network",
    ),
    int(
        "pop3.expire_days",
        "0",
        0,
        36_500,
        "leave-on-server policy: delete messages this many days after arrival when a POP3 session ends (0: never; advertised as EXPIRE)",
    ),
    int(
        "managesieve.max_errors",
        "10",
        1,
        1000,
        "ManageSieve protocol errors before the session is closed",
    ),
    int(
        "managesieve.timeout_secs",
        "600",
        10,
        86_400,
        "ManageSieve: close a session after this long without a command",
    ),
    int(
        "board.ram_mib",
        "0",
        0,
        1 << 20,
        "RAM in MiB the memory-bound defaults are sized for (0: detect from /proc/meminfo and the cgroup limit)",
    ),
    int(
        "net.max_conns",
        "512",
        1,
        100_000,
        "connections open at once, all ports together",
    ),
    int(
        "net.max_conns_per_ip",
        "32",
        1,
        100_000,
        "connections open at once from one client address",
    ),
    int(
        "net.tls_handshake_secs",
        "30",
        5,
        300,
        "time allowed for a client's TLS handshake (implicit TLS ports, STARTTLS, STLS), in all",
    ),
    int(
        "store.cache_bytes",
        "8388608",
        65_536,
        1 << 34,
        "redb page cache (read cache plus write buffer)",
    ),
    int(
        "store.commit_window_ms",
        "5",
        0,
        1000,
        "how long a commit may wait for other messages being received (fewer SD-card writes)",
    ),
    text(
        "store.min_free_bytes",
        "16777216",
        Kind::Size {
            max: MAX_QUOTA_BYTES,
        },
        "free space kept on the data folder's disk: below it SMTP refuses new mail with 452 4.3.1, so the store keeps room for its own commits (0: off)",
    ),
    int(
        "auth.argon2_memory_kib",
        "19456",
        1024,
        1 << 20,
        "argon2id memory cost per password hash (KiB)",
    ),
    int(
        "auth.argon2_iterations",
        "2",
        1,
        20,
        "argon2id time cost (passes)",
    ),
    int(
        "auth.max_parallel_hashes",
        "2",
        1,
        64,
        "password verifications running at once (each costs auth.argon2_memory_kib)",
    ),
    int(
        "auth.cache_secs",
        "600",
        0,
        86_400,
        "how long a verified login is remembered (0: off; a password change forgets it)",
    ),
    int(
        "auth.cache_entries",
        "256",
        0,
        65_536,
        "verified logins remembered at most (0: off)",
    ),
    int(
        "auth.free_failures",
        "2",
        0,
        1000,
        "failed logins per client or account answered without delaying the next attempt",
    ),
    int(
        "auth.delay_base_ms",
        "1000",
        0,
        60_000,
        "delay before the next attempt after the first failure past auth.free_failures; doubles per failure (0: off)",
    ),
    int(
        "auth.delay_max_ms",
        "8000",
        0,
        300_000,
        "longest delay before a login attempt",
    ),
    int(
        "auth.max_failures_per_ip",
        "10",
        1,
        100_000,
        "failed logins from one client address (IPv6: one /64) before it is blocked",
    ),
    int(
        "auth.max_failures_per_account",
        "20",
        1,
        100_000,
        "failed logins for one account, from anywhere, before it is blocked",
    ),
    int(
        "auth.block_secs",
        "900",
        1,
        604_800,
        "how long a block lasts; failures are forgotten this long after the last one",
    ),
    int(
        "auth.throttle_entries",
        "1024",
        16,
        65_536,
        "clients and accounts whose failures are tracked at most (each; oldest forgotten first)",
    ),
    int(
        "tls.reload_check_secs",
        "60",
        1,
        86_400,
        "how often DATA/tls/ is checked for new certificate files",
    ),
    text(
        "delivery.plus_separator",
        "+",
        Kind::Choice(&["+", "-", "_", "=", "off"]),
        "subaddress separator: mail to user+tag@ goes to user@ (off: no subaddressing)",
    ),
    int(
        "delivery.plus_folder",
        "0",
        0,
        1,
        "1: file user+tag@ mail in the user's mailbox named tag (any case) when there is one",
    ),
    int(
        "sieve.max_script_bytes",
        "65536",
        1024,
        1_048_576,
        "largest Sieve script a user may store",
    ),
    int(
        "sieve.max_redirects",
        "4",
        0,
        32,
        "most addresses one Sieve run may redirect a message to",
    ),
    int(
        "lists.max_bounces",
        "3",
        1,
        100,
        "permanent failures in a row after which a list member is sent nothing more",
    ),
    int(
        "srs.max_age_days",
        "21",
        1,
        1023,
        "how long a rewritten forwarding sender (SRS) accepts bounces",
    ),
    int(
        "spam.enabled",
        "1",
        0,
        1,
        "1: score inbound mail (checked senders only) and file or refuse it by its score",
    ),
    int(
        "spam.junk_tenths",
        "50",
        0,
        1000,
        "score, in tenths, at which a message goes to Junk (50: 5.0)",
    ),
    int(
        "spam.reject_tenths",
        "100",
        0,
        1000,
        "score, in tenths, at which a message is refused with 550 5.7.1 (only with evidence beyond its content)",
    ),
    int(
        "spam.scan_bytes",
        "131072",
        4096,
        16_777_216,
        "bytes of each inbound message held in memory for the content scorer",
    ),
    int(
        "spam.max_tokens",
        "150000",
        1000,
        10_000_000,
        "tokens kept per spam model (per user and the shared one; about 20 bytes each on disk)",
    ),
    text(
        "spam.clamd_socket",
        "",
        Kind::Path,
        "clamd's Unix socket for a virus check of inbound mail (empty: off; for boards that can run ClamAV)",
    ),
    int(
        "spam.clamd_timeout_ms",
        "10000",
        100,
        600_000,
        "longest wait for clamd; without an answer the message is delivered unscanned",
    ),
    text(
        "spam.dnsbl_zones",
        "",
        Kind::Hosts,
        "DNS blocklists asked about each inbound client, comma-separated (empty: none; e.g. zen.spamhaus.org, free for small sites)",
    ),
    int(
        "greylist.enabled",
        "0",
        0,
        1,
        "1: answer a new (client network, sender, recipient) with 451 until greylist.delay_secs passed (RFC 6647)",
    ),
    int(
        "greylist.delay_secs",
        "300",
        1,
        86_400,
        "how long a new triplet is deferred",
    ),
    int(
        "greylist.expire_secs",
        "172800",
        60,
        31_536_000,
        "how long an unanswered triplet is remembered",
    ),
    int(
        "greylist.pass_days",
        "35",
        1,
        3650,
        "how long a client network that retried is let through without greylisting",
    ),
    int(
        "greylist.max_entries",
        "100000",
        100,
        10_000_000,
        "most triplets (and networks) remembered; when full, new senders pass (fail open)",
    ),
    text(
        "web.admins",
        "",
        Kind::Emails,
        "mail users who may administer the box on the web page, comma-separated (the setup page adds the first)",
    ),
    int(
        "web.public",
        "0",
        0,
        1,
        "1: answer the web page from any address; 0: only from loopback and the local network (RFC 1918, link-local, ULA)",
    ),
    text(
        "web.port25_probe",
        "gmail-smtp-in.l.google.com:25",
        Kind::Word,
        "host:port the checks page connects to, to tell whether outbound port 25 is open",
    ),
    text(
        "web.metrics_token",
        "",
        Kind::Secret,
        "bearer token that opens /metrics (Prometheus text format); empty: /metrics is off",
    ),
    int(
        "collect.min_interval_secs",
        "300",
        1,
        604_800,
        "shortest time between two collections of one external account (`mailnook collect`)",
    ),
    int(
        "collect.connect_timeout_secs",
        "30",
        1,
        600,
        "how long collection waits to connect to an external POP3/IMAP server",
    ),
    int(
        "collect.io_timeout_secs",
        "120",
        1,
        3600,
        "how long collection waits for each read or write on an external server",
    ),
    int(
        "web.max_head_bytes",
        "16384",
        1024,
        1_048_576,
        "largest HTTP request line and header section (431 beyond)",
    ),
    int(
        "web.max_body_bytes",
        "1048576",
        1024,
        1_073_741_824,
        "largest HTTP request body (413 beyond)",
    ),
    int(
        "web.max_upload_bytes",
        "8589934592",
        1024,
        1_099_511_627_776,
        "largest multipart/form-data upload (a backup to restore, a certificate file), streamed, never held in memory (413 beyond)",
    ),
    int(
        "web.timeout_secs",
        "30",
        1,
        3600,
        "longest wait for a whole request, and between requests on a kept-alive connection",
    ),
    int(
        "web.session_idle_secs",
        "1800",
        60,
        604_800,
        "a web session unused this long is ended",
    ),
    int(
        "web.session_max_secs",
        "43200",
        300,
        2_592_000,
        "a web session ends this long after login, used or not",
    ),
    int(
        "web.max_sessions",
        "256",
        4,
        100_000,
        "most web sessions kept (the least recently used go first)",
    ),
    int(
        "smtp.max_header_bytes",
        "65536",
        4096,
        1 << 24,
        "largest header section of a message (held in memory to be checked, completed and signed)",
    ),
    int(
        "smtp.check_senders",
        "1",
        0,
        1,
        "1: check SPF, DKIM and DMARC of inbound mail, add Authentication-Results, apply DMARC reject/quarantine",
    ),
    int(
        "smtp.check_loopback",
        "0",
        0,
        1,
        "1: also check mail from 127.0.0.1/::1 (local tools re-injecting mail are not checked by default)",
    ),
    int(
        "smtp.check_timeout_ms",
        "5000",
        100,
        60_000,
        "longest wait for the DNS answers of one inbound message's checks; unanswered ones count as temperror",
    ),
    int(
        "queue.concurrency",
        "8",
        1,
        256,
        "outbound SMTP connections open at once",
    ),
    int(
        "queue.retry_base_secs",
        "300",
        1,
        86_400,
        "wait before the first retry of a deferred message; doubles per attempt, with jitter",
    ),
    int(
        "queue.retry_max_secs",
        "7200",
        1,
        604_800,
        "longest wait between two delivery attempts",
    ),
    int(
        "queue.delay_warning_secs",
        "14400",
        0,
        31_536_000,
        "age at which the sender is told once that a message is delayed (0: never)",
    ),
    int(
        "queue.max_age_secs",
        "432000",
        1,
        31_536_000,
        "age at which an undelivered message is given up and bounced",
    ),
    int(
        "queue.connect_timeout_secs",
        "30",
        1,
        600,
        "time allowed to connect to a remote server, TLS handshake included",
    ),
    int(
        "queue.command_timeout_secs",
        "300",
        5,
        3600,
        "time allowed for each reply of a remote server (RFC 5321 §4.5.3.2: 5 minutes)",
    ),
    int(
        "queue.final_timeout_secs",
        "600",
        5,
        3600,
        "time allowed for the reply to the end of message data (RFC 5321 §4.5.3.2.6: 10 minutes)",
    ),
    int(
        "queue.remote_port",
        "25",
        1,
        65_535,
        "port of remote mail exchangers (25; another value only for tests)",
    ),
    text(
        "dns.nameservers",
        "",
        Kind::Servers,
        "recursive resolvers as ip:port, comma-separated (empty: those of /etc/resolv.conf)",
    ),
    text(
        "smarthost.host",
        "",
        Kind::OptionalHost,
        "relay that carries all outbound mail (empty: deliver to each domain's MX directly)",
    ),
    int("smarthost.port", "587", 1, 65_535, "the relay's port"),
    text(
        "smarthost.tls",
        "starttls",
        Kind::Choice(&["starttls", "tls"]),
        "starttls (port 587) or tls (implicit TLS, port 465); TLS is always required",
    ),
    int(
        "smarthost.tls_verify",
        "1",
        0,
        1,
        "1: the relay's certificate must verify against the web PKI roots; 0: accept any",
    ),
    text(
        "smarthost.user",
        "",
        Kind::Word,
        "user name for AUTH at the relay (empty: no AUTH)",
    ),
    text(
        "smarthost.password",
        "",
        Kind::Secret,
        "password for AUTH at the relay (never shown)",
    ),
    text(
        "dkim.selector",
        "mailnook",
        Kind::Host,
        "DKIM selector; keys are DATA/dkim/<selector>-rsa.pem and <selector>-ed25519.pem",
    ),
    int(
        "acme.enabled",
        "0",
        0,
        1,
        "1: obtain and renew the TLS certificate (DATA/tls/cert.pem, key.pem) from an ACME CA (RFC 8555)",
    ),
    text(
        "acme.directory",
        "https://acme-v02.api.letsencrypt.org/directory",
        Kind::HttpsUrl,
        "the ACME CA's directory URL (Let's Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory)",
    ),
    text(
        "acme.email",
        "",
        Kind::Email,
        "contact address given to the ACME CA for expiry notices (empty: none)",
    ),
    text(
        "acme.challenge",
        "http-01",
        Kind::Choice(&["http-01", "tls-alpn-01"]),
        "how the CA checks control of the names: http-01 (web port 80) or tls-alpn-01 (web port 443)",
    ),
    text(
        "acme.names",
        "",
        Kind::Hosts,
        "names the certificate covers, comma-separated (empty: the host name)",
    ),
    text(
        "acme.ca_file",
        "",
        Kind::Path,
        "PEM file of the roots that the ACME server's own HTTPS certificate must chain to (empty: the web PKI roots)",
    ),
    int(
        "acme.renew_days",
        "30",
        1,
        60,
        "renew the certificate when it expires within this many days",
    ),
    int(
        "acme.timeout_secs",
        "30",
        1,
        600,
        "time allowed for each request to the ACME server (connect, TLS, response)",
    ),
    int(
        "acme.order_timeout_secs",
        "600",
        10,
        86_400,
        "time allowed for one whole certificate order, validation and issuance included",
    ),
    int(
        "mdns.enabled",
        "0",
        0,
        1,
        "1: answer multicast DNS (RFC 6762) for <mdns.name>.local on the LAN, port 5353 (at next start)",
    ),
    text(
        "mdns.name",
        "",
        Kind::OptionalLabel,
        "the name answered as <name>.local (empty: the host name's first label; at next start)",
    ),
    text(
        "quota.default_bytes",
        "0",
        Kind::Size {
            max: MAX_QUOTA_BYTES,
        },
        "storage quota given to each new user, e.g. 2G (0: unlimited); change one user's with `mailnook quota set`",
    ),
    int(
        "acme.retry_base_secs",
        "600",
        1,
        86_400,
        "wait after a failed order before the next; doubles per failure, at most a day",
    ),
];

/// The largest quota a user can be given (1 PiB): far beyond any disk, and small enough that
/// usage plus a message never overflows.
pub const MAX_QUOTA_BYTES: u64 = 1 << 50;

/// Parses a size in bytes: a whole number, optionally followed by `K`, `M`, `G` or `T` (powers
/// of 1024, case-blind, an optional trailing `B` or `iB`: `500M`, `2GiB`, `1536k`). `None` for
/// anything else, or on overflow.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match s[digits..].trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// Writes a size the way [`parse_size`] reads it, with the largest unit that divides it
/// exactly (`524288000` → `500M`, `1000` → `1000`).
pub fn format_size(n: u64) -> String {
    for (shift, unit) in [(40, 'T'), (30, 'G'), (20, 'M'), (10, 'K')] {
        if n != 0 && n.is_multiple_of(1u64 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// Looks up a setting by key.
pub fn spec(key: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.key == key)
}

/// Why a value cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The key is not one of [`SPECS`].
    #[error("unknown setting `{0}` (see `mailnook config list`)")]
    UnknownKey(String),
    /// The value does not fit the setting.
    #[error("invalid value for `{key}`: {why}")]
    Invalid {
        /// The setting.
        key: String,
        /// What is wrong.
        why: String,
    },
}

/// Checks `value` for `key` and returns it normalised (trimmed, lower-cased where case-blind).
pub fn validate(key: &str, value: &str) -> Result<String, ConfigError> {
    let spec = spec(key).ok_or_else(|| ConfigError::UnknownKey(key.to_string()))?;
    let value = value.trim();
    let invalid = |why: String| ConfigError::Invalid {
        key: key.to_string(),
        why,
    };
    match spec.kind {
        Kind::Int { min, max } => {
            let n: u64 = value
                .parse()
                .map_err(|_| invalid(format!("`{value}` is not a whole number")))?;
            if n < min || n > max {
                return Err(invalid(format!("{n} is outside {min}..={max}")));
            }
            Ok(n.to_string())
        }
        Kind::Host => {
            if is_hostname(value) {
                Ok(value.to_ascii_lowercase())
            } else {
                Err(invalid(format!("`{value}` is not a host name")))
            }
        }
        Kind::Email => {
            if value.is_empty() || crate::message::address::normalize(value).is_some() {
                Ok(value.to_ascii_lowercase())
            } else {
                Err(invalid(format!("`{value}` is not an email address")))
            }
        }
        Kind::OptionalLabel => {
            let v = value.trim_end_matches('.');
            let v = v.strip_suffix(".local").unwrap_or(v);
            if v.is_empty() || (is_hostname(v) && !v.contains('.')) {
                Ok(v.to_ascii_lowercase())
            } else {
                Err(invalid(format!(
                    "`{value}` is not one DNS label (e.g. mailnook)"
                )))
            }
        }
        Kind::OptionalHost => {
            if value.is_empty() || is_hostname(value) {
                Ok(value.to_ascii_lowercase())
            } else {
                Err(invalid(format!("`{value}` is not a host name")))
            }
        }
        Kind::Servers => {
            let addrs = parse_servers(value).map_err(invalid)?;
            Ok(addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","))
        }
        Kind::Path => {
            if value.is_empty() || (value.starts_with('/') && !value.chars().any(char::is_control))
            {
                Ok(value.to_string())
            } else {
                Err(invalid("want an absolute path".into()))
            }
        }
        Kind::Hosts => {
            let hosts = parse_hosts(value);
            if hosts.len() > 8 {
                return Err(invalid("more than 8 host names".into()));
            }
            if let Some(bad) = hosts.iter().find(|h| !is_hostname(h)) {
                return Err(invalid(format!("`{bad}` is not a host name")));
            }
            Ok(hosts.join(","))
        }
        Kind::Emails => {
            let list = parse_hosts(value);
            if list.len() > 16 {
                return Err(invalid("more than 16 addresses".into()));
            }
            if let Some(bad) = list
                .iter()
                .find(|a| crate::message::address::normalize(a).is_none())
            {
                return Err(invalid(format!("`{bad}` is not an email address")));
            }
            Ok(list.join(","))
        }
        Kind::HttpsUrl => {
            let rest = value.strip_prefix("https://").unwrap_or("");
            let host = rest.split(['/', ':', '?', '#']).next().unwrap_or("");
            if value.len() > 1024
                || host.is_empty()
                || value.chars().any(|c| c.is_control() || c == ' ')
            {
                Err(invalid("want an https:// URL".into()))
            } else {
                Ok(value.to_string())
            }
        }
        Kind::Size { max } => match parse_size(value) {
            Some(n) if n <= max => Ok(n.to_string()),
            Some(n) => Err(invalid(format!("{n} bytes is more than {max}"))),
            None => Err(invalid(format!(
                "`{value}` is not a size (a number of bytes, or e.g. 500M, 2G)"
            ))),
        },
        Kind::Choice(words) => {
            let v = value.to_ascii_lowercase();
            if words.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(invalid(format!("want one of {}", words.join(", "))))
            }
        }
        Kind::Secret | Kind::Word => {
            let raw = value;
            if raw.len() > 256 {
                return Err(invalid("longer than 256 bytes".into()));
            }
            if raw.chars().any(|c| c.is_control())
                || (matches!(spec.kind, Kind::Word) && raw.contains(' '))
            {
                return Err(invalid("contains a control character or a space".into()));
            }
            Ok(raw.to_string())
        }
    }
}

/// Splits a comma-separated list of host names (lowercased, empty items dropped).
pub fn parse_hosts(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses a comma-separated list of `ip:port` addresses (`[v6]:port` for IPv6); empty is none.
pub fn parse_servers(value: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<std::net::SocketAddr>()
                .map_err(|_| format!("`{s}` is not ip:port"))
        })
        .collect()
}

/// True for a syntactically valid DNS host name (RFC 1123 §2.1 labels, at most 253 octets).
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The settings in force, typed. Built from the stored key/value pairs with defaults filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The RAM the memory-bound defaults were sized for.
    pub board: Board,
    /// This server's host name.
    pub hostname: String,
    /// Postmaster recipient; empty means the first user added.
    pub admin: String,
    /// Longest SMTP command line in octets, CRLF included.
    pub smtp_max_line_bytes: usize,
    /// Largest accepted message in octets.
    pub smtp_max_message_bytes: u64,
    /// Recipients per message.
    pub smtp_max_recipients: usize,
    /// Protocol errors before the session is closed.
    pub smtp_max_errors: u32,
    /// Seconds to wait for a command.
    pub smtp_command_timeout_secs: u64,
    /// Seconds to wait for message data.
    pub smtp_data_timeout_secs: u64,
    /// Minimum average data rate in bytes per second.
    pub smtp_min_data_rate: u64,
    /// Longest IMAP command in octets.
    pub imap_max_command_bytes: usize,
    /// IMAP protocol errors before the session ends.
    pub imap_max_errors: u32,
    /// Seconds to log in.
    pub imap_login_timeout_secs: u64,
    /// Autologout of idle sessions, seconds.
    pub imap_idle_timeout_secs: u64,
    /// Keep-alive inside IDLE, seconds.
    pub imap_idle_keepalive_secs: u64,
    /// Logged in: seconds to finish a command, and the longest pause inside APPEND data.
    pub imap_command_timeout_secs: u64,
    /// Minimum average APPEND data rate in bytes per second.
    pub imap_min_append_rate: u64,
    /// LOGIN without TLS from loopback.
    pub imap_plaintext_loopback: bool,
    /// Longest POP3 command line in octets.
    pub pop3_max_line_bytes: usize,
    /// POP3 protocol errors before the session ends.
    pub pop3_max_errors: u32,
    /// POP3 autologout, seconds.
    pub pop3_timeout_secs: u64,
    /// USER/PASS and AUTH without TLS from loopback.
    pub pop3_plaintext_loopback: bool,
    /// Days after arrival a message is deleted when a POP3 session ends; 0: never.
    pub pop3_expire_days: u64,
    /// ManageSieve protocol errors before the session ends.
    pub managesieve_max_errors: u32,
    /// ManageSieve autologout, seconds.
    pub managesieve_timeout_secs: u64,
    /// Connections at once, all ports.
    pub net_max_conns: usize,
    /// Connections at once per client address.
    pub net_max_conns_per_ip: usize,
    /// Deadline of a client's TLS handshake.
    pub net_tls_handshake: std::time::Duration,
    /// redb cache size in bytes.
    pub store_cache_bytes: usize,
    /// Group-commit window in milliseconds.
    pub store_commit_window_ms: u64,
    /// Free bytes kept on the store's filesystem (SMTP refuses new mail below it).
    pub store_min_free_bytes: u64,
    /// argon2id memory cost in KiB.
    pub auth_argon2_memory_kib: u32,
    /// argon2id passes.
    pub auth_argon2_iterations: u32,
    /// Password verifications at once.
    pub auth_max_parallel_hashes: usize,
    /// Seconds a verified login is cached; 0 turns the cache off.
    pub auth_cache_secs: u64,
    /// Verified logins cached at most; 0 turns the cache off.
    pub auth_cache_entries: usize,
    /// Failures per client or account before attempts are delayed.
    pub auth_free_failures: u32,
    /// First delay in milliseconds, doubling per further failure.
    pub auth_delay_base_ms: u64,
    /// Longest delay in milliseconds.
    pub auth_delay_max_ms: u64,
    /// Failures from one client network before it is blocked.
    pub auth_max_failures_per_ip: u32,
    /// Failures for one account before it is blocked.
    pub auth_max_failures_per_account: u32,
    /// Block length in seconds (also how long failures are remembered).
    pub auth_block_secs: u64,
    /// Entries per throttling table.
    pub auth_throttle_entries: usize,
    /// Seconds between checks of DATA/tls/.
    pub tls_reload_check_secs: u64,
    /// The subaddress separator (`user+tag@`), if subaddressing is on.
    pub plus_separator: Option<char>,
    /// File subaddressed mail in the mailbox named by its tag.
    pub plus_folder: bool,
    /// Largest Sieve script.
    pub sieve_max_script_bytes: usize,
    /// Most redirects per Sieve run.
    pub sieve_max_redirects: usize,
    /// Failures before a list member is disabled.
    pub lists_max_bounces: u32,
    /// Days an SRS address stays valid.
    pub srs_max_age_days: u64,
    /// Score inbound mail.
    pub spam_enabled: bool,
    /// Junk threshold, tenths.
    pub spam_junk_tenths: u64,
    /// Reject threshold, tenths.
    pub spam_reject_tenths: u64,
    /// Bytes of a message the scorer reads.
    pub spam_scan_bytes: usize,
    /// Tokens per model.
    pub spam_max_tokens: u64,
    /// DNS blocklist zones.
    pub spam_dnsbl_zones: Vec<String>,
    /// clamd's socket, if the virus check is on.
    pub spam_clamd_socket: Option<std::path::PathBuf>,
    /// clamd deadline, milliseconds.
    pub spam_clamd_timeout_ms: u64,
    /// Greylisting on.
    pub greylist_enabled: bool,
    /// Deferral of a new triplet, seconds.
    pub greylist_delay_secs: u64,
    /// Memory of an unanswered triplet, seconds.
    pub greylist_expire_secs: u64,
    /// Pass duration of a network that retried, days.
    pub greylist_pass_days: u64,
    /// Most triplets and networks kept.
    pub greylist_max_entries: u64,
    /// Largest header section held in memory.
    pub smtp_max_header_bytes: usize,
    /// Check inbound senders.
    pub smtp_check_senders: bool,
    /// Also check loopback clients.
    pub smtp_check_loopback: bool,
    /// Deadline of the checks, milliseconds.
    pub smtp_check_timeout_ms: u64,
    /// Outbound connections at once.
    pub queue_concurrency: usize,
    /// First retry delay, seconds.
    pub queue_retry_base_secs: u64,
    /// Longest retry delay, seconds.
    pub queue_retry_max_secs: u64,
    /// Age of the delay warning, seconds; 0: never.
    pub queue_delay_warning_secs: u64,
    /// Age at which a message is bounced, seconds.
    pub queue_max_age_secs: u64,
    /// Connect (and TLS handshake) timeout, seconds.
    pub queue_connect_timeout_secs: u64,
    /// Per-reply timeout, seconds.
    pub queue_command_timeout_secs: u64,
    /// Timeout for the reply after the data, seconds.
    pub queue_final_timeout_secs: u64,
    /// Port of remote MX hosts.
    pub queue_remote_port: u16,
    /// Resolvers; empty: /etc/resolv.conf.
    pub dns_nameservers: Vec<std::net::SocketAddr>,
    /// The relay, if all mail goes through one.
    pub smarthost: Option<Smarthost>,
    /// DKIM selector.
    pub dkim_selector: String,
    /// Mail users who may administer the box on the web page.
    pub web_admins: Vec<String>,
    /// Answer the web page from any address, not only the local network.
    pub web_public: bool,
    /// The bearer token of /metrics (empty: off).
    pub web_metrics_token: String,
    /// Where the checks page tries port 25.
    pub web_port25_probe: String,
    /// Shortest time between two collections of one external account.
    pub collect_min_interval_secs: u64,
    /// Connect timeout for collection.
    pub collect_connect_timeout_secs: u64,
    /// Read/write timeout for collection.
    pub collect_io_timeout_secs: u64,
    /// Largest HTTP request head.
    pub web_max_head_bytes: usize,
    /// Largest HTTP request body.
    pub web_max_body_bytes: usize,
    /// Largest multipart upload (streamed).
    pub web_max_upload_bytes: u64,
    /// Request and keep-alive timeout.
    pub web_timeout_secs: u64,
    /// Web session idle limit.
    pub web_session_idle_secs: u64,
    /// Web session absolute limit.
    pub web_session_max_secs: u64,
    /// Most web sessions.
    pub web_max_sessions: usize,
    /// Obtain and renew the TLS certificate over ACME.
    pub acme_enabled: bool,
    /// The ACME directory URL.
    pub acme_directory: String,
    /// Contact address for the ACME account; empty: none.
    pub acme_email: String,
    /// `http-01` or `tls-alpn-01`.
    pub acme_challenge: String,
    /// Names for the certificate; empty: the host name.
    pub acme_names: Vec<String>,
    /// Roots for the ACME server's HTTPS certificate; `None`: the web PKI roots.
    pub acme_ca_file: Option<std::path::PathBuf>,
    /// Renewal margin, days.
    pub acme_renew_days: u64,
    /// Per-request deadline, seconds.
    pub acme_timeout_secs: u64,
    /// Deadline of one order, seconds.
    pub acme_order_timeout_secs: u64,
    /// First retry delay after a failure, seconds.
    pub acme_retry_base_secs: u64,
    /// Storage quota of a new user in bytes; 0: unlimited.
    pub quota_default_bytes: u64,
    /// Answer multicast DNS for [`Config::mdns_label`]`.local`.
    pub mdns_enabled: bool,
    /// The mDNS name as set; empty: the host name's first label.
    pub mdns_name: String,
}

/// How to reach the relay that carries all outbound mail.
#[derive(Clone)]
pub struct Smarthost {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Implicit TLS (465) rather than STARTTLS.
    pub implicit_tls: bool,
    /// Whether the certificate must verify.
    pub verify: bool,
    /// AUTH user (empty: none).
    pub user: String,
    /// AUTH password.
    pub password: String,
}

impl std::fmt::Debug for Smarthost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smarthost")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("implicit_tls", &self.implicit_tls)
            .field("verify", &self.verify)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Builds the typed settings from stored pairs on a board whose RAM was `detected` (unless
    /// `board.ram_mib` says otherwise); bad or missing values take their defaults on that board.
    pub fn from_pairs(pairs: &BTreeMap<String, String>, detected: Detected) -> Config {
        let board = Board::from_pairs(pairs, detected);
        let get = |key: &str| -> String { value_in_force(pairs, key, &board) };
        let num = |key: &str| -> u64 { get(key).parse().expect("validated integers parse") };
        Config {
            board,
            hostname: get("hostname"),
            admin: get("admin"),
            smtp_max_line_bytes: num("smtp.max_line_bytes") as usize,
            smtp_max_message_bytes: num("smtp.max_message_bytes"),
            smtp_max_recipients: num("smtp.max_recipients") as usize,
            smtp_max_errors: num("smtp.max_errors") as u32,
            smtp_command_timeout_secs: num("smtp.command_timeout_secs"),
            smtp_data_timeout_secs: num("smtp.data_timeout_secs"),
            smtp_min_data_rate: num("smtp.min_data_rate"),
            imap_max_command_bytes: num("imap.max_command_bytes") as usize,
            imap_max_errors: num("imap.max_errors") as u32,
            imap_login_timeout_secs: num("imap.login_timeout_secs"),
            imap_idle_timeout_secs: num("imap.idle_timeout_secs"),
            imap_idle_keepalive_secs: num("imap.idle_keepalive_secs"),
            imap_command_timeout_secs: num("imap.command_timeout_secs"),
            imap_min_append_rate: num("imap.min_append_rate"),
            imap_plaintext_loopback: num("imap.plaintext_loopback") == 1,
            pop3_max_line_bytes: num("pop3.max_line_bytes") as usize,
            pop3_max_errors: num("pop3.max_errors") as u32,
            pop3_timeout_secs: num("pop3.timeout_secs"),
            pop3_plaintext_loopback: num("pop3.plaintext_loopback") == 1,
            pop3_expire_days: num("pop3.expire_days"),
            managesieve_max_errors: num("managesieve.max_errors") as u32,
            managesieve_timeout_secs: num("managesieve.timeout_secs"),
            net_max_conns: num("net.max_conns") as usize,
            net_max_conns_per_ip: num("net.max_conns_per_ip") as usize,
            net_tls_handshake: std::time::Duration::from_secs(num("net.tls_handshake_secs")),
            store_cache_bytes: num("store.cache_bytes") as usize,
            store_commit_window_ms: num("store.commit_window_ms"),
            store_min_free_bytes: num("store.min_free_bytes"),
            auth_argon2_memory_kib: num("auth.argon2_memory_kib") as u32,
            auth_argon2_iterations: num("auth.argon2_iterations") as u32,
            auth_max_parallel_hashes: num("auth.max_parallel_hashes") as usize,
            auth_cache_secs: num("auth.cache_secs"),
            auth_cache_entries: num("auth.cache_entries") as usize,
            auth_free_failures: num("auth.free_failures") as u32,
            auth_delay_base_ms: num("auth.delay_base_ms"),
            auth_delay_max_ms: num("auth.delay_max_ms"),
            auth_max_failures_per_ip: num("auth.max_failures_per_ip") as u32,
            auth_max_failures_per_account: num("auth.max_failures_per_account") as u32,
            auth_block_secs: num("auth.block_secs"),
            auth_throttle_entries: num("auth.throttle_entries") as usize,
            tls_reload_check_secs: num("tls.reload_check_secs"),
            plus_separator: get("delivery.plus_separator")
                .chars()
                .next()
                .filter(|_| get("delivery.plus_separator") != "off"),
            plus_folder: num("delivery.plus_folder") == 1,
            sieve_max_script_bytes: num("sieve.max_script_bytes") as usize,
            sieve_max_redirects: num("sieve.max_redirects") as usize,
            lists_max_bounces: num("lists.max_bounces") as u32,
            srs_max_age_days: num("srs.max_age_days"),
            spam_enabled: num("spam.enabled") == 1,
            spam_junk_tenths: num("spam.junk_tenths"),
            spam_reject_tenths: num("spam.reject_tenths"),
            spam_scan_bytes: num("spam.scan_bytes") as usize,
            spam_max_tokens: num("spam.max_tokens"),
            spam_dnsbl_zones: parse_hosts(&get("spam.dnsbl_zones")),
            spam_clamd_socket: Some(get("spam.clamd_socket"))
                .filter(|s| !s.is_empty())
                .map(std::path::PathBuf::from),
            spam_clamd_timeout_ms: num("spam.clamd_timeout_ms"),
            greylist_enabled: num("greylist.enabled") == 1,
            greylist_delay_secs: num("greylist.delay_secs"),
            greylist_expire_secs: num("greylist.expire_secs"),
            greylist_pass_days: num("greylist.pass_days"),
            greylist_max_entries: num("greylist.max_entries"),
            smtp_max_header_bytes: num("smtp.max_header_bytes") as usize,
            smtp_check_senders: num("smtp.check_senders") == 1,
            smtp_check_loopback: num("smtp.check_loopback") == 1,
            smtp_check_timeout_ms: num("smtp.check_timeout_ms"),
            queue_concurrency: num("queue.concurrency") as usize,
            queue_retry_base_secs: num("queue.retry_base_secs"),
            queue_retry_max_secs: num("queue.retry_max_secs"),
            queue_delay_warning_secs: num("queue.delay_warning_secs"),
            queue_max_age_secs: num("queue.max_age_secs"),
            queue_connect_timeout_secs: num("queue.connect_timeout_secs"),
            queue_command_timeout_secs: num("queue.command_timeout_secs"),
            queue_final_timeout_secs: num("queue.final_timeout_secs"),
            queue_remote_port: num("queue.remote_port") as u16,
            dns_nameservers: parse_servers(&get("dns.nameservers")).unwrap_or_default(),
            smarthost: {
                let host = get("smarthost.host");
                (!host.is_empty()).then(|| Smarthost {
                    host,
                    port: num("smarthost.port") as u16,
                    implicit_tls: get("smarthost.tls") == "tls",
                    verify: num("smarthost.tls_verify") == 1,
                    user: get("smarthost.user"),
                    password: get("smarthost.password"),
                })
            },
            dkim_selector: get("dkim.selector"),
            web_admins: parse_hosts(&get("web.admins")),
            web_public: num("web.public") == 1,
            web_port25_probe: get("web.port25_probe"),
            web_metrics_token: get("web.metrics_token"),
            collect_min_interval_secs: num("collect.min_interval_secs"),
            collect_connect_timeout_secs: num("collect.connect_timeout_secs"),
            collect_io_timeout_secs: num("collect.io_timeout_secs"),
            web_max_head_bytes: num("web.max_head_bytes") as usize,
            web_max_body_bytes: num("web.max_body_bytes") as usize,
            web_max_upload_bytes: num("web.max_upload_bytes"),
            web_timeout_secs: num("web.timeout_secs"),
            web_session_idle_secs: num("web.session_idle_secs"),
            web_session_max_secs: num("web.session_max_secs"),
            web_max_sessions: num("web.max_sessions") as usize,
            acme_enabled: num("acme.enabled") == 1,
            acme_directory: get("acme.directory"),
            acme_email: get("acme.email"),
            acme_challenge: get("acme.challenge"),
            acme_names: parse_hosts(&get("acme.names")),
            acme_ca_file: Some(get("acme.ca_file"))
                .filter(|s| !s.is_empty())
                .map(std::path::PathBuf::from),
            acme_renew_days: num("acme.renew_days"),
            acme_timeout_secs: num("acme.timeout_secs"),
            acme_order_timeout_secs: num("acme.order_timeout_secs"),
            acme_retry_base_secs: num("acme.retry_base_secs"),
            quota_default_bytes: num("quota.default_bytes"),
            mdns_enabled: num("mdns.enabled") == 1,
            mdns_name: get("mdns.name"),
        }
    }
}

impl Config {
    /// The label answered over mDNS: `mdns.name`, else the host name's first label
    /// (`mailnook` for `mailnook.example.org`).
    pub fn mdns_label(&self) -> String {
        if self.mdns_name.is_empty() {
            self.hostname
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string()
        } else {
            self.mdns_name.clone()
        }
    }
}

/// The value of `key` in force: the stored one when it is valid, else the default on `board`.
///
/// # Panics
/// If `key` is not one of [`SPECS`].
pub fn value_in_force(pairs: &BTreeMap<String, String>, key: &str, board: &Board) -> String {
    let spec = spec(key).expect("every key read here is listed in SPECS");
    match pairs.get(key) {
        Some(v) if validate(key, v).is_ok() => v.clone(),
        _ => spec.default_on(board).to_string(),
    }
}

impl Default for Config {
    /// The defaults on a board whose RAM is unknown (the medium class), the same on every
    /// machine.
    fn default() -> Self {
        Config::from_pairs(&BTreeMap::new(), Detected::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_validates() {
        for s in SPECS {
            validate(s.key, s.default).unwrap_or_else(|e| panic!("{}: {e}", s.key));
        }
        let _ = Config::default();
    }

    #[test]
    fn mdns_name_is_one_label_defaulting_to_the_host_names_first() {
        assert_eq!(
            validate("mdns.name", " MailNook.local. ").unwrap(),
            "mailnook"
        );
        assert_eq!(validate("mdns.name", "").unwrap(), "");
        assert!(validate("mdns.name", "a.b").is_err());
        assert!(validate("mdns.name", "bad_name").is_err());
        let mut pairs = BTreeMap::new();
        pairs.insert("hostname".to_string(), "mailnook.example.org".to_string());
        let c = Config::from_pairs(&pairs, Detected::Unknown);
        assert!(!c.mdns_enabled);
        assert_eq!(c.mdns_label(), "mailnook");
        pairs.insert("mdns.name".to_string(), "postbox".to_string());
        assert_eq!(
            Config::from_pairs(&pairs, Detected::Unknown).mdns_label(),
            "postbox"
        );
    }

    #[test]
    fn rejects_out_of_range_and_unknown() {
        assert!(validate("smtp.max_line_bytes", "10").is_err());
        assert!(validate("smtp.max_line_bytes", "x").is_err());
        assert!(validate("nope", "1").is_err());
        assert_eq!(
            validate("hostname", " MX.Example.TEST ").unwrap(),
            "mx.example.test"
        );
        assert!(validate("hostname", "bad_host").is_err());
        assert!(validate("acme.directory", "http://ca.test/dir").is_err());
        assert!(validate("acme.directory", "https:///dir").is_err());
        assert!(validate("acme.directory", "https://ca.test/d ir").is_err());
        assert!(validate("acme.directory", "https://127.0.0.1:14000/dir").is_ok());
        assert_eq!(
            validate("acme.challenge", "TLS-ALPN-01").unwrap(),
            "tls-alpn-01"
        );
        assert!(validate("acme.challenge", "dns-01").is_err());
        assert!(validate("acme.names", "*.example.test").is_err());
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        for (text, n) in [
            ("0", 0),
            ("1000", 1000),
            ("500M", 500 << 20),
            ("500m", 500 << 20),
            ("2G", 2 << 30),
            ("2GiB", 2 << 30),
            ("2 GB", 2 << 30),
            ("1536k", 1536 << 10),
            ("1T", 1 << 40),
            ("7b", 7),
        ] {
            assert_eq!(parse_size(text), Some(n), "{text}");
        }
        for bad in [
            "",
            "M",
            "-1",
            "1.5G",
            "2X",
            "5iB",
            "2 G B",
            "99999999999999999999999",
            "16777216T",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        for n in [0, 1000, 1024, 500 << 20, 2 << 30, (1 << 30) + 1] {
            assert_eq!(parse_size(&format_size(n)), Some(n));
        }
        assert_eq!(format_size(500 << 20), "500M");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(validate("quota.default_bytes", "2G").unwrap(), "2147483648");
        assert!(validate("quota.default_bytes", "2P").is_err());
        assert!(validate("quota.default_bytes", "2048T").is_err());
        let mut pairs = BTreeMap::new();
        pairs.insert("quota.default_bytes".to_string(), "1048576".to_string());
        assert_eq!(
            Config::from_pairs(&pairs, Detected::Unknown).quota_default_bytes,
            1 << 20
        );
    }

    #[test]
    fn bad_stored_values_fall_back_to_defaults() {
        let mut pairs = BTreeMap::new();
        pairs.insert("smtp.max_errors".to_string(), "lots".to_string());
        pairs.insert("smtp.max_recipients".to_string(), "7".to_string());
        let c = Config::from_pairs(&pairs, Detected::Unknown);
        assert_eq!(c.smtp_max_errors, 10);
        assert_eq!(c.smtp_max_recipients, 7);
    }
}
