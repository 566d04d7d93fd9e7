# RFC 2177 IDLE: the server sends "+", then reports new mail (EXISTS) without being asked; DONE
# (in any case) ends it with OK. IDLE also works without a selected mailbox.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 IDLE
S: + idling
C: DONE
S: a2 OK IDLE terminated
C: a3 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: a3 OK [READ-WRITE] SELECT completed
C: a4 IDLE
S: + idling
=deliver alice@example.test idle-new-mail.eml
S: * 1 EXISTS
C: done
S: a4 OK IDLE terminated
C: a5 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])
S: * 1 FETCH (FLAGS () BODY[HEADER.FIELDS (Subject)] {33}
S: Subject: New mail during IDLE
S: 
S: )
S: a5 OK FETCH completed
C: a6 LOGOUT
S: * BYE Logging out
S: a6 OK LOGOUT completed
=closed
