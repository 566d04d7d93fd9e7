# RFC 3030 §2: a BDAT that cannot be accepted still has its chunk read and discarded before the
# 503, so chunk bytes that look like commands ("RSET", "NOOP") are never executed.
S: 220 mx.example.test ESMTP mailnook
C: BDAT 12
C! "RSET\r\nNOOP\r\n"
S: 503 5.5.1 Send EHLO first
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250 STARTTLS
C: BDAT 12 LAST
C! "RSET\r\nNOOP\r\n"
S: 503 5.5.1 Send MAIL first
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<nobody@example.test>
S: 550 5.1.1 No such user here
C: BDAT 12 LAST
C! "RSET\r\nNOOP\r\n"
S: 554 5.5.1 No valid recipients
C: QUIT
S: 221 2.0.0 Bye
=closed
