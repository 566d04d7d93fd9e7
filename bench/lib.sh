# lib.sh — what bench/outbound.sh and bench/report.sh share: paths, the mailnook data-folder
# template, starting mailnook from it, the private peer stack, and stopping what was started.
# Source it after setting BENCH_NAME (the log prefix) and, optionally, WORK.
#
# Needs: a release build of mailnook ($MAILNOOK), ../shared/peers/up.sh and
# ../shared/bench/mailbench.py, python3, postfix and dovecot (up.sh installs them). The mailnook
# data folder every run starts from ($TEMPLATE, copied, never modified) is made here if missing.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
REPEATS="${REPEATS:-3}"
MAILNOOK="${MAILNOOK:-${CARGO_TARGET_DIR:-$REPO/target}/release/mailnook}"
SHARED="${SHARED:-$REPO/../shared}"
export MAILBENCH="${MAILBENCH:-$SHARED/bench/mailbench.py}"
PEERS_UP="${PEERS_UP:-$SHARED/peers/up.sh}"
PEERS_DOWN="${PEERS_DOWN:-$SHARED/peers/down.sh}"
TEMPLATE="${TEMPLATE:-/tmp/mn-template2}"
PRIV_STATE="${PRIV_STATE:-/tmp/peers-priv}"      # private peer stack, offset 10000
MN_BASE="${MN_BASE:-20000}"                      # mailnook's port base

say() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
[ -x "$MAILNOOK" ] || die "no mailnook binary at $MAILNOOK (cargo build --release)"
[ -f "$MAILBENCH" ] || die "no mailbench.py at $MAILBENCH"
# The template: domain peer.test, users bench1..bench200@peer.test / benchpass, hashed at the
# peers' argon2id cost (64 MiB, 3 passes: Dovecot's in ../shared/peers). Made once, then copied.
if ! "$MAILNOOK" user list --data "$TEMPLATE" 2>/dev/null | grep -q 'bench200@peer.test'; then
  [ ! -e "$TEMPLATE" ] || die "$TEMPLATE exists but lacks users bench1..bench200@peer.test"
  say "making the data-folder template $TEMPLATE (200 users; about a minute)"
  "$MAILNOOK" init --domain peer.test --hostname mail.peer.test --data "$TEMPLATE" >/dev/null
  "$MAILNOOK" config set auth.argon2_memory_kib 65536 --data "$TEMPLATE" >/dev/null
  "$MAILNOOK" config set auth.argon2_iterations 3 --data "$TEMPLATE" >/dev/null
  for n in $(seq 1 200); do
    "$MAILNOOK" user add "bench$n@peer.test" --password benchpass --data "$TEMPLATE" >/dev/null
  done
fi
mkdir -p "$WORK"

STARTED_PIDS=()
PRIV_STARTED=0
# A script that starts more than this file knows of defines bench_cleanup_extra.
cleanup() {
  for p in "${STARTED_PIDS[@]:-}"; do
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${STARTED_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
  if [ "$PRIV_STARTED" = 1 ]; then
    PEERS_STATE="$PRIV_STATE" "$PEERS_DOWN" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

running() { # state dir -> 0 if its postfix master runs
  local p; p="$(head -n1 "$1/postfix/spool/pid/master.pid" 2>/dev/null | tr -dc 0-9)"
  [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = master ]
}

MN_PID=""
start_mailnook() { # name port-base [key value]... -> sets MN_PID
  local name="$1" base="$2"; shift 2
  local data="$WORK/$name"
  rm -rf "$data"; cp -a "$TEMPLATE" "$data"
  "$MAILNOOK" config set net.max_conns_per_ip 1000 --data "$data" >/dev/null
  while [ $# -ge 2 ]; do "$MAILNOOK" config set "$1" "$2" --data "$data" >/dev/null; shift 2; done
  "$MAILNOOK" serve --port-base "$base" --data "$data" </dev/null >"$WORK/$name.log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  for _ in $(seq 1 300); do
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((base + 587)); head -n1 <&3" >/dev/null 2>&1 && break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null || die "mailnook $name did not start (see $WORK/$name.log)"
  MN_PID="$pid"
}
stop_pid() { # pid: TERM, then wait up to 5 s
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
}

ensure_priv() {
  running "$PRIV_STATE" || PRIV_STARTED=1
  PEERS_STATE="$PRIV_STATE" PEERS_PORT_OFFSET=10000 "$PEERS_UP" >"$WORK/peers-priv-up.log" 2>&1 \
    || die "private peer stack failed (see $WORK/peers-priv-up.log)"
}

# mailbench target options for the private peer stack and for mailnook on $MN_BASE (add
# --smtp-auth, --name … as needed).
PEERS_TARGET="--smtp-port 12525 --submission-port 12587 --imap-port 12143 --imaps-port 12993 --pop3-port 12110 --pop3s-port 12995 --pidfile $PRIV_STATE/pids"
mailnook_target() { # pid
  local b=$MN_BASE
  echo "--domain peer.test --smtp-port $((b + 25)) --submission-port $((b + 587)) --imap-port $((b + 143)) --imaps-port $((b + 993)) --pop3-port $((b + 110)) --pop3s-port $((b + 995)) --pid $1"
}
