# RFC 9051 §6.2.1 (CVE-2011-0411 class): bytes the client sent after STARTTLS in the same packet
# are discarded, not executed inside TLS. The injected LOGIN gets no answer and the session is
# still not authenticated after the handshake; a command pipelined after the TLS handshake works.
=config imap.plaintext_loopback 0
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS LOGINDISABLED] mailnook ready
C! "a1 STARTTLS\r\na2 LOGIN alice@example.test correct-horse-9\r\n"
S: a1 OK Begin TLS negotiation now
=tls
C: a3 SELECT INBOX
S: a3 BAD Log in first
C: a4 NOOP
S: a4 OK NOOP completed
C: a5 LOGOUT
S: * BYE Logging out
S: a5 OK LOGOUT completed
=closed
