# RFC 9051 §6.4.5 FETCH: macros, ENVELOPE, BODY and BODYSTRUCTURE of a multipart message, body
# sections (HEADER, TEXT, MIME, numbered parts, HEADER.FIELDS and .NOT), partial fetches
# (<origin.octets>), RFC822 items; BODY[] sets \Seen (reported in the same response), BODY.PEEK
# does not; a sequence number beyond the mailbox is BAD, a UID beyond it just matches nothing.
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 APPEND INBOX "08-Feb-1994 10:00:00 +0000" {487+}
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
C: a4 FETCH 1 FAST
S: * 1 FETCH (FLAGS () INTERNALDATE " 8-Feb-1994 10:00:00 +0000" RFC822.SIZE 487)
S: a4 OK FETCH completed
C: a5 FETCH 1 (ENVELOPE)
S: * 1 FETCH (ENVELOPE ("Tue, 8 Feb 1994 10:00:00 +0000" "Report" (("Bob" NIL "bob" "example.test")) (("Bob" NIL "bob" "example.test")) (("Bob" NIL "bob" "example.test")) (("Alice" NIL "alice" "example.test")(NIL NIL "carol" "example.test")) NIL NIL NIL "<report-1@example.test>"))
S: a5 OK FETCH completed
C: a6 FETCH 1 (BODYSTRUCTURE)
S: * 1 FETCH (BODYSTRUCTURE (("TEXT" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 24 0 NIL NIL NIL NIL)("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 12 NIL NIL NIL NIL) "mixed" ("boundary" "xyz") NIL NIL NIL))
S: a6 OK FETCH completed
C: a7 FETCH 1 (BODY)
S: * 1 FETCH (BODY (("TEXT" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 24 0)("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 12) "mixed"))
S: a7 OK FETCH completed
C: a8 FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject From)])
S: * 1 FETCH (BODY[HEADER.FIELDS (Subject From)] {49}
S: From: Bob <bob@example.test>
S: Subject: Report
S: 
S: )
S: a8 OK FETCH completed
C: a9 FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Subject From To Date Message-ID MIME-Version)])
S: * 1 FETCH (BODY[HEADER.FIELDS.NOT (Subject From To Date Message-ID MIME-Version)] {49}
S: Content-Type: multipart/mixed; boundary="xyz"
S: 
S: )
S: a9 OK FETCH completed
C: b1 FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME])
S: * 1 FETCH (BODY[1] {24}
S: Gr=C3=BC=C3=9Fe aus Bern BODY[2.MIME] {94}
S: Content-Type: application/octet-stream; name="data.bin"
S: Content-Transfer-Encoding: base64
S: 
S: )
S: b1 OK FETCH completed
C: b2 FETCH 1 (BODY.PEEK[TEXT]<0.7>)
S: * 1 FETCH (BODY[TEXT]<0> {7}
S: --xyz
S: )
S: b2 OK FETCH completed
C: b3 FETCH 1 (BODY.PEEK[3] BODY.PEEK[]<480.100>)
S: * 1 FETCH (BODY[3] "" BODY[]<480> {7}
S: xyz--
S: )
S: b3 OK FETCH completed
C: b4 FETCH 1 (FLAGS)
S: * 1 FETCH (FLAGS ())
S: b4 OK FETCH completed
C: b5 FETCH 1 (BODY[1])
S: * 1 FETCH (FLAGS (\Seen) BODY[1] {24}
S: Gr=C3=BC=C3=9Fe aus Bern)
S: b5 OK FETCH completed
C: b6 FETCH 1 (RFC822.SIZE RFC822.HEADER)
S: * 1 FETCH (RFC822.SIZE 487 RFC822.HEADER {242}
S: From: Bob <bob@example.test>
S: To: Alice <alice@example.test>, carol@example.test
S: Subject: Report
S: Date: Tue, 8 Feb 1994 10:00:00 +0000
S: Message-ID: <report-1@example.test>
S: MIME-Version: 1.0
S: Content-Type: multipart/mixed; boundary="xyz"
S: 
S: )
S: b6 OK FETCH completed
C: b7 FETCH 2 (FLAGS)
S: b7 BAD Invalid message sequence number
C: b8 UID FETCH 2:5 (FLAGS)
S: b8 OK UID FETCH completed
C: b9 UID FETCH * (FLAGS)
S: * 1 FETCH (UID 1 FLAGS (\Seen))
S: b9 OK UID FETCH completed
C: c1 FETCH 0 (FLAGS)
S: c1 BAD Command syntax error
C: c2 FETCH 1 (BOGUS)
S: c2 BAD Command syntax error
C: c3 LOGOUT
S: * BYE Logging out
S: c3 OK LOGOUT completed
=closed
