# RFC 6154 SPECIAL-USE and CREATE-SPECIAL-USE: new accounts have Archive, Drafts, Junk, Sent and
# Trash with their attributes; CREATE ... (USE (...)) assigns one; an unknown or already used
# attribute is NO [USEATTR] (§3, §5.1); a malformed USE clause is BAD.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 LIST (SPECIAL-USE) "" *
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: a2 OK LIST completed
C: a3 CREATE "Old Mail" (USE (\Archive))
S: a3 OK CREATE completed
C: a4 CREATE Spam2 (USE (\Junk))
S: a4 OK CREATE completed
C: a5 CREATE Stuff (USE (\Important))
S: a5 NO [USEATTR] Unsupported special use
C: a6 CREATE Plain (USE ())
S: a6 OK CREATE completed
C: a7 CREATE Bad (USE \Archive)
S: a7 BAD Command syntax error
C: a8 LIST "" * RETURN (SPECIAL-USE)
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Archive) "/" "Old Mail"
S: * LIST (\HasNoChildren) "/" Plain
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Junk) "/" Spam2
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: a8 OK LIST completed
C: a9 LOGOUT
S: * BYE Logging out
S: a9 OK LOGOUT completed
=closed
