# RFC 5321 §4.5.3.1.4: command lines may be 512 octets with CRLF; we allow up to 1000 with
# CRLF (smtp.max_line_bytes). 1000 octets pass; 1001 get 500 5.5.2, the line is discarded whole and
# the session goes on.
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
C! "NOOP "
C* 993 "a"
C! "\r\n"
S: 250 2.0.0 OK
C! "NOOP "
C* 994 "a"
C! "\r\n"
S: 500 5.5.2 Line too long
C: NOOP
S: 250 2.0.0 OK
C* 1000 "RCPT TO:<bob@example.test>"
C! "\r\n"
S: 500 5.5.2 Line too long
C: NOOP
S: 250 2.0.0 OK
C: QUIT
S: 221 2.0.0 Bye
=closed
