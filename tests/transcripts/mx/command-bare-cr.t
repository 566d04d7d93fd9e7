# RFC 5321 §2.3.8: CR only as part of CRLF. A bare CR inside a command line (which a proxy might
# treat as a line end) gets 500 5.5.2; neither half runs.
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
C! "NOOP\rMAIL FROM:<a@remote.test>\r\n"
S: 500 5.5.2 Invalid characters in command
C: RCPT TO:<alice@example.test>
S: 503 5.5.1 Send MAIL first
C: QUIT
S: 221 2.0.0 Bye
=closed
