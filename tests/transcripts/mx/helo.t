# RFC 5321 §4.1.1.1: HELO gets a one-line 250 without extensions; service extension parameters
# (SIZE, BODY) are refused after HELO (RFC 5321 §2.2.1: extensions need EHLO); the transaction
# works as plain SMTP.
S: 220 mx.example.test ESMTP mailnook
C: HELO
S: 501 5.5.4 Syntax error in parameters or arguments
C: HELO client.test
S: 250 mx.example.test
C: MAIL FROM:<sender@remote.test> SIZE=100
S: 555 5.5.4 Unsupported parameter
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: helo
C:
C: plain SMTP
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 helo.eml
