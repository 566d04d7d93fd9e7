# RFC 7888 §4, RFC 9051 §4.3: a literal that would take the command past imap.max_command_bytes
# is refused before its data is read. Synchronising: BAD and no "+", so the client never sends
# it. Non-synchronising: BAD, and its data is skipped by length — the command lines inside it are
# never executed (imap-codec's fragmentizer warns of exactly this); the next command works.
=config imap.max_command_bytes 1024
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE {2000}
S: a2 BAD Command too long
C: a3 CREATE {2000+}
S: a3 BAD Command too long
C* 181 "a4 LOGOUT\r\n"
C! "a4 NOOP\r\n"
C: 
C: a5 LIST "" INBOX
S: * LIST (\HasNoChildren) "/" INBOX
S: a5 OK LIST completed

C: a7 LOGOUT
S: * BYE Logging out
S: a7 OK LOGOUT completed
# NOT CLOSED
=closed
