# RFC 9051 §3.1, §6.3, §6.4: commands of the authenticated and selected states are refused with
# BAD before LOGIN, whatever their arguments, and change nothing; the session goes on (the error
# limit is raised so that all of them fit).
=config imap.max_errors 100
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 SELECT INBOX
S: a1 BAD Log in first
C: a2 EXAMINE INBOX
S: a2 BAD Log in first
C: a3 CREATE Foo
S: a3 BAD Log in first
C: a4 DELETE Foo
S: a4 BAD Log in first
C: a5 RENAME Foo Bar
S: a5 BAD Log in first
C: a6 SUBSCRIBE INBOX
S: a6 BAD Log in first
C: a7 UNSUBSCRIBE INBOX
S: a7 BAD Log in first
C: a8 LIST "" *
S: a8 BAD Log in first
C: a9 LSUB "" *
S: a9 BAD Log in first
C: b1 STATUS INBOX (MESSAGES)
S: b1 BAD Log in first
C: b2 APPEND INBOX {3+}
S: b2 BAD Log in first
C: abc
C: b3 IDLE
S: b3 BAD Log in first
C: b4 NAMESPACE
S: b4 BAD Log in first
C: b5 ENABLE CONDSTORE
S: b5 BAD Log in first
C: b6 CLOSE
S: b6 BAD Log in first
C: b7 UNSELECT
S: b7 BAD Log in first
C: b8 EXPUNGE
S: b8 BAD Log in first
C: b9 SEARCH ALL
S: b9 BAD Log in first
C: c1 FETCH 1 FLAGS
S: c1 BAD Log in first
C: c2 STORE 1 +FLAGS (\Seen)
S: c2 BAD Log in first
C: c3 COPY 1 INBOX
S: c3 BAD Log in first
C: c4 MOVE 1 INBOX
S: c4 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: c5 UID FETCH 1 FLAGS
S: c5 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: c6 UID EXPUNGE 1
S: c6 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: c7 SORT (DATE) UTF-8 ALL
S: c7 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: c8 THREAD REFERENCES UTF-8 ALL
S: c8 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: c9 COMPRESS DEFLATE
S: c9 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: d1 LIST (SUBSCRIBED) "" *
S: d1 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: d2 SEARCH RETURN (COUNT) ALL
S: d2 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: d3 CHECK
S: d3 BAD Log in first
# SEND FAILED [Errno 32] Broken pipe
C: d4 LOGOUT
S: * BYE Logging out
S: d4 OK LOGOUT completed
# SEND FAILED [Errno 32] Broken pipe
=closed
