# ALPACA / cross-protocol attacks (alpaca-attack.com, 2021): an HTTP request line on the SMTP
# port closes the connection with 421 before anything else is read.
S: 220 mx.example.test ESMTP mailnook
C: GET / HTTP/1.1
S: 421 4.7.0 HTTP is not spoken here, closing connection
=closed
