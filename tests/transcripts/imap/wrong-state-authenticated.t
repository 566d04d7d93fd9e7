# RFC 9051 §6.4: selected-state commands are refused with BAD while no mailbox is selected;
# LOGIN, AUTHENTICATE and STARTTLS only exist in the not-authenticated state (RFC 9051 §6.2).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CLOSE
S: a2 BAD No mailbox selected
C: a3 UNSELECT
S: a3 BAD No mailbox selected
C: a4 EXPUNGE
S: a4 BAD No mailbox selected
C: a5 SEARCH ALL
S: a5 BAD No mailbox selected
C: a6 FETCH 1 FLAGS
S: a6 BAD No mailbox selected
C: a7 STORE 1 +FLAGS (\Seen)
S: a7 BAD No mailbox selected
C: a8 COPY 1 INBOX
S: a8 BAD No mailbox selected
C: a9 MOVE 1 INBOX
S: a9 BAD No mailbox selected
C: b1 UID FETCH 1:* FLAGS
S: b1 BAD No mailbox selected
C: b2 UID EXPUNGE 1
S: b2 BAD No mailbox selected
C: b3 SORT (DATE) UTF-8 ALL
S: b3 BAD No mailbox selected
C: b4 THREAD REFERENCES UTF-8 ALL
S: b4 BAD No mailbox selected
C: b5 SEARCH RETURN (MIN) ALL
S: b5 BAD No mailbox selected
C: b6 CHECK
S: b6 BAD No mailbox selected
C: b7 LOGIN alice@example.test correct-horse-9
S: b7 BAD Already authenticated
C: b8 AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0LWhvcnNlLTk=
S: b8 BAD Already authenticated
C: b9 STARTTLS
S: b9 BAD Already authenticated
C: c1 NOOP
S: c1 OK NOOP completed
C: c2 LOGOUT
S: * BYE Logging out
S: c2 OK LOGOUT completed
=closed
