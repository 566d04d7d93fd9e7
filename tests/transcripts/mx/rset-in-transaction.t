# RFC 5321 §4.1.1.5: RSET discards sender and recipients; the next transaction starts clean, so
# only bob (named after the RSET) gets the message. RSET takes no arguments.
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
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: RSET now
S: 501 5.5.4 This command takes no arguments
C: RSET
S: 250 2.0.0 OK
C: RCPT TO:<bob@example.test>
S: 503 5.5.1 Send MAIL first
C: MAIL FROM:<second@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<bob@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: after rset
C:
C: for bob only
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored bob@example.test INBOX 1 rset-in-transaction.eml
