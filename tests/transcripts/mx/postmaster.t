# RFC 5321 §4.5.1: <postmaster> (no domain, any case) and postmaster@ our domain are always
# accepted and reach the admin (alice). Named twice in one transaction, she gets one copy.
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
C: RCPT TO:<postmaster>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: to postmaster
C:
C: one
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<Postmaster@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: to Postmaster@
C:
C: two
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<POSTMASTER>
S: 250 2.1.5 Recipient ok
C: RCPT TO:<postmaster@EXAMPLE.TEST>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: to postmaster twice
C:
C: three
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 postmaster-1.eml
=stored alice@example.test INBOX 2 postmaster-2.eml
=stored alice@example.test INBOX 3 postmaster-3.eml
