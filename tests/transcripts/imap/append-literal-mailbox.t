# RFC 9051 §6.3.12, §4.3: the mailbox name of APPEND may itself be a literal; the message is the
# literal after it and is still streamed. Also the binary form literal8 (RFC 3516 §4.4, ~{n}).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND {5}
S: + Ready for literal data
C: INBOX (\Seen) {166}
S: + Ready for literal data
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND {5+}
C: INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 APPEND INBOX ~{166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a4 OK \[APPENDUID \d+ 3\] APPEND completed
C: a5 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 3)
S: a5 OK STATUS completed
C: a6 LOGOUT
S: * BYE Logging out
S: a6 OK LOGOUT completed
=closed
=stored alice@example.test INBOX 1 append.eml
=stored alice@example.test INBOX 2 append.eml
=stored alice@example.test INBOX 3 append.eml
