# RFC 1870 §6.1: a MAIL whose SIZE exceeds the fixed limit gets 552 5.3.4 and no transaction
# starts, also for a SIZE too large for 64 bits (smtp-proto would wrap it to a small number);
# a SIZE equal to the limit is accepted.
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
C: MAIL FROM:<sender@remote.test> SIZE=52428801
S: 552 5.3.4 Message size exceeds fixed limit
C: MAIL FROM:<sender@remote.test> SIZE=99999999999999999999999
S: 552 5.3.4 Message size exceeds fixed limit
C: RCPT TO:<alice@example.test>
S: 503 5.5.1 Send MAIL first
C: MAIL FROM:<sender@remote.test> SIZE=52428800
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: size
C:
C: small enough
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 size-declared-too-big.eml
