//! SMTP client fuzz entry point: arbitrary server replies against the outbound client core.

use super::{chunks, header, into_tokens};
use crate::proto::smtp::client::{
    ClientConfig, Credentials, Envelope, Event, SmtpClient, TlsPolicy,
};

const REPLY_TOKENS: &[&[u8]] = &[
    b"220 ",
    b"250 ",
    b"250-",
    b"235 ",
    b"334 ",
    b"354 ",
    b"421 ",
    b"451 ",
    b"500 ",
    b"535 ",
    b"550 ",
    b"554 ",
    b"\r\n",
    b"\n",
    b"PIPELINING",
    b"STARTTLS",
    b"SIZE 100",
    b"8BITMIME",
    b"SMTPUTF8",
    b"AUTH PLAIN LOGIN",
    b"AUTH LOGIN",
    b"ok",
    b"x",
    b"\0",
    b"\xff",
    b"2",
    b"-",
];

/// Drives an [`SmtpClient`] with server bytes from the input.
///
/// Input: `[flags, size0, size1, size2, payload...]`; `flags` bits: 0 payload as reply tokens,
/// 1–2 TLS policy, 3 credentials configured, 4 AUTH without TLS allowed, 5 SMTPUTF8 message.
///
/// Checks: the transaction always ends with exactly one result per recipient (connection loss
/// at the end of the input included); the password is never written before TLS unless
/// allowed; events are bounded by input bytes.
pub fn fuzz_smtp_client(data: &[u8]) {
    let (h, rest) = header::<4>(data);
    let flags = h[0];
    let payload = if flags & 1 != 0 {
        into_tokens(rest, REPLY_TOKENS)
    } else {
        rest.to_vec()
    };
    let cfg = ClientConfig {
        helo: "a.test".into(),
        tls: match (flags >> 1) & 3 {
            0 => TlsPolicy::Opportunistic,
            1 => TlsPolicy::Required,
            _ => TlsPolicy::Active,
        },
        auth: (flags & 8 != 0).then(|| Credentials {
            user: "u".into(),
            password: "SECRETPW".into(),
        }),
        auth_without_tls: flags & 16 != 0,
    };
    let mut tls = cfg.tls == TlsPolicy::Active;
    let allow_plain = cfg.auth_without_tls;
    let env = Envelope {
        mail_from: "s@a.test".into(),
        rcpts: vec!["x@b.test".into(), "y@b.test".into(), "z@b.test".into()],
        size: 10,
        eight_bit: true,
        smtputf8: flags & 32 != 0,
    };
    let mut client = SmtpClient::new(cfg, env);
    let secret_b64 = ["U0VDUkVUUFc", "AHUAU0VDUkVUUFc"];
    let mut events = 0;
    let mut pieces = chunks(&payload, &h[1..4]).into_iter();
    let outcome = loop {
        events += 1;
        assert!(events <= 4 * payload.len() + 32, "no progress");
        let event = client.next_event();
        let out = String::from_utf8_lossy(client.output()).into_owned();
        client.clear_output();
        if !tls && !allow_plain {
            assert!(
                !secret_b64.iter().any(|s| out.contains(s)),
                "credentials sent before TLS: {out:?}"
            );
        }
        match event {
            Event::NeedInput => match pieces.next() {
                Some(p) => client.feed(p),
                None => match client.connection_lost() {
                    Event::Done(o) => break o,
                    other => panic!("connection_lost gave {other:?}"),
                },
            },
            Event::StartTls => {
                assert!(!tls, "STARTTLS inside TLS");
                tls = true;
                client.tls_started();
            }
            Event::SendBody => client.body_sent(),
            Event::Done(o) => break o,
        }
    };
    assert_eq!(outcome.rcpts.len(), 3, "one result per recipient");
}
