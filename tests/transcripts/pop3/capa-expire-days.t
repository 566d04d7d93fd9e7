# RFC 2449 §6.7 EXPIRE: with a leave-on-server policy (pop3.expire_days) CAPA announces the
# number of days instead of NEVER.
=config pop3.expire_days 30
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
S: EXPIRE 30
S: IMPLEMENTATION mailnook
S: .
C: QUIT
S: +OK Bye
=closed
