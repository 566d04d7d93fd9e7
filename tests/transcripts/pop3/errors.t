# RFC 1939 §3 and RFC 2449 §4: an unknown command (APOP too: not offered) and bad arguments are
# refused with -ERR and the session goes on; message numbers that are not numbers, 0 or beyond
# the maildrop are refused (RFC 1939 §5); extra or missing arguments are syntax errors. A
# command line may be 512 octets with its CRLF (RFC 2449 §4: at least 255; pop3.max_line_bytes)
# but not 513; a longer line is refused once and skipped whole. The error limit is raised so
# that the refusals do not end the session.
=config pop3.max_errors 50
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
C: BOGUS
S: -ERR Unknown command
C: APOP alice@example.test c4c9334bac560ecc979e58001b3e22fb
S: -ERR Unknown command
C: USER
S: -ERR Syntax error
C* 1 "USER "
C* 505 "a"
C: 
S: +OK
C* 1 "USER "
C* 506 "a"
C: 
S: -ERR Line too long
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 1 messages \((?:379|380) octets\)
C: RETR
S: -ERR Syntax error
C: RETR 0
S: -ERR Invalid message number
C: RETR x
S: -ERR Invalid message number
C: RETR -1
S: -ERR Invalid message number
C: RETR 2
S: -ERR No such message
C: RETR 1 1
S: -ERR Syntax error
C: LIST 1 2
S: -ERR Syntax error
C: DELE
S: -ERR Syntax error
C: DELE 2
S: -ERR No such message
C: STAT 1
S: -ERR Syntax error
C* 100 "bbbbbbbbbb"
C: 
S: -ERR Line too long
C: STAT
S~ \+OK 1 (?:379|380)
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
=stored alice@example.test INBOX 1 short.eml
