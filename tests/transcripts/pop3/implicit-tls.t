# RFC 8314 §3.3 implicit TLS (POP3S, port 995): TLS starts before the greeting; CAPA offers
# USER and SASL PLAIN even with plaintext logins disallowed, and no STLS, which is refused
# (RFC 2595 §4); AUTH PLAIN logs in.
=implicit-tls
=config pop3.plaintext_loopback 0
S: +OK mailnook POP3 ready
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: USER
S: SASL PLAIN
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: EXPIRE NEVER
S: IMPLEMENTATION mailnook
S: .
C: STLS
S: -ERR STLS not available
C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0LWhvcnNlLTk=
S: +OK Logged in, 0 messages (0 octets)
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
