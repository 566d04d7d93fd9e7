# RFC 5321 §3.3: DATA without MAIL is out of sequence (503); DATA after MAIL but without an
# accepted recipient gets 554 "no valid recipients" and nothing is read as message data.
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
C: DATA
S: 503 5.5.1 Send MAIL first
C: MAIL FROM:<sender@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<nobody@example.test>
S: 550 5.1.1 No such user here
C: DATA
S: 554 5.5.1 No valid recipients
C: NOOP
S: 250 2.0.0 OK
C: QUIT
S: 221 2.0.0 Bye
=closed
