# RFC 2342 NAMESPACE (one personal namespace, "/" delimiter), RFC 2971 ID (works in every state;
# the client's fields are not echoed), RFC 5161 ENABLE (answers with what it turned on; unknown
# capabilities are ignored; not allowed before login).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 ID ("name" "transcript" "version" "1")
S~ \* ID \("name" "mailnook" "version" "[^"]*"\)
S: a1 OK ID completed
C: a2 ID NIL
S~ \* ID \("name" "mailnook" "version" "[^"]*"\)
S: a2 OK ID completed
C: a3 ENABLE CONDSTORE
S: a3 BAD Log in first
C: a4 LOGIN alice@example.test correct-horse-9
S: a4 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a5 NAMESPACE
S: * NAMESPACE (("" "/")) NIL NIL
S: a5 OK NAMESPACE completed
C: a6 ENABLE CONDSTORE X-UNKNOWN
S: * ENABLED CONDSTORE
S: a6 OK ENABLE completed
C: a7 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a7 OK ENABLE completed
C: a8 ENABLE UTF8=ACCEPT IMAP4rev2
S: * ENABLED UTF8=ACCEPT IMAP4REV2
S: a8 OK ENABLE completed
C: a9 ENABLE X-NOTHING
S: * ENABLED
S: a9 OK ENABLE completed
C: b1 ID ("name" "transcript")
S~ \* ID \("name" "mailnook" "version" "[^"]*"\)
S: b1 OK ID completed
C: b2 LOGOUT
S: * BYE Logging out
S: b2 OK LOGOUT completed
=closed
