#!/usr/bin/env bash
# Spam filter evaluation: k-fold cross-validation of `mailnook spam eval` and of SpamAssassin
# (Bayes + local rules, no network) on the same folds. See bench/README.md "Spam filter".
#
#   CARGO_TARGET_DIR=/work/target-spam cargo build --release
#   CARGO_TARGET_DIR=/work/target-spam bench/spam_eval.sh [all|prepare|mailnook|spamassassin]
#
# Environment: CORPUS (tar.gz with <top>/ham/*.eml and <top>/spam/*.eml), WORK (default
# /tmp/spam-eval), FOLDS (default 5), MAILNOOK (the binary), SA_PORT (spamd, default 17830).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CORPUS=${CORPUS:-$here/../../shared/corpus/spamassassin-tune.tar.gz}
WORK=${WORK:-/tmp/spam-eval}
FOLDS=${FOLDS:-5}
MAILNOOK=${MAILNOOK:-${CARGO_TARGET_DIR:-$here/../target}/release/mailnook}
SA_PORT=${SA_PORT:-17830}
what=${1:-all}

# Fold i holds every FOLDS-th file of each class (sorted by name), starting at the i-th; its
# train/ links to the files of the other folds, test/ to its own.
prepare() {
    rm -rf "$WORK"
    mkdir -p "$WORK/corpus"
    tar xzf "$CORPUS" -C "$WORK/corpus"
    local top
    top=$(find "$WORK/corpus" -mindepth 1 -maxdepth 1 -type d | head -1)
    for class in ham spam; do
        local n=0
        for f in $(ls "$top/$class" | sort); do
            local k=$((n % FOLDS))
            for i in $(seq 0 $((FOLDS - 1))); do
                local side=train
                [ "$i" = "$k" ] && side=test
                mkdir -p "$WORK/fold$i/$side/$class"
                ln -s "$top/$class/$f" "$WORK/fold$i/$side/$class/$f"
            done
            n=$((n + 1))
        done
    done
    for i in $(seq 0 $((FOLDS - 1))); do
        echo "fold$i: train ham=$(ls "$WORK/fold$i/train/ham" | wc -l) spam=$(ls "$WORK/fold$i/train/spam" | wc -l)" \
            "test ham=$(ls "$WORK/fold$i/test/ham" | wc -l) spam=$(ls "$WORK/fold$i/test/spam" | wc -l)"
    done
}

run_mailnook() {
    for i in $(seq 0 $((FOLDS - 1))); do
        echo "== mailnook fold$i"
        "$MAILNOOK" spam eval --train "$WORK/fold$i/train" --test "$WORK/fold$i/test" ${THRESHOLD:+--threshold $THRESHOLD} |
            tee "$WORK/fold$i/mailnook.out"
    done
    summary mailnook
}

# SpamAssassin: sa-learn on the training half into a private Bayes database, then spamd (one
# child, local tests only, no user config, no auto-learning) scores the test half through spamc.
run_spamassassin() {
    for i in $(seq 0 $((FOLDS - 1))); do
        local d="$WORK/fold$i/sa"
        rm -rf "$d" && mkdir -p "$d" && chmod 777 "$d"
        echo "== spamassassin fold$i"
        local t0 t1
        t0=$(date +%s.%N)
        sa-learn --dbpath "$d/bayes" --ham "$WORK/fold$i/train/ham" | tail -1
        sa-learn --dbpath "$d/bayes" --spam "$WORK/fold$i/train/spam" | tail -1
        t1=$(date +%s.%N)
        chmod -R a+rwX "$d"
        local ntrain
        ntrain=$(($(ls "$WORK/fold$i/train/ham" | wc -l) + $(ls "$WORK/fold$i/train/spam" | wc -l)))
        echo "trained ms_per_msg=$(echo "($t1 - $t0) * 1000 / $ntrain" | bc -l | xargs printf %.3f)" \
            "bayes_bytes=$(du -cb "$d"/bayes_* | tail -1 | cut -f1)" \
            "$(sa-learn --dbpath "$d/bayes" --dump magic | awk '/ntokens/ {print "tokens=" $3}')"
        spamd -L -x -u nobody -m 1 -i "127.0.0.1:$SA_PORT" -r "$d/spamd.pid" \
            --cf="bayes_path $d/bayes" --cf="bayes_auto_learn 0" --cf="use_bayes 1" 2>"$d/spamd.log" &
        for _ in $(seq 1 60); do
            spamc -d 127.0.0.1 -p "$SA_PORT" -c </dev/null >/dev/null 2>&1 && break
            sleep 1
        done
        local fp=0 fn=0 nham=0 nspam=0
        t0=$(date +%s.%N)
        for class in ham spam; do
            for f in "$WORK/fold$i/test/$class"/*; do
                local rc=0
                spamc -d 127.0.0.1 -p "$SA_PORT" -c <"$f" >>"$d/scores.$class" || rc=$?
                if [ "$class" = ham ]; then
                    nham=$((nham + 1)); [ "$rc" = 1 ] && fp=$((fp + 1))
                else
                    nspam=$((nspam + 1)); [ "$rc" = 0 ] && fn=$((fn + 1))
                fi
            done
        done
        t1=$(date +%s.%N)
        kill "$(cat "$d/spamd.pid")"
        wait || true
        {
            echo "test ham: total=$nham spam=$fp"
            echo "test spam: total=$nspam ham=$fn"
            echo "fp_rate=$(echo "$fp / $nham" | bc -l | xargs printf %.4f)" \
                "fn_rate=$(echo "$fn / $nspam" | bc -l | xargs printf %.4f)" \
                "ms_per_msg=$(echo "($t1 - $t0) * 1000 / ($nham + $nspam)" | bc -l | xargs printf %.3f)"
        } | tee "$WORK/fold$i/spamassassin.out"
    done
    summary spamassassin
}

# Mean of each field of the last lines over the folds.
summary() {
    for i in $(seq 0 $((FOLDS - 1))); do tail -1 "$WORK/fold$i/$1.out"; done |
        awk -v who="$1" '{for (j = 1; j <= NF; j++) {split($j, kv, "="); s[kv[1]] += kv[2]}} END {
            printf "%s mean over %d folds: fp_rate=%.4f fn_rate=%.4f ms_per_msg=%.3f\n", who, NR,
                s["fp_rate"] / NR, s["fn_rate"] / NR, s["ms_per_msg"] / NR}'
}

case "$what" in
prepare) prepare ;;
mailnook) run_mailnook ;;
spamassassin) run_spamassassin ;;
all)
    prepare
    run_mailnook
    run_spamassassin
    ;;
*) echo "usage: $0 [all|prepare|mailnook|spamassassin]" >&2; exit 2 ;;
esac
