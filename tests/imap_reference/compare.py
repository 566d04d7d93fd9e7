#!/usr/bin/env python3
"""Compare what mailnook's IMAP server returns with Dovecot, item by item.

What it does:
  1. Takes N messages from the SpamAssassin corpus (../shared/corpus/spamassassin-tune.tar.gz,
     all by default, --limit N for fewer) plus the edge cases of tests/mime/*.eml (the golden
     files of tests/mime.rs), and APPENDs them, bytes unchanged, to a fresh mailbox on a
     Dovecot IMAP server (the peer stack: ../shared/peers/up.sh).
  2. Fetches from Dovecot: BODY.PEEK[], ENVELOPE, BODYSTRUCTURE, BODY, BODY.PEEK[1],
     BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)], RFC822.SIZE.
  3. Starts mailnook (cargo build --release; a temporary data folder with one user; a free port
     base) or uses a running one (--mailnook-imaps), APPENDs over IMAPS exactly the bytes Dovecot
     returned for BODY[] to one mailbox, and fetches the same items.
  4. Also APPENDs the corpus files as stored (bare LF line ends) to a second mailbox and checks
     that their items equal those of the CRLF bytes (mailnook serves stored bare LFs as CRLF, so
     sizes are those of the CRLF form).
  5. Delivers Dovecot's bytes over SMTP to mailnook's MX and checks that each delivered message
     gives the same items as its APPENDed copy, apart from the trace fields the MX prepends.

Values are compared after parsing the IMAP syntax, so quoted and literal forms of one string
are equal (RFC 3501 §4.3). A difference is either identical after the documented allow-list
normalisations below (each with its reason) or a failure. Exit status: 0 if every difference
is on the allow-list, 1 otherwise, 2 for usage/connection errors.

Python standard library only. Typical use (private peer stack, see the brief):
  PEERS_STATE=/tmp/peers-mime PEERS_PORT_OFFSET=30000 ../shared/peers/up.sh
  tests/imap_reference/compare.py --port 32143 --limit 200
"""

import argparse
import copy
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CORPUS = os.path.join(REPO, "..", "shared", "corpus", "spamassassin-tune.tar.gz")
FIELDS = "FROM TO SUBJECT DATE MESSAGE-ID"
ITEMS = [
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "BODY[1]",
    "BODY[HEADER.FIELDS (%s)]" % FIELDS,
    "RFC822.SIZE",
]

# ----------------------------------------------------------------------------------------------
# IMAP syntax
# ----------------------------------------------------------------------------------------------


class Parser:
    """Parses IMAP response data: NIL -> None, number -> int, atom -> str,
    quoted/literal -> bytes, list -> list."""

    def __init__(self, data):
        self.d = data
        self.i = 0

    def peek(self):
        return self.d[self.i : self.i + 1]

    def skip_sp(self):
        while self.peek() == b" ":
            self.i += 1

    def value(self):
        self.skip_sp()
        c = self.peek()
        if c == b"(":
            self.i += 1
            out = []
            while True:
                self.skip_sp()
                if self.peek() == b")":
                    self.i += 1
                    return out
                if self.peek() == b"":
                    raise ValueError("unterminated list")
                out.append(self.value())
        if c == b'"':
            self.i += 1
            out = bytearray()
            while True:
                b = self.d[self.i : self.i + 1]
                if b == b"":
                    raise ValueError("unterminated quoted string")
                self.i += 1
                if b == b"\\":
                    out += self.d[self.i : self.i + 1]
                    self.i += 1
                elif b == b'"':
                    return bytes(out)
                else:
                    out += b
        if c in (b"{", b"~"):
            if c == b"~":
                self.i += 1
            m = re.compile(rb"\{(\d+)\+?\}\r\n").match(self.d, self.i)
            if not m:
                raise ValueError("bad literal at %d" % self.i)
            n = int(m.group(1))
            self.i = m.end()
            v = self.d[self.i : self.i + n]
            self.i += n
            return bytes(v)
        start = self.i
        depth = 0
        while self.i < len(self.d):
            b = self.d[self.i : self.i + 1]
            if b == b"[":
                depth += 1
            elif b == b"]":
                depth -= 1
            elif depth == 0 and b in (b" ", b")", b"(", b"\r", b"\n"):
                break
            self.i += 1
        atom = self.d[start : self.i].decode("latin-1")
        if atom == "":
            raise ValueError("empty atom at %d" % start)
        if atom.upper() == "NIL":
            return None
        if atom.isdigit():
            return int(atom)
        return atom


def parse_fetch(line):
    """`* n FETCH (...)` -> dict of item name (upper case, PEEK dropped) -> value."""
    m = re.match(rb"\* (\d+) FETCH ", line)
    if not m:
        return None
    p = Parser(line)
    p.i = m.end()
    items = p.value()
    out = {}
    for k in range(0, len(items) - 1, 2):
        name = items[k].upper().replace("BODY.PEEK[", "BODY[")
        out[name] = items[k + 1]
    return out


# ----------------------------------------------------------------------------------------------
# A small IMAP client
# ----------------------------------------------------------------------------------------------


class Imap:
    def __init__(self, host, port, timeout=60, wrap=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if wrap:
            self.sock = wrap(self.sock)
        self.f = self.sock.makefile("rb")
        self.tagn = 0
        greeting = self.readline()
        if not greeting.startswith(b"* OK"):
            raise IOError("unexpected greeting: %r" % greeting)
        self.caps = set()

    def readline(self):
        line = self.f.readline()
        if not line:
            raise IOError("connection closed")
        return line

    def read_response(self):
        """One response line with its literals inline."""
        line = self.readline()
        while True:
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if not m:
                return line
            line += self.f.read(int(m.group(1)))
            line += self.readline()

    def tag(self):
        self.tagn += 1
        return "A%04d" % self.tagn

    def send(self, data):
        self.sock.sendall(data)

    def wait(self, tag):
        """Reads until the tagged response; returns (status line, untagged lines)."""
        untagged = []
        while True:
            r = self.read_response()
            if r.startswith(tag.encode() + b" "):
                return r, untagged
            untagged.append(r)

    def cmd(self, text):
        t = self.tag()
        self.send(("%s %s\r\n" % (t, text)).encode())
        status, untagged = self.wait(t)
        if not status.split(b" ", 2)[1].startswith(b"OK"):
            raise IOError("%s failed: %r" % (text, status))
        return status, untagged

    def capabilities(self):
        _, untagged = self.cmd("CAPABILITY")
        for u in untagged:
            if u.startswith(b"* CAPABILITY"):
                self.caps = set(u.decode().split()[2:])
        return self.caps

    def append_many(self, mailbox, messages, batch=50):
        """APPENDs each message (bytes unchanged); returns their UIDs (RFC 4315 APPENDUID)."""
        plus = "LITERAL+" in self.caps
        uids = []
        for b in range(0, len(messages), batch):
            tags = []
            for msg in messages[b : b + batch]:
                t = self.tag()
                if plus:
                    self.send(b'%s APPEND "%s" {%d+}\r\n' % (t.encode(), mailbox.encode(), len(msg)))
                    self.send(msg + b"\r\n")
                else:
                    self.send(b'%s APPEND "%s" {%d}\r\n' % (t.encode(), mailbox.encode(), len(msg)))
                    r = self.read_response()
                    if not r.startswith(b"+"):
                        raise IOError("APPEND refused: %r" % r)
                    self.send(msg + b"\r\n")
                    status, _ = self.wait(t)
                    uids.append(appenduid(status))
                    continue
                tags.append(t)
            for t in tags:
                status, _ = self.wait(t)
                uids.append(appenduid(status))
        return uids

    def logout(self):
        try:
            self.cmd("LOGOUT")
        except IOError:
            pass
        self.sock.close()


def appenduid(status):
    m = re.search(rb"\[APPENDUID \d+ (\d+)\]", status)
    if not m or b" OK" not in status:
        raise IOError("APPEND failed or no APPENDUID: %r" % status)
    return int(m.group(1))


# ----------------------------------------------------------------------------------------------
# The allow-list: documented deviations from Dovecot
# ----------------------------------------------------------------------------------------------


def lower(v):
    return v.lower() if isinstance(v, (bytes, str)) else v


def walk_bodystructure(bs, fn):
    """Calls fn(part_list, kind) for every part; kind is 'multi' or 'single'."""
    if not isinstance(bs, list) or not bs:
        return
    if isinstance(bs[0], list):
        n = 0
        while n < len(bs) and isinstance(bs[n], list):
            walk_bodystructure(bs[n], fn)
            n += 1
        fn(bs, "multi", n)
    else:
        fn(bs, "single", 0)
        if len(bs) > 9 and lower(bs[0]) == b"message" and lower(bs[1]) == b"rfc822":
            walk_bodystructure(bs[8], fn)


def map_params(params, fn):
    if not isinstance(params, list):
        return params
    return [fn(params[k]) if k % 2 == 0 else params[k] for k in range(len(params))]


def rule_type_case(item, v):
    """The media type of a leaf (and the subtype of message/rfc822) compared case-insensitively."""
    if item not in ("BODYSTRUCTURE", "BODY"):
        return v

    def fix(part, kind, n):
        if kind == "single":
            part[0] = lower(part[0])
            if part[0] == b"message" and lower(part[1]) == b"rfc822":
                part[1] = b"rfc822"

    walk_bodystructure(v, fix)
    return v


def rule_param_name_case(item, v):
    """Content-Type and Content-Disposition parameter names compared case-insensitively."""
    if item not in ("BODYSTRUCTURE", "BODY"):
        return v

    def fix(part, kind, n):
        if kind == "multi":
            params, disp = n + 1, n + 2
        else:
            params = 2
            disp = 9 if lower(part[0]) == b"text" else 8
            if lower(part[0]) == b"message" and lower(part[1]) == b"rfc822":
                disp = 11
        if params < len(part):
            part[params] = map_params(part[params], lower)
        if disp < len(part) and isinstance(part[disp], list) and len(part[disp]) > 1:
            part[disp][1] = map_params(part[disp][1], lower)

    walk_bodystructure(v, fix)
    return v


def rule_plain_7bit(item, v):
    """A single text/plain part with only charset=us-ascii and 7bit: Dovecot caches just a flag
    for such messages and re-creates BODYSTRUCTURE from its defaults, in lower case."""
    if item not in ("BODYSTRUCTURE", "BODY") or not isinstance(v, list) or not v:
        return v
    if isinstance(v[0], list) or lower(v[0]) != b"text" or lower(v[1]) != b"plain":
        return v
    params = v[2]
    if not (isinstance(params, list) and len(params) == 2 and lower(params[0]) == b"charset"
            and lower(params[1]) == b"us-ascii"):
        return v
    if v[3] is not None or v[4] is not None or lower(v[5]) != b"7bit":
        return v
    if item == "BODYSTRUCTURE" and any(x is not None for x in v[8:]):
        return v
    v[0], v[1] = b"text", b"plain"
    v[2] = [b"charset", b"us-ascii"]
    v[5] = b"7bit"
    return v


def each_side(fn):
    """A rule that normalises each side on its own."""
    return lambda item, dv, mv, ctx: (fn(item, dv), fn(item, mv))


def single_parts(bs):
    """The leaf part lists of a parsed BODYSTRUCTURE, in order."""
    out = []
    walk_bodystructure(bs, lambda part, kind, n: out.append(part) if kind == "single" else None)
    return out


def rule_broken_content_type(item, dv, mv, ctx):
    """Where Dovecot shows an unparsable Content-Type as "" "" (or a type with "" subtype)
    and mailnook shows text/plain, compare only size, encoding, id and description."""
    if item not in ("BODYSTRUCTURE", "BODY"):
        return dv, mv
    ds, ms = single_parts(dv), single_parts(mv)
    if len(ds) != len(ms):
        return dv, mv
    for d, m in zip(ds, ms):
        if (d[0] == b"" or d[1] == b"") and lower(m[0]) == b"text" and lower(m[1]) == b"plain":
            marker = lambda p: ["<broken Content-Type>", p[3], p[4], lower(p[5]), p[6]]
            d[:], m[:] = marker(d), marker(m)
    return dv, mv


def multiparts(bs):
    """(part list, number of children) of every multipart of a parsed BODYSTRUCTURE."""
    out = []
    walk_bodystructure(bs, lambda part, kind, n: out.append((part, n)) if kind == "multi" else None)
    return out


def rule_long_boundary(item, dv, mv, ctx):
    """Where a boundary is longer than RFC 2046's 70 characters and Dovecot shows one more,
    empty, text/plain body part at the end, drop that part."""
    if item not in ("BODYSTRUCTURE", "BODY"):
        return dv, mv
    dm, mm = multiparts(dv), multiparts(mv)
    full = multiparts(copy.deepcopy(ctx[1].get("BODYSTRUCTURE")))
    if not (len(dm) == len(mm) == len(full)):
        return dv, mv
    for (d, dn), (m, mn), (f, fn) in zip(dm, mm, full):
        params = f[fn + 1] if len(f) > fn + 1 and isinstance(f[fn + 1], list) else []
        boundary = b""
        for k in range(0, len(params) - 1, 2):
            if lower(params[k]) == b"boundary":
                boundary = params[k + 1]
        last = d[dn - 1] if dn else None
        if (len(boundary) > 70 and dn == mn + 1 and isinstance(last, list)
                and lower(last[0]) == b"text" and last[6] == 0):
            del d[dn - 1]
    return dv, mv


def last_leaf(bs):
    """The last leaf part of a parsed BODYSTRUCTURE (inside encapsulated messages too)."""
    while isinstance(bs, list) and bs:
        if isinstance(bs[0], list):
            n = 0
            while n < len(bs) and isinstance(bs[n], list):
                n += 1
            bs = bs[n - 1]
        elif lower(bs[0]) == b"message" and lower(bs[1]) == b"rfc822" and len(bs) > 9:
            bs = bs[8]
        else:
            return bs
    return None


def ends_in_cut_header(bs):
    """Whether a multipart or message part's last leaf is empty (its header was cut short by a
    delimiter of an enclosing multipart)."""
    if not isinstance(bs, list) or not bs:
        return False
    container = isinstance(bs[0], list) or (lower(bs[0]) == b"message" and lower(bs[1]) == b"rfc822")
    leaf = last_leaf(bs)
    return container and isinstance(leaf, list) and len(leaf) > 6 and leaf[6] == 0


def rule_header_cut(item, dv, mv, ctx):
    """A multipart or message/rfc822 part whose last part ends inside its header at a delimiter
    of an enclosing multipart: Dovecot counts the line end before the delimiter into the
    enclosing parts below that multipart; mailnook gives it to the delimiter."""
    dfull, mfull = ctx
    if item in ("BODYSTRUCTURE", "BODY"):
        for d, m in zip(single_parts(dv), single_parts(mv)):
            if (lower(d[0]) == b"message" and lower(d[1]) == b"rfc822" and len(d) > 9 and len(m) > 9
                    and d[6] - m[6] in (1, 2) and d[9] == m[9] + 1 and ends_in_cut_header(m)):
                d[6], d[9] = m[6], m[9]
    elif item == "BODY[1]" and isinstance(dv, bytes) and isinstance(mv, bytes):
        bs = mfull.get("BODYSTRUCTURE")
        first = bs[0] if isinstance(bs, list) and bs and isinstance(bs[0], list) else bs
        if ends_in_cut_header(first) and dv in (mv + b"\r\n", mv + b"\n"):
            dv = mv
    return dv, mv


def has_message_global(bs):
    found = []
    walk_bodystructure(
        bs,
        lambda part, kind, n: found.append(1)
        if kind == "single" and lower(part[0]) == b"message" and lower(part[1]) == b"global"
        else None,
    )
    return bool(found)


def rule_message_global(item, dv, mv, ctx):
    """Structure items of a message with a message/global part are not comparable: mailnook
    parses the encapsulated message, Dovecot 2.3 treats the part as opaque."""
    if item in ("BODYSTRUCTURE", "BODY", "BODY[1]") and has_message_global(copy.deepcopy(ctx[1].get("BODYSTRUCTURE"))):
        return None, None
    return dv, mv


def merge_mixed_case_sections(params):
    """Joins RFC 2231 sections left apart for their case (`NAME*1` after a joined `name`)."""
    if not isinstance(params, list):
        return params
    out = list(params)
    drop = set()
    for k in range(0, len(params) - 1, 2):
        m = re.match(rb"^(.+)\*(\d+)(\*?)$", params[k]) if isinstance(params[k], bytes) else None
        if not m or m.group(1) == m.group(1).lower():
            continue
        base = m.group(1).lower()
        for j in range(0, len(out) - 1, 2):
            if j not in drop and lower(out[j]) in (base, base + b"*") and isinstance(out[j + 1], bytes):
                out[j + 1] = out[j + 1] + params[k + 1]
                drop.add(k)
                break
    return [v for i, v in enumerate(out) if i - i % 2 not in drop]


def rule_2231_case(item, v):
    """Content-Type and Content-Disposition parameter lists with mixed-case RFC 2231 sections
    joined."""
    if item not in ("BODYSTRUCTURE", "BODY"):
        return v

    def fix(part, kind, n):
        if kind == "multi":
            params, disp = n + 1, n + 2
        else:
            params = 2
            disp = 9 if lower(part[0]) == b"text" else 8
            if lower(part[0]) == b"message" and lower(part[1]) == b"rfc822":
                disp = 11
        if params < len(part):
            part[params] = merge_mixed_case_sections(part[params])
        if disp < len(part) and isinstance(part[disp], list) and len(part[disp]) > 1:
            part[disp][1] = merge_mixed_case_sections(part[disp][1])

    walk_bodystructure(v, fix)
    return v


# (id, reason, rule): a rule maps (item, dovecot value, mailnook value) to normal forms; a
# difference is allowed if the values are equal after applying every rule.
ALLOW = [
    (
        "type-case",
        "imap-codec's encoder spells the type of text parts TEXT and message parts "
        "MESSAGE/RFC822 in upper case; Dovecot writes the message's spelling (media types "
        "are case-insensitive, RFC 2045 §5.1)",
        each_side(rule_type_case),
    ),
    (
        "2231-case",
        "RFC 2231 sections whose names differ in case (name*0, NAME*1) are joined by mailnook "
        "because parameter names are case-insensitive (RFC 2231 §3, RFC 2045 §5.1); Dovecot "
        "sorts them case-sensitively and leaves NAME*1 apart",
        each_side(rule_2231_case),
    ),
    (
        "param-case",
        "mailnook lower-cases parameter names (RFC 2045 §5.1 and RFC 2183 §2 make them "
        "case-insensitive; one spelling keeps lookups simple); Dovecot keeps the message's",
        each_side(rule_param_name_case),
    ),
    (
        "plain7bit",
        "a message that is one text/plain part with only charset=us-ascii and 7bit gets its "
        "BODYSTRUCTURE re-created by Dovecot from defaults (all in lower case); mailnook "
        "returns the values as written (charset and encoding names are case-insensitive, "
        "RFC 2046 §4.1.2, RFC 2045 §6.1)",
        each_side(rule_plain_7bit),
    ),
    (
        "header-cut",
        "a multipart or message/rfc822 part whose last part ends inside its header right "
        "before a delimiter of an enclosing multipart: Dovecot counts the line end before the "
        "delimiter into the enclosing parts (message/rfc822 size +2 and lines +1, BODY[n] ends "
        "in CRLF); mailnook gives it to the delimiter, as RFC 2046 §5.1.1 says and as both do "
        "for every other part",
        rule_header_cut,
    ),
    (
        "broken-ct",
        "an unparsable Content-Type (no subtype, junk after it) is text/plain; charset=us-ascii "
        "for mailnook as RFC 2045 §5.2 recommends; Dovecot returns what it parsed, e.g. "
        '"" "" or "text" "", which clients cannot use',
        rule_broken_content_type,
    ),
    (
        "long-boundary",
        "a boundary longer than RFC 2046's 70 characters: Dovecot misses its close delimiter "
        "(it looks only ~84 bytes into a line) and shows an extra empty part; mailnook honours "
        "boundaries up to MimeLimits::max_boundary_bytes (200)",
        rule_long_boundary,
    ),
    (
        "msg-global",
        "message/global (RFC 6532 §3.7) is parsed by mailnook as an encapsulated message, as "
        "IMAP4rev2 BODYSTRUCTURE wants (RFC 9051 §7.5.2), and by Dovecot 2.3 as an opaque leaf: "
        "the part's size can differ by the blank line before a delimiter, and a boundary reused "
        "inside the encapsulated message hides the enclosing one for mailnook (as it does for "
        "message/rfc822 in both), so the structure items of such messages are not compared",
        rule_message_global,
    ),
]

# (message, item): reason. Single known cases that no general rule describes (none now).
EXCEPTIONS = {}


def normalise(item, dv, mv, rules, ctx):
    dv, mv = copy.deepcopy(dv), copy.deepcopy(mv)
    for _, _, fn in rules:
        dv, mv = fn(item, dv, mv, ctx)
    return dv, mv


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def load_corpus(path, limit):
    out = []
    with tarfile.open(path) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".eml")), key=lambda m: m.name)
        if limit:
            members = members[:limit]
        for m in members:
            out.append((m.name, tar.extractfile(m).read()))
    return out


# Lines that build nested multiparts, digests and encapsulated messages with broken, missing
# and close delimiters (the fuzz target's alphabet, tests/fuzz: mime_structure).
SYNTHETIC_LINES = [
    b"Content-Type: multipart/mixed; boundary=a",
    b"Content-Type: multipart/alternative; boundary=\"ab\"",
    b"Content-Type: multipart/digest; boundary=b",
    b"Content-Type: message/rfc822",
    b"Content-Type: text/plain; charset=utf-8",
    b"Content-Type: text",
    b"MIME-Version: 1.0",
    b"Content-Transfer-Encoding: base64",
    b"Content-Disposition: attachment; filename*0=x; filename*1=y",
    b"From: \"N\" <a@b.test>, g: c@d.test;",
    b"To: x@y.test",
    b"Subject: s",
    b" folded",
    b"",
    b"",
    b"",
    b"--a",
    b"--a--",
    b"--ab",
    b"--ab--",
    b"--b",
    b"--b--",
    b"--a  ",
    b"--abc",
    b"text",
    b"more text",
    b"Content-Type: text/plain; charset=\"iso-8859-1\" (c); format=flowed",
    b"Content-Type: application/octet-stream; name*0*=utf-8''%41; name*1=\"b c\"",
    b"Content-Type: message/global",
    b"Content-Type: multipart/mixed; boundary=\"a\"; (comment) x=y",
    b"Content-Disposition: inline",
    b"Content-Transfer-Encoding: 7bit; junk",
    b"Content-Language: en, de (German)",
    b"Content-ID: <id@x>",
    b"Content-Description: =?utf-8?q?d?=",
    b"Cc: (c) <@r:u@h>, bad <, ...@x, \"q\\\"q\" <q@x>",
    b"Bcc: undisclosed-recipients:;",
    b"Reply-To: a, b c, <>",
    b"Date: Thu, 26 Nov 2026 18:29:11 +0000 (UTC)",
    b"Message-ID: <m@x> (c)",
    b"In-Reply-To: <p@x>",
    b"\tfolded with tab",
]


def synthetic(n, seed):
    import random
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lines = [rng.choice(SYNTHETIC_LINES) for _ in range(rng.randint(3, 40))]
        msg = b"\r\n".join(lines)
        if rng.random() < 0.8:
            msg += b"\r\n"
        out.append(("synthetic/%d-%05d.eml" % (seed, i), msg))
    return out


class Mailnook:
    """The mailnook side: a fresh data folder with one user, served from the binary cargo
    builds (or --mailnook-bin) on a free port base; or, with --mailnook-imaps, a server that is
    already running."""

    def __init__(self, args):
        self.proc = None
        self.data = None
        self.user = args.mailnook_user
        self.password = args.mailnook_password
        self.mx = None
        if args.mailnook_imaps:
            host, _, port = args.mailnook_imaps.rpartition(":")
            self.addr = (host or "127.0.0.1", int(port))
            if args.mailnook_mx:
                host, _, port = args.mailnook_mx.rpartition(":")
                self.mx = (host or "127.0.0.1", int(port))
            return
        binary = args.mailnook_bin or build_mailnook()
        self.data = tempfile.mkdtemp(prefix="mimeref-mailnook-")
        for cmd in (["init", "--domain", "example.test"], ["user", "add", self.user, "--password", self.password]):
            subprocess.run([binary, "--data", self.data] + cmd, check=True, stdout=subprocess.DEVNULL)
        base = free_port_base()
        self.log = open(os.path.join(self.data, "serve.log"), "wb")
        self.proc = subprocess.Popen([binary, "--data", self.data, "serve", "--port-base", str(base)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.addr = ("127.0.0.1", base + 993)
        self.mx = ("127.0.0.1", base + 25)
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(self.addr, timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise IOError("mailnook did not start; see %s" % self.log.name)
                time.sleep(0.05)

    def connect(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # self-signed by default; the message data are what count here
        imap = Imap(self.addr[0], self.addr[1], wrap=ctx.wrap_socket)
        imap.cmd('LOGIN "%s" "%s"' % (self.user, self.password))
        imap.capabilities()
        return imap

    def close(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.log.close()
        if self.data:
            shutil.rmtree(self.data, ignore_errors=True)


def build_mailnook():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    subprocess.run(["cargo", "build", "--quiet", "--release"], cwd=REPO, check=True)
    return os.path.join(target, "release", "mailnook")


def free_port_base():
    """A port base whose every role port (base + standard port) is free on loopback."""
    import random
    for _ in range(200):
        base = random.randrange(20000, 60000, 1000)
        try:
            for p in (25, 80, 110, 143, 443, 465, 587, 993, 995):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + p))
            return base
        except OSError:
            continue
    raise IOError("no free port base")


def fetch_all(imap, mailbox, messages, query):
    """APPENDs the messages to a new mailbox and fetches `query` for each:
    returns (UIDs in message order, {UID: items})."""
    imap.cmd('CREATE "%s"' % mailbox)
    uids = imap.append_many(mailbox, messages)
    imap.cmd('SELECT "%s"' % mailbox)
    out = {}
    for b in range(0, len(uids), 200):
        batch = uids[b : b + 200]
        _, untagged = imap.cmd("UID FETCH %s %s" % (",".join(map(str, batch)), query))
        for u in untagged:
            f = parse_fetch(u)
            if f and "UID" in f:
                out[f["UID"]] = f
    missing = [u for u in uids if u not in out]
    if missing:
        raise IOError("no FETCH response for UIDs %s" % missing[:10])
    return uids, out


def deliver_smtp(mx, rcpt, messages):
    """Delivers each message over one SMTP session, in order; returns whether each was accepted."""
    accepted = []
    with smtplib.SMTP(mx[0], mx[1], local_hostname="compare.example.test", timeout=60) as smtp:
        for msg in messages:
            try:
                smtp.sendmail("sender@example.net", [rcpt], msg)
                accepted.append(True)
            except smtplib.SMTPDataError as e:
                if e.smtp_code != 550:
                    raise
                accepted.append(False)
    return accepted


def drop_mailbox(imap, mailbox):
    imap.cmd("CLOSE")
    imap.cmd('DELETE "%s"' % mailbox)


def short(v, limit=300):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2143 + int(os.environ.get("PEERS_PORT_OFFSET", "0")))
    ap.add_argument("--user", default="bench1@peer.test")
    ap.add_argument("--password", default="benchpass")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=0, help="first N messages (by name); 0 = all")
    ap.add_argument("--extra", action="append", default=[os.path.join(REPO, "tests", "mime")],
                    help="also compare the *.eml files of this folder (default: the goldens in tests/mime)")
    ap.add_argument("--no-extra", action="store_true", help="compare the corpus only")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N",
                    help="also compare N random messages built from MIME lines (seeded by --seed)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-corpus", action="store_true", help="skip the corpus (extras/synthetic only)")
    ap.add_argument("--show", type=int, default=3, help="differences shown per item")
    ap.add_argument("--keep-mailbox", action="store_true", help="leave the test mailboxes on both servers")
    ap.add_argument("--mailnook-imaps", metavar="HOST:PORT",
                    help="compare with this running mailnook (implicit TLS) instead of starting one")
    ap.add_argument("--mailnook-mx", metavar="HOST:PORT",
                    help="with --mailnook-imaps: also deliver every message over SMTP to this MX "
                         "(to the INBOX of --mailnook-user, which must be empty)")
    ap.add_argument("--mailnook-bin", help="the mailnook binary to start (default: cargo build --release)")
    ap.add_argument("--mailnook-user", default="compare@example.test")
    ap.add_argument("--mailnook-password", default="compare-password")
    args = ap.parse_args()

    corpus = [] if args.no_corpus else load_corpus(args.corpus, args.limit)
    corpus += synthetic(args.synthetic, args.seed)
    if not args.no_extra:
        for folder in args.extra:
            for f in sorted(os.listdir(folder)):
                if f.endswith(".eml"):
                    with open(os.path.join(folder, f), "rb") as fh:
                        corpus.append((os.path.join(os.path.basename(folder), f), fh.read()))
    if not corpus:
        print("no messages in %s" % args.corpus, file=sys.stderr)
        return 2
    query = "(UID RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[] BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (%s)])" % FIELDS
    mailbox = "mimeref-%d-%d" % (os.getpid(), int(time.time()))
    try:
        imap = Imap(args.host, args.port)
        imap.cmd("LOGIN %s %s" % (args.user, args.password))
    except (OSError, IOError) as e:
        print("cannot use Dovecot at %s:%d: %s (start ../shared/peers/up.sh)" % (args.host, args.port, e), file=sys.stderr)
        return 2
    imap.capabilities()
    t0 = time.time()
    uids, dovecot = fetch_all(imap, mailbox, [m for _, m in corpus], query)
    if not args.keep_mailbox:
        drop_mailbox(imap, mailbox)
    imap.logout()
    t1 = time.time()
    by_uid = dict(zip(uids, corpus))
    names = [by_uid[u][0] for u in uids]

    # mailnook gets the bytes Dovecot served (CRLF) and the corpus originals (bare LF).
    try:
        server = Mailnook(args)
    except (OSError, IOError, subprocess.CalledProcessError) as e:
        print("cannot start mailnook: %s" % e, file=sys.stderr)
        return 2
    try:
        ours_imap = server.connect()
        crlf_uids, crlf_items = fetch_all(ours_imap, mailbox + "-crlf", [dovecot[u]["BODY[]"] for u in uids], query)
        if not args.keep_mailbox:
            drop_mailbox(ours_imap, mailbox + "-crlf")
        lf_uids, lf_items = fetch_all(ours_imap, mailbox + "-lf", [by_uid[u][1] for u in uids], query)
        if not args.keep_mailbox:
            drop_mailbox(ours_imap, mailbox + "-lf")
        delivered = {}
        if server.mx:
            # The MX path: each message Dovecot served, delivered over SMTP to the user's INBOX.
            accepted = deliver_smtp(server.mx, server.user, [dovecot[u]["BODY[]"] for u in uids])
            ours_imap.cmd("SELECT INBOX")
            _, untagged = ours_imap.cmd("UID SEARCH ALL")
            inbox = [int(x) for u in untagged if u.startswith(b"* SEARCH") for x in u.split()[2:]]
            if len(inbox) != sum(accepted):
                raise IOError("INBOX has %d messages, %d were accepted" % (len(inbox), sum(accepted)))
            items = {}
            for b in range(0, len(inbox), 200):
                _, untagged = ours_imap.cmd("UID FETCH %s %s" % (",".join(map(str, inbox[b : b + 200])), query))
                for u in untagged:
                    f = parse_fetch(u)
                    if f and "UID" in f:
                        items[f["UID"]] = f
            it = iter(inbox)
            delivered = {u: items[next(it)] for u, ok in zip(uids, accepted) if ok}
        ours_imap.logout()
    except (OSError, IOError, smtplib.SMTPException) as e:
        print("mailnook failed: %s" % e, file=sys.stderr)
        return 2
    finally:
        server.close()
    t2 = time.time()
    # Both keyed by Dovecot's UID of the same message.
    ours = {u: crlf_items[o] for u, o in zip(uids, crlf_uids)}
    ours_lf = {u: lf_items[o] for u, o in zip(uids, lf_uids)}
    crlf_paths = lf_paths = uids

    # Delivered over SMTP, a message gains Return-Path: and Received: at its top and must give
    # the same items as APPENDed otherwise.
    smtp_same = smtp_unended = 0
    smtp_diffs = []
    for uid, name in zip(uids, names):
        if uid not in delivered:
            continue
        if not dovecot[uid]["BODY[]"].endswith(b"\r\n"):
            smtp_unended += 1  # SMTP data ends in a line end (RFC 5321 §4.1.1.4): not comparable
            continue
        a, b = ours[uid], delivered[uid]
        same = all(a[i] == b[i] for i in ITEMS if i != "RFC822.SIZE")
        same = same and b["BODY[]"].endswith(a["BODY[]"]) and b["RFC822.SIZE"] == len(b["BODY[]"])
        if same:
            smtp_same += 1
        elif len(smtp_diffs) < args.show:
            smtp_diffs.append(name)

    stats = {i: {"identical": 0, "allowed": 0, "different": 0} for i in ITEMS}
    rule_hits = {r[0]: 0 for r in ALLOW}
    exception_hits = []
    shown = {i: [] for i in ITEMS}
    for uid, name, path in zip(uids, names, crlf_paths):
        d, m = dovecot[uid], ours[path]
        for item in ITEMS:
            dv, mv = d.get(item), m.get(item)
            if dv == mv:
                stats[item]["identical"] += 1
                continue
            a, b = normalise(item, dv, mv, ALLOW, (d, m))
            if a == b:
                stats[item]["allowed"] += 1
                for rule in ALLOW:
                    if normalise(item, dv, mv, [rule], (d, m)) != (dv, mv):
                        rule_hits[rule[0]] += 1
                continue
            if (name, item) in EXCEPTIONS:
                stats[item]["allowed"] += 1
                exception_hits.append((name, item))
                continue
            stats[item]["different"] += 1
            if len(shown[item]) < args.show:
                shown[item].append((name, dv, mv))

    # The same message stored with bare LF must give the same structure (sizes in CRLF form).
    lf_checked = lf_same = 0
    lf_diffs = []
    for uid, name, cp, lp in zip(uids, names, crlf_paths, lf_paths):
        original = by_uid[uid][1]
        if original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") != dovecot[uid]["BODY[]"]:
            continue  # Dovecot changed more than line ends (NULs, bare CRs): not comparable
        lf_checked += 1
        a, b = ours[cp], ours_lf[lp]
        same = all(a[i] == b[i] for i in ("ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE"))
        same = same and all(
            a[i].replace(b"\r\n", b"\n") == b[i].replace(b"\r\n", b"\n") for i in ("BODY[1]", "BODY[HEADER.FIELDS (%s)]" % FIELDS)
        )
        if same:
            lf_same += 1
        elif len(lf_diffs) < args.show:
            lf_diffs.append(name)

    sources = ([] if args.no_corpus else [os.path.basename(args.corpus)]) + (
        [] if args.no_extra else [os.path.basename(e) + "/*.eml" for e in args.extra]) + (
        ["%d synthetic (seed %d)" % (args.synthetic, args.seed)] if args.synthetic else [])
    print("mailnook vs Dovecot: %d messages (%s); Dovecot APPEND+FETCH %.1fs, mailnook APPEND+FETCH twice (CRLF, LF) %.1fs"
          % (len(uids), ", ".join(sources), t1 - t0, t2 - t1))
    print("%-48s %9s %9s %9s" % ("item", "identical", "allowed", "different"))
    failed = 0
    for item in ITEMS:
        s = stats[item]
        failed += s["different"]
        print("%-48s %9d %9d %9d" % (item, s["identical"], s["allowed"], s["different"]))
    print("allow-list (documented deviations), items explained per rule:")
    for rid, reason, _ in ALLOW:
        print("  %-8s %6d  %s" % (rid, rule_hits[rid], reason))
    for name, item in exception_hits:
        print("  exception %s %s: %s" % (name, item, EXCEPTIONS[(name, item)]))
    print("bare-LF storage: %d of %d comparable messages give the same items as their CRLF form" % (lf_same, lf_checked))
    for name in lf_diffs:
        print("  LF/CRLF mismatch: %s" % name)
    if server.mx:
        print("delivered over SMTP: %d of %d accepted messages give the same items as APPENDed "
              "(%d refused by the MX: bare CR or LF in Dovecot's bytes; %d without a final line end, which SMTP adds, "
              "not compared)" % (smtp_same, len(delivered) - smtp_unended, len(uids) - len(delivered), smtp_unended))
    for name in smtp_diffs:
        print("  SMTP/APPEND mismatch: %s" % name)
    for item in ITEMS:
        for name, dv, mv in shown[item]:
            print("\n--- %s: %s" % (item, name))
            print("  dovecot:  %s" % short(dv, 2000))
            print("  mailnook: %s" % short(mv, 2000))
    smtp_failed = len(delivered) - smtp_unended - smtp_same
    if failed or lf_same != lf_checked or smtp_failed:
        print("\nFAIL: %d item differences outside the allow-list, %d LF/CRLF mismatches, %d SMTP/APPEND mismatches"
              % (failed, lf_checked - lf_same, smtp_failed))
        return 1
    print("\nOK: every difference is on the allow-list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
