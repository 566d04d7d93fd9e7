# ALPACA / cross-protocol attacks: an HTTP POST after EHLO (a browser form posting to port 25)
# closes the connection with 421.
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
C: POST /form HTTP/1.1
S: 421 4.7.0 HTTP is not spoken here, closing connection
=closed
