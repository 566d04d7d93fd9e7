# RFC 9051 §6.3.7 SUBSCRIBE, §6.3.8 UNSUBSCRIBE, RFC 3501 §6.3.9 LSUB: subscriptions are names
# and may outlive their mailbox; LSUB lists them (\Noselect for a vanished one and for a parent
# reached by % that is not subscribed itself), LIST (SUBSCRIBED) marks the vanished one \NonExistent (RFC 5258).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE Lists/Rust
S: a2 OK CREATE completed
C: a3 SUBSCRIBE Lists/Rust
S: a3 OK SUBSCRIBE completed
C: a4 SUBSCRIBE INBOX
S: a4 OK SUBSCRIBE completed
C: a5 SUBSCRIBE Gone
S: a5 OK SUBSCRIBE completed
C: a6 LSUB "" *
S: * LSUB (\HasNoChildren \Archive) "/" Archive
S: * LSUB (\HasNoChildren \Drafts) "/" Drafts
S: * LSUB (\Noselect) "/" Gone
S: * LSUB (\HasNoChildren) "/" INBOX
S: * LSUB (\HasNoChildren \Junk) "/" Junk
S: * LSUB (\HasNoChildren) "/" Lists/Rust
S: * LSUB (\HasNoChildren \Sent) "/" Sent
S: * LSUB (\HasNoChildren \Trash) "/" Trash
S: a6 OK LSUB completed
C: a7 LSUB "" %
S: * LSUB (\HasNoChildren \Archive) "/" Archive
S: * LSUB (\HasNoChildren \Drafts) "/" Drafts
S: * LSUB (\Noselect) "/" Gone
S: * LSUB (\HasNoChildren) "/" INBOX
S: * LSUB (\HasNoChildren \Junk) "/" Junk
S: * LSUB (\Noselect \HasChildren) "/" Lists
S: * LSUB (\HasNoChildren \Sent) "/" Sent
S: * LSUB (\HasNoChildren \Trash) "/" Trash
S: a7 OK LSUB completed
C: a8 LIST (SUBSCRIBED) "" *
S: * LIST (\HasNoChildren \Archive \Subscribed) "/" Archive
S: * LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts
S: * LIST (\NonExistent \Subscribed) "/" Gone
S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
S: * LIST (\HasNoChildren \Junk \Subscribed) "/" Junk
S: * LIST (\HasNoChildren \Subscribed) "/" Lists/Rust
S: * LIST (\HasNoChildren \Sent \Subscribed) "/" Sent
S: * LIST (\HasNoChildren \Trash \Subscribed) "/" Trash
S: a8 OK LIST completed
C: a9 UNSUBSCRIBE Gone
S: a9 OK UNSUBSCRIBE completed
C: b1 UNSUBSCRIBE Gone
S: b1 OK UNSUBSCRIBE completed
C: b2 LSUB "" *
S: * LSUB (\HasNoChildren \Archive) "/" Archive
S: * LSUB (\HasNoChildren \Drafts) "/" Drafts
S: * LSUB (\HasNoChildren) "/" INBOX
S: * LSUB (\HasNoChildren \Junk) "/" Junk
S: * LSUB (\HasNoChildren) "/" Lists/Rust
S: * LSUB (\HasNoChildren \Sent) "/" Sent
S: * LSUB (\HasNoChildren \Trash) "/" Trash
S: b2 OK LSUB completed
C: b3 LOGOUT
S: * BYE Logging out
S: b3 OK LOGOUT completed
=closed
