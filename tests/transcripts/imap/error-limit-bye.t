# RFC 9051 §7.1.5 BYE: after imap.max_errors protocol errors (BAD responses) the server ends the
# session with an untagged BYE and closes; pipelined commands after it are not answered.
=config imap.max_errors 3
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 NOOP
S: a1 OK NOOP completed
C: a2 BOGUS
S: a2 BAD Command syntax error
C: a3 SELECT INBOX
S: a3 BAD Log in first
C: a4 NOOP
S: a4 OK NOOP completed
C: a5 ALSO-BOGUS
S: a5 BAD Command syntax error
S: * BYE Too many errors
C: a6 NOOP
=closed
