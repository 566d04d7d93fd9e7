//! Sieve fuzz entry point: tokens, grammar and meaning of a script, then a run of whatever
//! compiles against a fixed message, with the vacation reply it may ask for.

use super::{header, into_tokens};
use crate::sieve::{self, Limits, MessageView, vacation};

const SIEVE_TOKENS: &[&[u8]] = &[
    b" ",
    b"\n",
    b";",
    b"{",
    b"}",
    b"[",
    b"]",
    b"(",
    b")",
    b",",
    b"\"",
    b"\\",
    b"#",
    b"/*",
    b"*/",
    b"text:\n",
    b"\n.\n",
    b"..",
    b"require",
    b"\"fileinto\"",
    b"\"envelope\"",
    b"\"vacation\"",
    b"\"imap4flags\"",
    b"\"reject\"",
    b"\"copy\"",
    b"\"comparator-i;octet\"",
    b"if",
    b"elsif",
    b"else",
    b"stop",
    b"keep",
    b"discard",
    b"fileinto",
    b"redirect",
    b"reject",
    b"ereject",
    b"vacation",
    b"setflag",
    b"addflag",
    b"removeflag",
    b"hasflag",
    b"header",
    b"address",
    b"envelope",
    b"exists",
    b"size",
    b"not",
    b"allof",
    b"anyof",
    b"true",
    b"false",
    b":is",
    b":contains",
    b":matches",
    b":comparator",
    b"\"i;octet\"",
    b":localpart",
    b":domain",
    b":all",
    b":over",
    b":under",
    b"100K",
    b"1",
    b":copy",
    b":flags",
    b":days",
    b":subject",
    b":from",
    b":addresses",
    b":mime",
    b":handle",
    b"\"subject\"",
    b"\"from\"",
    b"\"to\"",
    b"\"*\"",
    b"\"?x*\"",
    b"\"\\\\Seen\"",
    b"\"$L\"",
    b"\"a@b.test\"",
    b"\"Box\"",
];

const MESSAGE: &[u8] = b"From: A <a@x.test>\r\nTo: bob@example.test, list@l.test\r\nSubject: =?UTF-8?Q?caf=C3=A9?= news\r\nMessage-ID: <m@x.test>\r\nList-Id: <l.test>\r\n";

/// `data[0]` bit 0 maps the rest through Sieve tokens; the script is compiled with small
/// limits and, if it compiles, run: the outcome stays within the limits and a vacation reply
/// never gains a header line from the script.
pub fn fuzz_sieve_script(data: &[u8]) {
    let ([mode], rest) = header::<1>(data);
    let bytes = if mode & 1 == 1 {
        into_tokens(rest, SIEVE_TOKENS)
    } else {
        rest.to_vec()
    };
    let limits = Limits {
        max_script_bytes: 16 * 1024,
        max_redirects: 2,
        max_actions: 8,
        max_depth: 8,
        max_nodes: 256,
    };
    let text = String::from_utf8_lossy(&bytes);
    let Ok(script) = sieve::compile(&text, &limits) else {
        return;
    };
    let view = MessageView::new(MESSAGE, 5000, "a@x.test", "bob+tag@example.test");
    let o = script.run(&view, &limits);
    assert!(o.redirects.len() <= limits.max_redirects);
    assert!(o.keep.len() <= limits.max_actions + 1);
    if o.error.is_some() {
        assert_eq!(o.keep, vec![(None, Vec::new())]);
    }
    if let Some(v) = &o.vacation {
        let reply = vacation::reply(v, &view, "bob@example.test", "mx.example.test", 0);
        let text = String::from_utf8_lossy(&reply);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        if !v.mime {
            for line in head.split("\r\n") {
                assert!(
                    line.starts_with(' ') || line.contains(':'),
                    "header line without a name: {line:?}"
                );
            }
        }
        let _ = vacation::refusal(&view, &v.addresses);
    }
}
