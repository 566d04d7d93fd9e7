# RFC 7162 QRESYNC: SELECT (QRESYNC (uidvalidity modseq [known-uids])) reports what vanished and
# what changed since the client's last sync (VANISHED (EARLIER), FETCH with MODSEQ, §3.2.5.2),
# nothing for a stale UIDVALIDITY; expunges are reported as VANISHED (§3.2.10); UID FETCH
# (CHANGEDSINCE n VANISHED) (§3.2.6), which a plain FETCH may not use; QRESYNC parameters without
# ENABLE QRESYNC are BAD (§3.2.5); selecting another mailbox sends OK [CLOSED] first (§3.2.11).
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
C: a5 SELECT INBOX (QRESYNC (1 1))
S: a5 BAD QRESYNC is not enabled
C: a6 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a6 OK ENABLE completed
C: a7 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY (?P<uv>\d+)\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: * OK [HIGHESTMODSEQ 4] Highest
S: a7 OK [READ-WRITE] SELECT completed
C: a8 STORE 1 +FLAGS (\Deleted)
S: * 1 FETCH (FLAGS (\Deleted) MODSEQ (5))
S: a8 OK STORE completed
C: a9 STORE 3 +FLAGS (\Answered)
S: * 3 FETCH (FLAGS (\Answered) MODSEQ (6))
S: a9 OK STORE completed
C: b1 EXPUNGE
S: * VANISHED 1
S: b1 OK EXPUNGE completed
C: b2 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 4 VANISHED)
S: * VANISHED (EARLIER) 1
S: * 2 FETCH (UID 3 FLAGS (\Answered) MODSEQ (6))
S: b2 OK UID FETCH completed
C: b3 FETCH 1:* (FLAGS) (CHANGEDSINCE 4 VANISHED)
S: b3 BAD VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE
C: b4 EXAMINE Sent
S: * OK [CLOSED] Previous mailbox closed
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: * OK [HIGHESTMODSEQ 1] Highest
S: b4 OK [READ-ONLY] EXAMINE completed
C: b5 SELECT INBOX (QRESYNC (${uv} 4))
S: * OK [CLOSED] Previous mailbox closed
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: * OK [HIGHESTMODSEQ 7] Highest
S: * VANISHED (EARLIER) 1
S: * 2 FETCH (UID 3 FLAGS (\Answered) MODSEQ (6))
S: b5 OK [READ-WRITE] SELECT completed
C: b6 SELECT INBOX (QRESYNC (${uv} 4 2:3))
S: * OK [CLOSED] Previous mailbox closed
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: * OK [HIGHESTMODSEQ 7] Highest
S: * 2 FETCH (UID 3 FLAGS (\Answered) MODSEQ (6))
S: b6 OK [READ-WRITE] SELECT completed
C: b7 SELECT INBOX (QRESYNC (1 4))
S: * OK [CLOSED] Previous mailbox closed
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: * OK [HIGHESTMODSEQ 7] Highest
S: b7 OK [READ-WRITE] SELECT completed
C: b8 LOGOUT
S: * BYE Logging out
S: b8 OK LOGOUT completed
=closed
