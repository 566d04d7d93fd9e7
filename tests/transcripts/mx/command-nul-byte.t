# RFC 5321 §4.1.1 / §2.4 (commands are US-ASCII text): a NUL byte in a command gets 500 5.5.2
# and the command is not run, whatever follows the NUL.
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
C! "MAIL FROM:<a@remote.test>\0\r\n"
S: 500 5.5.2 Invalid characters in command
C! "RCPT TO:<alice@example.test>\0 x\r\n"
S: 500 5.5.2 Invalid characters in command
C: RCPT TO:<alice@example.test>
S: 503 5.5.1 Send MAIL first
C: QUIT
S: 221 2.0.0 Bye
=closed
