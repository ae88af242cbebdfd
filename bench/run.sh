#!/usr/bin/env bash
# bench/run.sh - `make bench`: flint's benchmarks, side by side with
# Prometheus 2.42 and VictoriaMetrics 1.79 where the issue asks for a peer.
#
#   1. chunk codec: bytes/sample and encode/decode speed per chunk length
#   2. head memory: RSS per series with 100,000 series x 2 h of 15 s samples
#   3. exposition parser throughput
#   4. storage: flint import vs promtool backfill vs VictoriaMetrics import on
#      ../shared/bench's dataset (10,000 series x 24 h at 15 s by default):
#      bytes per sample on disk, samples per second loaded
#   5. engine: PromQL range queries in-process (bench/engine_bench.c)
#   6. latency: HTTP query_range latency of ../shared/bench/queries.txt,
#      flint server vs VictoriaMetrics (and Prometheus) in the same session
#      (bench/latency_bench.py)
#   7. scrape: RSS per active series and CPU while scraping 100,000 series
#      every 5 s for 3 minutes, flint beside Prometheus and VictoriaMetrics
#      (bench/scrape_bench.py)
#
# Environment: BENCH_DATA (dataset dir, generated if missing), BENCH_PEERS
# (default "prometheus,victoriametrics"; "" for flint only), BENCH_ONLY
# (space-separated subset of: chunk head expo storage engine latency scrape).
# Results: bench/results/*.{txt,json,md}; figures are copied by hand into
# docs/benchmarks.md with the date and machine.
set -eu
cd "$(dirname "$0")/.."
DATA=${BENCH_DATA:-/tmp/bench-data}
ONLY=${BENCH_ONLY:-chunk head expo storage engine latency scrape}
SHARED=$(cd ../shared/bench && pwd)
harness=build/peer-bench
rm -rf "$harness" && mkdir -p build && cp -r "$SHARED" "$harness" && chmod -R u+w "$harness"
mkdir -p bench/results /tmp/bench-logs
make -s --no-print-directory bench-build flint

if [ ! -f "$DATA/dataset.json" ]; then
    echo "bench: generating dataset in $DATA (about a minute, 11 GB)"
    python3 "$harness/gen_dataset.py" --out "$DATA"
fi
small=/tmp/bench-small
if [ ! -f "$small/dataset.json" ]; then
    python3 "$harness/gen_dataset.py" --series 1000 --hours 24 --formats om --out "$small" >/dev/null
fi

want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if want chunk && [ -x build/bench/chunk_bench ]; then
    echo "=== chunk codec (1,000 series x 24 h)"
    build/bench/chunk_bench "$small/dataset.om" | tee bench/results/chunk.txt
fi
if want head && [ -x build/bench/head_bench ]; then
    echo "=== head memory (100,000 series x 480 samples)"
    build/bench/head_bench | tee bench/results/head.txt
fi
if want expo && [ -x build/bench/expo_bench ]; then
    echo "=== exposition parser"
    build/bench/expo_bench "$small/dataset.om" | tee bench/results/expo.txt
fi
if want storage; then
    echo "=== storage: flint import vs promtool vs VictoriaMetrics ($DATA)"
    python3 bench/storage_bench.py --harness "$harness" --data "$DATA" --flint ./flint \
        --peers "${BENCH_PEERS-prometheus,victoriametrics}" --out bench/results
fi
# The dataset as imported by this ./flint: the storage step's import when it
# is newer than the binary, else a cached import redone whenever ./flint
# changed (a data dir written by an older build may hold an older chunk
# format, which reads correctly but slower).
flint_import_dir() {
    local fdb=/tmp/bench-flint-storage
    if [ -d "$fdb" ] && [ "$fdb" -nt ./flint ]; then echo "$fdb"; return; fi
    fdb=/tmp/bench-flint-engine
    if [ ! -f "$fdb.done" ] || [ ./flint -nt "$fdb.done" ]; then
        rm -rf "$fdb" "$fdb.done"
        ./flint import openmetrics "$DATA/dataset.om" "$fdb" >/tmp/bench-logs/engine-import.log 2>&1
        touch "$fdb.done"
    fi
    echo "$fdb"
}
if want engine && [ -x build/bench/engine_bench ]; then
    echo "=== PromQL engine, in-process (range queries over 24 h, step 60 s)"
    fdb=$(flint_import_dir)
    hist=${BENCH_HIST:-/tmp/bench-hist}
    if [ ! -f "$hist/db.done" ]; then
        python3 bench/gen_histogram.py --out "$hist" >/dev/null
        rm -rf "$hist/db"
        ./flint import openmetrics "$hist/hist.om" "$hist/db" >/tmp/bench-logs/engine-hist-import.log 2>&1
        touch "$hist/db.done"
    fi
    build/bench/engine_bench "$fdb" "$hist/db" | tee bench/results/engine.txt
fi
if want latency; then
    echo "=== HTTP query latency: flint server vs peers ($DATA)"
    # all servers run side by side, measured in interleaved rounds; the
    # peers serve the data dirs their storage step left (loaded when missing)
    peers=$(echo "${BENCH_PEERS-prometheus,victoriametrics}" | tr ',' '\n' | sort -r | paste -sd, -)
    fsrc=$(flint_import_dir)
    python3 bench/latency_bench.py --harness "$harness" --data "$DATA" --flint ./flint \
        --flint-data "$fsrc" --peers "$peers" --out bench/results
fi
if want scrape; then
    echo "=== scrape: 100,000 series every 5 s for 3 minutes, flint vs Prometheus vs VictoriaMetrics"
    python3 bench/scrape_bench.py --harness "$harness" --flint ./flint \
        --peers "${BENCH_PEERS-prometheus,victoriametrics}" --out bench/results \
        --series "${BENCH_SCRAPE_SERIES:-100000}" --duration "${BENCH_SCRAPE_SECONDS:-180}"
fi
