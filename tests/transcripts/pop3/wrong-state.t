# RFC 1939 §3-§7 states: the TRANSACTION commands (STAT, LIST, UIDL, RETR, TOP, DELE, RSET,
# NOOP) are refused in the AUTHORIZATION state, and USER, PASS, AUTH (RFC 5034) and STLS
# (RFC 2595 §4) in the TRANSACTION state; CAPA and QUIT work in both. The error limit is raised
# so that the refusals do not end the session.
=config pop3.max_errors 50
S: +OK mailnook POP3 ready
C: STAT
S: -ERR Not allowed in this state
C: LIST
S: -ERR Not allowed in this state
C: UIDL
S: -ERR Not allowed in this state
C: RETR 1
S: -ERR Not allowed in this state
C: TOP 1 0
S: -ERR Not allowed in this state
C: DELE 1
S: -ERR Not allowed in this state
C: RSET
S: -ERR Not allowed in this state
C: NOOP
S: -ERR Not allowed in this state
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S: +OK Logged in, 0 messages (0 octets)
C: USER alice@example.test
S: -ERR Not allowed in this state
C: PASS correct-horse-9
S: -ERR Not allowed in this state
C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0LWhvcnNlLTk=
S: -ERR Not allowed in this state
C: STLS
S: -ERR Not allowed in this state
C: NOOP
S: +OK
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
