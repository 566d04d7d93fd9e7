# RFC 5321 §4.1.1.10: QUIT gets 221 and the server closes the connection.
S: 220 mx.example.test ESMTP mailnook
C: QUIT
S: 221 2.0.0 Bye
=closed
