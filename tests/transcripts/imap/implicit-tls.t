# RFC 8314 §3.3: on the implicit-TLS port (993) TLS starts before the greeting; the greeting
# offers AUTH=PLAIN and neither STARTTLS nor LOGINDISABLED, and STARTTLS is refused.
=implicit-tls
=config imap.plaintext_loopback 0
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT AUTH=PLAIN] mailnook ready
C: a1 STARTTLS
S: a1 BAD STARTTLS not available
C: a2 LOGIN alice@example.test correct-horse-9
S: a2 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a3 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: a3 OK [READ-WRITE] SELECT completed
C: a4 LOGOUT
S: * BYE Logging out
S: a4 OK LOGOUT completed
=closed
