# RFC 3030 §2: "BDAT 0 LAST" ends a message whose data came in earlier chunks, and a message may
# consist of "BDAT 0 LAST" alone (an empty message).
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
C: BDAT 23
C! "Subject: zero\r\n\r\nbody\r\n"
S: 250 2.0.0 23 octets received
C: BDAT 0 LAST
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<bob@example.test>
S: 250 2.1.5 Recipient ok
C: BDAT 0 LAST
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 bdat-zero-last.eml
=stored bob@example.test INBOX 1 empty-message.eml
