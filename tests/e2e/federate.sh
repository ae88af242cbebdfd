#!/usr/bin/env bash
# federate.sh - Prometheus 2.42 federates from flint and scrapes flint's
# /metrics: tests/web/apiserver (a flint API over known series, some
# relative to the "now" it prints) on a free loopback port, and
# /usr/bin/prometheus scraping, every second,
#   fed      /federate?match[]={job="fed"} with honor_labels
#   metrics  /metrics
# Once both targets are up, Prometheus must hold exactly the series
# flint's /federate promised, with flint's timestamps and values:
# fed_gauge{instance="a",job="fed"} 2.5 at now-60s, fed_counter{job="fed"}
# 1e6 (the empty instance="" dropped), nothing for the series outside the
# lookback (instance="b") or ending in a stale marker (fed_stale); and
# flint's own metrics parsed by Prometheus' scraper (head series, request
# counters). Prints "federate: N passed, N failed"; exit 1 on any failure.
set -u
cd "$(dirname "$0")/../.."
NAME=federate
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
    echo "$NAME: $pass passed, $fail failed"
    [ "$fail" -eq 0 ] && exit 0
    exit 1
}
command -v prometheus >/dev/null || { bad "prometheus is installed (scripts/deps.sh test installs it)"; finish; }
if [ ! -x build/apiserver ]; then
    ${MAKE:-make} -s build/apiserver >/dev/null || { bad "make build/apiserver"; finish; }
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

build/apiserver 127.0.0.1:0 >"$work/api.out" 2>"$work/api.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/api.out" ] && break; sleep 0.1; done
read -r _ _ api_port _ now_ms <"$work/api.out" || true
if [ -z "${now_ms:-}" ]; then bad "apiserver starts"; finish; fi
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fed
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{job="fed"}']
    static_configs:
      - targets: ['127.0.0.1:$api_port']
  - job_name: metrics
    static_configs:
      - targets: ['127.0.0.1:$api_port']
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prom.log" 2>&1 &
pids+=($!)

q() { # instant query now (flint's samples are 30-60 s old: inside the 5m lookback); prints the JSON
    curl -sf --max-time 10 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1"
}
ready=0
for _ in $(seq 60); do
    if [ "$(q 'count(up == 1)' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' 2>/dev/null)" = 2 ] &&
        [ -n "$(q 'fed_gauge' | grep -o '"2.5"')" ]; then
        ready=1
        break
    fi
    sleep 0.5
done
[ "$ready" = 1 ] && ok "both targets up, federated data arrived" || { bad "targets up within 30 s"; tail -5 "$work/prom.log"; finish; }

check() { # $1 = name, $2 = query, $3 = python expression over r (the result list)
    local out
    out=$(q "$2")
    if python3 -c "import json,sys; r=json.loads(sys.argv[1])['data']['result']; sys.exit(0 if ($3) else 1)" "$out"; then
        ok "$1"
    else
        bad "$1: $2 -> $out"
    fi
}
t=$((now_ms / 1000))
check "fed_gauge: only instance a, value 2.5" 'fed_gauge' \
    "[(s['metric'], s['value'][1]) for s in r] == [({'__name__': 'fed_gauge', 'instance': 'a', 'job': 'fed'}, '2.5')]"
check "fed_gauge keeps flint's timestamp" 'timestamp(fed_gauge)' "[s['value'][1] for s in r] == ['$((t - 60))']"
check "fed_counter 1e6, empty instance dropped" 'fed_counter' \
    "[(s['metric'], s['value'][1]) for s in r] == [({'__name__': 'fed_counter', 'job': 'fed'}, '1000000')]"
check "fed_counter timestamp" 'timestamp(fed_counter)' "[s['value'][1] for s in r] == ['$((t - 30))']"
check "stale-ended series not federated" 'fed_stale' "r == []"
check "outside the lookback not federated" 'fed_gauge{instance="b"}' "r == []"
check "only the federated series arrived" 'count by (__name__) ({__name__=~".+",job!="metrics",__name__!~"up|scrape_.*"})' \
    "sorted(s['metric']['__name__'] for s in r) == ['fed_counter', 'fed_gauge']"
check "flint /metrics parsed: head series" 'prometheus_tsdb_head_series{job="metrics"}' \
    "[s['value'][1] for s in r] == ['9']"
check "flint /metrics parsed: /federate requests counted" \
    'prometheus_http_requests_total{job="metrics",handler="/federate",code="200"}' \
    "len(r) == 1 and float(r[0]['value'][1]) >= 1"
check "flint /metrics parsed: histogram" \
    'prometheus_http_request_duration_seconds_count{job="metrics",handler="/metrics"}' \
    "len(r) == 1 and float(r[0]['value'][1]) >= 1"
finish
