# RFC 3030 §3: "BDAT" chunk-size is 1*DIGIT; a size that is missing, not a number or too large
# to represent is a syntax error (501) and no chunk is read, so the next line is a command again.
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
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: BDAT
S: 501 5.5.4 Syntax error in parameters or arguments
C: BDAT ten LAST
S: 501 5.5.4 Syntax error in parameters or arguments
C: BDAT 99999999999999999999999 LAST
S: 501 5.5.4 Syntax error in parameters or arguments
C: BDAT 5 FIRST
S: 501 5.5.4 Syntax error in parameters or arguments
C: NOOP
S: 250 2.0.0 OK
C: QUIT
S: 221 2.0.0 Bye
=closed
