# RFC 9051 §6.3.9 LIST: "*" and "%" wildcards, the reference name, an empty pattern (the
# hierarchy delimiter), INBOX matched case-insensitively (§5.1), \HasChildren/\HasNoChildren
# (RFC 3348 CHILDREN) and \Noselect for implied superiors, special-use attributes (RFC 6154).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE a/b/c
S: a2 OK CREATE completed
C: a3 CREATE a/x
S: a3 OK CREATE completed
C: a4 LIST "" ""
S: * LIST (\Noselect) "/" ""
S: a4 OK LIST completed
C: a5 LIST "" %
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: * LIST (\HasChildren) "/" a
S: a5 OK LIST completed
C: a6 LIST "" a/%
S: * LIST (\HasChildren) "/" a/b
S: * LIST (\HasNoChildren) "/" a/x
S: a6 OK LIST completed
C: a7 LIST a/ %
S: * LIST (\HasChildren) "/" a/b
S: * LIST (\HasNoChildren) "/" a/x
S: a7 OK LIST completed
C: a8 LIST "" a/*
S: * LIST (\HasChildren) "/" a/b
S: * LIST (\HasNoChildren) "/" a/b/c
S: * LIST (\HasNoChildren) "/" a/x
S: a8 OK LIST completed
C: a9 LIST "" inbox
S: * LIST (\HasNoChildren) "/" INBOX
S: a9 OK LIST completed
C: b1 LIST "" InBoX
S: * LIST (\HasNoChildren) "/" INBOX
S: b1 OK LIST completed
C: b2 LIST "" nomatch*
S: b2 OK LIST completed
C: b3 LIST "" "a/b"
S: * LIST (\HasChildren) "/" a/b
S: b3 OK LIST completed
C: b4 LOGOUT
S: * BYE Logging out
S: b4 OK LOGOUT completed
=closed
