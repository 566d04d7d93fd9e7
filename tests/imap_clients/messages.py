"""Test messages with known bytes for every part, so FETCH results can be compared exactly."""

import base64

# A multipart/mixed message: 1 text/plain quoted-printable, 2 application/octet-stream base64,
# 3 message/rfc822 whose body is multipart/alternative (3.1 text/plain, 3.2 text/html).
PART1_HEADER = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
PART1_BODY = b"Caf=C3=A9 cr=C3=A8me =3D ok=\r\n soft\r\nline two"
PART1_DECODED = "Café crème = ok soft\r\nline two".encode()
BLOB = bytes([0, 1, 2, 3, 4, 5, 0xFE, 0xFF, 0x0D, 0x0A, 0x00])
PART2_HEADER = (b"Content-Type: application/octet-stream; name=\"blob.bin\"\r\n"
                b"Content-Transfer-Encoding: base64\r\n"
                b"Content-Disposition: attachment; filename=\"blob.bin\"\r\n\r\n")
PART2_BODY = base64.b64encode(BLOB)
INNER_HEADER = (b"From: Inner Person <inner@remote.test>\r\n"
                b"To: alice@example.test\r\n"
                b"Subject: inner message\r\n"
                b"Date: Sun, 01 Jun 2025 08:00:00 +0200\r\n"
                b"Message-ID: <inner@remote.test>\r\n"
                b"MIME-Version: 1.0\r\n"
                b"Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n")
INNER_PART1_HEADER = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
INNER_PART1_BODY = b"inner plain"
INNER_PART2_HEADER = b"Content-Type: text/html; charset=us-ascii\r\n\r\n"
INNER_PART2_BODY = b"<p>inner html</p>"
INNER_BODY = (b"--inner\r\n" + INNER_PART1_HEADER + INNER_PART1_BODY + b"\r\n"
              b"--inner\r\n" + INNER_PART2_HEADER + INNER_PART2_BODY + b"\r\n"
              b"--inner--\r\n")
INNER = INNER_HEADER + INNER_BODY
PART3_HEADER = b"Content-Type: message/rfc822\r\n\r\n"
PART3_BODY = INNER
MULTI_HEADER = (b"From: \"Ann Example\" <ann@remote.test>\r\n"
                b"To: alice@example.test\r\n"
                b"Cc: Carl <carl@remote.test>\r\n"
                b"Subject: multipart test\r\n"
                b"Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
                b"Message-ID: <multi@remote.test>\r\n"
                b"MIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n")
MULTI_TEXT = (b"preamble\r\n"
              b"--outer\r\n" + PART1_HEADER + PART1_BODY + b"\r\n"
              b"--outer\r\n" + PART2_HEADER + PART2_BODY + b"\r\n"
              b"--outer\r\n" + PART3_HEADER + PART3_BODY + b"\r\n"
              b"--outer--\r\n"
              b"epilogue\r\n")
MULTI = MULTI_HEADER + MULTI_TEXT

# RFC 2047 base64 subject and a base64 UTF-8 body: SEARCH CHARSET UTF-8 must see through both.
UTF8_SUBJECT = "Grüße aus Köln"
UTF8_BODY = "Schöne Grüße, the naïve café\r\n"
ENCODED = ("From: =?utf-8?b?" + base64.b64encode("Jürgen".encode()).decode() + "?= <juergen@remote.test>\r\n"
           "To: alice@example.test\r\n"
           "Subject: =?utf-8?b?" + base64.b64encode(UTF8_SUBJECT.encode()).decode() + "?=\r\n"
           "Date: Tue, 03 Jun 2025 12:00:00 +0000\r\n"
           "Message-ID: <encoded@remote.test>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(UTF8_BODY.encode()).replace(b"\n", b"\r\n")
