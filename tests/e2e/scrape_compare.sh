#!/usr/bin/env bash
# scrape_compare.sh - flint and Prometheus 2.42 scrape the same real targets
# with the same prometheus.yml; what they store must be the same.
#
# Targets, all on 127.0.0.1 with free ports:
#   node    prometheus-node-exporter (Debian), default collectors except
#           systemd (see below)
#   app     tests/e2e/scrape_compare/app.py single: python3-prometheus-client
#           with counters, gauges, histograms, summaries, info, stateset,
#           label values with \ " newline and UTF-8, fixed-value gauges
#   app-mp  the same client in multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
#           MultiProcessCollector, two worker processes, every
#           multiprocess_mode for gauges)
# Scrapers: ./flint server and /usr/bin/prometheus, same prometheus.yml
# (2s interval, static labels, relabel_configs, metric_relabel_configs, no
# self-scrape job). After every target is up with >= 3 scrapes in both,
# tests/e2e/scrape_compare/compare.py checks:
#   (a) the stored series (/api/v1/series) per job and altogether are
#       identical, with nothing outside the three jobs;
#   (b) fixed-value gauges: app text == flint == Prometheus, bit for bit;
#   (c) up and the scrape_* report series have the same label sets, and
#       scrape_samples_scraped / _post_metric_relabeling are equal per target.
# Prints "scrape-compare: N passed, N failed"; exit 1 on any failure.
#
# node-exporter's systemd collector is disabled: where systemd runs, its
# unit list (transient units, sessions, timers) changes between the two
# servers' scrapes, so the series sets would differ for reasons that have
# nothing to do with flint; where it does not run (containers, CI) it fails
# on every scrape and logs an error. Every other default collector stays.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/tests/e2e/scrape_compare
PY="/usr/bin/python3 -B"   # -B: no __pycache__ in the source tree
NAME=scrape-compare
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
    echo "$NAME: $pass passed, $fail failed"
    [ "$fail" -eq 0 ] && exit 0
    exit 1
}

for prog in prometheus prometheus-node-exporter; do
    if ! command -v "$prog" >/dev/null; then
        bad "$prog is installed (scripts/deps.sh test installs it)"
        finish
    fi
done
if ! $PY -c 'import prometheus_client' 2>/dev/null; then
    bad "python3-prometheus-client is installed for $PY"
    finish
fi
FLINT=${FLINT:-./flint}   # FLINT=/path/to/flint tests another build
if [ ! -x "$FLINT" ]; then
    ${MAKE:-make} -s flint >/dev/null || { bad "make flint"; finish; }
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/scrape-compare.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$fail" -ne 0 ] && [ -n "${KEEP_LOGS:-}" ]; then
        echo "logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'bad "interrupted"; finish' INT TERM

port() { $PY "$HERE/compare.py" freeport; }
wait_file() { # $1 = file, $2 = seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
    return 1
}
START=$(date +%s)

# ---- targets ---------------------------------------------------------------
NODE_PORT=$(port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE_PORT" \
    --no-collector.systemd >"$TMP/node.log" 2>&1 &
PIDS+=($!)
$PY "$HERE/app.py" single "$TMP/app.port" >"$TMP/app.log" 2>&1 &
PIDS+=($!)
mkdir "$TMP/multiproc"
PROMETHEUS_MULTIPROC_DIR="$TMP/multiproc" $PY "$HERE/app.py" multi "$TMP/app-mp.port" \
    >"$TMP/app-mp.log" 2>&1 &
PIDS+=($!)

if $PY "$HERE/compare.py" wait-http "http://127.0.0.1:$NODE_PORT/metrics" 20; then
    ok "node-exporter serves /metrics"
else
    bad "node-exporter serves /metrics"; cat "$TMP/node.log"; finish
fi
if wait_file "$TMP/app.port" 20 && wait_file "$TMP/app-mp.port" 20; then
    ok "python apps serve /metrics (single and multiprocess)"
else
    bad "python apps serve /metrics"; cat "$TMP/app.log" "$TMP/app-mp.log"; finish
fi
APP_PORT=$(cat "$TMP/app.port")
MP_PORT=$(cat "$TMP/app-mp.port")

# ---- one configuration for both servers ------------------------------------
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$NODE_PORT']
        labels: {role: node, site: lab-1}
    relabel_configs:
      - source_labels: [__address__]
        regex: '([^:]+):\d+'
        target_label: host
        replacement: '\$1'
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_memstats_(frees|mallocs)_total'
        action: drop
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:$APP_PORT']
        labels: {team: obs, city: "zürich"}
    relabel_configs:
      - source_labels: [team, city]
        separator: /
        target_label: where
      - target_label: instance
        replacement: python-app
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'e2e_tricky_(.*)'
        target_label: tricky
        replacement: '\$1'
  - job_name: app-mp
    static_configs:
      - targets: ['127.0.0.1:$MP_PORT']
        labels: {mode: multiprocess}
    metric_relabel_configs:
      - action: labeldrop
        regex: w
      - source_labels: [__name__]
        regex: 'e2e_mp_(fixed)_(.*)'
        target_label: fixed
        replacement: '\$2'
EOF

FLINT_PORT=$(port)
"$FLINT" server --config.file "$TMP/prometheus.yml" --storage.tsdb.path "$TMP/flint-data" \
    --web.listen-address "127.0.0.1:$FLINT_PORT" >"$TMP/flint.log" 2>&1 &
PIDS+=($!)
PROM_PORT=$(port)
prometheus --config.file "$TMP/prometheus.yml" --storage.tsdb.path "$TMP/prom-data" \
    --web.listen-address "127.0.0.1:$PROM_PORT" >"$TMP/prom.log" 2>&1 &
PIDS+=($!)

if $PY "$HERE/compare.py" wait-http "http://127.0.0.1:$FLINT_PORT/api/v1/targets" 30; then
    ok "flint server answers"
else
    bad "flint server answers"; cat "$TMP/flint.log"; finish
fi
if $PY "$HERE/compare.py" wait-http "http://127.0.0.1:$PROM_PORT/-/ready" 30; then
    ok "prometheus answers"
else
    bad "prometheus answers"; tail -n 30 "$TMP/prom.log"; finish
fi

# ---- compare ---------------------------------------------------------------
$PY "$HERE/compare.py" run --flint "http://127.0.0.1:$FLINT_PORT" --prom "http://127.0.0.1:$PROM_PORT" \
    --start "$START" --timeout 60 \
    --job "node=http://127.0.0.1:$NODE_PORT/metrics" \
    --job "app=http://127.0.0.1:$APP_PORT/metrics" \
    --job "app-mp=http://127.0.0.1:$MP_PORT/metrics" \
    --fixed app=e2e_fixed_value --fixed app=e2e_tricky_tenth --fixed app=e2e_tricky_small \
    --fixed app=e2e_tricky_sum --fixed app=e2e_tricky_big --fixed app=e2e_tricky_negzero \
    --fixed app-mp=e2e_mp_fixed_max --fixed app-mp=e2e_mp_fixed_min \
    --fixed app-mp=e2e_mp_livesum --fixed app-mp=e2e_mp_sum \
    --tricky app=e2e_requests_total:path --tricky app=e2e_labelled_gauge:v \
    --sample-count app --sample-count app-mp >"$TMP/compare.out" 2>&1
cat "$TMP/compare.out"
# both scrapers were served the same format by the python apps
for f in app app-mp; do
    fmts=$(sort -u "$TMP/$f.port.formats" 2>/dev/null | tr '\t\n' '= ' )
    n_flint=$(grep -c '^flint' "$TMP/$f.port.formats" 2>/dev/null)
    n_prom=$(grep -c '^Prometheus' "$TMP/$f.port.formats" 2>/dev/null)
    t_flint=$(grep '^flint' "$TMP/$f.port.formats" 2>/dev/null | cut -f2)
    t_prom=$(grep '^Prometheus' "$TMP/$f.port.formats" 2>/dev/null | cut -f2)
    if [ "$n_flint" = 1 ] && [ "$n_prom" = 1 ] && [ "$t_flint" = "$t_prom" ]; then
        ok "$f: flint and prometheus were served the same format ($fmts)"
    else
        bad "$f: flint and prometheus were served the same format: $fmts"
    fi
done
pass=$((pass + $(grep -c '^PASS ' "$TMP/compare.out")))
fail=$((fail + $(grep -c '^FAIL ' "$TMP/compare.out")))
if ! grep -q '^PASS\|^FAIL' "$TMP/compare.out"; then bad "compare.py produced no checks"; fi
if [ "$fail" -ne 0 ]; then
    echo "--- flint log (tail)"; tail -n 20 "$TMP/flint.log"
fi
finish
