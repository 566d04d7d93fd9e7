# RFC 9051 §6.3.12: APPEND to a mailbox that does not exist is NO [TRYCREATE], before the message
# is read — no continuation request for a synchronising literal; a non-synchronising literal's
# data is skipped, so its lines are never taken for commands. After CREATE the APPEND works.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND Nowhere {166}
S: a2 NO [TRYCREATE] No such mailbox
C: a3 APPEND Nowhere {19+}
S: a3 NO [TRYCREATE] No such mailbox
C! "a4 DELETE INBOX\r\nxx\r\n"
C: a5 CREATE Nowhere
S: a5 OK CREATE completed
C: a6 APPEND Nowhere {166}
S: + Ready for literal data
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a6 OK \[APPENDUID \d+ 1\] APPEND completed
C: a7 STATUS Nowhere (MESSAGES UIDNEXT)
S: * STATUS Nowhere (MESSAGES 1 UIDNEXT 2)
S: a7 OK STATUS completed
C: a8 LOGOUT
S: * BYE Logging out
S: a8 OK LOGOUT completed
=closed
=stored alice@example.test Nowhere 1 append.eml
