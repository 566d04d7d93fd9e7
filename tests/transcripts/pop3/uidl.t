# RFC 1939 §7 UIDL: unique ids are 8 hex digits of the IMAP UID then 8 of INBOX's UIDVALIDITY
# (Dovecot's %08Xu%08Xv; the UIDVALIDITY differs per account, so it is matched by a pattern);
# UIDL without an argument lists messages not marked deleted, UIDL n of a deleted message or
# beyond the maildrop is refused. QUIT then deletes message 1 (RFC 1939 §6).
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
=deliver alice@example.test dotted.eml
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 2 messages \((?:828|830) octets\)
C: UIDL
S: +OK
S~ 1 00000001[0-9A-F]{8}
S~ 2 00000002[0-9A-F]{8}
S: .
C: UIDL 2
S~ \+OK 2 00000002[0-9A-F]{8}
C: UIDL 3
S: -ERR No such message
C: UIDL 0
S: -ERR Invalid message number
C: DELE 1
S: +OK Marked to be deleted
C: UIDL
S: +OK
S~ 2 00000002[0-9A-F]{8}
S: .
C: UIDL 1
S: -ERR Message is deleted
C: QUIT
S: +OK Bye, 1 messages deleted
=closed
=stored alice@example.test INBOX 1 dotted.eml
