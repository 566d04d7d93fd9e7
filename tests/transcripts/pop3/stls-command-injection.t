# RFC 2595 §4 STLS and the STARTTLS command-injection class (CVE-2011-0411, RFC 3207 §6 for
# SMTP): commands sent after STLS in the same write are discarded, not run inside TLS. Only STLS
# is answered before the handshake; inside TLS the first answer is to the client's own CAPA (had
# the injected CAPA run, its list would come first), and PASS finds no USER (the injected USER
# was dropped).
S: +OK mailnook POP3 ready
C! "STLS\r\nCAPA\r\nUSER alice@example.test\r\n"
S: +OK Begin TLS negotiation
=tls
C: PASS correct-horse-9
S: -ERR USER first
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
C: QUIT
S: +OK Bye
=closed
