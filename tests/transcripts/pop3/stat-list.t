# RFC 1939 §5 STAT and LIST: STAT gives the count and octets of the maildrop; LIST without an
# argument gives one scan listing per message then "."; LIST n gives one; a number beyond the
# maildrop or 0 is refused. Sizes include the trace header the MX prepends, whose date has a
# one- or two-digit day, hence two possible values each. Mail delivered after the login is not
# in the maildrop (RFC 1939 §4: the session works on the maildrop it locked at login).
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
=deliver alice@example.test dotted.eml
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 2 messages \((?:828|830) octets\)
=deliver alice@example.test short.eml
C: STAT
S~ \+OK 2 (?:828|830)
C: LIST
S~ \+OK 2 messages \((?:828|830) octets\)
S~ 1 (?:379|380)
S~ 2 (?:449|450)
S: .
C: LIST 1
S~ \+OK 1 (?:379|380)
C: list 2
S~ \+OK 2 (?:449|450)
C: LIST 3
S: -ERR No such message
C: LIST 0
S: -ERR Invalid message number
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
=stored alice@example.test INBOX 1 short.eml
=stored alice@example.test INBOX 2 dotted.eml
=stored alice@example.test INBOX 3 short.eml
