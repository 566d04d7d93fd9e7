# CVE-2011-0411 with RSET: "STARTTLS\r\nRSET\r\n" in one write; the injected RSET is never
# answered, so the first line inside TLS is the reply to our NOOP-free EHLO.
S: 220 mx.example.test ESMTP mailnook
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250 STARTTLS
C! "STARTTLS\r\nRSET\r\n"
S: 220 2.0.0 Ready to start TLS
=tls
C: EHLO client.test
S: 250-mx.example.test
S: 250-PIPELINING
S: 250-SIZE 52428800
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250 CHUNKING
C: QUIT
S: 221 2.0.0 Bye
=closed
