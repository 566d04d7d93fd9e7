"""Asks for NAME.local over multicast DNS as a peer on the LAN does (RFC 6762 §5.2: a QM query
sent from port 5353 to 224.0.0.251) and prints the A records of the first response that
answers it: `A <address> <ttl> <cache-flush 0|1>`, then `FROM <ip>` (the address the route to
the group leaves from, which the responder must answer with). Exits 1 on timeout.

Python's socket does the multicast; dnspython builds and parses the DNS messages."""

import socket
import sys
import time

import dns.message
import dns.rdatatype

name = sys.argv[1]
deadline = time.time() + float(sys.argv[2] if len(sys.argv) > 2 else 8)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("", 5353))
s.setsockopt(
    socket.IPPROTO_IP,
    socket.IP_ADD_MEMBERSHIP,
    socket.inet_aton("224.0.0.251") + socket.inet_aton("0.0.0.0"),
)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)

probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect(("224.0.0.251", 5353))
local = probe.getsockname()[0]

query = dns.message.make_query(name, "A")
query.id = 0
wire = query.to_wire()
s.settimeout(1.0)
s.sendto(wire, ("224.0.0.251", 5353))
while time.time() < deadline:
    try:
        data, src = s.recvfrom(9000)
    except socket.timeout:
        s.sendto(wire, ("224.0.0.251", 5353))
        continue
    try:
        msg = dns.message.from_wire(data)
    except Exception:
        continue
    if not msg.flags & 0x8000:
        continue
    found = []
    for rrset in msg.answer:
        if rrset.name.to_text().lower() != name.lower().rstrip(".") + "." or rrset.rdtype != dns.rdatatype.A:
            continue
        flush = 1 if int(rrset.rdclass) & 0x8000 else 0
        # With the cache-flush bit the class is not IN to dnspython: the rdata stays raw.
        for rr in rrset:
            addr = getattr(rr, "address", None) or socket.inet_ntoa(rr.data)
            found.append(f"A {addr} {rrset.ttl} {flush}")
    if found:
        print("\n".join(found))
        print(f"FROM {local}")
        sys.exit(0)
sys.exit(1)
