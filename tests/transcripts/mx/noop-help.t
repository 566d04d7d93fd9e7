# RFC 5321 §4.1.1.9 and §4.1.1.8: NOOP (with or without an argument) and HELP succeed in any
# state, also before EHLO and inside a transaction, without changing it.
S: 220 mx.example.test ESMTP mailnook
C: NOOP
S: 250 2.0.0 OK
C: HELP
S: 214 2.0.0 See RFC 5321
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
C: NOOP ignored argument
S: 250 2.0.0 OK
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: HELP DATA
S: 214 2.0.0 See RFC 5321
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: noop
C:
C: still one transaction
C: .
S~ 250 2\.0\.0 Ok: queued as [0-9a-f]{16}
C: QUIT
S: 221 2.0.0 Bye
=closed
=stored alice@example.test INBOX 1 noop-help.eml
