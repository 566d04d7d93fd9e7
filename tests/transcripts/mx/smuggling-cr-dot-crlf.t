# SMTP smuggling (CVE-2023-51764/51765/51766, SEC Consult 2023): only CRLF.CRLF ends DATA
# (RFC 5321 §4.1.1.4). "<CR>.<CR><LF>" before a smuggled MAIL/RCPT/DATA must not end the message:
# the whole message is read to the real end and refused with 550 5.6.0; the smuggled
# commands are never executed (bob gets nothing) and the session is still in step (NOOP).
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
C: MAIL FROM:<a@remote.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<alice@example.test>
S: 250 2.1.5 Recipient ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C! "From: a@remote.test\r\nSubject: smuggle\r\n\r\nhello\r.\r\nMAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n"
S: 550 5.6.0 Message refused: lines must end with CRLF
C: NOOP
S: 250 2.0.0 OK
C: QUIT
S: 221 2.0.0 Bye
=closed
