# RFC 9051 §6.4.4 SEARCH: flag, size, date, header and text keys, OR/NOT and sequence sets, UID
# SEARCH; CHARSET UTF-8 is accepted, an unknown charset is NO [BADCHARSET (...)] (§7.1); the
# IMAP4rev1 form of the answer is SEARCH.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX (\Seen) "07-Feb-1994 21:52:25 -0800" {166+}
C! "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <hello-1@example.test>\r\n\r\nHello Bob.\r\n\r\n"
S~ a2 OK \[APPENDUID \d+ 1\] APPEND completed
C: a3 APPEND INBOX (\Flagged) "08-Feb-1994 10:00:00 +0000" {487+}
C! "From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>, carol@example.test\r\nSubject: Report\r\nDate: Tue, 8 Feb 1994 10:00:00 +0000\r\nMessage-ID: <report-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus Bern\r\n--xyz\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF/w==\r\n--xyz--\r\n\r\n"
S~ a3 OK \[APPENDUID \d+ 2\] APPEND completed
C: a4 APPEND INBOX "09-Feb-1994 08:00:00 +0000" {242+}
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
C: a6 SEARCH ALL
S: * SEARCH 1 2 3
S: a6 OK SEARCH completed
C: a7 SEARCH UNSEEN
S: * SEARCH 2 3
S: a7 OK SEARCH completed
C: a8 SEARCH FLAGGED
S: * SEARCH 2
S: a8 OK SEARCH completed
C: a9 SEARCH FROM bob
S: * SEARCH 2 3
S: a9 OK SEARCH completed
C: b1 SEARCH SUBJECT hello
S: * SEARCH 1 3
S: b1 OK SEARCH completed
C: b2 SEARCH HEADER Message-ID report-1
S: * SEARCH 2
S: b2 OK SEARCH completed
C: b3 SEARCH BODY "aus bern"
S: * SEARCH 2
S: b3 OK SEARCH completed
C: b4 SEARCH TEXT alice
S: * SEARCH 1 2 3
S: b4 OK SEARCH completed
C: b5 SEARCH LARGER 300
S: * SEARCH 2
S: b5 OK SEARCH completed
C: b6 SEARCH OR SEEN FLAGGED
S: * SEARCH 1 2
S: b6 OK SEARCH completed
C: b7 SEARCH NOT SEEN 2:*
S: * SEARCH 2 3
S: b7 OK SEARCH completed
C: b8 SEARCH SINCE 9-Feb-1994
S: * SEARCH 3
S: b8 OK SEARCH completed
C: b9 SEARCH SENTBEFORE 8-Feb-1994
S: * SEARCH 1
S: b9 OK SEARCH completed
C: c1 UID SEARCH UID 2:* UNSEEN
S: * SEARCH 2 3
S: c1 OK SEARCH completed
C: c2 SEARCH CHARSET UTF-8 BODY "grüße"
S: * SEARCH 2
S: c2 OK SEARCH completed
C: c3 SEARCH CHARSET KOI8-R ALL
S: c3 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset
C: c4 SEARCH BOGUS
S: c4 BAD Command syntax error
C: c5 SEARCH 99
S: * SEARCH
S: c5 OK SEARCH completed
C: c6 LOGOUT
S: * BYE Logging out
S: c6 OK LOGOUT completed
=closed
