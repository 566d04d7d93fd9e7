# SMTP smuggling via BDAT: a chunk with a bare LF is refused whole with 550 5.6.0 at LAST, like
# DATA (the same CRLF rule on both paths, so a relay behind us cannot split it differently).
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
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: BDAT 50 LAST
C! "Subject: bare\r\n\r\nline\nMAIL FROM:<evil@evil.test>\r\n"
S: 550 5.6.0 Message refused: lines must end with CRLF
C: NOOP
S: 250 2.0.0 OK
C: QUIT
S: 221 2.0.0 Bye
=closed
