# RFC 9051 §8 (RFC 3501 §8) sample IMAP connection, adapted: the message is APPENDed first (with
# the sample's INTERNALDATE) and the mailbox holds only it, so it is message 1, not 12. The
# session is an IMAP4rev1 client's, so SELECT also reports RECENT and UNSEEN.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a001 login alice@example.test correct-horse-9
S: a001 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a000 APPEND inbox "17-Jul-1996 02:44:25 -0700" {395+}
C! "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\nFrom: Terry Gray <gray@cac.washington.edu>\r\nSubject: IMAP4rev2 WG mtg summary and minutes\r\nTo: imap@cac.washington.edu\r\nCc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\nMessage-Id: <B27397-0100000@cac.washington.edu>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nThe working group met in Montreal.\r\nMinutes follow.\r\n\r\n"
S~ a000 OK \[APPENDUID \d+ 1\] APPEND completed
C: a002 select inbox
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 1 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 2] Predicted next UID
S: a002 OK [READ-WRITE] SELECT completed
C: a003 fetch 1 full
S: * 1 FETCH (FLAGS () INTERNALDATE "17-Jul-1996 09:44:25 +0000" RFC822.SIZE 395 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>") BODY ("TEXT" "PLAIN" ("charset" "US-ASCII") NIL NIL "7bit" 53 2))
S: a003 OK FETCH completed
C: a004 fetch 1 body[header]
S: * 1 FETCH (FLAGS (\Seen) BODY[HEADER] {342}
S: Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
S: From: Terry Gray <gray@cac.washington.edu>
S: Subject: IMAP4rev2 WG mtg summary and minutes
S: To: imap@cac.washington.edu
S: Cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
S: Message-Id: <B27397-0100000@cac.washington.edu>
S: MIME-Version: 1.0
S: Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
S: 
S: )
S: a004 OK FETCH completed
C: a005 store 1 +flags \deleted
S: * 1 FETCH (FLAGS (\Seen \Deleted))
S: a005 OK STORE completed
C: a006 logout
S: * BYE Logging out
S: a006 OK LOGOUT completed
=closed
