# RFC 9051 §6.2.1: STARTTLS takes no arguments; with one it is a syntax error and no handshake
# starts.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 STARTTLS now
S: a1 BAD Command syntax error
C: a2 NOOP
S: a2 OK NOOP completed
C: a3 LOGOUT
S: * BYE Logging out
S: a3 OK LOGOUT completed
=closed
