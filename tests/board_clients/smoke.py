"""The board smoke test's clients (tests/board_smoke.rs): Python's smtplib, imaplib, poplib and
http.client against a running server, which may be a board's build running under qemu-user.

Every TLS connection verifies the server's certificate (CA, host name HOSTNAME_TLS). Steps:
deliver over the MX (plain and STARTTLS), read the mail over IMAPS (bytes, flags, expunge) and
POP3 (implicit TLS and STLS), submit over 587 with STARTTLS and AUTH to a local and an outside
recipient (the outside one is left in the queue, checked by the Rust side), and load the web
page's login form over HTTPS. Prints "smoke passed" when every step passed.
"""

import email
import http.client
import imaplib
import os
import poplib
import smtplib
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clientlib import HOSTNAME, PASSWORD, TIMEOUT, IMAP4_SSL, check, eq, tls_context  # noqa: E402

PORT_BASE = int(os.environ["PORT_BASE"])
ALICE = "alice@example.test"
BOB = "bob@example.test"
OUTSIDE = "carol@elsewhere.test"


class POP3_SSL(poplib.POP3_SSL):
    """poplib's POP3_SSL to 127.0.0.1 that verifies the certificate for HOSTNAME."""

    def _create_socket(self, timeout):
        sock = poplib.POP3._create_socket(self, timeout)
        return self.context.wrap_socket(sock, server_hostname=HOSTNAME)


def message(n, size):
    """A message whose body (numbered lines) makes it about `size` bytes."""
    lines = ["From: sender@sender.test", "To: " + ALICE, "Subject: smoke %d" % n,
             "Message-ID: <smoke-%d@sender.test>" % n, ""]
    i = 0
    while sum(len(l) + 2 for l in lines) < size:
        lines.append("line %06d of message %d: the quick brown fox jumps over the lazy dog" % (i, n))
        i += 1
    return ("\r\n".join(lines) + "\r\n").encode()


def deliver(messages):
    for i, msg in enumerate(messages):
        with smtplib.SMTP("127.0.0.1", PORT_BASE + 25, "mail.sender.test", timeout=TIMEOUT) as s:
            if i % 2 == 1:
                s._host = HOSTNAME  # smtplib verifies STARTTLS against the host it connected to
                s.starttls(context=tls_context())
                s.ehlo("mail.sender.test")
            refused = s.sendmail("sender@sender.test", [ALICE], msg)
            eq(refused, {}, "MX refused recipients of message %d" % i)


def imap_read(messages):
    m = IMAP4_SSL("127.0.0.1", PORT_BASE + 993, ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(ALICE, PASSWORD)
    typ, data = m.select("INBOX")
    eq(typ, "OK", "SELECT INBOX")
    eq(int(data[0]), len(messages), "messages in INBOX")
    for i, sent in enumerate(messages, start=1):
        typ, data = m.fetch(str(i), "(BODY.PEEK[] FLAGS)")
        eq(typ, "OK", "FETCH %d" % i)
        got = data[0][1]
        # The server prepends its trace fields; what the client sent follows them unchanged.
        check(got.endswith(sent), "message %d changed in the store" % i, got[:300])
        check(b"\\Seen" not in data[0][0], "PEEK must not set \\Seen", data[0][0])
    typ, _ = m.store("1", "+FLAGS", "(\\Seen \\Flagged)")
    eq(typ, "OK", "STORE")
    typ, data = m.fetch("1", "(FLAGS)")
    check(b"\\Flagged" in data[0] and b"\\Seen" in data[0], "flags kept", data)
    typ, data = m.search(None, "SUBJECT", '"smoke 2"')
    eq(data[0].split(), [b"3"], "SEARCH SUBJECT")
    m.logout()


def pop3_read(messages):
    p = POP3_SSL("127.0.0.1", PORT_BASE + 995, context=tls_context(), timeout=TIMEOUT)
    p.user(ALICE)
    p.pass_(PASSWORD)
    count, size = p.stat()
    eq(count, len(messages), "POP3 STAT count")
    for i, sent in enumerate(messages, start=1):
        _, lines, _ = p.retr(i)
        got = b"\r\n".join(lines) + b"\r\n"
        check(got.endswith(sent), "POP3 RETR %d differs" % i, got[:300])
    p.dele(len(messages))
    p.quit()
    # STLS on the plain port; the DELE took effect at the previous QUIT (RFC 1939 UPDATE).
    p = poplib.POP3("127.0.0.1", PORT_BASE + 110, timeout=TIMEOUT)
    p.host = HOSTNAME  # poplib verifies STLS against self.host
    p.stls(context=tls_context())
    p.user(ALICE)
    p.pass_(PASSWORD)
    eq(p.stat()[0], len(messages) - 1, "POP3 count after DELE and QUIT")
    p.quit()


def submit():
    msg = email.message.EmailMessage()
    msg["From"] = ALICE
    msg["To"] = BOB + ", " + OUTSIDE
    msg["Subject"] = "submitted on the board"
    msg.set_content("hello from the smoke test\n")
    with smtplib.SMTP("127.0.0.1", PORT_BASE + 587, "laptop.local", timeout=TIMEOUT) as s:
        s._host = HOSTNAME
        s.starttls(context=tls_context())
        s.login(ALICE, PASSWORD)
        eq(s.send_message(msg), {}, "submission refused recipients")
    m = IMAP4_SSL("127.0.0.1", PORT_BASE + 993, ssl_context=tls_context(), timeout=TIMEOUT)
    m.login(BOB, PASSWORD)
    typ, data = m.select("INBOX", readonly=True)
    eq(int(data[0]), 1, "bob's INBOX after the submission")
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT DKIM-SIGNATURE)])")
    head = data[0][1]
    check(b"submitted on the board" in head, "bob got the submitted message", head)
    m.logout()


def web():
    # Connect to loopback, verify the certificate for HOSTNAME.
    raw = socket.create_connection(("127.0.0.1", PORT_BASE + 443), timeout=TIMEOUT)
    conn = http.client.HTTPSConnection(HOSTNAME, PORT_BASE + 443, timeout=TIMEOUT)
    conn.sock = tls_context().wrap_socket(raw, server_hostname=HOSTNAME)
    conn.request("GET", "/login")
    r = conn.getresponse()
    body = r.read()
    eq(r.status, 200, "GET /login")
    check(b"<form" in body and b"password" in body, "the login page has its form", body[:300])


def main():
    messages = [message(0, 600), message(1, 40_000), message(2, 300_000)]
    deliver(messages)
    imap_read(messages)
    pop3_read(messages)
    submit()
    web()
    print("smoke passed")


if __name__ == "__main__":
    main()
