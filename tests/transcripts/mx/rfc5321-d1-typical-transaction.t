# RFC 5321 Appendix D.1 "A Typical SMTP Transaction Scenario", adapted to our domain:
# Smith@bar.com sends to alice (Jones), green (unknown, 550 5.1.1) and bob (Brown).
# The line "...etc. etc. etc." is dot-stuffed on the wire and stored as "..etc. etc. etc.".
S: 220 mx.example.test ESMTP mailnook
C: EHLO bar.com
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250 STARTTLS
C: MAIL FROM:<Smith@bar.com>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: RCPT TO:<green@example.test>
S: 550 5.1.1 No such user here
C: RCPT TO:<bob@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Blah blah blah...
C: ...etc. etc. etc.
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 rfc5321-d1-typical-transaction.eml
=stored bob@example.test INBOX 1 rfc5321-d1-typical-transaction.eml
