"""ManageSieve scenarios run by tests/managesieve.rs: `python3 suite.py NAME USER`.

`Raw` is a client written against RFC 5804 with nothing but a socket and `ssl`: it sends the exact
bytes a scenario names (literals included) and reads responses line by line, following the
server's literals, so each scenario can check every response code and that the session stays in
step. Connections verify the server's certificate (CA, host name included) after STARTTLS.
"""

import base64
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from clientlib import HOSTNAME, PASSWORD, TIMEOUT, check, eq, tls_context  # noqa: E402

PORT = int(os.environ["MANAGESIEVE_PORT"])
MAX_SCRIPT = int(os.environ.get("MAX_SCRIPT", "65536"))
SCENARIOS = {}

GOOD = 'require ["fileinto"];\r\nif header :contains "subject" "[list]" {\r\n  fileinto "Lists";\r\n}\r\n'
BAD = 'if true {\r\n  keep;\r\n'


def scenario(f):
    SCENARIOS[f.__name__] = f
    return f


def plain_b64(user, password=PASSWORD):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def literal(data):
    data = data.encode() if isinstance(data, str) else data
    return b"{%d+}\r\n" % len(data) + data


class Raw:
    """One connection; `tls=True` does STARTTLS at once."""

    def __init__(self, tls=True):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=TIMEOUT)
        self.buf = b""
        self.greeting = self.response()
        eq(self.greeting[1], b'OK "mailnook ManageSieve ready"', "greeting")
        if tls:
            self.starttls()

    def starttls(self):
        eq(self.cmd(b"STARTTLS")[1], b'OK "Begin TLS negotiation now"', "STARTTLS")
        check(self.buf == b"", "nothing after the STARTTLS answer", self.buf)
        self.sock = tls_context().wrap_socket(self.sock, server_hostname=HOSTNAME)
        # RFC 5804 §2.2: the capabilities again, unasked, then OK.
        self.capabilities = self.response()
        eq(self.capabilities[1], b'OK "TLS negotiation successful"', "after the handshake")

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; held %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed inside a literal")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self):
        """(items before the final line, the final OK/NO/BYE line); a literal is one item."""
        items = []
        while True:
            line = self.line()
            if line.startswith((b"OK", b"NO", b"BYE")):
                return items, line
            if line.startswith(b"{") and line.endswith(b"}"):
                items.append(self.exactly(int(line[1:-1])))
                eq(self.line(), b"", "CRLF after a literal")
            else:
                items.append(line)

    def cmd(self, data):
        self.send(data + b"\r\n")
        return self.response()

    def ok(self, data, what):
        items, final = self.cmd(data)
        check(final.startswith(b"OK"), what, final)
        return items

    def login(self, user, password=PASSWORD):
        _, final = self.cmd(b'AUTHENTICATE "PLAIN" "%s"' % plain_b64(user, password).encode())
        return final

    def eof(self):
        try:
            return self.sock.recv(1)
        except (ConnectionResetError, OSError):
            return b""

    def close(self):
        self.sock.close()


def capability_names(lines):
    return [l.split(b'"')[1] for l in lines]


@scenario
def auth_refused_before_starttls(user):
    r = Raw(tls=False)
    caps = r.greeting[0]
    check(b'"STARTTLS"' in caps and b'"SASL" ""' in caps, "STARTTLS offered, no SASL before TLS", caps)
    check(b'"MAXREDIRECTS" "4"' in caps, "MAXREDIRECTS is sieve.max_redirects", caps)
    check(b'"VERSION" "1.0"' in caps and b'"IMPLEMENTATION" "mailnook"' in caps, "VERSION, IMPLEMENTATION", caps)
    check(any(l.startswith(b'"SIEVE" "') and b"fileinto" in l for l in caps), "SIEVE extensions", caps)
    eq(r.cmd(b'AUTHENTICATE "PLAIN" "%s"' % plain_b64(user).encode())[1],
       b'NO (ENCRYPT-NEEDED) "Authentication requires TLS, use STARTTLS"', "AUTHENTICATE before TLS")
    eq(r.cmd(b"LISTSCRIPTS")[1], b'NO "Authenticate first"', "LISTSCRIPTS before login")
    # STARTTLS with a command pipelined behind it: the injected command must not run inside TLS.
    r.send(b"STARTTLS\r\nLOGOUT\r\n")
    eq(r.response()[1], b'OK "Begin TLS negotiation now"', "STARTTLS")
    r.buf = b""
    r.sock = tls_context().wrap_socket(r.sock, server_hostname=HOSTNAME)
    caps, final = r.response()
    eq(final, b'OK "TLS negotiation successful"', "capabilities after TLS")
    check(b'"SASL" "PLAIN"' in caps and b'"STARTTLS"' not in caps, "PLAIN inside TLS, no STARTTLS", caps)
    eq(r.cmd(b"STARTTLS")[1], b'NO "STARTTLS not available"', "second STARTTLS")
    # PLAIN with an empty challenge, then a cancelled one, then the response as a literal.
    r.send(b'AUTHENTICATE "PLAIN"\r\n')
    eq(r.line(), b'""', "empty challenge")
    eq(r.cmd(b'"*"')[1], b'NO "Authentication cancelled"', "cancel")
    eq(r.cmd(b'AUTHENTICATE "DIGEST-MD5"')[1], b'NO "Unsupported authentication mechanism"', "other mechanisms")
    r.send(b'AUTHENTICATE "PLAIN"\r\n')
    eq(r.line(), b'""', "empty challenge")
    eq(r.cmd(literal(plain_b64(user)))[1], b'OK "Logged in"', "PLAIN response as a literal")
    caps = r.ok(b"CAPABILITY", "CAPABILITY")
    check(b'"OWNER" "%s"' % user.encode() in caps, "OWNER after login", caps)
    eq(r.cmd(b'AUTHENTICATE "PLAIN" "%s"' % plain_b64(user).encode())[1],
       b'NO "Not allowed after authentication"', "second AUTHENTICATE")
    # UNAUTHENTICATE (RFC 5804 §2.14) and back in.
    r.ok(b"UNAUTHENTICATE", "UNAUTHENTICATE")
    eq(r.cmd(b"LISTSCRIPTS")[1], b'NO "Authenticate first"', "LISTSCRIPTS after UNAUTHENTICATE")
    eq(r.login(user), b'OK "Logged in"', "login again")
    eq(r.cmd(b"LOGOUT")[1], b'OK "Logout complete"', "LOGOUT")
    eq(r.eof(), b"", "closed after LOGOUT")


@scenario
def script_edge_cases(user):
    r = Raw()
    eq(r.login(user), b'OK "Logged in"', "login")
    eq(r.ok(b"LISTSCRIPTS", "empty list"), [], "no scripts yet")
    # A script that does not compile is refused by both commands, with the compiler's words.
    _, put = r.cmd(b'PUTSCRIPT "bad" ' + literal(BAD))
    _, chk = r.cmd(b"CHECKSCRIPT " + literal(BAD))
    check(put.startswith(b'NO "line ') and put == chk, "compile error text", put, chk)
    eq(r.ok(b"LISTSCRIPTS", "list"), [], "the bad script was not stored")
    r.ok(b"CHECKSCRIPT " + literal(GOOD), "CHECKSCRIPT good")
    # UTF-8 name and text; `{n}` without "+" is taken the same way (no continuation in 5804).
    text = GOOD.replace("Lists", "Listen-\u00fcber")
    r.ok(b'PUTSCRIPT "f\xc3\xbcr" ' + literal(text), "PUTSCRIPT utf-8")
    data = GOOD.encode()
    r.ok(b'PUTSCRIPT "two" {%d}\r\n' % len(data) + data, "PUTSCRIPT with {n}")
    eq(r.ok(b'GETSCRIPT "f\xc3\xbcr"', "GETSCRIPT"), [text.encode()], "script round trip")
    r.ok(b'SETACTIVE "f\xc3\xbcr"', "SETACTIVE")
    eq(sorted(r.ok(b"LISTSCRIPTS", "list")), [b'"f\xc3\xbcr" ACTIVE', b'"two"'], "listing")
    eq(r.cmd(b'DELETESCRIPT "f\xc3\xbcr"')[1], b'NO (ACTIVE) "The active script cannot be deleted"',
       "DELETESCRIPT active")
    eq(r.cmd(b'RENAMESCRIPT "two" "f\xc3\xbcr"')[1], b'NO (ALREADYEXISTS) "A script with that name exists"',
       "RENAMESCRIPT onto an existing name")
    for command in [b'RENAMESCRIPT "nope" "x"', b'GETSCRIPT "nope"', b'SETACTIVE "nope"', b'DELETESCRIPT "nope"']:
        eq(r.cmd(command)[1], b'NO (NONEXISTENT) "No such script"', command)
    # Renaming the active script keeps it active.
    r.ok(b'RENAMESCRIPT "f\xc3\xbcr" "main"', "RENAMESCRIPT active")
    eq(sorted(r.ok(b"LISTSCRIPTS", "list")), [b'"main" ACTIVE', b'"two"'], "listing after rename")
    # HAVESPACE and a literal over the limit, answered in step: the literal's lines that look
    # like commands are never run.
    r.ok(b'HAVESPACE "new" %d' % MAX_SCRIPT, "HAVESPACE at the limit")
    eq(r.cmd(b'HAVESPACE "new" %d' % (MAX_SCRIPT + 1))[1],
       b'NO (QUOTA/MAXSIZE) "Script exceeds %d bytes"' % MAX_SCRIPT, "HAVESPACE over the limit")
    flood = (b"LOGOUT\r\n" * (MAX_SCRIPT // 8 + 2))[: MAX_SCRIPT + 1]
    eq(r.cmd(b'PUTSCRIPT "big" {%d+}\r\n' % len(flood) + flood)[1],
       b'NO (QUOTA/MAXSIZE) "Script exceeds %d bytes"' % MAX_SCRIPT, "PUTSCRIPT over the limit")
    eq(r.cmd(b'NOOP "still here"')[1], b'OK (TAG "still here") "Done"', "in step after the large literal")
    # Deactivate, then delete; quotes and backslashes in names.
    r.ok(b'SETACTIVE ""', "deactivate")
    r.ok(b'DELETESCRIPT "main"', "DELETESCRIPT")
    r.ok(b'PUTSCRIPT "q\\"\\\\" ' + literal(GOOD), "quoted specials in a name")
    eq(sorted(r.ok(b"LISTSCRIPTS", "list")), [b'"q\\"\\\\"', b'"two"'], "listing, nothing active")
    # The script count limit (32 per user).
    for n in range(30):
        r.ok(b'PUTSCRIPT "s%d" ' % n + literal("keep;\r\n"), "PUTSCRIPT s%d" % n)
    eq(r.cmd(b'HAVESPACE "one-more" 10')[1], b'NO (QUOTA/MAXSCRIPTS) "Too many scripts"', "HAVESPACE count")
    eq(r.cmd(b'PUTSCRIPT "one-more" ' + literal("keep;\r\n"))[1], b'NO (QUOTA/MAXSCRIPTS) "Too many scripts"',
       "PUTSCRIPT count")
    r.ok(b'PUTSCRIPT "s0" ' + literal("discard;\r\n"), "replacing needs no room")
    r.ok(b'HAVESPACE "s1" 10', "HAVESPACE for a replacement")
    # Protocol errors are answered; at managesieve.max_errors (10) the session ends with BYE.
    errors = [b"FROB", b'NOOP "unterminated', b"GETSCRIPT", b'PUTSCRIPT "x"', b"LISTSCRIPTS now",
              b'HAVESPACE "x" -1', b"NOOP \"a\" \"b\"", b"RENAMESCRIPT \"a\"", b"", b"(x)"]
    for n, e in enumerate(errors[:-1]):
        final = r.cmd(e)[1]
        check(final.startswith(b"NO "), "error %d answered" % n, e, final)
    r.send(errors[-1] + b"\r\n")
    check(r.line().startswith(b"NO "), "10th error answered")
    eq(r.line(), b'BYE "Too many errors"', "then BYE")
    eq(r.eof(), b"", "closed after too many errors")


@scenario
def autologout(user):
    # managesieve.timeout_secs = 10 (set by the Rust test).
    r = Raw()
    eq(r.login(user), b'OK "Logged in"', "login")
    started = time.monotonic()
    eq(r.line(), b'BYE "Disconnected for inactivity"', "BYE after the timeout")
    waited = time.monotonic() - started
    check(9 <= waited <= 20, "closed after about 10 s", waited)
    eq(r.eof(), b"", "closed")


@scenario
def brute_force(user):
    # auth.free_failures 2, auth.delay_base_ms 600, auth.max_failures_per_ip 5 (set by the Rust test).
    gaps = []
    last = time.monotonic()
    for n in range(5):
        r = Raw()
        got = r.login(user, "wrong-%d" % n)
        gaps.append(time.monotonic() - last)
        last = time.monotonic()
        eq(got, b'NO "Authentication failed"', "attempt %d" % n)
        r.close()
    print("time from one failed login answer to the next: %r" % gaps)
    check(gaps[3] >= 0.6, "4th attempt delayed", gaps)
    check(gaps[4] >= 1.2, "5th attempt delayed more", gaps)
    r = Raw()
    started = time.monotonic()
    eq(r.login(user), b'NO (TRYLATER) "Try again later"', "right password while blocked")
    check(time.monotonic() - started < 0.4, "refused at once", time.monotonic() - started)
    eq(r.cmd(b"LOGOUT")[1], b'OK "Logout complete"', "LOGOUT")


if __name__ == "__main__":
    name, user = sys.argv[1], sys.argv[2]
    SCENARIOS[name](user)
    print("scenario %s passed" % name)
