#!/usr/bin/env bash
# report.sh — the performance report: mailnook against Postfix+Dovecot measured by
# `mailbench.py compare` in one sitting (every scenario, the targets alternated, $REPEATS
# repeats), turned into the README's table and plot by bench/report.py. A documented command, not a CI step: it starts
# servers, takes about 15 minutes and wants a quiet machine.
#
#   MAILNOOK=target/x86_64-unknown-linux-musl/release/mailnook bench/report.sh
#
# (the static musl build is what the boards run; raw results in $WORK/fresh.jsonl, load.jsonl and
# compare.txt, copied to bench/report/compare.jsonl; table bench/report/report.md, plot
# bench/report/report.svg)
#
# What it starts: the private peer stack (lib.sh, ports +10000; stopped at the end only if it
# started it) and mailnook on port base $MN_BASE from a fresh copy of $TEMPLATE, once per repeat
# for the idle-memory scenarios and once for the rest.
set -euo pipefail
BENCH_NAME=report
WORK="${WORK:-/tmp/mn-report}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N="${N:-1000}"          # smtp-deliver: messages (4 KiB/64 KiB/1 MiB mix)
K="${K:-8}"             # smtp-deliver: connections
C="${C:-20}"            # imap-session and pop3-drain: clients
M="${M:-500}"           # idle-conns: connections
OUT_DIR="${OUT_DIR:-$REPO/bench/report}"

compare() { # out-file mailnook-pid mailbench-options... (printed, output kept in compare.txt)
  local out="$1" pid="$2"; shift 2
  set -x
  python3 "$MAILBENCH" compare "$@" --out "$out" \
    --a "--name postfix+dovecot $PEERS_TARGET" \
    --b "--name mailnook $(mailnook_target "$pid")" \
    2>&1 | tee -a "$WORK/compare.txt"
  { set +x; } 2>/dev/null
}

ensure_priv
rm -f "$WORK/fresh.jsonl" "$WORK/load.jsonl" "$WORK/compare.txt"
# Idle memory and idle connections on a freshly started mailnook each time (memory a busy server
# keeps for reuse would hide the cost of a connection), so one repeat per start.
for r in $(seq 1 "$REPEATS"); do
  start_mailnook "fresh$r" "$MN_BASE"; pid="$MN_PID"
  say "fresh server $r of $REPEATS: memory, idle-conns (mailnook pid $pid)"
  compare "$WORK/fresh.jsonl" "$pid" --repeats 1 --scenarios memory,idle-conns -m "$M"
  stop_pid "$pid"
done
# Throughput, latency, CPU and writes: one server, $REPEATS repeats.
start_mailnook load "$MN_BASE"; pid="$MN_PID"
say "mailbench compare, $REPEATS repeats (mailnook pid $pid)"
compare "$WORK/load.jsonl" "$pid" --repeats "$REPEATS" \
  --scenarios fill,smtp-deliver,imap-session,pop3-drain \
  -n "$N" -k "$K" -c "$C" --mbox-users 20 --fill-count 50 --pop3-clients 10
stop_pid "$pid"
mkdir -p "$OUT_DIR"
python3 "$HERE/report.py" "$WORK/fresh.jsonl" "$WORK/load.jsonl" \
  --md "$OUT_DIR/report.md" --svg "$OUT_DIR/report.svg"
cat "$WORK/fresh.jsonl" "$WORK/load.jsonl" >"$OUT_DIR/compare.jsonl"
say "table: $OUT_DIR/report.md, plot: $OUT_DIR/report.svg"
