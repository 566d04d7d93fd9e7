# RFC 9051 §5.1: INBOX is case-insensitive, also as the first level of a hierarchy; every
# other name is case-sensitive.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 SELECT inbox
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: a2 OK [READ-WRITE] SELECT completed
C: a3 EXAMINE InBoX
S: * OK [CLOSED] Previous mailbox closed
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: a3 OK [READ-ONLY] EXAMINE completed
C: a4 CREATE inbox/Sub
S: a4 OK CREATE completed
C: a5 LIST "" INBOX*
S: * LIST (\HasChildren) "/" INBOX
S: * LIST (\HasNoChildren) "/" INBOX/Sub
S: a5 OK LIST completed
C: a6 STATUS iNbOx (MESSAGES)
S: * STATUS INBOX (MESSAGES 0)
S: a6 OK STATUS completed
C: a7 APPEND Inbox {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S: * 1 EXISTS
S~ a7 OK \[APPENDUID \d+ 1\] APPEND completed
C: a8 CREATE Sent
S: a8 NO [ALREADYEXISTS] Mailbox already exists
C: a9 CREATE sent
S: a9 OK CREATE completed
C: b1 LIST "" sent
S: * LIST (\HasNoChildren) "/" sent
S: b1 OK LIST completed
C: b2 DELETE sent
S: b2 OK DELETE completed
C: b3 LOGOUT
S: * BYE Logging out
S: b3 OK LOGOUT completed
=closed
