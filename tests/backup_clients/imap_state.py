"""IMAP side of tests/backup.rs, with Python's imaplib over IMAPS.

`fill`: gives each user in USERS mailboxes, messages with flags and keywords, and a junk
judgement (a move into Junk). `dump`: prints, as JSON, every user's mailboxes with their
UIDVALIDITY and UIDNEXT and every message's UID, flags and bytes (SHA-256), for comparison.

Environment: IMAPS_PORT, CA, PASSWORD, USERS (comma-separated).
"""

import hashlib
import imaplib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clientlib import HOSTNAME, PASSWORD, TIMEOUT, check, tls_context  # noqa: E402

PORT = int(os.environ["IMAPS_PORT"])
USERS = os.environ["USERS"].split(",")


class IMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAPS to 127.0.0.1, verifying the certificate for HOSTNAME (the restored box must
    present the backed-up certificate)."""

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=HOSTNAME)


def connect(user):
    imap = IMAP4_SSL("127.0.0.1", PORT, ssl_context=tls_context(), timeout=TIMEOUT)
    imap.login(user, PASSWORD)
    return imap


def ok(result, what):
    typ, data = result
    check(typ == "OK", what, data)
    return data


def fill(user):
    imap = connect(user)
    for name in ["Work", "Work/2026", "Receipts"]:
        ok(imap.create(name), "CREATE " + name)
    for i in range(5):
        msg = ("From: f%d@example.net\r\nTo: %s\r\nSubject: work %d\r\n\r\nbody %d\r\n" % (i, user, i, i)).encode()
        flags = ["(\\Seen)", "(\\Flagged $Important)", "(\\Answered \\Seen project-x)", "()", "(\\Draft)"][i]
        ok(imap.append("Work", flags, None, msg), "APPEND Work")
    big = b"From: a@example.net\r\nSubject: big\r\n\r\n" + b"0123456789abcdef" * 9000 + b"\r\n"
    ok(imap.append("Work/2026", "(\\Seen)", None, big), "APPEND big")
    ok(imap.append("Receipts", "(receipt)", None, b"Subject: r\r\n\r\nr\r\n"), "APPEND Receipts")
    ok(imap.select("Work"), "SELECT Work")
    ok(imap.uid("STORE", "2", "+FLAGS", "(\\Deleted)"), "STORE")
    ok(imap.expunge(), "EXPUNGE")
    ok(imap.uid("STORE", "3", "+FLAGS", "(later)"), "STORE keyword")
    # A junk judgement: the spam filter learns from it.
    ok(imap.select("INBOX"), "SELECT INBOX")
    typ, data = imap.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    if uids:
        ok(imap.uid("MOVE", uids[0].decode(), "Junk"), "MOVE to Junk")
    imap.logout()


def dump(user):
    imap = connect(user)
    out = {}
    typ, boxes = imap.list()
    for line in boxes:
        name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
        typ, st = imap.status('"%s"' % name, "(UIDVALIDITY UIDNEXT MESSAGES)")
        check(typ == "OK", "STATUS", st)
        ok(imap.select('"%s"' % name, readonly=True), "EXAMINE " + name)
        msgs = {}
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, body = item
            meta = meta.decode()
            uid = int(meta.split("UID ", 1)[1].split()[0])
            flags = sorted(meta.split("FLAGS (", 1)[1].split(")", 1)[0].split())
            msgs[uid] = {"flags": flags, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        out[name] = {"status": st[0].decode().split("(", 1)[1], "messages": msgs}
    imap.logout()
    return out


if __name__ == "__main__":
    if sys.argv[1] == "fill":
        for u in USERS:
            fill(u)
    else:
        print(json.dumps({u: dump(u) for u in USERS}, sort_keys=True))
