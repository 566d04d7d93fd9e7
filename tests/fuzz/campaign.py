#!/usr/bin/env python3
"""Run fuzz targets for a fixed amount of fuzzing each and record the result.

    python3 tests/fuzz/campaign.py --minutes 30 smtp_server_session imap_session ...
    python3 tests/fuzz/campaign.py --minutes 30 --lanes 2 --nice 19 --all

Each target runs under `cargo +nightly fuzz run --fuzz-dir tests/fuzz` with its dictionary (the
`DICTS` table) and `-print_final_stats=1`, one fuzzing process per target. The amount counted is
the *CPU time* of the fuzzer's process group, so a target that shares the machine (with other
lanes, a build, `--nice`) fuzzes as long as one that had a core to itself. `--lanes N` runs N
targets at once, each lane taking the next target from the list. While the file named by
`--pause-file` exists every fuzzer is stopped with SIGSTOP (so a benchmark can have the machine)
and resumed with SIGCONT when it goes. After its CPU time the fuzzer gets SIGINT and its last
status line and final statistics are parsed into one row appended to `--record`
(tests/fuzz/campaign.tsv by default): date, target, CPU seconds, executions, executions per CPU
second, coverage (`cov`), features (`ft`), corpus files, new units, crash artifacts, wall
seconds. A crash ends that target's run early; its artifact is left in
tests/fuzz/artifacts/<target>/ and counted. (Rows before the `wall_seconds` column ran one target
at a time on an otherwise idle core and counted wall time.)
"""

import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ_DIR = os.path.join(ROOT, "tests", "fuzz")

DICTS = {
    "smtp_server_session": "smtp.dict",
    "smtp_data": "smtp.dict",
    "line_splitter": "smtp.dict",
    "smtp_client": "smtp.dict",
    "submission_header": "mime.dict",
    "mime_summary": "mime.dict",
    "mime_structure": "mime.dict",
    "multipart": "mime.dict",
    "dkim_verify": "mime.dict",
    "dsn": "mime.dict",
    "spam_tokens": "mime.dict",
    "mbox_reader": "mime.dict",
    "imap_session": "imap.dict",
    "imap_parsers": "imap.dict",
    "imap_client_responses": "imap.dict",
    "dns_response": "dns.dict",
}

STATUS = re.compile(r"^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
FIELDS = "date target seconds execs execs_per_s cov ft corpus new_units crashes wall_seconds".split()
TICK = os.sysconf("SC_CLK_TCK")


def targets_all():
    names = os.listdir(os.path.join(FUZZ_DIR, "fuzz_targets"))
    return sorted(n[:-3] for n in names if n.endswith(".rs"))


def artifacts(target):
    d = os.path.join(FUZZ_DIR, "artifacts", target)
    if not os.path.isdir(d):
        return set()
    return {n for n in os.listdir(d) if n.startswith(("crash-", "oom-", "timeout-", "leak-"))}


def group_cpu_seconds(pgid):
    """User plus system CPU time of every live process in process group `pgid`."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state ppid pgrp ... utime (12th) stime (13th).
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICK


def nice_session(pid, nice):
    """Gives the session of `pid` the niceness `nice` as a whole. Linux schedules each session
    as one autogroup (`/proc/sys/kernel/sched_autogroup_enabled`) and shares the CPU between
    autogroups first, so a process's own niceness only counts within its session: a fuzzer in
    a session of its own at `nice 19` would still take half the machine from the shell's
    session (a test suite run alongside starves). Ignored where there are no autogroups."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass


def run(target, seconds, pause_file, log_dir, nice, build_lock):
    args = ["nice", "-n", str(nice), "cargo", "+nightly", "fuzz", "run", "--fuzz-dir", FUZZ_DIR, target, "--",
            # Wall-time bound: ends a fuzzer left behind if this script dies (it runs in a
            # session of its own, so it outlives its parent).
            "-print_final_stats=1", f"-max_total_time={seconds * 4}"]
    if target in DICTS:
        args.append(f"-dict={os.path.join(FUZZ_DIR, 'dict', DICTS[target])}")
    before = artifacts(target)
    # Built first, so that compiling is not counted as fuzzing time.
    with build_lock:
        subprocess.run(["cargo", "+nightly", "fuzz", "build", "--fuzz-dir", FUZZ_DIR, target],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    log_path = os.path.join(log_dir, f"{target}.log")
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        nice_session(proc.pid, nice)
        # The group's CPU time, kept across samples because a process that has exited (cargo's
        # children) no longer shows in /proc; the fuzzer itself lives for the whole run.
        active, paused = 0.0, False
        while proc.poll() is None and active < seconds:
            time.sleep(1)
            want_pause = bool(pause_file) and os.path.exists(pause_file)
            if want_pause != paused:
                os.killpg(proc.pid, signal.SIGSTOP if want_pause else signal.SIGCONT)
                paused = want_pause
            active = max(active, group_cpu_seconds(proc.pid))
        if proc.poll() is None:
            if paused:
                os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    status, stats = None, {}
    with open(log_path, errors="replace") as log:
        for line in log:
            m = STATUS.match(line)
            if m:
                status = m.groups()
            m = STAT.match(line)
            if m:
                stats[m.group(1)] = int(m.group(2))
    execs = stats.get("number_of_executed_units", int(status[0]) if status else 0)
    corpus_dir = os.path.join(FUZZ_DIR, "corpus", target)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "target": target,
        "seconds": int(active),
        "execs": execs,
        "execs_per_s": int(execs / max(active, 1)),
        "cov": status[1] if status else "?",
        "ft": status[2] if status else "?",
        "corpus": len(os.listdir(corpus_dir)) if os.path.isdir(corpus_dir) else 0,
        "new_units": stats.get("new_units_added", "?"),
        "crashes": len(artifacts(target) - before),
        "wall_seconds": int(time.monotonic() - started),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("targets", nargs="*")
    p.add_argument("--all", action="store_true", help="every target in tests/fuzz/fuzz_targets")
    p.add_argument("--minutes", type=float, default=30, help="CPU minutes of fuzzing per target")
    p.add_argument("--lanes", type=int, default=1, help="targets fuzzed at the same time")
    p.add_argument("--nice", type=int, default=10, help="niceness of the fuzzers")
    p.add_argument("--pause-file", default="/tmp/mailnook-fuzz-pause")
    p.add_argument("--record", default=os.path.join(FUZZ_DIR, "campaign.tsv"))
    p.add_argument("--log-dir", default=os.path.join(FUZZ_DIR, "artifacts", "logs"))
    a = p.parse_args()
    targets = targets_all() if a.all else a.targets
    if not targets:
        p.error("name targets or pass --all")
    unknown = set(targets) - set(targets_all())
    if unknown:
        p.error(f"unknown targets: {' '.join(sorted(unknown))}")
    os.makedirs(a.log_dir, exist_ok=True)
    if os.getsid(0) == os.getpid():
        # Started with setsid: the builds run in this script's own session. (In a shell's
        # session, this would renice the shell and everything else in it.)
        nice_session(os.getpid(), a.nice)
    if not os.path.exists(a.record):
        with open(a.record, "w") as f:
            f.write("\t".join(FIELDS) + "\n")
    queue, failed = list(targets), []
    lock, build_lock = threading.Lock(), threading.Lock()

    def lane():
        while True:
            with lock:
                if not queue:
                    return
                target = queue.pop(0)
            row = run(target, int(a.minutes * 60), a.pause_file, a.log_dir, a.nice, build_lock)
            with lock:
                with open(a.record, "a") as f:
                    f.write("\t".join(str(row[k]) for k in FIELDS) + "\n")
                print("\t".join(f"{k}={row[k]}" for k in FIELDS[1:]), flush=True)
                if row["crashes"]:
                    failed.append(target)

    lanes = [threading.Thread(target=lane) for _ in range(max(a.lanes, 1))]
    for t in lanes:
        t.start()
    for t in lanes:
        t.join()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
