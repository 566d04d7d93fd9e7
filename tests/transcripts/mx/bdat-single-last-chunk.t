# RFC 3030 §2: a message sent as one BDAT ... LAST chunk; the chunk is exactly the counted octets
# (no dot-stuffing, no end mark) and the reply to the LAST chunk is the delivery reply.
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
C: BDAT 29 LAST
C! "Subject: chunk\r\n\r\none chunk\r\n"
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 bdat-single-last-chunk.eml
