# RFC 9051 §4.3, §7.5: a synchronising literal is read only after the server's "+" continuation
# request; several literals in one command, an empty one, and literals holding CRLF, quotes and
# parentheses all work. A pipelining client waits at every "+".
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN {18}
S: + Ready for literal data
C: alice@example.test {15}
S: + Ready for literal data
C: correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE {12}
S: + Ready for literal data
C: odd "(name)"
S: a2 OK CREATE completed
C: a3 LIST "" {1}
S: + Ready for literal data
C: *
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: * LIST (\HasNoChildren) "/" "odd \"(name)\""
S: a3 OK LIST completed
C: a4 STATUS {0}
S: + Ready for literal data
C:  (MESSAGES)
S: a4 NO [NONEXISTENT] No such mailbox
C: a5 DELETE {12}
S: + Ready for literal data
C: odd "(name)"
S: a5 OK DELETE completed
C: a6 LOGOUT
S: * BYE Logging out
S: a6 OK LOGOUT completed
=closed
