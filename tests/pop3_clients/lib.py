"""Helpers for the POP3 client scenarios of tests/pop3_clients.rs (Python standard library only).

The Rust test starts the real server and passes its addresses in the environment:
POP3_PORT (STLS), POP3S_PORT (implicit TLS), IMAPS_PORT, MX_PORT, CA (the server's self-signed
certificate, trusted and verified, host name included), HOSTNAME_TLS, PASSWORD.

Clients: Python's own poplib (what the scenarios mostly use, with `raw_retr` reading one
multi-line answer off the wire byte for byte), imaplib for the IMAP side, smtplib to deliver.
"""

import base64
import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl
import time

import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from clientlib import CA, HOSTNAME, IMAP4_SSL, PASSWORD, TIMEOUT, check, eq, tls_context  # noqa: E402,F401

POP3_PORT = int(os.environ["POP3_PORT"])
POP3S_PORT = int(os.environ["POP3S_PORT"])
IMAPS_PORT = int(os.environ["IMAPS_PORT"])
MX_PORT = int(os.environ["MX_PORT"])

GREETING = b"+OK mailnook POP3 ready"
# CAPA lines in the spec's order, per state.
CAPA_TAIL = [b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING", b"EXPIRE NEVER", b"IMPLEMENTATION mailnook"]
CAPA_PLAIN_NO_LOGIN = [b"TOP", b"UIDL", b"STLS"] + CAPA_TAIL
CAPA_PLAIN_LOOPBACK = [b"TOP", b"UIDL", b"USER", b"SASL PLAIN", b"STLS"] + CAPA_TAIL
CAPA_TLS_AUTHORIZATION = [b"TOP", b"UIDL", b"USER", b"SASL PLAIN"] + CAPA_TAIL
CAPA_TRANSACTION = [b"TOP", b"UIDL"] + CAPA_TAIL



class POP3_SSL(poplib.POP3_SSL):
    """poplib's POP3_SSL to 127.0.0.1 that verifies the certificate for HOSTNAME."""

    def _create_socket(self, timeout):
        sock = poplib.POP3._create_socket(self, timeout)
        return self.context.wrap_socket(sock, server_hostname=HOSTNAME)


def pop3s(user=None):
    """poplib over implicit TLS (port 995's stand-in), logged in as `user` when given."""
    c = POP3_SSL("127.0.0.1", POP3S_PORT, context=tls_context(), timeout=TIMEOUT)
    eq(c.getwelcome(), GREETING, "greeting")
    if user:
        login(c, user)
    return c


def pop3_plain():
    """poplib on the STLS port (110's stand-in), no TLS yet."""
    c = poplib.POP3("127.0.0.1", POP3_PORT, timeout=TIMEOUT)
    eq(c.getwelcome(), GREETING, "greeting on the STLS port")
    return c


def pop3_stls(user=None):
    """poplib on the STLS port, upgraded with stls() (certificate verified), logged in if asked."""
    c = pop3_plain()
    c.host = HOSTNAME  # poplib's stls() verifies against self.host
    eq(c.stls(tls_context()), b"+OK Begin TLS negotiation", "STLS")
    if user:
        login(c, user)
    return c


def login(c, user, password=PASSWORD):
    """USER/PASS; returns the PASS answer."""
    eq(c.user(user), b"+OK", "USER")
    resp = c.pass_(password)
    check(re.fullmatch(rb"\+OK Logged in, \d+ messages \(\d+ octets\)", resp), "PASS answer", resp)
    return resp


def err(f, what):
    """Runs f, which must fail with a poplib error_proto; returns the server's -ERR line."""
    try:
        got = f()
    except poplib.error_proto as e:
        return e.args[0]
    raise AssertionError("%s: no error, got %r" % (what, got))


def expect_err(f, want, what):
    eq(err(f, what), want, what)


def capa_lines(c):
    """CAPA as the server sent it: (status line, [capability lines])."""
    resp, lines, _ = c._longcmd("CAPA")
    return resp, lines


def plain_b64(user, password=PASSWORD, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, password)).encode()).decode()


def raw_multiline(c, command):
    """Sends `command` and reads the answer off the wire: (status line, body as sent with
    dot-stuffing and the terminating ".CRLF" removed, body unstuffed)."""
    c._putcmd(command)
    status = c.file.readline()
    check(status.endswith(b"\r\n"), "status line ends in CRLF", status)
    status = status[:-2]
    check(status.startswith(b"+OK"), "%s failed" % command, status)
    parts = []
    prev = b"\r\n"
    while True:
        line = c.file.readline()
        check(line, "connection closed inside the answer to %s" % command, parts[-3:])
        if line == b".\r\n" and prev.endswith(b"\r\n"):
            break
        parts.append(line)
        prev = line
    wire = b"".join(parts)
    lines = wire.split(b"\r\n")
    unstuffed = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)
    return status, wire, unstuffed


def stuff(message):
    """RFC 1939 byte-stuffing of a CRLF message."""
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


def uid_string(uid, uidvalidity):
    """The spec's UIDL value: %08X of the IMAP UID, then %08X of the UIDVALIDITY."""
    return b"%08X%08X" % (uid, uidvalidity)


def imaps(user):
    """imaplib over implicit TLS, logged in as `user`."""
    c = IMAP4_SSL("127.0.0.1", IMAPS_PORT, ssl_context=tls_context(), timeout=TIMEOUT)
    ok(c.login(user, PASSWORD), "IMAP LOGIN")
    return c


def ok(result, what):
    """Asserts an imaplib (typ, data) result is OK and returns data."""
    typ, data = result
    check(typ == "OK", what + " failed", typ, data)
    return data


def imap_select(c, box="INBOX"):
    """SELECT; returns (EXISTS, UIDVALIDITY)."""
    data = ok(c.select(box), "SELECT " + box)
    uidvalidity = int(c.untagged_responses["UIDVALIDITY"][-1])
    return int(data[0]), uidvalidity


def imap_uids_flags(c):
    """UID FETCH 1:* (FLAGS) → [(seq, uid, sorted flags)], dropping unsolicited FETCHes first."""
    c.untagged_responses.pop("FETCH", None)
    data = ok(c.fetch("1:*", "(UID FLAGS)"), "FETCH 1:* (UID FLAGS)")
    out = []
    for d in data:
        if d is None:
            continue
        m = re.fullmatch(rb"(\d+) \((?:UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+))\)", d)
        check(m, "FETCH line", d)
        seq = int(m.group(1))
        uid = int(m.group(2) or m.group(5))
        flags = (m.group(3) if m.group(2) else m.group(4)) or b""
        out.append((seq, uid, sorted(f.decode() for f in flags.split())))
    return sorted(out)


def imap_body(c, uid):
    """UID FETCH uid BODY.PEEK[] (never sets \\Seen)."""
    c.untagged_responses.pop("FETCH", None)
    data = ok(c.uid("FETCH", str(uid), "(BODY.PEEK[])"), "UID FETCH BODY.PEEK[]")
    parts = [d for d in data if isinstance(d, tuple)]
    eq(len(parts), 1, "one literal in UID FETCH %d BODY.PEEK[]" % uid)
    return parts[0][1]


def deliver(rcpt, message, sender="sender@remote.test"):
    """Delivers `message` (CRLF bytes) over SMTP to the MX port; returns when the 250 was read."""
    with smtplib.SMTP("127.0.0.1", MX_PORT, local_hostname="client.test", timeout=TIMEOUT) as s:
        s.ehlo("client.test")
        s.mail(sender)
        code, _ = s.rcpt(rcpt)
        eq(code, 250, "RCPT")
        s.putcmd("data")
        code, _ = s.getreply()
        eq(code, 354, "DATA")
        data = message.replace(b"\r\n.", b"\r\n..")
        if data.startswith(b"."):
            data = b"." + data
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        s.send(data)
        s.send(b".\r\n")
        code, resp = s.getreply()
        eq(code, 250, "end of DATA %r" % resp)


def strip_trace(stored):
    """Drops the trace fields (Return-Path, Received) mailnook prepends to a delivered message."""
    rest = stored
    while rest[:12].lower() == b"return-path:" or rest[:9].lower() == b"received:":
        i = 0
        while True:
            nl = rest.find(b"\n", i)
            i = len(rest) if nl < 0 else nl + 1
            if i >= len(rest) or rest[i:i + 1] not in (b" ", b"\t"):
                break
        rest = rest[i:]
    return rest


def msg(subject, body="hello\r\n", frm="Sender <sender@remote.test>", to="alice@example.test",
        date="Mon, 02 Jun 2025 10:00:00 +0000"):
    """A small CRLF message."""
    head = "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@remote.test>\r\n" % (
        frm, to, subject, date, re.sub(r"[^A-Za-z0-9]", "", subject) or "x")
    return head.encode() + b"\r\n" + (body if isinstance(body, bytes) else body.encode())


def wait_until(f, what, limit=5.0):
    """Polls f() until it returns a true value (at most `limit` seconds); returns that value."""
    deadline = time.monotonic() + limit
    while True:
        got = f()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.1f s" % (what, limit))
        time.sleep(0.05)


def close_without_quit(c):
    """Drops the connection as a crashed client would: no QUIT."""
    try:
        c.file.close()
    except OSError:
        pass
    try:
        c.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    c.sock.close()
