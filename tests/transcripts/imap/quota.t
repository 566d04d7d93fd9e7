# RFC 9208 QUOTA for a user without a quota: the capabilities are offered after login, the
# commands need a login, GETQUOTAROOT names no root (§4.3.2), GETQUOTA of any root and
# GETQUOTAROOT of a missing mailbox fail, SETQUOTA is refused (quotas are the administrator's).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a0 GETQUOTAROOT INBOX
S: a0 BAD Log in first
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 GETQUOTAROOT INBOX
S: * QUOTAROOT INBOX
S: a2 OK GETQUOTAROOT completed
C: a3 GETQUOTAROOT "No such"
S: a3 NO [NONEXISTENT] No such mailbox
C: a4 GETQUOTA ""
S: a4 NO [NONEXISTENT] No such quota root
C: a5 SETQUOTA "" (STORAGE 512)
S: a5 NO [NOPERM] Quotas are set by the administrator
C: a6 GETQUOTA
S: a6 BAD Command syntax error
C: a7 LOGOUT
S: * BYE Logging out
S: a7 OK LOGOUT completed
=closed
