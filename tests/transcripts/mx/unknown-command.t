# RFC 5321 §4.2.4: an unrecognised command gets 500 5.5.1; the session goes on.
S: 220 mx.example.test ESMTP mailnook
C: XYZZY
S: 500 5.5.1 Command unrecognized
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250 STARTTLS
C: FROB nitz
S: 500 5.5.1 Command unrecognized
C: NOOP
S: 250 2.0.0 OK
C: QUIT
S: 221 2.0.0 Bye
=closed
