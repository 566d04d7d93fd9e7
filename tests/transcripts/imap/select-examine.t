# RFC 9051 §6.3.2 SELECT and §6.3.3 EXAMINE: the untagged data, READ-WRITE and READ-ONLY; a
# mailbox that does not exist is NO [NONEXISTENT] and leaves no mailbox selected (a failed
# SELECT deselects, §6.3.2); SELECT of another mailbox closes the first with OK [CLOSED]
# (RFC 9051 §7.1). EXAMINE refuses changes with NO [READ-ONLY] and its CLOSE expunges nothing.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX (\Seen) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX (\Deleted) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 EXAMINE INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 2] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: a4 OK [READ-ONLY] EXAMINE completed
C: a5 STORE 1 +FLAGS (\Flagged)
S: a5 NO [READ-ONLY] Mailbox is read-only
C: a6 EXPUNGE
S: a6 NO [READ-ONLY] Mailbox is read-only
C: a7 FETCH 1 (FLAGS)
S: * 1 FETCH (FLAGS (\Seen))
S: a7 OK FETCH completed
C: a8 SELECT Nonexistent
S: * OK [CLOSED] Previous mailbox closed
S: a8 NO [NONEXISTENT] No such mailbox
C: a9 FETCH 1 (FLAGS)
S: a9 BAD No mailbox selected
C: b1 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 2] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: b1 OK [READ-WRITE] SELECT completed
C: b2 EXAMINE Sent
S: * OK [CLOSED] Previous mailbox closed
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: b2 OK [READ-ONLY] EXAMINE completed
C: b3 CLOSE
S: b3 OK CLOSE completed
C: b4 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 2] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: b4 OK [READ-WRITE] SELECT completed
C: b5 FETCH 1:* (FLAGS)
S: * 1 FETCH (FLAGS (\Seen))
S: * 2 FETCH (FLAGS (\Deleted))
S: b5 OK FETCH completed
C: b6 LOGOUT
S: * BYE Logging out
S: b6 OK LOGOUT completed
=closed
