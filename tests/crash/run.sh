#!/usr/bin/env bash
# run.sh [RUNS] - the crash test: RUNS times, start the writer, SIGKILL it
# after a random 20-400 ms, then verify that the reopened database holds
# every sample whose commit returned. The database and its ack file persist
# across runs, so kills land at every stage (appends, WAL segment cuts,
# checkpoints, head cuts into blocks, compaction, retention).
# Prints "crash: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
runs=${1:-60}
bin=build/crashwriter
dir=$(mktemp -d "${TMPDIR:-/tmp}/flint-crash-XXXXXX")/db
pass=0; fail=0
RANDOM=$$
for i in $(seq 1 "$runs"); do
    "$bin" write "$dir" 2>"$dir.writer.log" &
    pid=$!
    ms=$((20 + RANDOM % 380))
    sleep "$(printf '0.%03d' "$ms")"
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "run $i: writer exited early:"; cat "$dir.writer.log"
        fail=$((fail + 1)); wait "$pid"; continue
    fi
    kill -KILL "$pid"; wait "$pid" 2>/dev/null
    if out=$("$bin" verify "$dir" 2>&1); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1)); echo "run $i (killed after ${ms} ms): $out"
    fi
done
blocks=$(find "$dir" -maxdepth 1 -name '01*' -type d | wc -l)
echo "crash: final $(tail -1 "$dir.ack" 2>/dev/null) ms acknowledged, $blocks blocks on disk"
echo "crash: $pass passed, $fail failed"
rm -rf "$(dirname "$dir")"
[ "$fail" -eq 0 ]
