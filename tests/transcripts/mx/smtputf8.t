# RFC 6531 §3.4 / §3.5: a UTF-8 address needs the SMTPUTF8 parameter on MAIL; without it the
# address is refused with 553 5.6.7 (sender or recipient). With it, the message is delivered.
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
C: MAIL FROM:<jörg@remote.test>
S: 553 5.6.7 Non-ASCII address requires SMTPUTF8
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<jörg@example.test>
S: 553 5.6.7 Non-ASCII address requires SMTPUTF8
C: RSET
S: 250 2.0.0 OK
C: MAIL FROM:<jörg@remote.test> SMTPUTF8
S: 250 2.1.0 Sender ok
C: RCPT TO:<jörg@example.test>
S: 550 5.1.1 No such user here
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C! "Subject: gr\xc3\xbc\xc3\x9fe\r\nFrom: j\xc3\xb6rg@remote.test\r\n\r\n\xc3\x9cmlaut body\r\n"
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 smtputf8.eml
