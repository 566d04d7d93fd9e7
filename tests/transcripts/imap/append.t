# RFC 9051 §6.3.12 APPEND with flags and INTERNALDATE, RFC 4315 APPENDUID: the message is
# stored byte for byte (streamed, not buffered), the selected mailbox learns of it with EXISTS,
# and FETCH shows the flags and the date (in UTC). \Recent is not settable (RFC 9051 §2.3.2).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: a2 OK [READ-WRITE] SELECT completed
C: a3 APPEND INBOX (\Seen \Flagged $Forwarded) " 7-Feb-1994 21:52:25 -0800" {166}
S: + Ready for literal data
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S: * 1 EXISTS
S~ a3 OK \[APPENDUID \d+ 1\] APPEND completed
C: a4 APPEND inbox {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S: * 2 EXISTS
S~ a4 OK \[APPENDUID \d+ 2\] APPEND completed
C: a5 FETCH 1:* (UID FLAGS RFC822.SIZE)
S: * 1 FETCH (UID 1 FLAGS (\Seen \Flagged $Forwarded) RFC822.SIZE 166)
S: * 2 FETCH (UID 2 FLAGS () RFC822.SIZE 166)
S: a5 OK FETCH completed
C: a9 FETCH 1 INTERNALDATE
S: * 1 FETCH (INTERNALDATE " 8-Feb-1994 05:52:25 +0000")
S: a9 OK FETCH completed
C: a6 APPEND INBOX (\Recent) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S: * 3 EXISTS
S~ a6 OK \[APPENDUID \d+ 3\] APPEND completed
C: a7 APPEND INBOX (\Seen) "31-Feb-1994 21:52:25 -0800" {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S: a7 BAD Command syntax error
C: a8 LOGOUT
S: * BYE Logging out
S: a8 OK LOGOUT completed
=closed
=stored alice@example.test INBOX 1 append.eml
=stored alice@example.test INBOX 2 append.eml
