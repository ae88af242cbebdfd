#!/usr/bin/env bash
# websec.sh - end-to-end test of the web security items (issue 5):
# --web.config.file with TLS (self-signed certificate made by openssl) and
# bcrypt basic auth, and the admin API behind --web.enable-admin-api
# (snapshot, delete_series, clean_tombstones), against ./flint server on
# loopback with data imported into blocks plus a live scraped series in the
# head. Expected answers are Prometheus': 401 + WWW-Authenticate: Basic on
# every path (/-/healthy too), 500 {"errorType":"unavailable","error":
# "admin APIs disabled"} with the admin API off, 204 for delete_series and
# clean_tombstones. Needs: openssl, curl, python3, cc + libcrypt (bcrypt).
# Prints "websec: N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
FLINT=${FLINT:-$ROOT/flint} # FLINT=build/flint-asan to run under ASan
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # description, command...
    local d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
finish() {
    echo "websec: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}

[ -x "$FLINT" ] || { echo "websec: ./flint is missing (make flint)"; bad "flint binary"; finish; }

# ---- certificate, password hash, web configs -----------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 \
    || { bad "openssl self-signed certificate"; finish; }
cc -o "$T/bcrypt" tests/e2e/websec_bcrypt.c -lcrypt || { bad "build bcrypt helper (cc, libcrypt-dev)"; finish; }
PASS=s3cret-$RANDOM
HASH=$("$T/bcrypt" "$PASS") || { bad "bcrypt hash"; finish; }
cat >"$T/web.yml" <<EOF
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
basic_auth_users:
  alice: '$HASH'
EOF
cat >"$T/bad.yml" <<EOF
tls_server_config:
  cert_file: cert.pem
basic_auth_users:
  alice: '$HASH'
EOF
cat >"$T/bad2.yml" <<EOF
basic_auth_users:
  alice: notahash
EOF

# ---- data: blocks (imported) + a live target for the head -------------------------
NOW=$(date +%s)
BASE=$(( (NOW / 3600 - 6) * 3600 )) # 6 h ago, on the hour
python3 - "$BASE" >"$T/import.om" <<'EOF'
import sys
base = int(sys.argv[1])
print("# TYPE websec_a gauge")
for k in ("1", "2"):
    for i in range(180):  # 3 h, one sample a minute
        print('websec_a{k="%s"} %d %d' % (k, i, base + 60 * i))
print("# EOF")
EOF
mkdir -p "$T/data" "$T/target"
# 2 h blocks: a block's range is its whole window, which must end in the past
# or the head refuses the live samples as too old
"$FLINT" import openmetrics --quiet --max-block-duration=2h "$T/import.om" "$T/data" >"$T/import.log" 2>&1 || { cat "$T/import.log"; bad "import"; finish; }
printf '# TYPE websec_live gauge\nwebsec_live{k="1"} 7\n' >"$T/target/metrics"
TPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$T/target" "$TPORT" >/dev/null 2>&1 &
PIDS+=($!)
cat >"$T/prom.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: live
    static_configs:
      - targets: ['127.0.0.1:$TPORT']
EOF

SRV=""
PORT=""
start_server() { # extra flags...
    "$FLINT" server --storage.tsdb.path="$T/data" --config.file="$T/prom.yml" \
        --web.listen-address=127.0.0.1:0 --web.config.file="${WEBCFG:-$T/web.yml}" "$@" >"$T/server.log" 2>&1 &
    SRV=$!
    PIDS+=("$SRV")
    PORT=""
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*msg="listening".* port=\([0-9]*\).*/\1/p' "$T/server.log" | head -n 1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.1
    done
    cat "$T/server.log"
    return 1
}
stop_server() { # SIGTERM; the server must exit 0 (under ASan: no leaks)
    kill "$SRV" 2>/dev/null
    wait "$SRV" 2>/dev/null
    local rc=$?
    check "server shuts down cleanly (exit $rc)" [ "$rc" -eq 0 ]
    [ "$rc" -eq 0 ] || tail -n 30 "$T/server.log"
}
URL() { echo "https://localhost:$PORT$1"; }
# curl with the CA and the right password; -w appends the status code
C() { curl -s --max-time 20 --cacert "$T/cert.pem" -u "alice:$PASS" "$@"; }
status() { curl -s --max-time 20 -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "$@"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- a bad web config stops the server with file and key named ------------------------
"$FLINT" server --storage.tsdb.path="$T/baddata" --web.listen-address=127.0.0.1:0 \
    --web.config.file="$T/bad.yml" >"$T/bad.log" 2>&1 &
BADPID=$!
PIDS+=("$BADPID")
for _ in $(seq 50); do kill -0 "$BADPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$BADPID" 2>/dev/null; then bad "bad web config: server refused to start"; kill "$BADPID"; else
    wait "$BADPID"; rc=$?
    check "bad web config: exit status non-zero" [ "$rc" -ne 0 ]
    check "bad web config: message names file and key" grep -q 'bad.yml:2: tls_server_config.*missing key_file' "$T/bad.log"
fi
"$FLINT" server --storage.tsdb.path="$T/baddata" --web.listen-address=127.0.0.1:0 \
    --web.config.file="$T/bad2.yml" >"$T/bad2.log" 2>&1 &
BADPID=$!
PIDS+=("$BADPID")
for _ in $(seq 50); do kill -0 "$BADPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BADPID" 2>/dev/null && kill "$BADPID"
check "bad hash: message names basic_auth_users.alice" grep -q 'bad2.yml:2: basic_auth_users.alice: not a bcrypt hash' "$T/bad2.log"

check "flint check web-config: a good file passes" bash -c "cd '$T' && '$FLINT' check web-config web.yml | grep -qx 'web.yml SUCCESS'"
out=$(cd "$T" && "$FLINT" check web-config bad.yml 2>&1)
rc=$?
check "flint check web-config: a bad file fails (exit $rc) naming file and key" \
    eval '[ $rc -eq 1 ] && has "$out" "bad.yml FAILED: bad.yml:2: tls_server_config: missing key_file"'

# ---- TLS + basic auth, admin API off ---------------------------------------------------------
start_server || { bad "server starts with TLS"; finish; }
check "https + right password: 200 on /api/v1/query" [ "$(status -u "alice:$PASS" "$(URL '/api/v1/query?query=1')")" = 200 ]
check "no credentials: 401" [ "$(status "$(URL '/api/v1/query?query=1')")" = 401 ]
check "wrong password: 401" [ "$(status -u "alice:wrong" "$(URL '/api/v1/query?query=1')")" = 401 ]
check "unknown user: 401" [ "$(status -u "bob:$PASS" "$(URL '/api/v1/query?query=1')")" = 401 ]
check "401 carries WWW-Authenticate: Basic" bash -c "curl -s -D - -o /dev/null --cacert '$T/cert.pem' '$(URL /api/v1/query)' | grep -qi '^WWW-Authenticate: Basic'"
check "/-/healthy is behind auth too (401)" [ "$(status "$(URL /-/healthy)")" = 401 ]
check "/-/healthy with auth: 200" [ "$(status -u "alice:$PASS" "$(URL /-/healthy)")" = 200 ]
check "cached credentials still checked (wrong after right: 401)" [ "$(status -u "alice:${PASS}x" "$(URL /-/healthy)")" = 401 ]
plain=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/-/healthy")
check "plain http is refused (got '$plain')" [ "$plain" != 200 ] && [ "$plain" != 401 ]
check "https without the CA fails verification" bash -c "! curl -s --max-time 5 -o /dev/null '$(URL /-/healthy)'"
for ep in snapshot delete_series clean_tombstones; do
    body=$(C -X POST -w ' %{http_code}' "$(URL /api/v1/admin/tsdb/$ep)")
    # Prometheus 2.42 and 3.x: errorType unavailable, but status 500 (respondError has no case for it)
    check "admin API off: $ep answers 500 unavailable, as Prometheus" [ "$body" = '{"status":"error","errorType":"unavailable","error":"admin APIs disabled"} 500' ]
done
check "admin API: GET is 405" [ "$(status -u "alice:$PASS" "$(URL /api/v1/admin/tsdb/snapshot)")" = 405 ]
stop_server

# ---- admin API on ----------------------------------------------------------------------------
start_server --web.enable-admin-api || { bad "server starts with the admin API"; finish; }
# wait for a few live samples in the head
for _ in $(seq 100); do
    n=$(C "$(URL '/api/v1/query')" --data-urlencode 'query=count_over_time(websec_live[1h])' | jq_py 'd["data"]["result"][0]["value"][1] if d["data"]["result"] else 0')
    [ "${n:-0}" -ge 3 ] 2>/dev/null && break
    sleep 0.2
done
check "live target scraped into the head" [ "${n:-0}" -ge 3 ]
T0=$(( $(date +%s) - 1 ))
Q='count_over_time({__name__=~"websec_.*"}[1d])'
live_result() { C "$(URL /api/v1/query)" --data-urlencode "query=$1" --data-urlencode "time=$2" | jq_py 'sorted((json.dumps(r["metric"],sort_keys=True), r["value"][1]) for r in d["data"]["result"])'; }
offline_result() { "$FLINT" query --data "$1" --time "$3" --format json "$2" | jq_py 'sorted((json.dumps(r["metric"],sort_keys=True), r["value"][1]) for r in (d["data"]["result"] if "data" in d else d["result"]))'; }
before=$(live_result "$Q" "$T0")
snap=$(C -X POST "$(URL /api/v1/admin/tsdb/snapshot)")
name=$(echo "$snap" | jq_py 'd["data"]["name"]')
check "snapshot answers success with a name like Prometheus' ($name)" bash -c "[[ '$name' =~ ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}$ ]]"
check "snapshot directory exists" [ -d "$T/data/snapshots/$name" ]
snapres=$(offline_result "$T/data/snapshots/$name" "$Q" "$T0" 2>&1)
check "flint query --data <snapshot> gives the live answer" [ "$snapres" = "$before" ]
# count_over_time drops __name__: live series carry job, imported ones only k
check "the answer holds imported and live series" eval 'has "$before" "\"job\"" && has "$before" "\"k\": \"2\""'
check "snapshot keeps its data when the live server's head moves on" [ -n "$(ls "$T/data/snapshots/$name")" ]
snap2=$(C -X PUT "$(URL '/api/v1/admin/tsdb/snapshot?skip_head=true')" | jq_py 'd["data"]["name"]')
skipres=$(offline_result "$T/data/snapshots/$snap2" "$Q" "$T0" 2>&1)
check "skip_head=true: blocks only (no live series)" eval 'has "$skipres" "\"k\": \"2\"" && ! has "$skipres" "\"job\""'
body=$(C -X POST -w ' %{http_code}' "$(URL '/api/v1/admin/tsdb/snapshot?skip_head=maybe')")
check "skip_head=maybe: 400 with Prometheus' message" [ "$body" = '{"status":"error","errorType":"bad_data","error":"invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing \"maybe\": invalid syntax"} 400' ]

# delete_series: websec_a{k="1"} for 30 minutes in the middle of the blocks
DS=$((BASE + 3600)) DE=$((BASE + 3600 + 1799))
CNT='count_over_time(websec_a[1d])'
TEND=$((BASE + 4 * 3600))
cnt() { C "$(URL /api/v1/query)" --data-urlencode "query=$CNT" --data-urlencode "time=$TEND" | jq_py '" ".join("%s=%s" % (r["metric"]["k"], r["value"][1]) for r in sorted(d["data"]["result"], key=lambda r: r["metric"]["k"]))'; }
check "before delete: 180 samples each" [ "$(cnt)" = "1=180 2=180" ]
body=$(C -X POST -w ' %{http_code}' "$(URL /api/v1/admin/tsdb/delete_series)")
check "delete_series without match[]: 400 as Prometheus" [ "$body" = '{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"} 400' ]
st=$(status -u "alice:$PASS" -X POST "$(URL /api/v1/admin/tsdb/delete_series)" --data-urlencode 'match[]=websec_a{k="1"}' \
    --data-urlencode "start=$DS" --data-urlencode "end=$DE")
check "delete_series: 204" [ "$st" = 204 ]
check "after delete: 30 samples gone from k=1 only" [ "$(cnt)" = "1=150 2=180" ]
inrange=$(C "$(URL /api/v1/query)" --data-urlencode 'query=websec_a{k="1"}' --data-urlencode "time=$((DS + 600))" | jq_py 'len(d["data"]["result"])')
check "no sample inside the deleted range" [ "$inrange" = 0 ]
# the live series: delete everything so far; new scrapes stay visible
st=$(status -u "alice:$PASS" -X PUT "$(URL /api/v1/admin/tsdb/delete_series)" --data-urlencode 'match[]=websec_live')
TD=$(date +%s)
check "delete_series (PUT, head series): 204" [ "$st" = 204 ]
old=$(C "$(URL /api/v1/query)" --data-urlencode 'query=count_over_time(websec_live[1h])' --data-urlencode "time=$((TD - 1))" | jq_py 'len(d["data"]["result"])')
check "head series deleted up to the request" [ "$old" = 0 ]
sleep 2.5
new=$(C "$(URL /api/v1/query)" --data-urlencode 'query=count_over_time(websec_live[1h])' | jq_py 'len(d["data"]["result"])')
check "samples scraped after the delete are visible" [ "$new" = 1 ]
stop_server

start_server --web.enable-admin-api || { bad "restart"; finish; }
check "after restart: delete still applies (blocks)" [ "$(cnt)" = "1=150 2=180" ]
old=$(C "$(URL /api/v1/query)" --data-urlencode 'query=count_over_time(websec_live[1h])' --data-urlencode "time=$((TD - 1))" | jq_py 'len(d["data"]["result"])')
check "after restart: delete still applies (head)" [ "$old" = 0 ]
now=$(C "$(URL /api/v1/query)" --data-urlencode 'query=count_over_time(websec_live[1h])' | jq_py 'len(d["data"]["result"])')
check "after restart: head samples from after the delete are back from the WAL" [ "$now" = 1 ]
st=$(status -u "alice:$PASS" -X POST "$(URL /api/v1/admin/tsdb/clean_tombstones)")
check "clean_tombstones: 204" [ "$st" = 204 ]
check "after clean_tombstones: same answer" [ "$(cnt)" = "1=150 2=180" ]
stop_server
mv "$T/data/delete_requests" "$T/delete_requests.saved" 2>/dev/null
offl=$("$FLINT" query --data "$T/data" --time "$TEND" --format json "$CNT" | jq_py '" ".join("%s=%s" % (r["metric"]["k"], r["value"][1]) for r in sorted((d["data"]["result"] if "data" in d else d["result"]), key=lambda r: r["metric"]["k"]))')
check "blocks were rewritten: deleted samples are gone from disk (without delete requests: $offl)" [ "$offl" = "1=150 2=180" ]
mv "$T/delete_requests.saved" "$T/data/delete_requests" 2>/dev/null
start_server --web.enable-admin-api || { bad "restart after clean"; finish; }
check "after clean + restart: same answer" [ "$(cnt)" = "1=150 2=180" ]
stop_server

# ---- client certificates: RequireAndVerifyClientCert --------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj /CN=websec-ca >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$T/client.key" -out "$T/client.csr" -subj /CN=client >/dev/null 2>&1
openssl x509 -req -in "$T/client.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -out "$T/client.pem" \
    -days 2 >/dev/null 2>&1
cat >"$T/mtls.yml" <<EOF
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
basic_auth_users:
  alice: '$HASH'
EOF
WEBCFG=$T/mtls.yml start_server || { bad "server starts with client certificates"; finish; }
check "mTLS: client certificate from the CA + password: 200" \
    [ "$(status -u "alice:$PASS" --cert "$T/client.pem" --key "$T/client.key" "$(URL /-/healthy)")" = 200 ]
check "mTLS: no client certificate: refused" [ "$(status -u "alice:$PASS" "$(URL /-/healthy)")" != 200 ]
check "mTLS: certificate from another CA: refused" \
    [ "$(status -u "alice:$PASS" --cert "$T/cert.pem" --key "$T/key.pem" "$(URL /-/healthy)")" != 200 ]
stop_server

finish
