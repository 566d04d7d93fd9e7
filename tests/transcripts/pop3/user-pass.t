# RFC 1939 §7 USER and PASS: PASS needs a USER first; USER is accepted for any name (no user
# enumeration), a wrong password or an unknown user fails with [AUTH] (RFC 3206 §4), after which
# USER is given again; the right password logs in and reports the maildrop (RFC 1939 §7 example:
# "maildrop has N messages (M octets)"). Commands are case-insensitive (RFC 1939 §3).
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
C: PASS correct-horse-9
S: -ERR USER first
C: USER nobody@example.test
S: +OK
C: PASS correct-horse-9
S: -ERR [AUTH] Authentication failed
C: USER alice@example.test
S: +OK
C: PASS wrong-password
S: -ERR [AUTH] Authentication failed
C: user alice@example.test
S: +OK
C: pass correct-horse-9
S~ \+OK Logged in, 1 messages \((?:379|380) octets\)
C: STAT
S~ \+OK 1 (?:379|380)
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
=stored alice@example.test INBOX 1 short.eml
