# RFC 2449 §5 CAPA: before login (plaintext logins allowed on loopback) USER (§6.2), SASL PLAIN
# (§6.3) and STLS (RFC 2595 §4) are listed; after login they are gone (their commands belong to
# the AUTHORIZATION state). Also TOP (§6.1), UIDL (§6.8), RESP-CODES (§6.4), AUTH-RESP-CODE
# (RFC 3206), PIPELINING (§6.6), EXPIRE NEVER (§6.7: nothing is deleted by policy) and
# IMPLEMENTATION (§6.9).
# Commands are case-insensitive (RFC 1939 §3).
S: +OK mailnook POP3 ready
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: USER
S: SASL PLAIN
S: STLS
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: EXPIRE NEVER
S: IMPLEMENTATION mailnook
S: .
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S: +OK Logged in, 0 messages (0 octets)
C: capa
S: +OK Capability list follows
S: TOP
S: UIDL
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: EXPIRE NEVER
S: IMPLEMENTATION mailnook
S: .
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
