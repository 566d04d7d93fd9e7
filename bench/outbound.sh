#!/usr/bin/env bash
# outbound.sh — benchmark mailnook's submission role and outbound queue against Postfix.
# A documented command, not a CI step: it starts servers, takes minutes and wants a quiet machine.
#
#   bench/outbound.sh [all|submission|drain|rss]     (default: all; results in $WORK/results.jsonl)
#
# Needs: a release build of mailnook ($MAILNOOK), a mailnook data folder with users
# bench1..bench200@peer.test / benchpass and the peers' argon2 cost ($TEMPLATE, copied, never
# modified), ../shared/peers/up.sh and ../shared/bench/mailbench.py, python3, openssl, postfix.
#
#   submission  mailbench smtp-deliver --smtp-auth (through bench/mailbench_auth.py, which makes
#               MAIL FROM and From: the logged-in user's address) against Postfix's submission port
#               of a private peer stack (12587) and mailnook's (20587); local recipients.
#   drain       N 4 KiB messages to x@remote.test through each server's submission port (AUTH,
#               K connections), relayed to bench/smtp_sink.py over STARTTLS: a second Postfix
#               instance ($DRAIN_STATE, relayhost = the sink) vs mailnook with smarthost = the sink.
#   rss         mailnook's RSS fresh, then with N messages queued for a smarthost on a closed port,
#               sampled across retry cycles (queue.retry_base_secs=1, retry_max_secs=2).
#
# Everything it starts is stopped at the end (mailnook by PID, the sink by PID, the drain Postfix
# and Dovecot with down.sh); the private peer stack is stopped only if this script started it.
set -euo pipefail

BENCH_NAME=outbound
WORK="${WORK:-/tmp/mn-outbound}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE="${1:-all}"
N="${N:-1000}"
K="${K:-8}"
DRAIN_STATE="${DRAIN_STATE:-/tmp/peers-drain}"   # Postfix drain instance, offset 11000
SINK_PORT="${SINK_PORT:-29525}"
MN_RSS_BASE="${MN_RSS_BASE:-21000}"  # mailnook for the RSS check
SUB_MPC="${SUB_MPC:-10 0}"       # submission: messages per connection (mailbench --msgs-per-conn; 0: unlimited)
MN_QUEUE_CONCURRENCY="${MN_QUEUE_CONCURRENCY:-4}"  # mailnook queue.concurrency for the drain (4: default)
RESULTS="$WORK/results.jsonl"

DRAIN_STARTED=0
bench_cleanup_extra() {
  if [ "$DRAIN_STARTED" = 1 ]; then
    postfix -c "$DRAIN_STATE/postfix/etc" stop >/dev/null 2>&1 || true
    PEERS_STATE="$DRAIN_STATE" "$PEERS_DOWN" >/dev/null 2>&1 || true
  fi
}

# ------------------------------------------------------------------ sink
SINK_PID=""
start_sink() {
  [ -s "$WORK/sink-cert.pem" ] || openssl req -x509 -nodes -days 30 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -subj "/CN=sink.remote.test" -keyout "$WORK/sink-key.pem" -out "$WORK/sink-cert.pem" 2>/dev/null
  rm -f "$WORK/sink.count"
  python3 "$HERE/smtp_sink.py" --port "$SINK_PORT" --cert "$WORK/sink-cert.pem" --key "$WORK/sink-key.pem" \
    --count-file "$WORK/sink.count" >"$WORK/sink.out" 2>&1 &
  SINK_PID=$!
  STARTED_PIDS+=("$SINK_PID")
  for _ in $(seq 1 50); do [ -s "$WORK/sink.count" ] && break; sleep 0.1; done
}
stop_sink() {
  kill -TERM "$SINK_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SINK_PID" 2>/dev/null || break; sleep 0.1; done
  tail -n1 "$WORK/sink.out"
}

# ------------------------------------------------------------------ peers
ensure_drain() {
  running "$DRAIN_STATE" || DRAIN_STARTED=1
  # only bench1..bench8 log in here (8 submission connections)
  PEERS_STATE="$DRAIN_STATE" PEERS_PORT_OFFSET=11000 PEERS_USERS=8 "$PEERS_UP" >"$WORK/peers-drain-up.log" 2>&1 \
    || die "drain peer stack failed (see $WORK/peers-drain-up.log)"
  local etc="$DRAIN_STATE/postfix/etc"
  postconf -c "$etc" -e 'default_transport = smtp' "relayhost = [127.0.0.1]:$SINK_PORT" \
    'smtp_tls_security_level = encrypt'
  grep -q '^smtp  *unix' "$etc/master.cf" \
    || echo 'smtp                unix  -       -      n      -      -       smtp' >>"$etc/master.cf"
  postfix -c "$etc" reload >/dev/null 2>&1
  sleep 1
}
postfix_queue_empty() {
  for _ in $(seq 1 100); do
    [ -z "$(find "$DRAIN_STATE/postfix/spool/"{incoming,active,deferred,maildrop} -type f 2>/dev/null | head -n1)" ] && return 0
    sleep 0.2
  done
  say "drain Postfix queue not empty"
}

# ------------------------------------------------------------------ scenarios
run_submission() {
  ensure_priv
  start_mailnook sub "$MN_BASE"; local pid="$MN_PID"
  local mpc
  for mpc in $SUB_MPC; do
    say "submission: mailbench smtp-deliver --smtp-auth, n=$N k=$K msgs-per-conn=$mpc, $REPEATS repeats (mailnook pid $pid)"
    set -x
    python3 "$HERE/mailbench_auth.py" compare --repeats "$REPEATS" --scenarios smtp-deliver -n "$N" -k "$K" \
      --msgs-per-conn "$mpc" --out "$WORK/submission-mpc$mpc.jsonl" \
      --a "--name postfix --smtp-auth $PEERS_TARGET" \
      --b "--name mailnook --smtp-auth $(mailnook_target "$pid")" \
      2>&1 | tee "$WORK/submission-mpc$mpc.txt"
    { set +x; } 2>/dev/null
  done
  stop_pid "$pid"
}

drain_one() { # postfix|mailnook repeat mailnook-pid
  local who="$1" r="$2" mnpid="$3"
  start_sink
  if [ "$who" = postfix ]; then
    postfix_queue_empty
    python3 "$HERE/outbound_drive.py" drain --label "postfix r$r" --port 13587 -n "$N" -k "$K" \
      --count-file "$WORK/sink.count" --pidfile "$DRAIN_STATE/pids" --sink-pid "$SINK_PID" | tee -a "$RESULTS"
  else
    python3 "$HERE/outbound_drive.py" drain --label "mailnook c=$MN_QUEUE_CONCURRENCY r$r" --port $((MN_BASE + 587)) -n "$N" -k "$K" \
      --count-file "$WORK/sink.count" --pid "$mnpid" --sink-pid "$SINK_PID" | tee -a "$RESULTS"
  fi
  echo "{\"label\": \"sink $who r$r\", \"sink\": $(stop_sink)}" | tee -a "$RESULTS"
}

run_drain() {
  ensure_drain
  start_mailnook drain "$MN_BASE" smarthost.host 127.0.0.1 smarthost.port "$SINK_PORT" \
    smarthost.tls starttls smarthost.tls_verify 0 queue.concurrency "$MN_QUEUE_CONCURRENCY"
  local pid="$MN_PID"
  say "drain: $N x 4 KiB to x@remote.test, $K connections, $REPEATS repeats (mailnook pid $pid)"
  for r in $(seq 1 "$REPEATS"); do
    if [ $((r % 2)) = 1 ]; then drain_one postfix "$r" "$pid"; drain_one mailnook "$r" "$pid"
    else drain_one mailnook "$r" "$pid"; drain_one postfix "$r" "$pid"; fi
  done
  stop_pid "$pid"
}

run_rss() {
  # port 9 on loopback is closed: every delivery attempt fails at connect and is retried
  start_mailnook rss "$MN_RSS_BASE" smarthost.host 127.0.0.1 smarthost.port 9 \
    queue.retry_base_secs 1 queue.retry_max_secs 2
  local pid="$MN_PID"
  sleep 3
  python3 "$HERE/outbound_drive.py" rss --pid "$pid" --label "mailnook fresh" | tee -a "$RESULTS"
  python3 "$HERE/outbound_drive.py" submit --port $((MN_RSS_BASE + 587)) -n "$N" -k "$K" | tee -a "$RESULTS"
  python3 "$HERE/outbound_drive.py" rss --pid "$pid" --label "mailnook $N queued, t=0s" | tee -a "$RESULTS"
  for t in 5 10 15 20 25 30; do
    sleep 5
    python3 "$HERE/outbound_drive.py" rss --pid "$pid" --label "mailnook $N queued, t=${t}s" | tee -a "$RESULTS"
  done
  echo "{\"label\": \"mailnook deferrals logged, 30 s after submitting\", \"deferred\": $(grep -c 'maillog: deferred' "$WORK/rss.log" || true)}" | tee -a "$RESULTS"
  stop_pid "$pid"
}

case "$MODE" in
  all) run_submission; run_drain; run_rss ;;
  submission) run_submission ;;
  drain) run_drain ;;
  rss) run_rss ;;
  *) die "usage: $0 [all|submission|drain|rss]" ;;
esac
say "results: $RESULTS"
