# RFC 9051 §6.3.4 CREATE, §6.3.5 DELETE, §6.3.6 RENAME with RFC 5530 response codes: creating
# an existing name is NO [ALREADYEXISTS], INBOX can neither be created nor deleted, a trailing
# delimiter is dropped and missing superiors are implied, deleting or renaming what does not
# exist is NO [NONEXISTENT], renaming INBOX moves its messages to the new mailbox and leaves
# INBOX empty (§6.3.6), and renaming a mailbox renames its inferiors.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE Projects/2024/
S: a2 OK CREATE completed
C: a3 CREATE Projects/2024
S: a3 NO [ALREADYEXISTS] Mailbox already exists
C: a4 CREATE INBOX
S: a4 NO [ALREADYEXISTS] INBOX always exists
C: a5 CREATE inbox
S: a5 NO [ALREADYEXISTS] INBOX always exists
C: a6 LIST "" Projects*
S: * LIST (\HasChildren) "/" Projects
S: * LIST (\HasNoChildren) "/" Projects/2024
S: a6 OK LIST completed
C: a7 RENAME Projects Work
S: a7 OK RENAME completed
C: a8 LIST "" *o*
S: * LIST (\HasChildren) "/" Work
S: * LIST (\HasNoChildren) "/" Work/2024
S: a8 OK LIST completed
C: a9 RENAME Nothing Other
S: a9 NO [NONEXISTENT] No such mailbox
C: b1 RENAME Work Sent
S: b1 NO [ALREADYEXISTS] Mailbox already exists
C: b2 DELETE Nothing
S: b2 NO [NONEXISTENT] No such mailbox
C: b3 DELETE INBOX
S: b3 NO [CANNOT] INBOX cannot be deleted
C: b4 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ b4 OK \[APPENDUID \d+ 1\] APPEND completed
C: b5 RENAME INBOX Old-Inbox
S: b5 OK RENAME completed
C: b6 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 0)
S: b6 OK STATUS completed
C: b7 STATUS Old-Inbox (MESSAGES)
S: * STATUS Old-Inbox (MESSAGES 1)
S: b7 OK STATUS completed
C: b8 DELETE Work/2024
S: b8 OK DELETE completed
C: b9 DELETE Work
S: b9 OK DELETE completed
C: c1 LIST "" Work*
S: c1 OK LIST completed
C: c2 CREATE ""
S: c2 NO [CANNOT] Invalid mailbox name
C: c3 LOGOUT
S: * BYE Logging out
S: c3 OK LOGOUT completed
=closed
