# RFC 5321 §4.5.5 / §3.6.3: the null reverse path <> is accepted (bounces); MAIL without angle
# brackets is a syntax error (501 5.5.4); unknown MAIL and RCPT parameters get
# 555 5.5.4 (RFC 5321 §4.1.1.11); BODY=8BITMIME (RFC 6152) is accepted.
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
C: MAIL FROM:sender@remote.test
S: 501 5.5.4 Syntax error in parameters or arguments
C: MAIL FROM:<sender@remote.test> FROB=1
S: 555 5.5.4 Unsupported parameter
C: MAIL FROM:<> BODY=8BITMIME
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test> NOTIFY=NEVER
S: 555 5.5.4 Unsupported parameter
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: bounce
C:
C: from the null sender
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 mail-null-sender-and-params.eml
