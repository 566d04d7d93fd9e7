# RFC 1939 §6 and the error limit (pop3.max_errors): after that many protocol errors the server
# answers the last one, says "Too many errors" and closes; the command pipelined after it is not
# answered. A session that ends without QUIT does not enter the UPDATE state (§6), so the
# message marked with DELE is still stored.
=config pop3.max_errors 3
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
C: BOGUS
S: -ERR Unknown command
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 1 messages \((?:379|380) octets\)
C: DELE 1
S: +OK Marked to be deleted
C: USER alice@example.test
S: -ERR Not allowed in this state
C: NOOP
S: +OK
C: ALSO-BOGUS
S: -ERR Unknown command
S: -ERR Too many errors, closing
C: QUIT
=closed
=stored alice@example.test INBOX 1 short.eml
