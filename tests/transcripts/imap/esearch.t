# RFC 4731 ESEARCH: SEARCH RETURN (MIN MAX COUNT ALL) answers with one ESEARCH response tagged
# with the command's tag; RETURN () means ALL; an empty result leaves out MIN, MAX and ALL;
# UID SEARCH adds UID; an unknown return option (SAVE is not offered) is BAD. After ENABLE
# IMAP4rev2, a plain SEARCH also answers with ESEARCH (RFC 9051 §6.4.4).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX (\Seen) {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX {487+}
C! "From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>, carol@example.test\r\nSubject: Report\r\nDate: Tue, 8 Feb 1994 10:00:00 +0000\r\nMessage-ID: <report-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus Bern\r\n--xyz\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF/w==\r\n--xyz--\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 APPEND INBOX {242+}
C! "From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Re: Hello\r\nDate: Wed, 9 Feb 1994 08:00:00 +0000\r\nMessage-ID: <hello-2@example.test>\r\nIn-Reply-To: <hello-1@example.test>\r\nReferences: <hello-1@example.test>\r\n\r\nHi Alice.\r\n\r\n"
S~ a4 OK \[APPENDUID \d+ 3\] APPEND completed
C: a5 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 2] First unseen
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: a5 OK [READ-WRITE] SELECT completed
C: a6 SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN
S: * ESEARCH (TAG "a6") MIN 2 MAX 3 COUNT 2 ALL 2:3
S: a6 OK SEARCH completed
C: a7 SEARCH RETURN () ALL
S: * ESEARCH (TAG "a7") ALL 1:3
S: a7 OK SEARCH completed
C: a8 UID SEARCH RETURN (COUNT MIN) 2:*
S: * ESEARCH (TAG "a8") UID MIN 2 COUNT 2
S: a8 OK SEARCH completed
C: a9 SEARCH RETURN (MIN MAX ALL) DELETED
S: * ESEARCH (TAG "a9")
S: a9 OK SEARCH completed
C: b1 SEARCH RETURN (SAVE) ALL
S: b1 BAD Command syntax error
C: b2 SEARCH RETURN (COUNT)
S: b2 BAD Command syntax error
C: b3 UNSELECT
S: b3 OK UNSELECT completed
C: b4 ENABLE IMAP4rev2
S: * ENABLED IMAP4REV2
S: b4 OK ENABLE completed
C: b5 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * 3 EXISTS
S~ \* OK \[UIDVALIDITY \d+\] UIDs valid
S: * OK [UIDNEXT 4] Predicted next UID
S: * LIST () "/" INBOX
S: b5 OK [READ-WRITE] SELECT completed
C: b6 SEARCH UNSEEN
S: * ESEARCH (TAG "b6") ALL 2:3
S: b6 OK SEARCH completed
C: b7 LOGOUT
S: * BYE Logging out
S: b7 OK LOGOUT completed
=closed
