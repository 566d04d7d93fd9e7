# RFC 1939 §5 DELE and RSET: DELE marks a message; marked messages leave STAT and LIST, and
# LIST, RETR, TOP, DELE and UIDL of one are refused; RSET unmarks them all; QUIT then deletes
# nothing (the runner checks both messages are still stored). Sizes include the MX's trace
# header (one- or two-digit day in its date).
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
=deliver alice@example.test dotted.eml
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 2 messages \((?:828|830) octets\)
C: DELE 1
S: +OK Marked to be deleted
C: STAT
S~ \+OK 1 (?:449|450)
C: LIST
S~ \+OK 1 messages \((?:449|450) octets\)
S~ 2 (?:449|450)
S: .
C: LIST 1
S: -ERR Message is deleted
C: RETR 1
S: -ERR Message is deleted
C: TOP 1 0
S: -ERR Message is deleted
C: DELE 1
S: -ERR Message is deleted
C: dele 2
S: +OK Marked to be deleted
C: STAT
S: +OK 0 0
C: LIST
S: +OK 0 messages (0 octets)
S: .
C: RSET
S: +OK
C: STAT
S~ \+OK 2 (?:828|830)
C: LIST 1
S~ \+OK 1 (?:379|380)
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
=stored alice@example.test INBOX 1 short.eml
=stored alice@example.test INBOX 2 dotted.eml
