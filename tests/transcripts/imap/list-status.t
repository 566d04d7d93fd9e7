# RFC 5819 LIST-STATUS: RETURN (STATUS (...)) adds a STATUS response after each selectable
# mailbox's LIST response (none for \Noselect ones), with RFC 8438 SIZE and RFC 7162
# HIGHESTMODSEQ among the items.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX (\Seen) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 CREATE Archive/2024
S: a4 OK CREATE completed
C: a5 LIST "" (INBOX Archive*) RETURN (STATUS (MESSAGES UNSEEN SIZE UIDNEXT HIGHESTMODSEQ))
S: * LIST (\HasChildren \Archive) "/" Archive
S: * STATUS Archive (MESSAGES 0 UNSEEN 0 SIZE 0 UIDNEXT 1 HIGHESTMODSEQ 1)
S: * LIST (\HasNoChildren) "/" Archive/2024
S: * STATUS Archive/2024 (MESSAGES 0 UNSEEN 0 SIZE 0 UIDNEXT 1 HIGHESTMODSEQ 1)
S: * LIST (\HasNoChildren) "/" INBOX
S: * STATUS INBOX (MESSAGES 2 UNSEEN 1 SIZE 332 UIDNEXT 3 HIGHESTMODSEQ 3)
S: a5 OK LIST completed
C: a6 LIST "" INBOX RETURN (CHILDREN STATUS (DELETED))
S: * LIST (\HasNoChildren) "/" INBOX
S: * STATUS INBOX (DELETED 0)
S: a6 OK LIST completed
C: a7 LIST "" INBOX RETURN (STATUS (BOGUS))
S: a7 BAD LIST syntax error
C: a8 LOGOUT
S: * BYE Logging out
S: a8 OK LOGOUT completed
=closed
