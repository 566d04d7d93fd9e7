# RFC 4978 §3: COMPRESS needs an authenticated session (BAD before login) and a known mechanism
# (BAD otherwise); it is refused like any command in the wrong state and the session goes on.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 COMPRESS DEFLATE
S: a1 BAD Log in first
C: a2 LOGIN alice@example.test correct-horse-9
S: a2 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a3 COMPRESS
S: a3 BAD Command syntax error
C: a4 COMPRESS LZMA
S: a4 BAD Command syntax error
C: a5 COMPRESS DEFLATE extra
S: a5 BAD Command syntax error
C: a6 LOGOUT
S: * BYE Logging out
S: a6 OK LOGOUT completed
=closed
