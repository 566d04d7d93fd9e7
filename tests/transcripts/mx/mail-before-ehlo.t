# RFC 5321 §4.1.4: MAIL before EHLO/HELO is out of sequence (503 5.5.1); so are RCPT and DATA.
S: 220 mx.example.test ESMTP mailnook
C: MAIL FROM:<sender@remote.test>
S: 503 5.5.1 Send EHLO first
C: RCPT TO:<alice@example.test>
S: 503 5.5.1 Send MAIL first
C: DATA
S: 503 5.5.1 Send MAIL first
C: QUIT
S: 221 2.0.0 Bye
=closed
