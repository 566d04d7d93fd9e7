# ALPACA / open-proxy probes: CONNECT closes the connection with 421.
S: 220 mx.example.test ESMTP mailnook
C: CONNECT evil.test:25 HTTP/1.0
S: 421 4.7.0 HTTP is not spoken here, closing connection
=closed
