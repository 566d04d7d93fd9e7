"""POP3 scenarios run by tests/pop3_clients.rs: `python3 suite.py NAME USER`.

Each scenario drives the real server with Python's poplib (plus `Raw`, a line-level client, where
the exact bytes or the timing matter, and imaplib for the IMAP side) and raises AssertionError on
the first difference from /tmp/pop3-spec.md. Files for the Rust side to compare go under OUT.
"""

import json
import os
import poplib
import socket
import sys
import time

from lib import (CAPA_PLAIN_LOOPBACK, CAPA_PLAIN_NO_LOGIN, CAPA_TLS_AUTHORIZATION, CAPA_TRANSACTION, GREETING,
                 HOSTNAME, PASSWORD, POP3_PORT, POP3S_PORT, TIMEOUT, capa_lines, check, close_without_quit,
                 deliver, eq, expect_err, imap_body, imap_select, imap_uids_flags, imaps, msg, ok,
                 plain_b64, pop3_plain, pop3_stls, pop3s, raw_multiline, strip_trace, stuff, tls_context,
                 uid_string, wait_until)

SCENARIOS = {}
OUT = os.environ.get("OUT", ".")

NOT_ALLOWED = b"-ERR Not allowed in this state"
NO_TLS = b"-ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS"
AUTH_FAILED = b"-ERR [AUTH] Authentication failed"
IN_USE = b"-ERR [IN-USE] Mailbox in use by another POP3 session"
TRY_LATER = b"-ERR [SYS/TEMP] Try again later"
CAPA_OK = b"+OK Capability list follows"


def scenario(f):
    SCENARIOS[f.__name__] = f
    return f


def write_out(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def stored_messages(user):
    """The INBOX as IMAP sees it: (UIDVALIDITY, [(uid, stored bytes)]), read with BODY.PEEK[]."""
    c = imaps(user)
    _, uidvalidity = imap_select(c)
    msgs = [(uid, imap_body(c, uid)) for _, uid, _ in imap_uids_flags(c)]
    c.logout()
    return uidvalidity, msgs


def logged_in_answer(count, octets):
    return b"+OK Logged in, %d messages (%d octets)" % (count, octets)


def header_and_lines(stored, k):
    """What TOP n k returns (unstuffed): the header, the blank line, the first k body lines."""
    i = stored.index(b"\r\n\r\n") + 4
    head, body = stored[:i], stored[i:]
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    return head + b"".join(l + b"\r\n" for l in lines[:k])


def joined(lines):
    """poplib's list of lines (CRLF stripped, unstuffed) back into message bytes."""
    return b"".join(l + b"\r\n" for l in lines)


class Raw:
    """A line-level POP3 client: every answer line exactly as sent (CRLF checked and stripped)."""

    def __init__(self, tls=True, port=None, timeout=TIMEOUT):
        sock = socket.create_connection(("127.0.0.1", port or (POP3S_PORT if tls else POP3_PORT)),
                                        timeout=timeout)
        if tls:
            sock = tls_context().wrap_socket(sock, server_hostname=HOSTNAME)
        self.sock = sock
        self.buf = b""
        eq(self.line(), GREETING, "greeting")

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            more = self.sock.recv(65536)
            if not more:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += more
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def cmd(self, text):
        self.send((text if isinstance(text, bytes) else text.encode()) + b"\r\n")
        return self.line()

    def multi(self, text):
        """A multi-line command: (status, [lines]) with the terminating "." consumed."""
        status = self.cmd(text)
        lines = []
        if status.startswith(b"+OK"):
            while True:
                ln = self.line()
                if ln == b".":
                    break
                lines.append(ln)
        return status, lines

    def login(self, user):
        eq(self.cmd("USER " + user), b"+OK", "USER")
        resp = self.cmd("PASS " + PASSWORD)
        check(resp.startswith(b"+OK Logged in, "), "PASS", resp)
        return resp

    def eof(self, limit=5.0):
        """Reads until the server closes (at most `limit` seconds); returns what arrived."""
        self.sock.settimeout(limit)
        rest = self.buf
        try:
            while True:
                more = self.sock.recv(65536)
                if not more:
                    return rest
                rest += more
        except (socket.timeout, TimeoutError):
            raise AssertionError("connection still open after %.1f s; got %r" % (limit, rest))
        except OSError:  # a reset counts as closed
            return rest

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@scenario
def pop3s_session(user):
    m = [msg("first", "one line\r\n"),
         msg("second", "line 1\r\nline 2\r\nline 3\r\nline 4\r\n"),
         msg("third", "third body\r\n")]
    for x in m:
        deliver(user, x)
    uv, stored = stored_messages(user)
    eq([u for u, _ in stored], [1, 2, 3], "UIDs")
    for (_, s), sent in zip(stored, m):
        eq(strip_trace(s), sent, "stored = trace fields + what was delivered")
    sizes = [len(s) for _, s in stored]
    total = sum(sizes)

    c = pop3s()
    # AUTHORIZATION state over TLS: USER and SASL offered, STLS not.
    eq(capa_lines(c), (CAPA_OK, CAPA_TLS_AUTHORIZATION), "CAPA before login over TLS")
    caps = c.capa()
    eq(caps.get("SASL"), ["PLAIN"], "poplib sees SASL PLAIN")
    check("USER" in caps and "STLS" not in caps, "poplib's view of CAPA", caps)
    expect_err(c.stat, NOT_ALLOWED, "STAT before login")
    expect_err(lambda: c._shortcmd("RETR 1"), NOT_ALLOWED, "RETR before login")
    expect_err(lambda: c.pass_(PASSWORD), b"-ERR USER first", "PASS without USER")
    expect_err(lambda: c._shortcmd("STLS"), b"-ERR STLS not available", "STLS over TLS")
    eq(c.user(user), b"+OK", "USER")
    expect_err(lambda: c.pass_(PASSWORD + "x"), AUTH_FAILED, "wrong password")
    eq(c.user(user), b"+OK", "USER again")
    eq(c.pass_(PASSWORD), logged_in_answer(3, total), "PASS")

    # TRANSACTION state.
    eq(capa_lines(c), (CAPA_OK, CAPA_TRANSACTION), "CAPA after login")
    expect_err(lambda: c._shortcmd("STLS"), NOT_ALLOWED, "STLS after login")
    expect_err(lambda: c.user(user), NOT_ALLOWED, "USER after login")
    expect_err(lambda: c._shortcmd("AUTH PLAIN " + plain_b64(user)), NOT_ALLOWED, "AUTH after login")
    eq(c._shortcmd("STAT"), b"+OK 3 %d" % total, "STAT line")
    eq(c.stat(), (3, total), "poplib stat()")
    eq(c._shortcmd("stat"), b"+OK 3 %d" % total, "commands are case-insensitive")
    resp, lines, _ = c.list()
    eq(resp, b"+OK 3 messages (%d octets)" % total, "LIST status")
    eq(lines, [b"%d %d" % (i + 1, n) for i, n in enumerate(sizes)], "LIST lines")
    eq(c.list(2), b"+OK 2 %d" % sizes[1], "LIST 2")
    expect_err(lambda: c.list(0), b"-ERR Invalid message number", "LIST 0")
    expect_err(lambda: c.list("x"), b"-ERR Invalid message number", "LIST x")
    expect_err(lambda: c.list(4), b"-ERR No such message", "LIST 4")
    resp, lines, _ = c.uidl()
    eq(resp, b"+OK", "UIDL status")
    eq(lines, [b"%d %s" % (i, uid_string(i, uv)) for i in (1, 2, 3)], "UIDL lines")
    eq(c.uidl(3), b"+OK 3 " + uid_string(3, uv), "UIDL 3")
    expect_err(lambda: c.uidl(9), b"-ERR No such message", "UIDL 9")

    # RETR through poplib and off the wire, both byte-exact with what IMAP serves.
    resp, lines, _ = c.retr(1)
    eq(resp, b"+OK %d octets" % sizes[0], "RETR 1 status")
    eq(joined(lines), stored[0][1], "RETR 1 (poplib) = IMAP BODY[]")
    write_out("retr-1.eml", joined(lines))
    status, wire, body = raw_multiline(c, "RETR 2")
    eq(status, b"+OK %d octets" % sizes[1], "RETR 2 status")
    eq(wire, stored[1][1], "RETR 2 on the wire (nothing to stuff)")
    eq(body, stored[1][1], "RETR 2 = IMAP BODY[]")
    write_out("retr-2.eml", body)

    # TOP.
    resp, lines, _ = c.top(2, 0)
    eq(resp, b"+OK", "TOP status")
    eq(joined(lines), header_and_lines(stored[1][1], 0), "TOP 2 0 = header and blank line")
    check(joined(lines).endswith(b"Message-ID: <second@remote.test>\r\n\r\n"), "TOP 2 0 ends the header",
          joined(lines)[-80:])
    _, lines, _ = c.top(2, 2)
    eq(joined(lines), header_and_lines(stored[1][1], 0) + b"line 1\r\nline 2\r\n", "TOP 2 2")
    _, lines, _ = c.top(1, 99)
    eq(joined(lines), stored[0][1], "TOP with more lines than the body: the whole message")
    expect_err(lambda: c._shortcmd("TOP 1"), b"-ERR Syntax error", "TOP without a line count")
    expect_err(lambda: c._shortcmd("RETR"), b"-ERR Syntax error", "RETR without a number")
    expect_err(lambda: c.top(0, 1), b"-ERR Invalid message number", "TOP 0 1")
    expect_err(lambda: c.retr(4), b"-ERR No such message", "RETR 4")
    expect_err(lambda: c._shortcmd("FROB"), b"-ERR Unknown command", "unknown command")

    # DELE, RSET, NOOP.
    eq(c.dele(1), b"+OK Marked to be deleted", "DELE 1")
    eq(c._shortcmd("STAT"), b"+OK 2 %d" % (total - sizes[0]), "STAT leaves out the deleted message")
    resp, lines, _ = c.list()
    eq(resp, b"+OK 2 messages (%d octets)" % (total - sizes[0]), "LIST status after DELE")
    eq(lines, [b"2 %d" % sizes[1], b"3 %d" % sizes[2]], "LIST leaves out the deleted message")
    eq(c.uidl()[1], [b"2 " + uid_string(2, uv), b"3 " + uid_string(3, uv)], "UIDL after DELE")
    for what, f in [("LIST 1", lambda: c.list(1)), ("RETR 1", lambda: c.retr(1)),
                    ("TOP 1 0", lambda: c.top(1, 0)), ("UIDL 1", lambda: c.uidl(1)), ("DELE 1", lambda: c.dele(1))]:
        expect_err(f, b"-ERR Message is deleted", what + " after DELE 1")
    eq(c.rset(), b"+OK", "RSET")
    eq(c._shortcmd("STAT"), b"+OK 3 %d" % total, "RSET unmarked it")
    eq(len(c.list()[1]), 3, "LIST after RSET")
    eq(c.noop(), b"+OK", "NOOP")
    eq(c.dele(3), b"+OK Marked to be deleted", "DELE 3")
    # The maildrop is a snapshot: mail arriving now shows up in the next session.
    late = msg("late", "arrived during the session\r\n")
    deliver(user, late)
    eq(c._shortcmd("STAT"), b"+OK 2 %d" % (total - sizes[2]), "STAT unchanged by a delivery")
    expect_err(lambda: c.list(4), b"-ERR No such message", "the new message is not in this session")
    eq(c.quit(), b"+OK Bye, 1 messages deleted", "QUIT in TRANSACTION")

    uv2, after = stored_messages(user)
    eq(uv2, uv, "UIDVALIDITY unchanged")
    eq([u for u, _ in after], [1, 2, 4], "message 3 deleted at QUIT, the late one kept")
    eq(strip_trace(after[2][1]), late, "late message")
    c = pop3s(user)
    eq(c._shortcmd("STAT"), b"+OK 3 %d" % sum(len(s) for _, s in after), "STAT in the next session")
    eq(c.uidl()[1], [b"1 " + uid_string(1, uv), b"2 " + uid_string(2, uv), b"3 " + uid_string(4, uv)],
       "UIDL in the next session")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT without deletions")
    c = pop3s()
    eq(c.quit(), b"+OK Bye", "QUIT in AUTHORIZATION")


@scenario
def stls_session(user):
    deliver(user, msg("over stls", "hello over STLS\r\n"))
    uv, stored = stored_messages(user)
    # Before TLS on the plain port: STLS offered, no way to log in (loopback not allowed by default).
    c = pop3_plain()
    eq(capa_lines(c), (CAPA_OK, CAPA_PLAIN_NO_LOGIN), "CAPA before STLS")
    expect_err(lambda: c.user(user), NO_TLS, "USER before STLS")
    c.host = HOSTNAME
    eq(c.stls(tls_context()), b"+OK Begin TLS negotiation", "poplib stls()")
    eq(c.sock.version() in ("TLSv1.2", "TLSv1.3"), True, "TLS version %s" % c.sock.version())
    eq(capa_lines(c), (CAPA_OK, CAPA_TLS_AUTHORIZATION), "CAPA after STLS")
    expect_err(lambda: c._shortcmd("STLS"), b"-ERR STLS not available", "second STLS")
    eq(c.user(user), b"+OK", "USER after STLS")
    eq(c.pass_(PASSWORD), logged_in_answer(1, len(stored[0][1])), "PASS after STLS")
    eq(c.uidl(1), b"+OK 1 " + uid_string(1, uv), "UIDL 1")
    resp, lines, _ = c.retr(1)
    eq(resp, b"+OK %d octets" % len(stored[0][1]), "RETR status")
    eq(joined(lines), stored[0][1], "RETR over STLS = IMAP BODY[]")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")

    # Commands pipelined behind STLS are discarded, never run inside TLS.
    r = Raw(tls=False)
    r.send(b"STLS\r\nUSER %s\r\nPASS %s\r\n" % (user.encode(), PASSWORD.encode()))
    eq(r.line(), b"+OK Begin TLS negotiation", "STLS")
    check(r.buf == b"", "nothing after the STLS answer", r.buf)
    r.sock = tls_context().wrap_socket(r.sock, server_hostname=HOSTNAME)
    eq(r.cmd("STAT"), NOT_ALLOWED, "the injected USER/PASS did not log in")
    eq(r.multi("CAPA"), (CAPA_OK, CAPA_TLS_AUTHORIZATION), "CAPA inside TLS")
    # PIPELINING (RFC 2449): a batch in one write is answered in order.
    size = len(stored[0][1])
    r.send(("USER %s\r\nPASS %s\r\nSTAT\r\nLIST 1\r\nUIDL\r\nTOP 1 0\r\nNOOP\r\nDELE 1\r\nRSET\r\nQUIT\r\n"
            % (user, PASSWORD)).encode())
    eq(r.line(), b"+OK", "pipelined USER")
    eq(r.line(), logged_in_answer(1, size), "pipelined PASS")
    eq(r.line(), b"+OK 1 %d" % size, "pipelined STAT")
    eq(r.line(), b"+OK 1 %d" % size, "pipelined LIST 1")
    eq([r.line() for _ in range(3)], [b"+OK", b"1 " + uid_string(1, uv), b"."], "pipelined UIDL")
    head = header_and_lines(stored[0][1], 0)
    eq(r.line(), b"+OK", "pipelined TOP")
    eq([r.line() for _ in range(head.count(b"\r\n") + 1)], head.split(b"\r\n")[:-1] + [b"."], "pipelined TOP lines")
    eq([r.line() for _ in range(4)], [b"+OK", b"+OK Marked to be deleted", b"+OK", b"+OK Bye, 0 messages deleted"],
       "pipelined NOOP DELE RSET QUIT")
    eq(r.eof(), b"", "closed after QUIT")


@scenario
def plaintext_refused(user):
    deliver(user, msg("secret", "not without TLS\r\n"))
    r = Raw(tls=False)
    eq(r.multi("CAPA"), (CAPA_OK, CAPA_PLAIN_NO_LOGIN), "CAPA without TLS lacks USER and SASL")
    eq(r.cmd("USER " + user), NO_TLS, "USER without TLS")
    eq(r.cmd("PASS " + PASSWORD), NO_TLS, "PASS without TLS")
    eq(r.cmd("AUTH PLAIN " + plain_b64(user)), NO_TLS, "AUTH PLAIN without TLS")
    eq(r.cmd("STAT"), NOT_ALLOWED, "still not logged in")
    eq(r.cmd("RETR 1"), NOT_ALLOWED, "no RETR")
    eq(r.cmd("QUIT"), b"+OK Bye", "QUIT")
    eq(r.eof(), b"", "closed after QUIT")
    # poplib gives up the same way.
    c = pop3_plain()
    expect_err(lambda: c.user(user), NO_TLS, "poplib USER without TLS")
    eq(c.quit(), b"+OK Bye", "QUIT")


@scenario
def loopback_plaintext(user):
    deliver(user, msg("local tool", "plain on loopback\r\n"))
    _, stored = stored_messages(user)
    c = pop3_plain()
    eq(capa_lines(c), (CAPA_OK, CAPA_PLAIN_LOOPBACK), "CAPA on loopback with pop3.plaintext_loopback=1")
    eq(c.user(user), b"+OK", "USER without TLS from loopback")
    eq(c.pass_(PASSWORD), logged_in_answer(1, len(stored[0][1])), "PASS without TLS from loopback")
    eq(capa_lines(c), (CAPA_OK, CAPA_TRANSACTION), "CAPA after login")
    resp, lines, _ = c.retr(1)
    eq(joined(lines), stored[0][1], "RETR")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")
    # AUTH PLAIN works the same way.
    c = pop3_plain()
    eq(c._shortcmd("AUTH PLAIN " + plain_b64(user)), logged_in_answer(1, len(stored[0][1])), "AUTH PLAIN")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")


DOTS_BODY = (b".\r\n"
             b"..\r\n"
             b".hidden line\r\n"
             b"...three dots\r\n"
             b"normal line\r\n"
             b". space after dot\r\n"
             b"line with a . inside\r\n"
             b".\r\n"
             b"end\r\n")


def big_body(size):
    line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
    lines = []
    n = 0
    i = 0
    while n < size:
        ln = (b"." + line) if i % 1000 == 7 else line
        lines.append(ln)
        n += len(ln)
        i += 1
    return b"".join(lines)


@scenario
def bodies(user):
    sent = {
        "dots": msg("dots", DOTS_BODY),
        "empty": msg("empty body", b""),
        "big": msg("big", big_body(3 * 1024 * 1024)),
    }
    names = ["dots", "empty", "big"]
    for n in names:
        deliver(user, sent[n])
    uv, stored = stored_messages(user)
    eq([u for u, _ in stored], [1, 2, 3], "UIDs")
    for n, (_, s) in zip(names, stored):
        eq(strip_trace(s), sent[n], "%s stored as delivered" % n)
    check(len(stored[2][1]) > 3 * 1024 * 1024, "3 MB message", len(stored[2][1]))

    i = imaps(user)
    imap_select(i)
    sizes = ok(i.fetch("1:3", "(RFC822.SIZE)"), "FETCH RFC822.SIZE")
    i.logout()
    eq(sizes, [b"%d (RFC822.SIZE %d)" % (n + 1, len(s)) for n, (_, s) in enumerate(stored)], "RFC822.SIZE")
    c = pop3s(user)
    _, lines, _ = c.list()
    eq(lines, [b"%d %d" % (i + 1, len(s)) for i, (_, s) in enumerate(stored)], "LIST sizes = RFC822.SIZE")
    for i, n in enumerate(names):
        s = stored[i][1]
        # Off the wire: the exact dot-stuffed bytes, then unstuffed = the stored message.
        status, wire, body = raw_multiline(c, "RETR %d" % (i + 1))
        eq(status, b"+OK %d octets" % len(s), "RETR %s status" % n)
        check(wire == stuff(s), "RETR %s: dot-stuffed on the wire" % n, len(wire), len(stuff(s)))
        check(body == s, "RETR %s: byte-exact" % n, len(body), len(s))
        write_out("retr-%s.eml" % n, body)
        # poplib unstuffs the same bytes.
        resp, lines, _ = c.retr(i + 1)
        eq(resp, b"+OK %d octets" % len(s), "poplib RETR %s status" % n)
        check(joined(lines) == s, "poplib RETR %s byte-exact" % n)
        for k in (0, 2):
            status, wire, body = raw_multiline(c, "TOP %d %d" % (i + 1, k))
            eq(status, b"+OK", "TOP status")
            want = header_and_lines(s, k)
            eq(body, want, "TOP %s %d" % (n, k))
            eq(wire, stuff(want), "TOP %s %d on the wire" % (n, k))
    # The stuffing on the wire, spelled out for the dots message.
    _, wire, _ = raw_multiline(c, "TOP 1 9")
    check(wire.endswith(b"\r\n\r\n..\r\n...\r\n..hidden line\r\n....three dots\r\nnormal line\r\n"
                        b".. space after dot\r\nline with a . inside\r\n..\r\nend\r\n"), "stuffed body", wire[-200:])
    _, wire, _ = raw_multiline(c, "TOP 2 5")
    check(wire.endswith(b"Message-ID: <emptybody@remote.test>\r\n\r\n"), "empty body: header and blank line", wire)
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")


@scenario
def auth_plain(user):
    deliver(user, msg("auth", "authenticated\r\n"))
    _, stored = stored_messages(user)
    welcome = logged_in_answer(1, len(stored[0][1]))
    c = pop3s()
    resp, lines, _ = c._longcmd("AUTH")
    eq((resp, lines), (b"+OK", [b"PLAIN"]), "AUTH without argument lists the mechanisms")
    # SASL-IR (RFC 5034): the response in the command line.
    eq(c._shortcmd("AUTH PLAIN " + plain_b64(user)), welcome, "AUTH PLAIN with initial response")
    eq(c._shortcmd("STAT"), b"+OK 1 %d" % len(stored[0][1]), "STAT after AUTH")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")
    # Without: an empty challenge, then the response.
    c = pop3s()
    c._putcmd("AUTH PLAIN")
    eq(c._getresp(), b"+ ", "empty challenge")
    eq(c._shortcmd(plain_b64(user)), welcome, "AUTH PLAIN after the challenge")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")
    # Cancelled, malformed, unsupported, wrong; the session stays usable.
    c = pop3s()
    c._putcmd("AUTH PLAIN")
    eq(c._getresp(), b"+ ", "empty challenge")
    expect_err(lambda: c._shortcmd("*"), b"-ERR Authentication cancelled", "cancel with *")
    expect_err(lambda: c._shortcmd("AUTH PLAIN !!!not-base64!!!"), b"-ERR Malformed PLAIN response",
               "malformed initial response")
    c._putcmd("AUTH PLAIN")
    eq(c._getresp(), b"+ ", "empty challenge")
    expect_err(lambda: c._shortcmd("%%%%"), b"-ERR Malformed PLAIN response", "malformed response line")
    for mech in ["CRAM-MD5", "LOGIN", "XOAUTH2 dXNlcg=="]:
        expect_err(lambda: c._shortcmd("AUTH " + mech), b"-ERR Unsupported authentication mechanism",
                   "AUTH " + mech)
    expect_err(lambda: c._shortcmd("AUTH PLAIN " + plain_b64(user, "wrong-password")), AUTH_FAILED,
               "wrong password")
    c._putcmd("AUTH PLAIN")
    eq(c._getresp(), b"+ ", "empty challenge")
    expect_err(lambda: c._shortcmd(plain_b64(user, "wrong-again")), AUTH_FAILED, "wrong password, two steps")
    eq(c._shortcmd("auth plain " + plain_b64(user)), welcome, "lower-case AUTH PLAIN")
    expect_err(lambda: c._shortcmd("AUTH PLAIN " + plain_b64(user)), NOT_ALLOWED, "AUTH after login")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")


@scenario
def imap_interplay(user):
    for i in (1, 2, 3):
        deliver(user, msg("shared %d" % i, "message %d\r\n" % i))
    i = imaps(user)
    exists, uv = imap_select(i)
    eq(exists, 3, "EXISTS")
    ok(i.store("2", "+FLAGS", "(\\Flagged)"), "STORE 2 +FLAGS (\\Flagged)")
    eq(imap_uids_flags(i), [(1, 1, []), (2, 2, ["\\Flagged"]), (3, 3, [])], "flags before POP3")
    i.untagged_responses.clear()

    p = pop3s(user)
    eq(p.uidl()[1], [b"%d %s" % (n, uid_string(n, uv)) for n in (1, 2, 3)], "UIDL = IMAP UIDs + UIDVALIDITY")
    # Reading through POP3 changes no flag: RETR, TOP.
    p.retr(2)
    p.retr(3)
    p.top(1, 0)
    eq(p.dele(1), b"+OK Marked to be deleted", "DELE 1")
    ok(i.noop(), "NOOP")
    check("EXPUNGE" not in i.untagged_responses and "FETCH" not in i.untagged_responses,
          "nothing changed before QUIT", i.untagged_responses)
    i.untagged_responses.clear()
    eq(p.quit(), b"+OK Bye, 1 messages deleted", "QUIT")

    ok(i.noop(), "NOOP")
    eq(i.untagged_responses.get("EXPUNGE"), [b"1"], "IMAP sees message 1 expunged at NOOP")
    check("FETCH" not in i.untagged_responses, "no flag change pushed to IMAP", i.untagged_responses)
    eq(imap_uids_flags(i), [(1, 2, ["\\Flagged"]), (2, 3, [])], "flags after POP3: exactly as IMAP left them")
    i.logout()
    # A fresh IMAP session agrees, and so does the next POP3 session.
    j = imaps(user)
    exists, uv2 = imap_select(j)
    eq((exists, uv2), (2, uv), "EXISTS and UIDVALIDITY in a new IMAP session")
    eq(imap_uids_flags(j), [(1, 2, ["\\Flagged"]), (2, 3, [])], "flags in a new IMAP session")
    j.logout()
    p = pop3s(user)
    eq(p.stat()[0], 2, "STAT")
    eq(p.uidl()[1], [b"1 " + uid_string(2, uv), b"2 " + uid_string(3, uv)], "UIDL after the deletion")
    eq(p.quit(), b"+OK Bye, 0 messages deleted", "QUIT")


def uidl_map(user):
    c = pop3s(user)
    resp, lines, _ = c.uidl()
    eq(resp, b"+OK", "UIDL")
    one = [c.uidl(n + 1) for n in range(len(lines))]
    eq(one, [b"+OK " + l for l in lines], "UIDL n agrees with UIDL")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")
    return [l.decode() for l in lines]


@scenario
def uidl_before(user):
    for n in range(4):
        deliver(user, msg("keep %d" % n))
    i = imaps(user)
    _, uv = imap_select(i)
    # Expunge UID 1 so POP3 numbers and IMAP UIDs differ.
    ok(i.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
    ok(i.expunge(), "EXPUNGE")
    uids = [u for _, u, _ in imap_uids_flags(i)]
    eq(uids, [2, 3, 4], "IMAP UIDs")
    i.logout()
    want = ["%d %s" % (n + 1, uid_string(u, uv).decode()) for n, u in enumerate(uids)]
    first = uidl_map(user)
    eq(first, want, "UIDL = %08X UID then %08X UIDVALIDITY")
    for l in first:
        check(len(l.split()[1]) == 16 and l.split()[1] == l.split()[1].upper(), "16 upper-case hex digits", l)
    eq(uidl_map(user), first, "UIDL stable across sessions")
    with open(os.path.join(OUT, "uidl.json"), "w") as f:
        json.dump({"uidl": first, "uidvalidity": uv}, f)


@scenario
def uidl_after(user):
    with open(os.path.join(OUT, "uidl.json")) as f:
        state = json.load(f)
    i = imaps(user)
    _, uv = imap_select(i)
    eq(uv, state["uidvalidity"], "UIDVALIDITY across the restart")
    i.logout()
    eq(uidl_map(user), state["uidl"], "UIDL across the restart")


@scenario
def drop_without_quit(user):
    deliver(user, msg("stays one"))
    deliver(user, msg("stays two"))
    _, stored = stored_messages(user)
    total = sum(len(s) for _, s in stored)
    for tls in (True, False):
        c = pop3s(user) if tls else pop3_stls(user)
        eq(c.dele(1), b"+OK Marked to be deleted", "DELE 1")
        eq(c.dele(2), b"+OK Marked to be deleted", "DELE 2")
        eq(c.stat(), (0, 0), "both marked")
        close_without_quit(c)

        # The server notices the drop and ends the session; a new login may race that briefly.
        refused = []

        def relogin():
            c = pop3s()
            c.user(user)
            try:
                c.pass_(PASSWORD)
                return c
            except poplib.error_proto as e:
                check(e.args[0] == IN_USE, "login after the drop", e.args)
                refused.append(e.args[0])
                c.quit()
                return None
        c = wait_until(relogin, "login after a dropped session")
        print("logins refused with IN-USE right after the drop (%s): %d" % ("995" if tls else "110", len(refused)))
        eq(c._shortcmd("STAT"), b"+OK 2 %d" % total, "nothing deleted by a dropped connection")
        eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")
    _, after = stored_messages(user)
    eq(after, stored, "IMAP sees both messages unchanged")


@scenario
def in_use(user):
    deliver(user, msg("busy"))
    a = pop3s(user)
    b = pop3s()
    eq(b.user(user), b"+OK", "USER")
    expect_err(lambda: b.pass_(PASSWORD), IN_USE, "PASS while another session is open")
    c = pop3s()
    expect_err(lambda: c._shortcmd("AUTH PLAIN " + plain_b64(user)), IN_USE, "AUTH PLAIN while in use")
    d = pop3_stls()
    d.user(user)
    expect_err(lambda: d.pass_(PASSWORD), IN_USE, "PASS on the STLS port while in use")
    # IMAP is not blocked by a POP3 session.
    i = imaps(user)
    eq(imap_select(i)[0], 1, "IMAP SELECT while POP3 holds the maildrop")
    i.logout()
    eq(a.dele(1), b"+OK Marked to be deleted", "first session still works")
    eq(a.rset(), b"+OK", "RSET")
    eq(a.quit(), b"+OK Bye, 0 messages deleted", "first session QUIT")
    # Right after the first session's QUIT answer, the others can log in (one at a time).
    eq(b.user(user), b"+OK", "USER again")
    check(b.pass_(PASSWORD).startswith(b"+OK Logged in, 1 messages"), "login after the first QUIT")
    expect_err(lambda: c._shortcmd("AUTH PLAIN " + plain_b64(user)), IN_USE, "still one at a time")
    eq(b.quit(), b"+OK Bye, 0 messages deleted", "QUIT")
    check(c._shortcmd("AUTH PLAIN " + plain_b64(user)).startswith(b"+OK Logged in"), "AUTH PLAIN after QUIT")
    eq(c.quit(), b"+OK Bye, 0 messages deleted", "QUIT")
    d.quit()


@scenario
def long_lines(user):
    deliver(user, msg("long lines"))
    r = Raw()
    # pop3.max_line_bytes = 512, CRLF included.
    eq(r.cmd("USER " + "a" * 505), b"+OK", "a 512-octet line is accepted")
    eq(r.cmd("USER " + "a" * 506), b"-ERR Line too long", "a 513-octet line is not")
    eq(r.multi("CAPA"), (CAPA_OK, CAPA_TLS_AUTHORIZATION), "session alive after the long line")
    r.send(b"USER " + b"x" * 70000 + b"\r\n")
    eq(r.line(), b"-ERR Line too long", "70000-octet line")
    eq(r.multi("CAPA"), (CAPA_OK, CAPA_TLS_AUTHORIZATION), "exactly one answer to the long line")
    r.login(user)
    eq(r.cmd("STAT")[:6], b"+OK 1 ", "STAT after the long lines")
    # In TRANSACTION state too; the long line is not partly run as a command.
    r.send(b"DELE 1" + b" " * 600 + b"\r\n")
    eq(r.line(), b"-ERR Line too long", "long line in TRANSACTION")
    eq(r.cmd("LIST 1")[:6], b"+OK 1 ", "message 1 not marked deleted")
    eq(r.cmd("QUIT"), b"+OK Bye, 0 messages deleted", "QUIT")
    eq(r.eof(), b"", "closed after QUIT")


@scenario
def garbage(user):
    # pop3.max_errors = 5 (set by the Rust test).
    r = Raw()
    eq(r.cmd(b"\x00\x01\x02\xff")[:5], b"-ERR ", "binary garbage")
    eq(r.multi("CAPA")[0], CAPA_OK, "alive after error 1")
    eq(r.cmd("GET / HTTP/1.1"), b"-ERR Unknown command", "HTTP request line")
    eq(r.multi("CAPA")[0], CAPA_OK, "alive after error 2")
    eq(r.cmd("STAT"), NOT_ALLOWED, "STAT before login")
    eq(r.multi("CAPA")[0], CAPA_OK, "alive after error 3")
    eq(r.cmd("FROB"), b"-ERR Unknown command", "unknown command")
    eq(r.multi("CAPA")[0], CAPA_OK, "alive after error 4")
    eq(r.cmd("XYZZY"), b"-ERR Unknown command", "5th error is answered")
    eq(r.line(), b"-ERR Too many errors, closing", "then the close")
    eq(r.eof(), b"", "closed after too many errors")
    # A fresh connection is unaffected.
    r = Raw()
    r.login(user)
    eq(r.cmd("QUIT"), b"+OK Bye, 0 messages deleted", "QUIT")


@scenario
def brute_force(user):
    # auth.free_failures 2, auth.delay_base_ms 600, auth.max_failures_per_ip 5 (set by the Rust test).
    gaps = []
    last = time.monotonic()
    for n in range(5):
        r = Raw()
        eq(r.cmd("USER " + user), b"+OK", "USER")
        got = r.cmd("PASS wrong-%d" % n)
        gaps.append(time.monotonic() - last)
        last = time.monotonic()
        eq(got, AUTH_FAILED, "attempt %d" % n)
        r.close()
    print("time from one failed PASS answer to the next: %r" % gaps)
    check(gaps[1] < 0.4 and gaps[2] < 0.4, "free failures", gaps)
    check(gaps[3] >= 0.6, "4th attempt delayed", gaps)
    check(gaps[4] >= 1.2, "5th attempt delayed more", gaps)
    # Blocked now: even the right password is refused at once, USER/PASS or AUTH PLAIN.
    r = Raw()
    eq(r.cmd("USER " + user), b"+OK", "USER")
    started = time.monotonic()
    eq(r.cmd("PASS " + PASSWORD), TRY_LATER, "right password while blocked")
    check(time.monotonic() - started < 0.4, "refused at once", time.monotonic() - started)
    eq(r.cmd("AUTH PLAIN " + plain_b64(user)), TRY_LATER, "AUTH PLAIN while blocked")
    r.close()


@scenario
def expire_capa(user):
    # pop3.expire_days = 30 (set by the Rust test): EXPIRE 30 instead of EXPIRE NEVER.
    def with_expire(capa):
        return [b"EXPIRE 30" if l == b"EXPIRE NEVER" else l for l in capa]
    r = Raw(tls=False)
    eq(r.multi("CAPA"), (CAPA_OK, with_expire(CAPA_PLAIN_NO_LOGIN)), "CAPA before STLS")
    r.close()
    r = Raw()
    eq(r.multi("CAPA"), (CAPA_OK, with_expire(CAPA_TLS_AUTHORIZATION)), "CAPA over TLS")
    r.login(user)
    eq(r.multi("CAPA"), (CAPA_OK, with_expire(CAPA_TRANSACTION)), "CAPA after login")
    eq(r.cmd("QUIT"), b"+OK Bye, 0 messages deleted", "QUIT")
    # The policy itself: a message that arrived 40 days ago (APPEND with an internal date) goes
    # when a POP3 session ends with QUIT; a new one stays; a dropped session removes nothing.
    c = imaps(user)
    old = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(time.time() - 40 * 86400))
    ok(c.append("INBOX", None, '"%s"' % old, msg("old", "from long ago")), "APPEND old")
    ok(c.append("INBOX", None, None, msg("new", "from today")), "APPEND new")
    imap_select(c)
    before = imap_uids_flags(c)
    check(len(before) == 2, "two messages before", before)
    c.logout()
    r = Raw()
    r.login(user)
    r.sock.close()
    time.sleep(0.5)
    c = imaps(user)
    imap_select(c)
    eq(len(imap_uids_flags(c)), 2, "a dropped session expires nothing")
    c.logout()
    r = Raw()
    r.login(user)
    eq(r.cmd("QUIT"), b"+OK Bye, 0 messages deleted", "QUIT expires without counting DELEs")
    c = imaps(user)
    imap_select(c)
    after = imap_uids_flags(c)
    eq([u for _, u, _ in after], [u for _, u, _ in before][1:], "only the 40-day-old message expired")
    c.logout()


@scenario
def autologout(user):
    # pop3.timeout_secs = 30 (set by the Rust test).
    r = Raw()
    r.login(user)
    eq(r.cmd("NOOP"), b"+OK", "NOOP")
    started = time.monotonic()
    r.sock.settimeout(60)
    eq(r.line(), b"-ERR Autologout; idle for too long", "autologout")
    waited = time.monotonic() - started
    check(29.0 <= waited < 40.0, "logged out after %.1f s" % waited)
    eq(r.eof(), b"", "closed after the autologout")


def main():
    name = sys.argv[1]
    user = sys.argv[2]
    SCENARIOS[name](user)
    print("scenario %s passed" % name)


if __name__ == "__main__":
    main()
