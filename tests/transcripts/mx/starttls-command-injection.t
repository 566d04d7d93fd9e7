# CVE-2011-0411 (RFC 3207 §6): commands pipelined after STARTTLS in the same packet must be
# discarded, not run inside TLS. Had the injected MAIL run, the first reply inside TLS would be
# its 503 and the later MAIL would be "nested"; instead the EHLO reply comes first.
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
C! "STARTTLS\r\nMAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@example.test>\r\n"
S: 220 2.0.0 Ready to start TLS
=tls
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250 CHUNKING
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: after injection
C:
C: clean
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 starttls-command-injection.eml
