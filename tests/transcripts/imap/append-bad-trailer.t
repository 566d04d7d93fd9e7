# RFC 9051 §6.3.12: after the message literal the APPEND command ends with CRLF; MULTIAPPEND
# (RFC 3502) is not offered, so anything else there is BAD and nothing is stored. A second
# literal announced after the message is skipped when non-synchronising.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX {5+}
C! "hello junk\r\n"
S: a3 BAD Unexpected data after the message
C: a4 APPEND INBOX {5+}
C! "hello {11+}\r\na6 LOGOUT\r\n\r\n"
S: a4 BAD Unexpected data after the message
C: a7 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 1)
S: a7 OK STATUS completed
C: a8 LOGOUT
S: * BYE Logging out
S: a8 OK LOGOUT completed
=closed
