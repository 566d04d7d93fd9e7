# RFC 9051 §6.4.6 STORE: FLAGS, +FLAGS, -FLAGS, their .SILENT forms, keywords (RFC 9051 §2.3.2)
# and UID STORE (which also returns the UID); a sequence number beyond the mailbox is BAD.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: a4 OK [READ-WRITE] SELECT completed
C: a5 STORE 1 +FLAGS (\Seen \Answered)
S: * 1 FETCH (FLAGS (\Seen \Answered))
S: a5 OK STORE completed
C: a6 STORE 1:2 +FLAGS.SILENT (\Flagged)
S: a6 OK STORE completed
C: a7 STORE 2 FLAGS (\Draft $Label1 NonJunk)
S: * 2 FETCH (FLAGS (\Draft $Label1 NonJunk))
S: a7 OK STORE completed
C: a8 STORE 1:* -FLAGS (\Flagged $label1)
S: * 1 FETCH (FLAGS (\Seen \Answered))
S: * 2 FETCH (FLAGS (\Draft NonJunk))
S: a8 OK STORE completed
C: a9 UID STORE 2 FLAGS.SILENT ()
S: a9 OK STORE completed
C: b1 FETCH 1:* FLAGS
S: * 1 FETCH (FLAGS (\Seen \Answered))
S: * 2 FETCH (FLAGS ())
S: b1 OK FETCH completed
C: b2 STORE 3 +FLAGS (\Seen)
S: b2 BAD Invalid message sequence number
C: b3 STORE 1 +FLAGS (\Recent)
S: b3 OK STORE completed
C: b4 LOGOUT
S: * BYE Logging out
S: b4 OK LOGOUT completed
=closed
