# RFC 9051 §6.2.3 LOGIN: user name and password as atoms, quoted strings or literals; a wrong
# password or unknown user is NO [AUTHENTICATIONFAILED] (RFC 5530) with the same text, so the
# answer does not tell which; the successful LOGIN carries the new CAPABILITY list.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test wrong-password
S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
C: a2 LOGIN nobody@example.test correct-horse-9
S: a2 NO [AUTHENTICATIONFAILED] Authentication failed
C: a3 LOGIN "alice@example.test" "wrong \"quoted\" password"
S: a3 NO [AUTHENTICATIONFAILED] Authentication failed
C: a4 LOGIN {18+}
C: alice@example.test "correct-horse-9"
S: a4 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a5 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 0 EXISTS
S: * 0 RECENT
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 1] Predicted next UID
S: a5 OK [READ-WRITE] SELECT completed
C: a6 LOGOUT
S: * BYE Logging out
S: a6 OK LOGOUT completed
=closed
