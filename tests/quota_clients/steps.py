"""Client steps for tests/quota.rs: `python3 steps.py STEP`, with Python's own smtplib and imaplib.

The environment gives MX_PORT, SUBMISSION_PORT, IMAPS_PORT, CA, HOSTNAME_TLS and PASSWORD (of
alice@example.test and bob@example.test). Each step prints `step NAME passed` when every
assertion held.
"""

import imaplib
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from clientlib import HOSTNAME, IMAP4_SSL, PASSWORD, TIMEOUT, check, eq, tls_context  # noqa: E402

MX_PORT = int(os.environ["MX_PORT"])
SUBMISSION_PORT = int(os.environ["SUBMISSION_PORT"])
IMAPS_PORT = int(os.environ["IMAPS_PORT"])
ALICE = "alice@example.test"
BOB = "bob@example.test"
STEPS = {}
# imaplib knows no MOVE (RFC 6851); it is sent like COPY.
imaplib.Commands.setdefault("MOVE", ("SELECTED",))


def step(f):
    STEPS[f.__name__] = f
    return f


def message(sender, subject, kib):
    body = ("quota filler line\r\n" * (kib * 1024 // 19 + 1)).encode()
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n" % (sender, ALICE, subject)).encode() + body


def mx():
    return smtplib.SMTP("127.0.0.1", MX_PORT, local_hostname="client.test", timeout=TIMEOUT)


def submission(user):
    c = smtplib.SMTP("127.0.0.1", SUBMISSION_PORT, local_hostname="client.test", timeout=TIMEOUT)
    c._host = HOSTNAME  # the certificate is checked for this name
    c.starttls(context=tls_context())
    c.login(user, PASSWORD)
    return c


def imaps(user):
    c = IMAP4_SSL("127.0.0.1", IMAPS_PORT, ssl_context=tls_context(), timeout=TIMEOUT)
    eq(c.login(user, PASSWORD)[0], "OK", "LOGIN")
    return c


@step
def fill():
    """Three 10 KiB messages fit alice's 40 KiB quota."""
    with mx() as c:
        for i in range(3):
            eq(c.sendmail("carol@remote.test", [ALICE], message("carol@remote.test", "fill %d" % i, 10)), {},
               "message %d" % i)


def refusal(error, send):
    """The exception `send()` raises, which must be an `error`."""
    try:
        send()
    except error as e:
        return e
    raise AssertionError("accepted: %s" % send)


@step
def data_552():
    """A 12 KiB message does not fit what is left: 552 5.2.2 after the data, nothing stored."""
    with mx() as c:
        e = refusal(smtplib.SMTPDataError,
                    lambda: c.sendmail("carol@remote.test", [ALICE], message("carol@remote.test", "too big", 12)))
        eq(e.smtp_code, 552, "reply to the data")
        check(e.smtp_error.startswith(b"5.2.2 Mailbox full"), "enhanced code", e.smtp_error)


@step
def split_mx():
    """To alice (full for it) and bob (room): accepted, stored for bob, reported to the sender."""
    with mx() as c:
        eq(c.sendmail("carol@remote.test", [ALICE, BOB], message("carol@remote.test", "split", 12)), {},
           "accepted for the recipient with room")


@step
def split_submission():
    """bob submits to alice (full for it) and himself: his copy and a failure report arrive."""
    with submission(BOB) as c:
        eq(c.sendmail(BOB, [ALICE, BOB], message(BOB, "from bob", 12)), {}, "accepted")


@step
def rcpt_452():
    """alice is at her quota: refused at RCPT with 452 4.2.2, bob still accepted."""
    with mx() as c:
        e = refusal(smtplib.SMTPRecipientsRefused,
                    lambda: c.sendmail("carol@remote.test", [ALICE], message("carol@remote.test", "small", 1)))
        code, text = e.recipients[ALICE]
        eq(code, 452, "RCPT reply")
        check(text.startswith(b"4.2.2 Mailbox full"), "enhanced code", text)
        refused = c.sendmail("carol@remote.test", [ALICE, BOB], message("carol@remote.test", "half", 1))
        eq(list(refused), [ALICE], "only alice refused")
        eq(refused[ALICE][0], 452, "alice's RCPT reply")
    with submission(BOB) as c:
        e = refusal(smtplib.SMTPRecipientsRefused, lambda: c.sendmail(BOB, [ALICE], message(BOB, "submitted", 1)))
        eq(e.recipients[ALICE][0], 452, "submission RCPT reply")


def storage(c, root='""'):
    typ, data = c.getquota(root)
    eq(typ, "OK", "GETQUOTA")
    m = re.fullmatch(rb'"" \(STORAGE (\d+) (\d+)\)', data[0])
    check(m, "QUOTA answer", data)
    return int(m.group(1)), int(m.group(2))


@step
def imap():
    """APPEND, COPY and MOVE against alice's 20 KiB quota; the RFC 9208 commands."""
    c = imaps(ALICE)
    typ, data = c.capability()
    caps = data[0].split()
    check(b"QUOTA" in caps and b"QUOTA=RES-STORAGE" in caps, "QUOTA capabilities", caps)
    typ, data = c.getquotaroot("INBOX")
    eq(typ, "OK", "GETQUOTAROOT")
    eq(data, [[b'INBOX ""'], [b'"" (STORAGE 0 20)']], "QUOTAROOT and QUOTA")
    eq(storage(c), (0, 20), "empty")
    eight = message(ALICE, "eight", 8)
    kib = lambda n: -(-n // 1024)  # STORAGE rounds usage up (RFC 9208 §5.1: units of 1024 octets)
    typ, data = c.append("INBOX", None, None, eight)
    eq(typ, "OK", "APPEND under the quota")
    check(b"APPENDUID" in data[0], "APPENDUID", data)
    eq(storage(c)[0], kib(len(eight)), "usage after APPEND")
    typ, data = c.append("INBOX", None, None, message(ALICE, "sixteen", 16))
    eq(typ, "NO", "APPEND over the quota")
    check(data[0].startswith(b"[OVERQUOTA]"), "OVERQUOTA", data)
    eq(storage(c)[0], kib(len(eight)), "nothing stored by the refused APPEND")
    eq(c.select("INBOX")[0], "OK", "SELECT")
    eq(c.copy("1", "Archive")[0], "OK", "COPY that fits")
    typ, data = c.copy("1", "Archive")
    eq(typ, "NO", "COPY over the quota")
    check(data[0].startswith(b"[OVERQUOTA]"), "OVERQUOTA on COPY", data)
    eq(storage(c)[0], kib(2 * len(eight)), "one copy stored")
    typ, data = c._simple_command("MOVE", "1", "Trash")
    eq(typ, "OK", "MOVE adds nothing, so it is never refused")
    eq(storage(c)[0], kib(2 * len(eight)), "usage after MOVE")
    typ, data = c.setquota('""', "(STORAGE 100000)")
    eq(typ, "NO", "SETQUOTA")
    typ, data = c.getquotaroot("Nonexistent")
    eq(typ, "NO", "GETQUOTAROOT of a missing mailbox")
    typ, data = c.getquota("other")
    eq(typ, "NO", "GETQUOTA of an unknown root")
    c.logout()
    # bob has no quota: no quota root (RFC 9208 §4.3.2), GETQUOTA "" fails.
    b = imaps(BOB)
    typ, data = b.getquotaroot("INBOX")
    eq(typ, "OK", "bob's GETQUOTAROOT")
    eq(data, [[b"INBOX"], [None]], "no root without a quota")
    eq(b.getquota('""')[0], "NO", "bob's GETQUOTA")
    b.logout()
    print("usage %d" % kib(2 * len(eight)))


@step
def imap_after_restart():
    c = imaps(ALICE)
    used, limit = storage(c)
    eq(limit, 20, "limit after the restart")
    print("usage %d" % used)
    c.logout()


if __name__ == "__main__":
    name = sys.argv[1]
    STEPS[name]()
    print("step %s passed" % name)
