# RFC 1939 §10 example POP3 session, adapted: APOP is not offered (the greeting has no
# timestamp, RFC 1939 §7), so the client logs in with USER/PASS (§7); then STAT, LIST, RETR 1,
# DELE 1, RETR 2, DELE 2 and QUIT, whose UPDATE state (§6) removes both messages: the runner
# checks that INBOX is empty afterwards (no =stored line). Message 2 has lines starting with "."
# which RETR sends dot-stuffed (§3). Sizes are the stored sizes, which include the trace header
# the MX prepends; its date has a one- or two-digit day, hence two possible values each.
S: +OK mailnook POP3 ready
=deliver alice@example.test short.eml
=deliver alice@example.test dotted.eml
C: APOP alice@example.test c4c9334bac560ecc979e58001b3e22fb
S: -ERR Unknown command
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 2 messages \((?:828|830) octets\)
C: STAT
S~ \+OK 2 (?:828|830)
C: LIST
S~ \+OK 2 messages \((?:828|830) octets\)
S~ 1 (?:379|380)
S~ 2 (?:449|450)
S: .
C: RETR 1
S~ \+OK (?:379|380) octets
S: Return-Path: <sender@remote.test>
S: Received: from client.test ([127.0.0.1])
S~ \tby mx\.example\.test \(mailnook\) with ESMTP id [0-9a-f]{16}
S~ \tfor <alice@example\.test>; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000
S: From: Bob <bob@example.test>
S: To: Alice <alice@example.test>
S: Subject: Lunch
S: Date: Mon, 2 Mar 2026 09:00:00 +0000
S: Message-ID: <lunch-1@example.test>
S: 
S: Noon at the usual place?
S: .
C: DELE 1
S: +OK Marked to be deleted
C: RETR 2
S~ \+OK (?:449|450) octets
S: Return-Path: <sender@remote.test>
S: Received: from client.test ([127.0.0.1])
S~ \tby mx\.example\.test \(mailnook\) with ESMTP id [0-9a-f]{16}
S~ \tfor <alice@example\.test>; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000
S: From: Bob <bob@example.test>
S: To: Alice <alice@example.test>
S: Subject: Dots
S: Date: Mon, 2 Mar 2026 09:05:00 +0000
S: Message-ID: <dots-1@example.test>
S: 
S: First line.
S: ..hidden line starting with a dot
S: ...two dots
S: ..
S: Line after a lone dot.
S: Last line.
S: .
C: DELE 2
S: +OK Marked to be deleted
C: QUIT
S: +OK Bye, 2 messages deleted
=closed
