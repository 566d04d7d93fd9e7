"""What the Python client scenarios share (tests/imap_clients/lib.py, tests/pop3_clients/lib.py):
the server's certificate and password from the environment, and assertions that say what failed.

The Rust test starts the real server and passes CA (its self-signed certificate, trusted and
verified, host name included), HOSTNAME_TLS and PASSWORD in the environment.
"""

import imaplib
import os
import ssl

CA = os.environ["CA"]
HOSTNAME = os.environ.get("HOSTNAME_TLS", "mx.example.test")
PASSWORD = os.environ["PASSWORD"]
TIMEOUT = 20


def check(cond, what, *context):
    """Fails the scenario with `what` and the context values."""
    if not cond:
        raise AssertionError(what + "".join("\n  " + repr(c) for c in context))


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


def tls_context():
    """Verifies the server certificate against CA, host name included."""
    ctx = ssl.create_default_context(cafile=CA)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class IMAP4_SSL(imaplib.IMAP4_SSL):
    """imaplib's IMAP4_SSL to 127.0.0.1 that verifies the certificate for HOSTNAME."""

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=HOSTNAME)
