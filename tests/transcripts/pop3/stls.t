# RFC 2595 §4 STLS: without TLS (plaintext logins not allowed) USER is refused; STLS starts the
# handshake; inside TLS CAPA lists USER and SASL PLAIN but no longer STLS (RFC 2595 §4: only in
# AUTHORIZATION before TLS), a second STLS is refused, and USER/PASS log in. STLS takes no
# argument (RFC 2595 §4): with one it is a syntax error and TLS does not start.
=config pop3.plaintext_loopback 0
S: +OK mailnook POP3 ready
C: USER alice@example.test
S: -ERR [AUTH] Plaintext authentication disallowed without TLS, use STLS
C: STLS now
S: -ERR Syntax error
C: STLS
S: +OK Begin TLS negotiation
=tls
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
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S: +OK Logged in, 0 messages (0 octets)
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
