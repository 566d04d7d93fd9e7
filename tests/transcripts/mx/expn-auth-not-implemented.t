# RFC 5321 §3.5.3 / §7.3: EXPN is not implemented (502 5.5.1). AUTH belongs to submission and is
# not advertised on the MX port, so it is 502 here too, as is ETRN (RFC 1985).
S: 220 mx.example.test ESMTP mailnook
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250 STARTTLS
C: EXPN staff
S: 502 5.5.1 Command not implemented
C: AUTH PLAIN AGFsaWNlAGNvcnJlY3QtaG9yc2UtOQ==
S: 502 5.5.1 Command not implemented
C: ETRN example.test
S: 502 5.5.1 Command not implemented
C: QUIT
S: 221 2.0.0 Bye
=closed
