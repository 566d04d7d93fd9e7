# RFC 5321 §4.5.3.1.10: recipients beyond the limit (here 2) get 452 4.5.3, which is not an
# error count; the message goes to the accepted ones only.
=config smtp.max_recipients 2
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
C: RCPT TO:<bob@example.test>
S: 250 2.1.5 Recipient ok
C: RCPT TO:<postmaster@example.test>
S: 452 4.5.3 Too many recipients
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: two of three
C:
C: body
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 too-many-recipients.eml
=stored bob@example.test INBOX 1 too-many-recipients.eml
