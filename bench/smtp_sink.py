#!/usr/bin/env python3
"""Fast SMTP sink for outbound benchmarks (Python standard library only).

Listens on 127.0.0.1:PORT, offers STARTTLS with the given certificate, accepts
AUTH PLAIN/LOGIN with any credentials and every MAIL/RCPT, counts messages
(one per DATA/BDAT LAST accepted) and payload bytes (after dot-unstuffing),
and throws the mail away.

  smtp_sink.py --port 2626 --cert cert.pem --key key.pem --count-file /tmp/sink.count

The count file holds "MESSAGES BYTES" and is rewritten at most every
--flush-ms (and on exit); on SIGTERM/SIGINT one JSON line with the totals is
printed to stdout.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import time

EHLO_LINES = ["PIPELINING", "8BITMIME", "SIZE 104857600", "STARTTLS", "AUTH PLAIN LOGIN",
              "ENHANCEDSTATUSCODES"]


class Stats:
    def __init__(self, path, flush_ms):
        self.messages = 0
        self.bytes = 0
        self.recipients = 0
        self.connections = 0
        self.tls = 0
        self.first = None
        self.last = None
        self.path = path
        self.flush_s = flush_ms / 1000.0
        self.dirty = False

    def write(self):
        if self.path:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{self.messages} {self.bytes}\n")
            os.replace(tmp, self.path)
        self.dirty = False

    def json(self):
        return json.dumps({"messages": self.messages, "bytes": self.bytes, "recipients": self.recipients,
                           "connections": self.connections, "tls_sessions": self.tls,
                           "first_msg_unix": self.first, "last_msg_unix": self.last})


async def flusher(stats):
    while True:
        await asyncio.sleep(stats.flush_s)
        if stats.dirty:
            stats.write()


async def session(reader, writer, stats, tls_ctx, hostname):
    stats.connections += 1
    w = writer.write

    async def reply(text):
        w(text.encode() + b"\r\n")
        # only wait for the socket when the write buffer fills (keeps pipelined replies batched)
        if writer.transport.get_write_buffer_size() > 65536:
            await writer.drain()

    async def flush():
        await writer.drain()

    in_tls = False
    have_mail = False
    rcpts = 0
    try:
        await reply(f"220 {hostname} ESMTP sink")
        await flush()
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = line[:4].upper()
            if cmd in (b"EHLO", b"HELO"):
                have_mail, rcpts = False, 0
                if cmd == b"HELO":
                    await reply(f"250 {hostname}")
                else:
                    lines = [hostname] + [x for x in EHLO_LINES if not (in_tls and x == "STARTTLS")]
                    out = [f"250-{x}" for x in lines[:-1]] + [f"250 {lines[-1]}"]
                    await reply("\r\n".join(out))
            elif cmd == b"STAR":  # STARTTLS
                if in_tls or tls_ctx is None:
                    await reply("503 5.5.1 TLS not available")
                    continue
                await reply("220 2.0.0 ready")
                await flush()
                await writer.start_tls(tls_ctx)
                in_tls = True
                stats.tls += 1
                have_mail, rcpts = False, 0
                continue
            elif cmd == b"AUTH":
                parts = line.split()
                mech = parts[1].upper() if len(parts) > 1 else b""
                if mech == b"PLAIN" and len(parts) < 3:
                    await reply("334 ")
                    await flush()
                    await reader.readline()
                elif mech == b"LOGIN":
                    if len(parts) < 3:
                        await reply("334 VXNlcm5hbWU6")
                        await flush()
                        await reader.readline()
                    await reply("334 UGFzc3dvcmQ6")
                    await flush()
                    await reader.readline()
                await reply("235 2.7.0 accepted")
            elif cmd == b"MAIL":
                have_mail, rcpts = True, 0
                await reply("250 2.1.0 ok")
            elif cmd == b"RCPT":
                if not have_mail:
                    await reply("503 5.5.1 MAIL first")
                else:
                    rcpts += 1
                    await reply("250 2.1.5 ok")
            elif cmd == b"DATA":
                if not rcpts:
                    await reply("503 5.5.1 RCPT first")
                    continue
                await reply("354 go ahead")
                await flush()
                size = 0
                while True:
                    l = await reader.readline()
                    if not l:
                        return
                    if l[:1] == b".":
                        if l in (b".\r\n", b".\n"):
                            break
                        l = l[1:]  # dot-unstuffing
                    size += len(l)
                stats.messages += 1
                stats.recipients += rcpts
                stats.bytes += size
                stats.last = time.time()
                if stats.first is None:
                    stats.first = stats.last
                stats.dirty = True
                have_mail, rcpts = False, 0
                await reply("250 2.0.0 queued")
            elif cmd == b"BDAT":
                parts = line.split()
                n = int(parts[1])
                await reader.readexactly(n)
                stats.bytes += n
                if len(parts) > 2 and parts[2].upper() == b"LAST":
                    stats.messages += 1
                    stats.recipients += rcpts
                    stats.last = time.time()
                    if stats.first is None:
                        stats.first = stats.last
                    stats.dirty = True
                    have_mail, rcpts = False, 0
                await reply("250 2.0.0 ok")
            elif cmd == b"RSET":
                have_mail, rcpts = False, 0
                await reply("250 2.0.0 ok")
            elif cmd == b"NOOP":
                await reply("250 2.0.0 ok")
            elif cmd == b"QUIT":
                await reply("221 2.0.0 bye")
                await flush()
                return
            else:
                await reply("502 5.5.2 command not implemented")
            # reply batching: flush once the client has no more pipelined input
            if not reader._buffer:  # noqa: SLF001 (stdlib StreamReader)
                await flush()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", help="PEM certificate offered with STARTTLS")
    ap.add_argument("--key", help="PEM private key")
    ap.add_argument("--count-file", help='rewritten with "MESSAGES BYTES"')
    ap.add_argument("--flush-ms", type=int, default=100)
    ap.add_argument("--hostname", default="sink.remote.test")
    ns = ap.parse_args()
    if ns.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("loopback only")
    tls_ctx = None
    if ns.cert:
        tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ctx.load_cert_chain(ns.cert, ns.key)
    stats = Stats(ns.count_file, ns.flush_ms)
    stats.write()
    server = await asyncio.start_server(lambda r, w: session(r, w, stats, tls_ctx, ns.hostname),
                                        ns.host, ns.port, limit=1 << 20, backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # a client dropping the connection during the TLS close is normal here: stay quiet
    loop.set_exception_handler(lambda _loop, _ctx: None)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    fl = asyncio.create_task(flusher(stats))
    print(json.dumps({"listening": f"{ns.host}:{ns.port}", "pid": os.getpid()}), flush=True)
    await stop.wait()
    fl.cancel()
    server.close()
    stats.write()
    print(stats.json(), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
