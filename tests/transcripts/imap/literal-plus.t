# RFC 7888 LITERAL+: a non-synchronising literal ({n+}) gets no continuation request; its data
# follows at once, even when it looks like a command line.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN {18+}
C: alice@example.test {15+}
C: correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE {11+}
C! "a3 LOGOUT\r\n\r\n"
S: a2 NO [CANNOT] Invalid mailbox name
C: a4 LIST "" *
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: a4 OK LIST completed
C: a6 DELETE {11+}
C! "a3 LOGOUT\r\n\r\n"
S: a6 NO [NONEXISTENT] No such mailbox
C: a7 LOGOUT
S: * BYE Logging out
S: a7 OK LOGOUT completed
=closed
