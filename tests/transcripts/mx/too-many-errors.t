# Error loops (STYLE.md known attacks): after smtp.max_errors (here 3) permanent errors the server
# answers 421 4.7.0 and closes. 4xx replies (452) do not count.
=config smtp.max_errors 3
=config smtp.max_recipients 1
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
C: MAIL FROM:<a@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: RCPT TO:<bob@example.test>
S: 452 4.5.3 Too many recipients
C: RCPT TO:<bob@example.test>
S: 452 4.5.3 Too many recipients
C: XYZZY
S: 500 5.5.1 Command unrecognized
C: MAIL FROM:<b@remote.test>
S: 503 5.5.1 Sender already given
C: VRFY
S: 501 5.5.4 Syntax error in parameters or arguments
S: 421 4.7.0 Too many errors, closing connection
=closed
