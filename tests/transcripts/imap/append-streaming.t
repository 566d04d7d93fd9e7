# RFC 9051 §6.3.12, DESIGN: an APPEND message is streamed to the store, so it may be far larger
# than imap.max_command_bytes (the limit for every other command); its lines are data, never
# commands, even when they look like them.
=config imap.max_command_bytes 1024
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX {6518}
S: + Ready for literal data
C! "Subject: big\r\n\r\n"
C* 500 "a3 LOGOUT\r\n"
C* 100 "0123456789"
C! "\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a4 STATUS INBOX (MESSAGES SIZE)
S: * STATUS INBOX (MESSAGES 1 SIZE 6518)
S: a4 OK STATUS completed
C: a5 LOGOUT
S: * BYE Logging out
S: a5 OK LOGOUT completed
=closed
