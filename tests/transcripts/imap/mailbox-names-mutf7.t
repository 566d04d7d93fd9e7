# RFC 3501 §5.1.3 modified UTF-7 names for IMAP4rev1 clients: a name sent in modified UTF-7 is
# stored as Unicode and listed in the same form ("&" is "&-"); malformed modified UTF-7 is
# refused. After ENABLE UTF8=ACCEPT (RFC 6855) the same mailbox is named in UTF-8.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE ~peter/mail/&U,BTFw-/&ZeVnLIqe-
S: a2 OK CREATE completed
C: a3 CREATE "Tom &- Jerry"
S: a3 OK CREATE completed
C: a4 CREATE Entw&APw-rfe
S: a4 OK CREATE completed
C: a5 LIST "" *
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren) "/" Entw&APw-rfe
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren) "/" "Tom &- Jerry"
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: * LIST (\HasChildren) "/" ~peter
S: * LIST (\HasChildren) "/" ~peter/mail
S: * LIST (\HasChildren) "/" ~peter/mail/&U,BTFw-
S: * LIST (\HasNoChildren) "/" ~peter/mail/&U,BTFw-/&ZeVnLIqe-
S: a5 OK LIST completed
C: a6 SELECT Entw&APw-rfe
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: a6 OK [READ-WRITE] SELECT completed
C: a7 CREATE &Jjo
S: a7 NO [CANNOT] Invalid mailbox name
C: a8 CREATE &AGE-
S: a8 NO [CANNOT] Invalid mailbox name
C: a9 CREATE Entwürfe
S: a9 BAD Command syntax error
C: b1 UNSELECT
S: b1 OK UNSELECT completed
C: b2 ENABLE UTF8=ACCEPT
S: * ENABLED UTF8=ACCEPT
S: b2 OK ENABLE completed
C: b3 LIST "" Entw*
S: * LIST (\HasNoChildren) "/" {9}
S: Entwürfe
S: b3 OK LIST completed
C: b4 STATUS "Entwürfe" (MESSAGES)
S: * STATUS {9}
S: Entwürfe (MESSAGES 0)
S: b4 OK STATUS completed
C: b5 LOGOUT
S: * BYE Logging out
S: b5 OK LOGOUT completed
=closed
