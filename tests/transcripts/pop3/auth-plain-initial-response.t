# RFC 5034 §4 AUTH with an initial response (RFC 4616 PLAIN: authzid, authcid, password) logs
# in with one command line and no challenge.
S: +OK mailnook POP3 ready
C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0LWhvcnNlLTk=
S: +OK Logged in, 0 messages (0 octets)
C: STAT
S: +OK 0 0
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
