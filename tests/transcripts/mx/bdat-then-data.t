# RFC 3030 §2: DATA may not be used inside a transaction that began with BDAT (503 5.5.1); the
# chunks already received stay and the message is finished with BDAT 0 LAST.
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
C: BDAT 25
C! "Subject: mixed\r\n\r\nhello\r\n"
S: 250 2.0.0 25 octets received
C: DATA
S: 503 5.5.1 Bad sequence of commands
C: BDAT 0 LAST
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 bdat-then-data.eml
