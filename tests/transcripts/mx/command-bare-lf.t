# RFC 5321 §2.3.8: command lines end with CRLF. A line ended by a bare LF is refused with
# 500 5.5.2 instead of being run, so a CRLF-only proxy in front can never see different commands
# than we do; a CRLF line after it is served normally.
S: 220 mx.example.test ESMTP mailnook
C! "EHLO client.test\nNOOP\n"
S: 500 5.5.2 Line must end with CRLF
S: 500 5.5.2 Line must end with CRLF
C: MAIL FROM:<a@remote.test>
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
C: QUIT
S: 221 2.0.0 Bye
=closed
