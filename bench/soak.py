#!/usr/bin/env python3
"""Memory soak: mailnook under mixed load for a long time, its RSS sampled and plotted.

    cargo build --release --target x86_64-unknown-linux-musl
    python3 bench/soak.py [--minutes 30] [--interval 10] [--binary PATH] [--out DIR] [--set KEY=VALUE]...

Starts a release mailnook (by default the static musl build, the kind the boards and the SD image
run; a glibc build keeps freed argon2 buffers in per-thread arenas, see README "Performance") on port base 21000 in a fresh data folder (domain peer.test, users
bench1..bench20@peer.test / benchpass), then runs ../shared/bench/mailbench.py against it in a
loop until the time is up: smtp-deliver (300 messages, 4 KiB/64 KiB/1 MiB mix, 4 connections,
STARTTLS), imap-session (4 clients, 3 sessions each: SELECT, FETCH, SEARCH, STORE), pop3-drain
with DELE (so the mailboxes return to empty and the store reaches a steady state), and an
idle-conns round (100 IMAP IDLE connections opened and closed). Every --interval seconds it
reads VmRSS and VmHWM of the server from /proc.

Writes DIR/soak.csv (seconds, RSS KiB, peak KiB, loop round) and DIR/soak.svg (RSS over time),
and prints the verdict: the median RSS of the first and last fifth of the run (after a warm-up
round) and the least-squares slope in KiB per hour. Exit status 1 when the last fifth's median
is more than 10 % above the first fifth's (memory that grows with the run: a leak).
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAILBENCH = os.path.join(ROOT, "..", "shared", "bench", "mailbench.py")
BASE = 21000
USERS = 20


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out["VmRSS"], out["VmHWM"]


def svg(samples, path, title):
    w, h, m = 800, 300, 50
    t_max = max(s[0] for s in samples) or 1
    r_max = max(s[1] for s in samples) * 1.2 / 1024
    pts = " ".join("%.1f,%.1f" % (m + s[0] / t_max * (w - 2 * m), h - m - s[1] / 1024 / r_max * (h - 2 * m))
                   for s in samples)
    ticks = []
    for i in range(6):
        v = r_max * i / 5
        y = h - m - v / r_max * (h - 2 * m)
        ticks.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                     '<text x="%d" y="%.1f" font-size="11" text-anchor="end">%.1f</text>'
                     % (m, y, w - m, y, m - 4, y + 4, v))
    for i in range(6):
        t = t_max * i / 5
        x = m + t / t_max * (w - 2 * m)
        ticks.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%.0f</text>' % (x, h - m + 16, t / 60))
    with open(path, "w") as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">\n' % (w, h))
        f.write('<rect width="100%" height="100%" fill="white"/>\n')
        f.write("\n".join(ticks) + "\n")
        f.write('<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="%s"/>\n' % pts)
        f.write('<text x="%d" y="20" font-size="13">%s</text>\n' % (m, title))
        f.write('<text x="%d" y="%d" font-size="11" text-anchor="middle">minutes</text>\n' % (w / 2, h - 8))
        f.write('<text x="14" y="%d" font-size="11" transform="rotate(-90 14 %d)" text-anchor="middle">RSS MiB</text>\n'
                % (h / 2, h / 2))
        f.write("</svg>\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                                                     "x86_64-unknown-linux-musl", "release", "mailnook"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "soak"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting for the data folder (mailnook config set), e.g. store.cache_bytes=1048576")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    data = tempfile.mkdtemp(prefix="mn-soak-")
    mn = a.binary

    def cli(*args, stdin=None):
        subprocess.run([mn, *args, "--data", data], check=True, input=stdin, capture_output=True, text=True)
    cli("init", "--domain", "peer.test", "--hostname", "localhost")
    cli("config", "set", "net.max_conns_per_ip", "1000")
    for kv in a.set:
        cli("config", "set", *kv.split("=", 1))
    for n in range(1, USERS + 1):
        cli("user", "add", "bench%d@peer.test" % n, "--password", "benchpass")
    log = open(os.path.join(a.out, "server.log"), "w")
    server = subprocess.Popen([mn, "serve", "--port-base", str(BASE), "--data", data], stdout=log, stderr=log)
    time.sleep(2)
    target = ("--name mailnook --domain peer.test --users %d --smtp-port %d --submission-port %d --imap-port %d "
              "--imaps-port %d --pop3-port %d --pop3s-port %d --pid %d"
              % (USERS, BASE + 25, BASE + 587, BASE + 143, BASE + 993, BASE + 110, BASE + 995, server.pid)).split()
    samples, rounds, stop = [], [0], threading.Event()
    t0 = time.monotonic()

    def sampler():
        while not stop.is_set():
            r, hwm = rss(server.pid)
            samples.append((time.monotonic() - t0, r, hwm, rounds[0]))
            stop.wait(a.interval)
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    runs = [
        ["--scenarios", "smtp-deliver", "-n", "300", "-k", "4", "--tls", "starttls"],
        ["--scenarios", "imap-session", "-c", "4", "--sessions", "3", "--mbox-users", str(USERS), "--tls", "starttls"],
        ["--scenarios", "pop3-drain", "--pop3-clients", "4", "--pop3-dele", "--mbox-users", str(USERS), "--tls", "starttls"],
        ["--scenarios", "idle-conns", "-m", "100", "--idle-probes", "5", "--mbox-users", str(USERS), "--tls", "starttls"],
    ]
    failures = 0
    try:
        while time.monotonic() - t0 < a.minutes * 60:
            for args in runs:
                r = subprocess.run([sys.executable, MAILBENCH, "run", *target, *args], capture_output=True, text=True)
                if r.returncode != 0:
                    failures += 1
                    sys.stderr.write("mailbench %s failed: %s\n" % (args[1], r.stderr[-500:]))
                if server.poll() is not None:
                    raise SystemExit("soak: mailnook exited with %s" % server.returncode)
            rounds[0] += 1
            print("round %d at %.0f s: RSS %d KiB" % (rounds[0], time.monotonic() - t0, samples[-1][1]), flush=True)
    finally:
        stop.set()
        th.join()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        shutil.rmtree(data, ignore_errors=True)
    with open(os.path.join(a.out, "soak.csv"), "w") as f:
        f.write("seconds,rss_kib,peak_kib,round\n")
        for s in samples:
            f.write("%.1f,%d,%d,%d\n" % s)
    warm = [s for s in samples if s[3] >= 1] or samples
    fifth = max(1, len(warm) // 5)
    first = statistics.median(s[1] for s in warm[:fifth])
    last = statistics.median(s[1] for s in warm[-fifth:])
    n = len(warm)
    mt = sum(s[0] for s in warm) / n
    mr = sum(s[1] for s in warm) / n
    den = sum((s[0] - mt) ** 2 for s in warm) or 1
    slope = sum((s[0] - mt) * (s[1] - mr) for s in warm) / den * 3600
    title = "mailnook RSS under mixed load, %.0f min, %d rounds" % ((samples[-1][0]) / 60, rounds[0])
    svg(samples, os.path.join(a.out, "soak.svg"), title)
    print("soak: %d rounds in %.1f min, %d mailbench failures; RSS median first fifth %d KiB, last fifth %d KiB "
          "(%+.1f %%), slope %+.0f KiB/h, peak %d KiB" % (rounds[0], samples[-1][0] / 60, failures, first, last,
                                                         (last / first - 1) * 100, slope, max(s[2] for s in samples)))
    return 0 if last <= first * 1.10 and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
