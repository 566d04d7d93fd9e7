# RFC 3691 UNSELECT leaves without expunging; RFC 9051 §6.4.1 CLOSE expunges \Deleted messages
# silently; §6.4.3 EXPUNGE reports each removed message with its sequence number at the time
# (highest first keeps the others' numbers valid); RFC 4315 UID EXPUNGE removes only the given
# UIDs' \Deleted messages.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX (\Deleted) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 APPEND INBOX (\Deleted) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a4 OK \[APPENDUID \d+ 3\] APPEND completed
C: a5 APPEND INBOX (\Deleted) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a5 OK \[APPENDUID \d+ 4\] APPEND completed
C: a6 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 4 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 5] Predicted next UID
S: a6 OK [READ-WRITE] SELECT completed
C: a7 UNSELECT
S: a7 OK UNSELECT completed
C: a8 UNSELECT
S: a8 BAD No mailbox selected
C: a9 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 4)
S: a9 OK STATUS completed
C: b1 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 4 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 5] Predicted next UID
S: b1 OK [READ-WRITE] SELECT completed
C: b2 UID EXPUNGE 3:4
S: * 4 EXPUNGE
S: * 3 EXPUNGE
S: b2 OK EXPUNGE completed
C: b3 FETCH 1:* (UID FLAGS)
S: * 1 FETCH (UID 1 FLAGS (\Deleted))
S: * 2 FETCH (UID 2 FLAGS ())
S: b3 OK FETCH completed
C: b4 EXPUNGE
S: * 1 EXPUNGE
S: b4 OK EXPUNGE completed
C: b5 FETCH 1:* (UID)
S: * 1 FETCH (UID 2)
S: b5 OK FETCH completed
C: b6 STORE 1 +FLAGS (\Deleted)
S: * 1 FETCH (FLAGS (\Deleted))
S: b6 OK STORE completed
C: b7 CLOSE
S: b7 OK CLOSE completed
C: b8 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 0)
S: b8 OK STATUS completed
C: b9 LOGOUT
S: * BYE Logging out
S: b9 OK LOGOUT completed
=closed
