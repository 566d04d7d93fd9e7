# RFC 5321 §4.1.4 / §3.3: RCPT needs a MAIL first (503 5.5.1).
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
C: RCPT TO:<alice@example.test>
S: 503 5.5.1 Send MAIL first
C: QUIT
S: 221 2.0.0 Bye
=closed
