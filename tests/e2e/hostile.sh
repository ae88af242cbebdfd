#!/usr/bin/env bash
# hostile.sh - flint against hostile scrape targets, beside a healthy one.
#
# A Python fixture (tests/e2e/hostile/fixture.py) serves: malformed lines,
# invalid UTF-8 (label value, quoted metric name, HELP), a 100 MB body
# (with body_size_limit 10MB, as a Content-Length and as a streamed body;
# and once without a limit, its last line malformed), 1,000,000 series
# against sample_limit 1000, a response that hangs after its headers, a
# port that accepts and never answers, HTTP 500, a port nobody listens on,
# TLS signed by another CA, TLS verified by CA + IP SAN and by CA +
# server_name, basic auth and bearer tokens (right and wrong). Certificates
# come from the openssl CLI at test time.
#
# Checks (tests/e2e/hostile/check.py): every hostile target has only up=0
# samples, a lastError naming the cause, and nothing but up/scrape_*
# stored; the good TLS/auth targets are up with their series; the healthy
# target (interval 1s) has up samples exactly 1000 ms apart, as many as the
# fixture served (+-1). Then flint must stop cleanly on SIGTERM with no
# sanitizer report in its log.
#
#   tests/e2e/hostile.sh                 # builds ./flint when missing
#   FLINT=build-asan/flint tests/e2e/hostile.sh
#   HOSTILE_KEEP=1 ...                   # keep the temp dir (logs, config)
#   HOSTILE_DROP="big-nolimit many" ...  # leave jobs out (diagnosis only)
#   HOSTILE_SERVER=prometheus ...        # the same run against Prometheus
#                                        # (validates the fixture and checks)
#
# Bounded: the checker gives up after 75 s; the whole run takes ~30-40 s.
set -u
cd "$(dirname "$0")/../.." || exit 1
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
summary() { echo "hostile: $pass passed, $fail failed"; }

FLINT=${FLINT:-./flint}
SERVER=${HOSTILE_SERVER:-flint}
if [ "$SERVER" = prometheus ]; then
    FLINT=$(command -v prometheus) || { bad "no prometheus binary"; summary; exit 1; }
elif [ ! -x "$FLINT" ]; then
    if [ "$FLINT" = ./flint ]; then make -s -j2 flint >/dev/null || { bad "build ./flint"; summary; exit 1; }; else
        bad "no flint binary at $FLINT"; summary; exit 1
    fi
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flint-hostile-XXXXXX")
fixture_pid=
flint_pid=
cleanup() {
    [ -n "$flint_pid" ] && kill -9 "$flint_pid" 2>/dev/null
    [ -n "$fixture_pid" ] && kill -9 "$fixture_pid" 2>/dev/null
    wait 2>/dev/null
    if [ -n "${HOSTILE_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- certificates: CA-A signs both server certs; CA-B is the wrong CA
certs=$tmp/certs
mkdir -p "$certs"
gen_certs() {
    local k=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes) name san
    cd "$certs" || return 1
    for ca in ca-a ca-b; do
        openssl req -x509 "${k[@]}" -keyout $ca.key -out $ca.crt -days 2 -subj "/CN=hostile $ca" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign || return 1
    done
    # server-ip: valid for 127.0.0.1; server-name: only for hostile.test
    for name in server-ip server-name; do
        san=IP:127.0.0.1
        [ $name = server-name ] && san=DNS:hostile.test
        openssl req "${k[@]}" -keyout $name.key -out $name.csr -subj "/CN=$name" || return 1
        printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
            "$san" >$name.ext
        openssl x509 -req -in $name.csr -CA ca-a.crt -CAkey ca-a.key -CAcreateserial -days 2 \
            -extfile $name.ext -out $name.crt || return 1
    done
}
if (gen_certs) >"$tmp/openssl.log" 2>&1; then ok "certificates generated (openssl)"; else
    bad "certificates: $(tail -n 3 "$tmp/openssl.log")"; summary; exit 1
fi

# ---- fixture
"$PY" tests/e2e/hostile/fixture.py --certs "$certs" --lifetime 150 --hang 20 \
    >"$tmp/fixture.out" 2>"$tmp/fixture.err" &
fixture_pid=$!
for _ in $(seq 1 150); do
    [ -s "$tmp/fixture.out" ] && break
    kill -0 "$fixture_pid" 2>/dev/null || break
    sleep 0.1
done
if ! head -n 1 "$tmp/fixture.out" | grep -q '^{'; then
    bad "fixture did not start: $(tail -n 5 "$tmp/fixture.err")"; summary; exit 1
fi
head -n 1 "$tmp/fixture.out" >"$tmp/info.json"
port() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/info.json" "$1"; }
HTTP=$(port http); TLS_IP=$(port tls_ip); TLS_NAME=$(port tls_name)
SILENT=$(port silent); REFUSED=$(port refused)
fl_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "fixture: http $HTTP, tls $TLS_IP/$TLS_NAME, silent $SILENT, refused $REFUSED; flint on $fl_port"

# ---- configuration
job() { # name path target [extra yaml lines...]
    local name=$1 path=$2 target=$3; shift 3
    case " ${HOSTILE_DROP:-} " in *" $name "*) return ;; esac
    printf '  - job_name: %s\n    metrics_path: %s\n    static_configs: [{targets: ["%s"]}]\n' "$name" "$path" "$target"
    for l in "$@"; do printf '    %s\n' "$l"; done
}
H=127.0.0.1:$HTTP
{
    printf 'global:\n  scrape_interval: 5s\n  scrape_timeout: 2s\nscrape_configs:\n'
    job healthy /healthy "$H" "scrape_interval: 1s" "scrape_timeout: 1s"
    job malformed /malformed "$H"
    job utf8-label /utf8-label "$H"
    job utf8-name /utf8-name "$H"
    job utf8-bare-name /utf8-bare-name "$H"
    job utf8-help /utf8-help "$H"
    job big-limit /big "$H" "scrape_interval: 10s" "scrape_timeout: 8s" "body_size_limit: 10MB"
    job big-stream-limit /big-stream "$H" "scrape_interval: 10s" "scrape_timeout: 8s" "body_size_limit: 10MB"
    job big-nolimit /big "$H" "scrape_interval: 10s" "scrape_timeout: 8s"
    job many /many "$H" "scrape_interval: 10s" "scrape_timeout: 8s" "sample_limit: 1000"
    job hang-headers /hang-headers "$H"
    job hang-silent /metrics "127.0.0.1:$SILENT"
    job http-500 /500 "$H"
    job refused /metrics "127.0.0.1:$REFUSED"
    job tls-wrong-ca /healthy "127.0.0.1:$TLS_IP" "scheme: https" "tls_config: {ca_file: $certs/ca-b.crt}"
    job tls-ip /healthy "127.0.0.1:$TLS_IP" "scheme: https" "tls_config: {ca_file: $certs/ca-a.crt}"
    job tls-server-name /healthy "127.0.0.1:$TLS_NAME" "scheme: https" \
        "tls_config: {ca_file: $certs/ca-a.crt, server_name: hostile.test}"
    job basic-good /basic "$H" "basic_auth: {username: hostile, password: s3cret}"
    job basic-bad /basic "$H" "basic_auth: {username: hostile, password: wrong}"
    job bearer-good /bearer "$H" "authorization: {credentials: tok-good}"
    job bearer-bad /bearer "$H" "authorization: {credentials: tok-wrong}"
} >"$tmp/flint.yml"

checker=("$FLINT" check config)
[ "$SERVER" = prometheus ] && checker=(promtool check config)
if "${checker[@]}" "$tmp/flint.yml" >"$tmp/check.out" 2>&1; then ok "flint check config accepts the hostile configuration"; else
    bad "flint check config: $(tail -n 3 "$tmp/check.out")"
fi

# ---- flint
server=("$FLINT" server)
[ "$SERVER" = prometheus ] && server=("$FLINT")
"${server[@]}" --config.file "$tmp/flint.yml" --storage.tsdb.path "$tmp/data" \
    --web.listen-address "127.0.0.1:$fl_port" >"$tmp/flint.log" 2>&1 &
flint_pid=$!
ready=
for _ in $(seq 1 100); do
    if "$PY" -c 'import sys,urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/-/ready" % sys.argv[1], timeout=2)' \
        "$fl_port" 2>/dev/null; then ready=1; break; fi
    kill -0 "$flint_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -n "$ready" ]; then ok "flint server ready"; else
    bad "flint server did not become ready: $(tail -n 5 "$tmp/flint.log")"; summary; exit 1
fi

# ---- checks
"$PY" tests/e2e/hostile/check.py --flint "127.0.0.1:$fl_port" --fixture "127.0.0.1:$HTTP" \
    --info "$tmp/info.json" --skip "${HOSTILE_DROP:-}" --errors "$tmp/errors.txt" | tee "$tmp/check.log"
line=$(grep -E '^checks: [0-9]+ passed, [0-9]+ failed' "$tmp/check.log" | tail -n 1)
if [ -z "$line" ]; then
    bad "check.py ended without a summary"
else
    pass=$((pass + $(echo "$line" | sed -E 's/checks: ([0-9]+) passed.*/\1/')))
    fail=$((fail + $(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')))
fi
echo "--- lastError per job (flint's words)"
cat "$tmp/errors.txt" 2>/dev/null

# ---- peak memory (for the record, not a check), clean shutdown
echo "flint peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$flint_pid/status 2>/dev/null)"
kill -TERM "$flint_pid"
rc=
for _ in $(seq 1 150); do
    if ! kill -0 "$flint_pid" 2>/dev/null; then wait "$flint_pid"; rc=$?; break; fi
    sleep 0.1
done
if [ "$rc" = 0 ]; then ok "flint exits 0 on SIGTERM"; else
    bad "flint exit on SIGTERM: ${rc:-still running after 15 s}"; tail -n 5 "$tmp/flint.log"
fi
flint_pid=
if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$tmp/flint.log"; then
    bad "sanitizer report in flint's log"; grep -m 5 -E 'Sanitizer|runtime error:' "$tmp/flint.log"
else
    ok "no sanitizer report in flint's log"
fi

summary
[ "$fail" -eq 0 ]
