"""Helpers for the IMAP client scenarios of tests/imap_clients.rs (Python standard library only).

The Rust test starts the real server and passes its addresses in the environment:
IMAP_PORT (STARTTLS), IMAPS_PORT (implicit TLS), MX_PORT, CA (the server's self-signed
certificate, trusted and verified, host name included), HOSTNAME, PASSWORD.

Two clients: Python's own imaplib (what the scenarios mostly use), and `Raw`, a line-level
client that shows exactly which untagged responses answered which command (for the RFC 9051
§7.5.1 timing rules that imaplib's response cache would hide).
"""

import imaplib
import os
import re
import smtplib
import socket
import ssl
import time

import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from clientlib import CA, HOSTNAME, IMAP4_SSL, PASSWORD, TIMEOUT, check, eq, tls_context  # noqa: E402,F401

IMAP_PORT = int(os.environ["IMAP_PORT"])
IMAPS_PORT = int(os.environ["IMAPS_PORT"])
MX_PORT = int(os.environ["MX_PORT"])



def imaps(user=None):
    """imaplib over implicit TLS, logged in as `user` when given."""
    c = IMAP4_SSL("127.0.0.1", IMAPS_PORT, ssl_context=tls_context(), timeout=TIMEOUT)
    if user:
        typ, _ = c.login(user, PASSWORD)
        eq(typ, "OK", "LOGIN")
    return c


def imap_starttls(user=None):
    """imaplib on the STARTTLS port, upgraded (certificate verified), logged in if asked."""
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=TIMEOUT)
    c.host = HOSTNAME  # imaplib's starttls() verifies against self.host
    typ, _ = c.starttls(ssl_context=tls_context())
    eq(typ, "OK", "STARTTLS")
    if user:
        typ, _ = c.login(user, PASSWORD)
        eq(typ, "OK", "LOGIN")
    return c


def ok(result, what):
    """Asserts an imaplib (typ, data) result is OK and returns data."""
    typ, data = result
    check(typ == "OK", what + " failed", typ, data)
    return data


def deliver(rcpt, message, sender="sender@remote.test"):
    """Delivers `message` (bytes) over SMTP to the MX port; returns when the 250 was read."""
    return deliver_timed(rcpt, message, sender)[1]


def deliver_timed(rcpt, message, sender="sender@remote.test"):
    """Delivers `message`; returns (time the final "." was sent, time the 250 was read)."""
    with smtplib.SMTP("127.0.0.1", MX_PORT, local_hostname="client.test", timeout=TIMEOUT) as s:
        s.ehlo("client.test")
        s.mail(sender)
        code, _ = s.rcpt(rcpt)
        eq(code, 250, "RCPT")
        s.putcmd("data")
        code, _ = s.getreply()
        eq(code, 354, "DATA")
        data = message.replace(b"\r\n.", b"\r\n..")
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        s.send(data)
        sent = time.monotonic()
        s.send(b".\r\n")
        code, msg = s.getreply()
        done = time.monotonic()
        eq(code, 250, "end of DATA %r" % msg)
    return sent, done


class Literal(bytes):
    """A string that arrived as a literal."""


def _tokens(chunks):
    """Flattens imaplib response data (bytes and (head, literal) tuples) into one byte string
    plus a map from placeholder offsets to literal payloads."""
    out = bytearray()
    lits = {}
    for c in chunks:
        if isinstance(c, tuple):
            head, lit = c
            head = re.sub(rb"~?\{\d+\}$", b"", head)
            out += head
            lits[len(out)] = Literal(lit)
            out += b"\x00"
        else:
            out += c
    return bytes(out), lits


def parse(text, lits=None):
    """Parses IMAP response syntax into Python values: lists, bytes (strings and atoms), None
    for NIL, Literal for literals. Atoms keep `[...]` and `<...>` sections whole."""
    lits = lits or {}
    i = 0
    n = len(text)

    def value():
        nonlocal i
        while i < n and text[i] == 0x20:
            i += 1
        if i >= n:
            raise ValueError("unexpected end: %r" % text)
        c = text[i]
        if c == 0x28:  # (
            i += 1
            items = []
            while True:
                while i < n and text[i] == 0x20:
                    i += 1
                if text[i] == 0x29:
                    i += 1
                    return items
                items.append(value())
        if c == 0x22:  # "
            i += 1
            s = bytearray()
            while text[i] != 0x22:
                if text[i] == 0x5C:
                    i += 1
                s.append(text[i])
                i += 1
            i += 1
            return bytes(s)
        if c == 0 and i in lits:
            i += 1
            return lits[i - 1]
        start = i
        depth = 0
        while i < n:
            ch = text[i]
            if ch in (0x5B, 0x3C):
                depth += 1
            elif ch in (0x5D, 0x3E):
                depth -= 1
            elif depth == 0 and ch in (0x20, 0x28, 0x29):
                break
            i += 1
        atom = text[start:i]
        return None if atom.upper() == b"NIL" else atom

    items = []
    while True:
        while i < n and text[i] == 0x20:
            i += 1
        if i >= n:
            return items
        items.append(value())


def fetch_items(data):
    """imaplib FETCH data → {seq: {ITEM: value}} (item names upper-cased as sent)."""
    # Group the chunks per message: a message's data ends with a chunk ending in ")".
    groups, cur = [], []
    for c in data:
        if c is None:
            continue
        cur.append(c)
        if isinstance(c, bytes) and c.endswith(b")"):
            groups.append(cur)
            cur = []
    check(not cur, "unterminated FETCH data", data)
    out = {}
    for g in groups:
        text, lits = _tokens(g)
        vals = parse(text, lits)
        seq = int(vals[0])
        pairs = vals[1]
        d = {}
        for k in range(0, len(pairs), 2):
            d[pairs[k].decode().upper()] = pairs[k + 1]
        out.setdefault(seq, {}).update(d)
    return out


def fetch(c, seqset, items, uid=False):
    """FETCH through imaplib → {seq: {ITEM: value}}. Unsolicited FETCH responses imaplib kept
    from earlier commands are dropped first, so only this command's answers count."""
    c.untagged_responses.pop("FETCH", None)
    if uid:
        data = ok(c.uid("FETCH", seqset, items), "UID FETCH %s %s" % (seqset, items))
    else:
        data = ok(c.fetch(seqset, items), "FETCH %s %s" % (seqset, items))
    return fetch_items(data)


def one_fetch(c, seqset, items, uid=False):
    """FETCH one message; returns its item dict."""
    got = fetch(c, seqset, items, uid)
    eq(len(got), 1, "messages in FETCH %s %s" % (seqset, items))
    return next(iter(got.values()))


class Raw:
    """A line-level IMAP client over verified TLS: every response line as sent."""

    def __init__(self, user=None, port=None, tls=True, timeout=TIMEOUT):
        sock = socket.create_connection(("127.0.0.1", port or (IMAPS_PORT if tls else IMAP_PORT)), timeout=timeout)
        if tls:
            sock = tls_context().wrap_socket(sock, server_hostname=HOSTNAME)
        self.sock = sock
        self.buf = b""
        self.n = 0
        self.greeting = self.line()
        if user:
            tagged, _ = self.cmd("LOGIN %s %s" % (user, PASSWORD))
            check(b" OK " in tagged, "LOGIN", tagged)

    def send(self, data):
        self.sock.sendall(data)

    def line(self, timeout=None):
        """One response line (CRLF stripped) with any literals inlined as bytes."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            out = b""
            while True:
                while b"\r\n" not in self.buf:
                    more = self.sock.recv(65536)
                    if not more:
                        raise EOFError("connection closed; partial %r" % (out + self.buf))
                    self.buf += more
                i = self.buf.index(b"\r\n")
                ln, self.buf = self.buf[:i], self.buf[i + 2:]
                out += ln
                m = re.search(rb"~?\{(\d+)\}$", ln)
                if not m:
                    return out
                size = int(m.group(1))
                while len(self.buf) < size:
                    more = self.sock.recv(65536)
                    if not more:
                        raise EOFError("closed inside a literal")
                    self.buf += more
                out += b"\r\n" + self.buf[:size]
                self.buf = self.buf[size:]
        finally:
            if timeout is not None:
                self.sock.settimeout(TIMEOUT)

    def cmd(self, text, tag=None):
        """Sends `tag text` and returns (tagged line, [untagged lines])."""
        self.n += 1
        tag = tag or "r%d" % self.n
        data = text if isinstance(text, bytes) else text.encode()
        self.send(tag.encode() + b" " + data + b"\r\n")
        untagged = []
        while True:
            ln = self.line()
            if ln.startswith(tag.encode() + b" "):
                return ln, untagged
            untagged.append(ln)

    def ok(self, text):
        tagged, untagged = self.cmd(text)
        check(tagged.split(b" ")[1] == b"OK", "%s failed" % text, tagged, untagged)
        return untagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def msg(subject, body="hello\r\n", frm="Sender <sender@remote.test>", to="alice@example.test",
        date="Mon, 02 Jun 2025 10:00:00 +0000", extra=""):
    """A small CRLF message."""
    head = "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@remote.test>\r\n%s" % (
        frm, to, subject, date, re.sub(r"[^A-Za-z0-9]", "", subject) or "x", extra)
    return (head + "\r\n" + body).encode()
