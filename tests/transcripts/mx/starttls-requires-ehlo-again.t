# RFC 3207 §4.2: after the handshake the server forgets everything learnt before it (HELO name,
# a transaction begun in plaintext); MAIL before a new EHLO gets 503.
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
C: MAIL FROM:<plain@remote.test>
S: 250 2.1.0 Sender ok
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
=tls
C: MAIL FROM:<sender@remote.test>
S: 503 5.5.1 Send EHLO first
C: RCPT TO:<alice@example.test>
S: 503 5.5.1 Send MAIL first
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250 CHUNKING
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: QUIT
S: 221 2.0.0 Bye
=closed
