# RFC 5161 §3.1: ENABLE is refused once a mailbox is selected; RFC 9051 §6.2: LOGIN,
# AUTHENTICATE and STARTTLS are refused after login. Authenticated-state commands still work in
# the selected state (RFC 9051 §6.3).
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
C: a3 ENABLE CONDSTORE
S: a3 BAD ENABLE is only allowed before SELECT
C: a4 LOGIN alice@example.test correct-horse-9
S: a4 BAD Already authenticated
C: a5 AUTHENTICATE PLAIN
S: a5 BAD Already authenticated
C: a6 STARTTLS
S: a6 BAD Already authenticated
C: a7 CREATE Work
S: a7 OK CREATE completed
C: a8 LIST "" Work
S: * LIST (\HasNoChildren) "/" Work
S: a8 OK LIST completed
C: a9 STATUS Work (MESSAGES)
S: * STATUS Work (MESSAGES 0)
S: a9 OK STATUS completed
C: b1 NAMESPACE
S: * NAMESPACE (("" "/")) NIL NIL
S: b1 OK NAMESPACE completed
C: b2 LOGOUT
S: * BYE Logging out
S: b2 OK LOGOUT completed
=closed
