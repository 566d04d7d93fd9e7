# RFC 7162 CONDSTORE: ENABLE CONDSTORE, HIGHESTMODSEQ on SELECT, MODSEQ in FETCH (also after
# STORE), STORE UNCHANGEDSINCE failing with [MODIFIED ...] (§3.1.3), FETCH CHANGEDSINCE
# (§3.1.4.1), SEARCH MODSEQ with the highest MODSEQ of the matches (§3.1.5), STATUS
# HIGHESTMODSEQ. SELECT (CONDSTORE) turns it on without ENABLE.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a4 OK \[APPENDUID \d+ 3\] APPEND completed
C: a5 SELECT INBOX (CONDSTORE)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: * OK [HIGHESTMODSEQ 4] Highest
S: a5 OK [READ-WRITE] SELECT completed
C: a6 FETCH 1:* (MODSEQ)
S: * 1 FETCH (MODSEQ (2))
S: * 2 FETCH (MODSEQ (3))
S: * 3 FETCH (MODSEQ (4))
S: a6 OK FETCH completed
C: a7 STORE 2 +FLAGS (\Seen)
S: * 2 FETCH (FLAGS (\Seen) MODSEQ (5))
S: a7 OK STORE completed
C: a8 STORE 1:3 (UNCHANGEDSINCE 3) +FLAGS (\Flagged)
S: * 1 FETCH (FLAGS (\Flagged) MODSEQ (6))
S: a8 OK [MODIFIED 2:3] Conditional STORE failed
C: a9 UID STORE 1:3 (UNCHANGEDSINCE 1) -FLAGS (\Flagged)
S: a9 OK [MODIFIED 1:3] Conditional STORE failed
C: b1 FETCH 1:* (FLAGS) (CHANGEDSINCE 4)
S: * 1 FETCH (FLAGS (\Flagged) MODSEQ (6))
S: * 2 FETCH (FLAGS (\Seen) MODSEQ (5))
S: b1 OK FETCH completed
C: b2 SEARCH MODSEQ 5
S: * SEARCH 1 2 (MODSEQ 6)
S: b2 OK SEARCH completed
C: b3 STATUS INBOX (HIGHESTMODSEQ)
S: * STATUS INBOX (HIGHESTMODSEQ 6)
S: b3 OK STATUS completed
C: b4 UID FETCH 1:* (UID) (CHANGEDSINCE 6)
S: b4 OK UID FETCH completed
C: b5 LOGOUT
S: * BYE Logging out
S: b5 OK LOGOUT completed
=closed
