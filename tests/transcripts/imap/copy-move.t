# RFC 9051 §6.4.7 COPY with RFC 4315 COPYUID, RFC 6851 MOVE (untagged OK [COPYUID] before the
# EXPUNGE responses) and their UID forms; a destination that does not exist is NO [TRYCREATE].
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX (\Seen) {487+}
C! "From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>, carol@example.test\r\nSubject: Report\r\nDate: Tue, 8 Feb 1994 10:00:00 +0000\r\nMessage-ID: <report-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus Bern\r\n--xyz\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF/w==\r\n--xyz--\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 APPEND INBOX {242+}
C! "From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Re: Hello\r\nDate: Wed, 9 Feb 1994 08:00:00 +0000\r\nMessage-ID: <hello-2@example.test>\r\nIn-Reply-To: <hello-1@example.test>\r\nReferences: <hello-1@example.test>\r\n\r\nHi Alice.\r\n\r\n"
S~ a4 OK \[APPENDUID \d+ 3\] APPEND completed
C: a5 CREATE Keep
S: a5 OK CREATE completed
C: a6 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: a6 OK [READ-WRITE] SELECT completed
C: a7 COPY 1:2 Keep
S~ a7 OK \[COPYUID \d+ 1:2 1:2\] COPY completed
C: a8 COPY 1 Nowhere
S: a8 NO [TRYCREATE] No such mailbox
C: a9 MOVE 2 Keep
S~ \* OK \[COPYUID \d+ 2 3\] Moved
S: * 2 EXPUNGE
S: a9 OK MOVE completed
C: b1 UID MOVE 3 Keep
S~ \* OK \[COPYUID \d+ 3 4\] Moved
S: * 2 EXPUNGE
S: b1 OK MOVE completed
C: b2 UID COPY 1 Keep
S~ b2 OK \[COPYUID \d+ 1 5\] COPY completed
C: b3 FETCH 1:* (UID)
S: * 1 FETCH (UID 1)
S: b3 OK FETCH completed
C: b4 STATUS Keep (MESSAGES UIDNEXT)
S: * STATUS Keep (MESSAGES 5 UIDNEXT 6)
S: b4 OK STATUS completed
C: b5 SELECT Keep
S: * OK [CLOSED] Previous mailbox closed
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 5 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 6] Predicted next UID
S: b5 OK [READ-WRITE] SELECT completed
C: b6 FETCH 1:* (UID FLAGS)
S: * 1 FETCH (UID 1 FLAGS ())
S: * 2 FETCH (UID 2 FLAGS (\Seen))
S: * 3 FETCH (UID 3 FLAGS (\Seen))
S: * 4 FETCH (UID 4 FLAGS ())
S: * 5 FETCH (UID 5 FLAGS ())
S: b6 OK FETCH completed
C: b7 MOVE 1 Keep
S~ \* OK \[COPYUID \d+ 1 6\] Moved
S: * 1 EXPUNGE
S: b7 OK MOVE completed
C: b9 NOOP
S: * 5 EXISTS
S: b9 OK NOOP completed
C: b8 LOGOUT
S: * BYE Logging out
S: b8 OK LOGOUT completed
=closed
