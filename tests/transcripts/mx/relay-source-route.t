# Open relay (RFC 5321 §4.1.1.3 and App. C: a source route, which smtp-proto would silently strip). An unauthenticated MX session delivers only to local users; the
# recipient is refused (550 5.7.1), DATA then finds no valid recipient, and nothing is stored or
# queued.
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
C: MAIL FROM:<spammer@evil.test>
S: 250 2.1.0 Sender ok
C: RCPT TO:<@relay.test:victim@example.test>
S: 550 5.7.1 Relaying denied
C: DATA
S: 554 5.5.1 No valid recipients
C: QUIT
S: 221 2.0.0 Bye
=closed
