"""Client steps for tests/full_disk.rs: `python3 steps.py STEP`, with Python's smtplib, imaplib
and poplib.

The environment gives MX_PORT, IMAPS_PORT, POP3S_PORT, CA, HOSTNAME_TLS, PASSWORD (of
alice@example.test) and OUT (a folder: every message answered 250 is written there as
<subject>.eml, and removed again when the test expunges it). Each step prints `step NAME passed`
when every assertion held.
"""

import os
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from clientlib import IMAP4_SSL, PASSWORD, TIMEOUT, check, eq, tls_context  # noqa: E402

MX_PORT = int(os.environ["MX_PORT"])
IMAPS_PORT = int(os.environ["IMAPS_PORT"])
OUT = os.environ["OUT"]
ALICE = "alice@example.test"
SENDER = "carol@remote.test"
STEPS = {}


def step(f):
    STEPS[f.__name__] = f
    return f


def message(subject, kib):
    line = ("%s filler line\r\n" % subject).encode()
    body = line * (kib * 1024 // len(line) + 1)
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n" % (SENDER, ALICE, subject)).encode() + body


def mx():
    c = smtplib.SMTP("127.0.0.1", MX_PORT, local_hostname="client.test", timeout=TIMEOUT)
    eq(c.ehlo()[0], 250, "EHLO")
    return c


def send(c, subject, kib):
    """Sends one message on an open connection: (code, text) of the reply to MAIL or the data."""
    data = message(subject, kib)
    code, text = c.mail(SENDER)
    if code != 250:
        c.rset()
        return code, text
    eq(c.rcpt(ALICE)[0], 250, "RCPT")
    code, text = c.data(data)
    if code == 250:
        with open(os.path.join(OUT, subject + ".eml"), "wb") as f:
            f.write(data)
    return code, text


def imaps():
    c = IMAP4_SSL("127.0.0.1", IMAPS_PORT, ssl_context=tls_context(), timeout=TIMEOUT)
    eq(c.login(ALICE, PASSWORD)[0], "OK", "LOGIN")
    return c


@step
def fill():
    """1 MiB messages until the disk is full: 452 4.3.1 after the data, never a 250 for a message
    that is not stored; the next MAIL is refused at once, and the session goes on."""
    with mx() as c:
        for i in range(64):
            code, text = send(c, "fill %02d" % i, 1024)
            if code == 250:
                continue
            eq(code, 452, "reply to the data of message %d (%r)" % (i, text))
            check(text.startswith(b"4.3.1 Insufficient system storage"), "enhanced code", text)
            check(i >= 2, "a few messages fit first", i)
            break
        else:
            raise AssertionError("the disk never filled")
        code, text = send(c, "after full", 1)
        eq(code, 452, "MAIL once the store knows it is full")
        check(text.startswith(b"4.3.1"), "enhanced code at MAIL", text)
        eq(c.noop()[0], 250, "the session goes on")


@step
def append_full():
    """APPEND on the full disk: NO [UNAVAILABLE] (RFC 5530 §3), the connection stays usable."""
    c = imaps()
    eq(c.select("INBOX")[0], "OK", "SELECT")
    typ, data = c.append("INBOX", None, None, message("appended", 2048))
    eq(typ, "NO", "APPEND on a full disk")
    check(data[0].startswith(b"[UNAVAILABLE]"), "response code", data)
    eq(c.noop()[0], "OK", "NOOP after the refusal")
    c.logout()


@step
def expunge():
    """Deleting two messages through IMAP works on the full disk."""
    c = imaps()
    eq(c.select("INBOX")[0], "OK", "SELECT")
    for subject in ("fill 00", "fill 01"):
        typ, data = c.uid("SEARCH", "SUBJECT", '"%s"' % subject)
        uids = data[0].split()
        eq(len(uids), 1, "one message %s" % subject)
        eq(c.uid("STORE", uids[0], "+FLAGS", "(\\Deleted)")[0], "OK", "STORE")
        os.remove(os.path.join(OUT, subject + ".eml"))
    typ, data = c.expunge()
    eq(typ, "OK", "EXPUNGE")
    eq(len([d for d in data if d]), 2, "two expunged")
    c.logout()


@step
def deliver_again():
    """With room made, delivery works again without a restart."""
    with mx() as c:
        for i in range(2):
            code, text = send(c, "again %d" % i, 512)
            eq(code, 250, "delivery after room was made (%r)" % text)


@step
def reserve():
    """store.min_free_bytes above what is free: refused at MAIL with 452 4.3.1."""
    with mx() as c:
        code, text = send(c, "refused by reserve", 1)
        eq(code, 452, "MAIL below the reserve")
        check(text.startswith(b"4.3.1"), "enhanced code", text)
        code, text = c.mail(SENDER, ["SIZE=1000"])
        eq(code, 452, "MAIL with SIZE below the reserve")


@step
def size_too_big():
    """A SIZE larger than the free space is refused at MAIL (RFC 1870 §6.1)."""
    with mx() as c:
        code, text = c.mail(SENDER, ["SIZE=%d" % (40 << 20)])
        eq(code, 452, "MAIL with a SIZE that cannot fit")
        check(text.startswith(b"4.3.1"), "enhanced code", text)
        c.rset()
        code, text = send(c, "fits", 64)
        eq(code, 250, "a message that fits")


if __name__ == "__main__":
    STEPS[sys.argv[1]]()
    print("step %s passed" % sys.argv[1])
