# RFC 1939 §6 UPDATE state: QUIT in the TRANSACTION state removes the messages marked with DELE
# and says how many; the runner checks afterwards that only the unmarked message is still
# stored (the one delivered second is now the first).
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
=deliver alice@example.test dotted.eml
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 2 messages \((?:828|830) octets\)
C: DELE 1
S: +OK Marked to be deleted
C: QUIT
S: +OK Bye, 1 messages deleted
=closed
=stored alice@example.test INBOX 1 dotted.eml
