# RFC 3030 §2 / RFC 1870: a chunk that takes the message over the limit (here 1024 octets) is read
# and discarded, the transaction fails with 552 5.3.4, and a BDAT sent after it (pipelined) is read
# and refused 503; so is a second message whose size goes over only with its last chunk.
=config smtp.max_message_bytes 1024
S: 220 mx.example.test ESMTP mailnook
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 1024
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250 STARTTLS
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: BDAT 2000
C* 2000 "y"
S: 552 5.3.4 Message size exceeds fixed limit
C: BDAT 6 LAST
C! "late\r\n"
S: 503 5.5.1 Send MAIL first
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: BDAT 1000
C* 1000 "x"
S: 250 2.0.0 1000 octets received
C: BDAT 100 LAST
C* 100 "z"
S: 552 5.3.4 Message size exceeds fixed limit
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: BDAT 24 LAST
C! "Subject: small\r\n\r\nfits\r\n"
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 data-too-big.eml
