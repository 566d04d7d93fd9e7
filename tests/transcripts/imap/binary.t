# RFC 3516 BINARY: BINARY[] decodes the part's content-transfer-encoding (quoted-printable,
# base64), answering with literal8 (~{n}) when the data may hold NUL; BINARY.SIZE gives the
# decoded size; BINARY.PEEK leaves \Seen alone; a part that does not exist is NIL.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX {487+}
C! "From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>, carol@example.test\r\nSubject: Report\r\nDate: Tue, 8 Feb 1994 10:00:00 +0000\r\nMessage-ID: <report-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus Bern\r\n--xyz\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF/w==\r\n--xyz--\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 1 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 2] Predicted next UID
S: a3 OK [READ-WRITE] SELECT completed
C: a4 FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2])
S: * 1 FETCH (BINARY.SIZE[1] 16 BINARY.SIZE[2] 7)
S: a4 OK FETCH completed
C: a5 FETCH 1 (BINARY.PEEK[1])
S: * 1 FETCH (BINARY[1] ~{16}
S: Grüße aus Bern)
S: a5 OK FETCH completed
C: a6 FETCH 1 (BINARY.PEEK[2])
S: * 1 FETCH (BINARY[2] ~{7}
S: \x00\x01\x02\x03\x04\x05\xff)
S: a6 OK FETCH completed
C: a7 FETCH 1 (BINARY.PEEK[2]<2.3>)
S: * 1 FETCH (BINARY[2]<2> ~{3}
S: \x02\x03\x04)
S: a7 OK FETCH completed
C: a8 FETCH 1 (BINARY.PEEK[9])
S: * 1 FETCH (BINARY[9] NIL)
S: a8 OK FETCH completed
C: a9 FETCH 1 (FLAGS)
S: * 1 FETCH (FLAGS ())
S: a9 OK FETCH completed
C: b1 LOGOUT
S: * BYE Logging out
S: b1 OK LOGOUT completed
=closed
