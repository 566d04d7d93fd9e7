# RFC 5321 §2.4: domains are case-insensitive, so <alice@EXAMPLE.TEST> and <ALICE@Example.Test>
# are alice. A trailing dot is not valid domain syntax (RFC 5321 §4.1.2 "Domain") and is never
# treated as ours: refused like any foreign domain, never relayed.
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
C: RCPT TO:<alice@example.test.>
S: 550 5.7.1 Relaying denied
C: RCPT TO:<alice@EXAMPLE.TEST>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: case
C:
C: upper-case domain
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<ALICE@Example.Test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: case 2
C:
C: upper-case local part
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 rcpt-domain-case-1.eml
=stored alice@example.test INBOX 2 rcpt-domain-case-2.eml
