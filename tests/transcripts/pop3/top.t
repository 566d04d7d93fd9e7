# RFC 1939 §7 TOP msg n: the header (here with the MX's trace fields), the blank line after it,
# then the first n body lines, dot-stuffed like RETR (§3); n = 0 gives the header only, n beyond
# the body gives the whole message. A missing or non-numeric line count is a syntax error; a
# message number beyond the maildrop is refused.
S: +OK mailnook POP3 ready
=deliver alice@example.test dotted.eml
C: USER alice@example.test
S: +OK
C: PASS correct-horse-9
S~ \+OK Logged in, 1 messages \((?:449|450) octets\)
C: TOP 1 0
S: +OK
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
S: .
C: TOP 1 2
S: +OK
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
S: .
C: top 1 100
S: +OK
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
C: TOP 1
S: -ERR Syntax error
C: TOP 1 x
S: -ERR Syntax error
C: TOP 2 0
S: -ERR No such message
C: QUIT
S: +OK Bye, 0 messages deleted
=closed
=stored alice@example.test INBOX 1 dotted.eml
