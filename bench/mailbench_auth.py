#!/usr/bin/env python3
"""mailbench.py with submission traffic that a strict submission server accepts.

With --smtp-auth, mailbench (../shared/bench/mailbench.py) logs each SMTP
connection in as the recipient of its first message, but then sends every
message with MAIL FROM = that message's recipient (so from the second message
on a connection, MAIL FROM differs from the login) and with the header
`From: "Sender N" <senderN@example.org>`. Postfix's submission port in the peer
stack accepts that (no reject_sender_login_mismatch); mailnook's does not (the
envelope sender and every From: address must be the logged-in user's own).

This wrapper changes only that, identically for every target: on a connection
logged in as user U, every message goes out with MAIL FROM:<U> and the header
`From: <U>`. Everything else is mailbench unchanged; arguments are passed
through, e.g.

  MAILBENCH=../shared/bench/mailbench.py bench/mailbench_auth.py compare --smtp-auth ...

(--smtp-auth inside each --a/--b target string).
"""
import importlib.util
import os
import re
import sys

path = os.environ.get("MAILBENCH") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "mailbench.py")
spec = importlib.util.spec_from_file_location("mailbench", path)
mb = importlib.util.module_from_spec(spec)
sys.modules["mailbench"] = mb
spec.loader.exec_module(mb)

FROM_RE = re.compile(rb"^From:[^\r\n]*", re.M)
_orig_open = mb.Target.smtp_open


def smtp_open(self, lat, auth_n=None):
    s = _orig_open(self, lat, auth_n)
    if self.smtp_auth:
        login = self.user(auth_n or self.user_start)
        hdr = b"From: <" + login.encode() + b">"
        send = s.sendmail

        def sendmail(from_addr, to_addrs, msg, *a, **kw):
            if isinstance(msg, str):
                msg = msg.encode()
            head, sep, body = msg.partition(b"\r\n\r\n")
            return send(login, to_addrs, FROM_RE.sub(hdr, head, count=1) + sep + body, *a, **kw)

        s.sendmail = sendmail
    return s


mb.Target.smtp_open = smtp_open

if __name__ == "__main__":
    sys.exit(mb.main())
