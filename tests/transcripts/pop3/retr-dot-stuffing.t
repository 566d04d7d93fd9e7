# RFC 1939 §3 (multi-line responses) and §7 RETR: every line of the message starting with "."
# is sent with one more "." (byte-stuffing), so a line holding only "." cannot end the response
# early; the response ends with "." alone. RETR neither deletes nor changes the message (the
# stored copy is checked afterwards). The size includes the MX's trace header (one- or
# two-digit day in its date).
S: +OK mailnook POP3 ready
=deliver alice@example.test dotted.eml
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 1 messages \((?:449|450) octets\)
C: RETR 1
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
C: NOOP
S: +OK
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
=stored alice@example.test INBOX 1 dotted.eml
