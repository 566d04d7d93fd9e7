# RFC 5321 §2.3.8: lines end with CRLF. A message with a bare LF anywhere (not only before a dot)
# is refused whole with 550 5.6.0 (the smuggling policy in src/proto/smtp/data.rs).
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
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C! "Subject: lf\r\n\r\nunix line\nend\r\n.\r\n"
S: 550 5.6.0 Message refused: lines must end with CRLF
C: MAIL FROM:<a@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C! "Subject: cr\r\n\r\nold mac line\rend\r\n.\r\n"
S: 550 5.6.0 Message refused: lines must end with CRLF
C: QUIT
S: 221 2.0.0 Bye
=closed
