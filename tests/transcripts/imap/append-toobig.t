# RFC 7889 APPENDLIMIT: the limit (smtp.max_message_bytes) is advertised once logged in; an
# APPEND above it is NO [TOOBIG] before the data — no "+" for a synchronising literal, and the
# data of a non-synchronising one is skipped unread. A message of exactly the limit is stored.
=config smtp.max_message_bytes 1024
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=1024] Logged in
C: a2 APPEND INBOX {1025}
S: a2 NO [TOOBIG] Message too large
C: a3 APPEND INBOX {1025+}
S: a3 NO [TOOBIG] Message too large
C* 93 "a4 LOGOUT\r\n"
C! "xx\r\n"
C: a5 APPEND INBOX {1024}
S: + Ready for literal data
C! "Subject: limit\r\n\r\n"
C* 100 "0123456789"
C! "123456\r\n"
S~ a5 OK \[APPENDUID \d+ 1\] APPEND completed
C: a6 STATUS INBOX (MESSAGES SIZE)
S: * STATUS INBOX (MESSAGES 1 SIZE 1024)
S: a6 OK STATUS completed
C: a7 LOGOUT
S: * BYE Logging out
S: a7 OK LOGOUT completed
=closed
