# RFC 5034 POP3 AUTH with RFC 4616 PLAIN: AUTH without a mechanism lists the mechanisms
# (the pre-RFC convention clients still use); an unknown mechanism is refused; AUTH PLAIN
# without an initial response gets the empty "+ " challenge (§4), "*" cancels (§4), malformed
# base64 fails, a wrong password fails with [AUTH] (RFC 3206), "=" is an empty initial response
# (§4, malformed for PLAIN); finally a login through the challenge.
S: +OK mailnook POP3 ready
C: AUTH
S: +OK
S: PLAIN
S: .
C: AUTH CRAM-MD5
S: -ERR Unsupported authentication mechanism
C: AUTH PLAIN
S: + 
C: *
S: -ERR Authentication cancelled
C: AUTH PLAIN
S: + 
C: %%%not-base64%%%
S: -ERR Malformed PLAIN response
C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==
S: -ERR [AUTH] Authentication failed
C: AUTH PLAIN =
S: -ERR Malformed PLAIN response
C: auth plain
S: + 
C: AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0LWhvcnNlLTk=
S: +OK Logged in, 0 messages (0 octets)
C: STAT
S: +OK 0 0
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
