# RFC 9051 §4 (no line length limit, but a server may refuse): a command line longer than
# imap.max_command_bytes is answered with BAD once it passes the limit, the rest of the line is
# skipped unread, and the next line is a command again.
=config imap.max_command_bytes 1024
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C* 1 "a1 LOGIN "
C* 150 "aaaaaaaaaa"
S: a1 BAD Command too long
C: 
C: a2 NOOP
S: a2 OK NOOP completed
C* 150 "bbbbbbbbbb"
S: * BAD Command too long
C: 
C: a3 LOGOUT
S: * BYE Logging out
S: a3 OK LOGOUT completed
=closed
