# RFC 9051 §7.1.3: an unknown command or a syntax error is answered with BAD, tagged when the
# line starts with a valid tag, untagged otherwise; the session reads on.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 FROBNICATE
S: a1 BAD Command syntax error
C: a2 LOGIN
S: a2 BAD Command syntax error
C: a3 LOGIN onlyuser
S: a3 BAD Command syntax error
C: a4 NOOP extra
S: a4 BAD Command syntax error
C: a5
S: a5 BAD Command syntax error
C: 
S: * BAD Command syntax error
C: *
S: * BAD Command syntax error
C: ( NOOP
S: * BAD Command syntax error
C: a6 SELECT "unterminated
S: a6 BAD Command syntax error
C: a7 FETCH
S: a7 BAD Command syntax error
C: a8 noop
S: a8 OK NOOP completed
C: a9 LOGOUT
S: * BYE Logging out
S: a9 OK LOGOUT completed
=closed
