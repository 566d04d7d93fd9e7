# RFC 2449 §5 CAPA and RFC 2595 §4: without TLS, when plaintext logins are not allowed even on
# loopback, CAPA lists STLS but neither USER nor SASL PLAIN, and USER and AUTH are refused with
# the [AUTH] response code (RFC 3206 §4) pointing to STLS.
=config pop3.plaintext_loopback 0
S: +OK mailnook POP3 ready
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: STLS
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: EXPIRE NEVER
S: IMPLEMENTATION mailnook
S: .
C: USER alice@example.test
S: -ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS
C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0LWhvcnNlLTk=
S: -ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS
C: AUTH PLAIN
S: -ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS
C: QUIT
S: +OK Bye
=closed
