# RFC 5321 §3.5.3 and §7.3: VRFY reveals nothing about users: 252 for any name, 501 without one.
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
C: VRFY alice
S: 252 2.5.0 Cannot VRFY user; try RCPT
C: VRFY nobody@example.test
S: 252 2.5.0 Cannot VRFY user; try RCPT
C: VRFY
S: 501 5.5.4 Syntax error in parameters or arguments
C: QUIT
S: 221 2.0.0 Bye
=closed
