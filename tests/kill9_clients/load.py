"""The IMAP and submission load of tests/kill9.rs, with Python's imaplib and smtplib.

The Rust test kills the server under these clients and then compares what the store holds with
what they were told. Each client prints one line per event, flushed before it goes on:
`...-begin` just before a command is sent, `...-ok` once its tagged OK (IMAP) or 250 (SMTP)
has been read. A command with a `-begin` and no `-ok` was in flight when the server died. The
client stops at the first failure; `end REASON` is its last line. A refusal (NO, BAD, a 4xx or
5xx reply) is printed as `refused ...`: the test fails on it, since a live server never refuses
this load.

Modes (environment: CA, PASSWORD, IMAPS_PORT, SUBMISSION_PORT):
  imap USER MAILBOX SEED PREFIX    APPEND, STORE +FLAGS/-FLAGS, UID EXPUNGE and EXPUNGE on
                                   MAILBOX, the only writer of that mailbox
      append-begin TAG SIZE FLAGS   append-ok TAG UID
      store-begin UID +|- FLAGS     store-ok UID
      xuid-begin UID                xuid-ok UID        (UID EXPUNGE of one \\Deleted message)
      xall-begin                    xall-ok            (EXPUNGE: every \\Deleted message)
  submit USER RCPT SEED PREFIX     submissions over STARTTLS with AUTH, one per transaction
      submit-begin TAG              submit-ok TAG
  create USER MAILBOX              CREATE (once, before the load)
  status USER MAILBOX...           prints `status USER MAILBOX UIDVALIDITY UIDNEXT` per mailbox
  prune USER MAILBOX UID...        flags the messages \\Deleted and UID EXPUNGEs them (between
                                   rounds, to keep the store small over a long run)

FLAGS are letters: S \\Seen, A \\Answered, F \\Flagged, D \\Deleted, T \\Draft (the letters of
`mailnook mail list`); `-` for none. A message's bytes are `message(TAG, SIZE)` below, which
the Rust test rebuilds to compare byte for byte.
"""

import imaplib
import os
import random
import re
import smtplib
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clientlib import IMAP4_SSL, PASSWORD, TIMEOUT, tls_context  # noqa: E402

IMAPS_PORT = int(os.environ.get("IMAPS_PORT", "0"))
SUBMISSION_PORT = int(os.environ.get("SUBMISSION_PORT", "0"))
NAMES = {"S": "\\Seen", "A": "\\Answered", "F": "\\Flagged", "D": "\\Deleted", "T": "\\Draft"}
# Flags the random STORE commands change; \Deleted is set only on the way to an expunge.
FREE = "SAFT"


class Refused(Exception):
    """The server answered, but not with OK / 250."""


def event(*words):
    print(*words, flush=True)


def message(tag, size):
    """A message named `tag`, at least `size` bytes (Rust: `load_message` in tests/kill9.rs)."""
    out = (
        "From: Load <load@client.test>\r\nTo: load@example.test\r\n"
        "Message-ID: <%s@client.test>\r\nSubject: %s\r\n\r\n" % (tag, tag)
    )
    lines = [out]
    n, total = 0, len(out)
    while total < size:
        line = "%s %06d %s\r\n" % (tag, n, "abcdefghijklmnopqrstuvwxyz"[n % 26] * 60)
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines).encode()


def imap_names(letters):
    return "(" + " ".join(NAMES[c] for c in letters) + ")"


def ok(typ, data, what):
    if typ != "OK":
        raise Refused("%s: %s %r" % (what, typ, data))
    return data


def login(user):
    c = IMAP4_SSL("127.0.0.1", IMAPS_PORT, ssl_context=tls_context(), timeout=TIMEOUT)
    ok(*c.login(user, PASSWORD), "LOGIN")
    return c


def imap_load(user, mailbox, rng, prefix):
    c = login(user)
    ok(*c.select(mailbox), "SELECT")
    # Messages left with \Deleted by an expunge the last kill interrupted are not picked again;
    # the next EXPUNGE takes them.
    data = ok(*c.uid("SEARCH", "UNDELETED"), "UID SEARCH")
    uids = [int(u) for u in data[0].split()]
    for n in range(1_000_000):
        r = rng.random()
        if r < 0.45 or not uids:
            tag = "%s-%d" % (prefix, n)
            size = rng.choice([700, 3_000, 20_000, 140_000])
            flags = "".join(f for f in FREE if rng.random() < 0.3)
            body = message(tag, size)
            event("append-begin", tag, size, flags or "-")
            data = ok(*c.append(mailbox, imap_names(flags) if flags else None, None, body), "APPEND")
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            if not m:
                raise Refused("APPEND without APPENDUID: %r" % data)
            uid = int(m.group(1))
            event("append-ok", tag, uid)
            uids.append(uid)
        elif r < 0.8:
            uid = rng.choice(uids)
            sign = rng.choice("+-")
            flags = "".join(f for f in FREE if rng.random() < 0.5) or rng.choice(FREE)
            event("store-begin", uid, sign, flags)
            ok(*c.uid("STORE", str(uid), sign + "FLAGS", imap_names(flags)), "UID STORE")
            event("store-ok", uid)
        else:
            uid = rng.choice(uids)
            event("store-begin", uid, "+", "D")
            ok(*c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
            event("store-ok", uid)
            uids.remove(uid)
            if rng.random() < 0.5:
                event("xuid-begin", uid)
                ok(*c.uid("EXPUNGE", str(uid)), "UID EXPUNGE")
                event("xuid-ok", uid)
            else:
                event("xall-begin")
                ok(*c.expunge(), "EXPUNGE")
                event("xall-ok")


def submit_load(user, rcpt, rng, prefix):
    c = smtplib.SMTP("127.0.0.1", SUBMISSION_PORT, local_hostname="client.test", timeout=TIMEOUT)
    c.starttls(context=ssl._create_unverified_context())
    c.login(user, PASSWORD)
    for n in range(1_000_000):
        tag = "%s-%d" % (prefix, n)
        # Submission takes only mail from the authenticated user's own address.
        body = message(tag, rng.choice([500, 5_000, 70_000])).replace(
            b"From: Load <load@client.test>", b"From: <" + user.encode() + b">", 1
        )
        event("submit-begin", tag)
        try:
            refused = c.sendmail(user, [rcpt], body)
        except smtplib.SMTPResponseException as e:
            raise Refused("%s: %d %r" % (tag, e.smtp_code, e.smtp_error))
        if refused:
            raise Refused("%s: %r" % (tag, refused))
        event("submit-ok", tag)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "create":
        c = login(args[0])
        ok(*c.create(args[1]), "CREATE")
        c.logout()
        return
    if mode == "status":
        c = login(args[0])
        for mb in args[1:]:
            data = ok(*c.status(mb, "(UIDVALIDITY UIDNEXT)"), "STATUS")
            v = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1).decode()
            n = re.search(rb"UIDNEXT (\d+)", data[0]).group(1).decode()
            event("status", args[0], mb, v, n)
        c.logout()
        return
    if mode == "prune":
        c = login(args[0])
        ok(*c.select(args[1]), "SELECT")
        uids = ",".join(args[2:])
        ok(*c.uid("STORE", uids, "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
        ok(*c.uid("EXPUNGE", uids), "UID EXPUNGE")
        c.logout()
        return
    user, target, seed, prefix = args
    rng = random.Random(seed)
    try:
        if mode == "imap":
            imap_load(user, target, rng, prefix)
        elif mode == "submit":
            submit_load(user, target, rng, prefix)
        else:
            raise SystemExit("unknown mode " + mode)
    except (OSError, EOFError, imaplib.IMAP4.abort, smtplib.SMTPServerDisconnected) as e:
        # The server died under the client: the end of every round.
        event("end", type(e).__name__)
    except (Refused, imaplib.IMAP4.error, smtplib.SMTPException) as e:
        event("refused", type(e).__name__, str(e).replace("\n", " "))
        event("end", "refused")


if __name__ == "__main__":
    main()
