# RFC 5321 §4.1.4: a second MAIL inside a transaction is refused (503 5.5.1) and the first
# transaction goes on unchanged: the message is delivered with the first sender.
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
C: MAIL FROM:<first@remote.test>
S: 250 2.1.0 Sender ok
C: MAIL FROM:<second@remote.test>
S: 503 5.5.1 Sender already given
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: nested
C:
C: body
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 mail-nested.eml
