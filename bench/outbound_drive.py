#!/usr/bin/env python3
"""Outbound-queue driver (Python standard library only), the same for every server.

  drain: submit N messages of --size bytes to --rcpt through a submission port
         (STARTTLS + AUTH, -k parallel connections; connection i logs in as user
         i+1 and sends with MAIL FROM and From: = its own address), then wait
         until the sink's count file shows N more messages. Reports the time
         from the first submission to the last submission's 250 and to the sink
         having all N, and the CPU of the server's process tree (and of the
         sink) over that window, read from /proc.
  rss:   print VmRSS/VmHWM (KiB) and CPU seconds so far of a process as JSON.
  submit: like drain without waiting for a sink (fill a queue).

  outbound_drive.py drain --port 20587 -n 1000 -k 8 --count-file /tmp/sink.count \\
      --pid $(pidof mailnook) --sink-pid SINKPID
  outbound_drive.py drain --port 13587 ... --pidfile /tmp/peers-drain/pids
"""
import argparse
import email.utils
import json
import os
import re
import smtplib
import ssl
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def tree(roots):
    """roots plus all their descendants (walks /proc ppid links)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                st = f.read()
            ppid = int(st[st.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    seen, todo = set(roots), list(roots)
    while todo:
        for c in kids.get(todo.pop(), ()):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def cpu_ticks(pid, with_children=True):
    """utime+stime (+ cutime+cstime of reaped children) of one process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            st = f.read()
        v = st[st.rindex(b")") + 2:].split()
        t = int(v[11]) + int(v[12])
        if with_children:
            t += int(v[13]) + int(v[14])
        return t
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU of a process tree, counting processes that start and exit inside
    the window: exited children are folded into their parent's cutime/cstime
    (like mailbench's ProcSet), new ones count in full."""

    def __init__(self, roots):
        self.roots = [r for r in roots if r]
        self.base = self._snap()

    def _snap(self):
        out = {}
        for p in tree(self.roots):
            t = cpu_ticks(p)
            if t is not None:
                out[p] = t
        return out

    def seconds(self):
        now = self._snap()
        d = 0
        for p, t in now.items():
            d += t - self.base.get(p, 0)
        for p, t in self.base.items():
            if p not in now:
                d -= t  # exited: its time reappears in the parent's cumulative counters
        return d / TICK


def read_count(path):
    try:
        with open(path) as f:
            m, b = f.read().split()
        return int(m), int(b)
    except (OSError, ValueError):
        return 0, 0


def pids_from(args):
    out = list(args.pid)
    for pf in args.pidfile:
        with open(pf) as f:
            for line in f:
                m = re.search(r"\d+", line)
                if m:
                    out.append(int(m.group()))
    return out


def make_msg(i, sender, rcpt, size, tag):
    head = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: outbound bench {tag} {i}\r\n"
            f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{tag}.{i}@bench.peer.test>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog; outbound queue benchmark body line.\r\n"
    body = bytearray()
    while len(head) + len(body) + len(line) <= size:
        body += line
    pad = size - len(head) - len(body)
    if pad >= 2:
        body += b"x" * (pad - 2) + b"\r\n"
    return head + bytes(body)


def submit(args):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tag = f"{int(time.time())}.{os.getpid()}"
    nxt = [0]
    lock = threading.Lock()
    ok, errs = [0], []
    first = [None]
    last_ok = [None]

    def worker(w):
        user = args.user_pattern.format(n=args.user_start + w)
        conn, on_conn = None, 0
        while True:
            with lock:
                i = nxt[0]
                if i >= args.n:
                    break
                nxt[0] += 1
                if first[0] is None:
                    first[0] = time.monotonic()
            msg = make_msg(i, user, args.rcpt, args.size, tag)
            try:
                if conn is None:
                    conn = smtplib.SMTP(args.host, args.port, local_hostname="driver.peer.test", timeout=120)
                    conn.starttls(context=ctx)
                    conn.login(user, args.password)
                    on_conn = 0
                conn.sendmail(user, [args.rcpt], msg)
                with lock:
                    ok[0] += 1
                    last_ok[0] = time.monotonic()
                on_conn += 1
                if args.msgs_per_conn and on_conn >= args.msgs_per_conn:
                    conn.quit()
                    conn = None
            except (OSError, smtplib.SMTPException) as e:
                with lock:
                    errs.append(f"{type(e).__name__}: {e}"[:300])
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
        if conn is not None:
            try:
                conn.quit()
            except Exception:
                pass

    ths = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(args.k)]
    for t in ths:
        t.start()
    return ths, ok, errs, first, last_ok


def cmd_drain(args):
    roots = pids_from(args)
    base_msgs, _ = read_count(args.count_file) if args.count_file else (0, 0)
    srv = CpuMeter(roots)
    sink = CpuMeter(args.sink_pid) if args.sink_pid else None
    t0 = time.monotonic()
    ths, ok, errs, first, last_ok = submit(args)
    for t in ths:
        t.join()
    t_sub = time.monotonic()
    t_sink = None
    deadline = t_sub + args.timeout
    if args.count_file:
        while time.monotonic() < deadline:
            m, _ = read_count(args.count_file)
            if m - base_msgs >= ok[0]:
                t_sink = time.monotonic()
                break
            time.sleep(0.02)
    cpu = srv.seconds()
    sink_cpu = sink.seconds() if sink else None
    m, b = read_count(args.count_file) if args.count_file else (0, 0)
    start = first[0] or t0
    out = {
        "port": args.port, "n": args.n, "k": args.k, "size": args.size, "accepted": ok[0],
        "errors": len(errs), "first_errors": errs[:3],
        "submit_s": round((last_ok[0] or t_sub) - start, 3),
        "submit_msgs_per_s": round(ok[0] / max(1e-9, (last_ok[0] or t_sub) - start), 1),
        "sink_received": m - base_msgs, "sink_bytes": b,
    }
    if t_sink is not None:
        total = t_sink - start
        out.update({"drain_total_s": round(total, 3), "drain_msgs_per_s": round(ok[0] / total, 1),
                    "drain_lag_after_last_submit_s": round(t_sink - (last_ok[0] or t_sub), 3)})
    else:
        out["drain_timeout"] = True
    out.update({"server_cpu_s": round(cpu, 3),
                "server_cpu_ms_per_msg": round(1000 * cpu / max(1, ok[0]), 3),
                "server_procs_at_end": len(tree(roots))})
    if sink_cpu is not None:
        out["sink_cpu_s"] = round(sink_cpu, 3)
        out["sink_cpu_pct_of_window"] = round(100 * sink_cpu / max(1e-9, (t_sink or time.monotonic()) - start), 1)
    if args.label:
        out = {"label": args.label, **out}
    print(json.dumps(out), flush=True)


def cmd_submit(args):
    ths, ok, errs, first, last_ok = submit(args)
    for t in ths:
        t.join()
    print(json.dumps({"accepted": ok[0], "errors": len(errs), "first_errors": errs[:3]}), flush=True)


def cmd_rss(args):
    vals = {"cpu_s": round(cpu_ticks(args.pid, with_children=False) / TICK, 2)}
    with open(f"/proc/{args.pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                vals[k + "_kib"] = int(v.split()[0])
    if args.label:
        vals = {"label": args.label, **vals}
    print(json.dumps(vals), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("drain", "submit"):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, required=True, help="submission port (STARTTLS + AUTH)")
        p.add_argument("-n", type=int, default=1000)
        p.add_argument("-k", type=int, default=8)
        p.add_argument("--size", type=int, default=4096)
        p.add_argument("--rcpt", default="x@remote.test")
        p.add_argument("--user-pattern", default="bench{n}@peer.test")
        p.add_argument("--user-start", type=int, default=1)
        p.add_argument("--password", default="benchpass")
        p.add_argument("--msgs-per-conn", type=int, default=0, help="0: one connection per worker")
        p.add_argument("--label", default=None)
        if name == "drain":
            p.add_argument("--count-file", required=True, help="the sink's count file")
            p.add_argument("--pid", type=int, action="append", default=[])
            p.add_argument("--pidfile", action="append", default=[])
            p.add_argument("--sink-pid", type=int, action="append", default=[])
            p.add_argument("--timeout", type=float, default=600.0, help="max wait for the sink after submitting")
    p = sub.add_parser("rss")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--label", default=None)
    args = ap.parse_args()
    {"drain": cmd_drain, "submit": cmd_submit, "rss": cmd_rss}[args.cmd](args)


if __name__ == "__main__":
    main()
