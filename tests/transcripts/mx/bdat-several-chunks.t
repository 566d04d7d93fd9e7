# RFC 3030 §2 and §4.2: chunks are acknowledged with the octet count so far and concatenated
# verbatim: leading dots and a lone "." line inside a chunk are message data, not an end mark.
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
C: BDAT 17
C! "Subject: chunks\r\n"
S: 250 2.0.0 17 octets received
C: BDAT 13
C! "\r\n.line one\r\n"
S: 250 2.0.0 30 octets received
C: BDAT 8 LAST
C! ".\r\nend\r\n"
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 bdat-several-chunks.eml
