# RFC 5256 THREAD: REFERENCES (the Message-ID/References/In-Reply-To tree) and ORDEREDSUBJECT
# (by base subject, then date), UID THREAD, with a search key; an unknown algorithm is refused.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX "07-Feb-1994 21:52:25 -0800" {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX "06-Feb-1994 08:00:00 +0000" {188+}
C! "From: Zed <zed@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Antelopes\r\nDate: Sun, 6 Feb 1994 08:00:00 +0000\r\nMessage-ID: <zebra-1@example.test>\r\n\r\nAbout antelopes and a zebra.\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 APPEND INBOX "10-Feb-1994 08:00:00 +0000" {235+}
C! "From: Carol <carol@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Re: Re: Hello\r\nDate: Thu, 10 Feb 1994 08:00:00 +0000\r\nMessage-ID: <hello-3@example.test>\r\nReferences: <hello-1@example.test> <hello-2@example.test>\r\n\r\nMe too.\r\n\r\n"
S~ a4 OK \[APPENDUID \d+ 3\] APPEND completed
C: a5 APPEND INBOX "09-Feb-1994 08:00:00 +0000" {242+}
C! "From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Re: Hello\r\nDate: Wed, 9 Feb 1994 08:00:00 +0000\r\nMessage-ID: <hello-2@example.test>\r\nIn-Reply-To: <hello-1@example.test>\r\nReferences: <hello-1@example.test>\r\n\r\nHi Alice.\r\n\r\n"
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
C: a7 THREAD REFERENCES UTF-8 ALL
S: * THREAD (2)(1 4 3)
S: a7 OK THREAD completed
C: a8 THREAD ORDEREDSUBJECT UTF-8 ALL
S: * THREAD (2)(1 (4)(3))
S: a8 OK THREAD completed
C: a9 UID THREAD REFERENCES UTF-8 NOT FROM zed
S: * THREAD (1 4 3)
S: a9 OK THREAD completed
C: b1 THREAD REFS UTF-8 ALL
S: b1 NO Unsupported threading algorithm
C: b2 THREAD REFERENCES KOI8-R ALL
S: b2 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset
C: b3 LOGOUT
S: * BYE Logging out
S: b3 OK LOGOUT completed
=closed
