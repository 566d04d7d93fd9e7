# RFC 5258 LIST-EXTENDED: selection options (SUBSCRIBED, RECURSIVEMATCH with CHILDINFO,
# SPECIAL-USE), several patterns, return options (SUBSCRIBED, CHILDREN, SPECIAL-USE); an unknown
# option, RECURSIVEMATCH alone, an empty pattern list and a missing pattern are BAD (§3).
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT STARTTLS AUTH=PLAIN] mailnook ready
C: a1 LOGIN alice@example.test correct-horse-9
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE BINARY SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE APPENDLIMIT=52428800] Logged in
C: a2 CREATE Foo/Bar
S: a2 OK CREATE completed
C: a3 CREATE Foo/Baz
S: a3 OK CREATE completed
C: a4 SUBSCRIBE Foo/Bar
S: a4 OK SUBSCRIBE completed
C: a5 SUBSCRIBE Sent
S: a5 OK SUBSCRIBE completed
C: a6 LIST (SUBSCRIBED) "" *
S: * LIST (\HasNoChildren \Archive \Subscribed) "/" Archive
S: * LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts
S: * LIST (\HasNoChildren \Subscribed) "/" Foo/Bar
S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
S: * LIST (\HasNoChildren \Junk \Subscribed) "/" Junk
S: * LIST (\HasNoChildren \Sent \Subscribed) "/" Sent
S: * LIST (\HasNoChildren \Trash \Subscribed) "/" Trash
S: a6 OK LIST completed
C: a7 LIST (SUBSCRIBED RECURSIVEMATCH) "" %
S: * LIST (\HasNoChildren \Archive \Subscribed) "/" Archive
S: * LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts
S: * LIST (\HasChildren) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))
S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
S: * LIST (\HasNoChildren \Junk \Subscribed) "/" Junk
S: * LIST (\HasNoChildren \Sent \Subscribed) "/" Sent
S: * LIST (\HasNoChildren \Trash \Subscribed) "/" Trash
S: a7 OK LIST completed
C: a8 LIST "" (INBOX Foo/%) RETURN (CHILDREN SUBSCRIBED)
S: * LIST (\HasNoChildren \Subscribed) "/" Foo/Bar
S: * LIST (\HasNoChildren) "/" Foo/Baz
S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
S: a8 OK LIST completed
C: a9 LIST (SPECIAL-USE) "" *
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: a9 OK LIST completed
C: b1 LIST "" % RETURN (SPECIAL-USE)
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasChildren) "/" Foo
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: b1 OK LIST completed
C: b2 LIST (SPECIAL-USE RECURSIVEMATCH) "" %
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasChildren) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: b2 OK LIST completed
C: b3 LIST (RECURSIVEMATCH) "" *
S: b3 BAD LIST syntax error
C: b4 LIST (BOGUS) "" *
S: b4 BAD LIST syntax error
C: b5 LIST "" ()
S: b5 BAD LIST syntax error
C: b6 LIST "" * RETURN (BOGUS)
S: b6 BAD LIST syntax error
C: b7 LIST ""
S: b7 BAD LIST syntax error
C: b8 LIST "" * RETURN ()
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasChildren) "/" Foo
S: * LIST (\HasNoChildren) "/" Foo/Bar
S: * LIST (\HasNoChildren) "/" Foo/Baz
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: b8 OK LIST completed
C: b9 LOGOUT
S: * BYE Logging out
S: b9 OK LOGOUT completed
=closed
