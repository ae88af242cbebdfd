#!/usr/bin/env bash
# run.sh - command-line tests of ./flint: import (threaded, split at family
# boundaries), tsdb ls/analyze, flint query on a directory and through a
# server (--server, compared with --data), and the errors a user sees for
# bad input.
# Prints "cli: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
bin=${FLINT_BIN:-./flint}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flint-cli-XXXXXX")
srv_pid=
cleanup() {
    if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0; fail=0
ok()   { pass=$((pass + 1)); }
bad()  { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }

# 6 families x 4 series x 500 samples at 15 s, series-major, seconds timestamps
gen() {
    local f s i
    for f in 0 1 2 3 4 5; do
        echo "# TYPE fam$f gauge"
        for s in 0 1 2 3; do
            for i in $(seq 0 499); do
                echo "fam$f{s=\"$s\",job=\"cli\"} $((f * 1000 + s * 10 + i % 7)).5 $((1700000000 + i * 15))"
            done
        done
    done
    echo "# EOF"
}
gen > "$tmp/ok.om"

for threads in 1 2; do
    out=$($bin import --quiet --threads $threads openmetrics "$tmp/ok.om" "$tmp/db$threads" 2>&1)
    check "import threads=$threads exits 0" '[ $? -eq 0 ]'
    check "import threads=$threads reports 12000 samples" '[[ "$out" == *"imported 12000 samples of 24 series"* ]]'
    j=$($bin tsdb analyze --format=json "$tmp/db$threads")
    check "analyze threads=$threads counts samples" '[[ "$j" == *"\"series\":24,\"samples\":12000"* ]]'
done
check "both thread counts write the same bytes" \
    '[ "$(du -sb "$tmp/db1" | cut -f1)" = "$(du -sb "$tmp/db2" | cut -f1)" ]'
ls_out=$($bin tsdb ls "$tmp/db2")
check "tsdb ls lists one block" '[ "$(echo "$ls_out" | wc -l)" -eq 2 ]'

# flint query on the imported directory (read-only)
out=$($bin query --data "$tmp/db2" --time 1700000045 'fam0{s="0"}')
check "query instant value" '[[ "$out" == *"fam0{job=\"cli\", s=\"0\"}"*" 3.5 @1700000045.000"* ]]'
out=$($bin query --data "$tmp/db2" --time 1700000045 --format json 'count(fam3)')
check "query json count" '[ "$out" = "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000045,\"4\"]}]}" ]'
out=$($bin query --data "$tmp/db2" --start 1700000000 --end 1700000060 --step 30s --format csv 'fam1{s="2"}')
check "query range csv" '[ "$out" = "$(printf "metric,timestamp,value\n\"fam1{job=\"\"cli\"\", s=\"\"2\"\"}\",1700000000.000,1020.5\n\"fam1{job=\"\"cli\"\", s=\"\"2\"\"}\",1700000030.000,1022.5\n\"fam1{job=\"\"cli\"\", s=\"\"2\"\"}\",1700000060.000,1024.5")" ]'
err=$($bin query --data "$tmp/db2" 'sum(rate(x[5m])' 2>&1); rc=$?
check "query parse error exits 1 with position" '[ $rc -eq 1 ] && [[ "$err" == *"1:16: parse error: unclosed left parenthesis"* ]]'
$bin query 'up' >/dev/null 2>&1; rc=$?
check "query without --data exits 2" '[ $rc -eq 2 ]'

# flint query --server: a server on the same data (no scraping, no
# retention cut) must print exactly what --data prints, in every format
printf 'scrape_configs: []\n' > "$tmp/empty.yml"
cp -r "$tmp/db2" "$tmp/dbsrv"
$bin server --config.file "$tmp/empty.yml" --storage.tsdb.path "$tmp/dbsrv" --storage.tsdb.retention.time 100y \
    --web.listen-address 127.0.0.1:0 --log.level info > "$tmp/srv.log" 2>&1 &
srv_pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*msg="listening".* port=\([0-9]*\).*/\1/p' "$tmp/srv.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.1
done
check "server for --server tests starts" '[ -n "$port" ]'
url="http://127.0.0.1:${port:-1}"
same() { # $1 = name, rest = query flags and expression; compares stdout and exit code
    local name=$1; shift
    local a b ra rb
    a=$($bin query --data "$tmp/dbsrv" "$@" 2>/dev/null); ra=$?
    b=$($bin query --server "$url" "$@" 2>/dev/null); rb=$?
    check "query --server = --data: $name" '[ "$a" = "$b" ] && [ $ra -eq $rb ] && [ -n "$a" ]'
}
for f in table json csv; do
    same "instant vector $f" --time 1700000045 --format $f 'fam0'
    same "range $f" --start 1700000000 --end 1700003000 --step 1m --format $f 'sum by (s) (fam2) / 3'
    same "scalar $f" --time 1700000100.5 --format $f 'scalar(count(fam1)) * 2.5'
done
same "string" --time 1700000000 '"hello"'
same "sorted vector keeps order" --time 1700001000 --format csv 'sort_desc(fam4)'
same "empty vector json" --time 1700000045 --format json 'nothing_here'
same "NaN and Inf" --time 1700000045 --format json 'fam0 / 0 or -fam1 / 0 or vector(0/0)'
same "rfc3339 time" --time 2023-11-14T22:14:05Z 'fam5{s="1"}'
same "range with offset" --start 1700001000 --end 1700002000 --step 100 'rate(fam3[5m] offset 1m)'
err=$($bin query --server "$url" 'sum(rate(x[5m])' 2>&1); rc=$?
check "query --server parse error exits 1 with errorType and position" \
    '[ $rc -eq 1 ] && [[ "$err" == "error (bad_data): "*"1:16: parse error: unclosed left parenthesis"* ]]'
err=$($bin query --server "$url" --start 1700000000 --end 1700900000 --step 1s 'fam0' 2>&1); rc=$?
check "query --server server-side limit error" '[ $rc -eq 1 ] && [[ "$err" == "error (bad_data): "*"11,000 points"* ]]'
err=$($bin query --server "$url" --time 1700000045 'rate(fam0[5m])' 2>&1 >/dev/null); rc=$?
check "query --server prints the server's infos on stderr" '[ $rc -eq 0 ] && [[ "$err" == *"might not be a counter"* ]]'
kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; srv_pid=
err=$($bin query --server "$url" 'up' 2>&1); rc=$?
check "query --server connection refused exits 1 naming the URL" \
    '[ $rc -eq 1 ] && [[ "$err" == "error: $url/api/v1/query: "* ]]'
# canned answers from a stand-in server: JSON escapes, an unexpected shape, a proxy error page
cat > "$tmp/canned.py" <<'PY'
import http.server, sys
answers = [
    (200, rb'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"m","l\u00e9":"a\"b\\c\n\ud83d\ude00"},"value":[1.5,"-Inf"]}]},"warnings":["w1"]}'),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}'),
    (502, b'<html>bad gateway</html>'),
]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        st, body = answers.pop(0)
        self.send_response(st)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.timeout = 10
for _ in range(len(answers)):
    srv.handle_request()
PY
python3 "$tmp/canned.py" > "$tmp/canned.port" &
canned_pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/canned.port" ] && break; sleep 0.1; done
canned_url="http://127.0.0.1:$(cat "$tmp/canned.port")"
want='{"resultType":"vector","result":[{"metric":{"__name__":"m","lé":"a\"b\\c\n😀"},"value":[1.500,"-Inf"]}]}'
out=$($bin query --server "$canned_url" --format json x 2>"$tmp/canned.err"); rc=$?
check "query --server decodes JSON escapes and surrogate pairs" '[ $rc -eq 0 ] && [ "$out" = "$want" ]'
check "query --server prints the server's warnings" '[ "$(cat "$tmp/canned.err")" = "w1" ]'
err=$($bin query --server "$canned_url" x 2>&1); rc=$?
check "query --server refuses an answer of the wrong shape" '[ $rc -eq 1 ] && [[ "$err" == *"unexpected shape"* ]]'
err=$($bin query --server "$canned_url" x 2>&1); rc=$?
check "query --server names a non-API answer with its HTTP status" \
    '[ $rc -eq 1 ] && [[ "$err" == *"HTTP 502, not a Prometheus API answer"*"bad gateway"* ]]'
wait "$canned_pid" 2>/dev/null
$bin query --server "$url" --data "$tmp/db2" 'up' >/dev/null 2>&1; rc=$?
check "query with both --server and --data exits 2" '[ $rc -eq 2 ]'

# errors name the file and line, and nothing is written
printf '# TYPE a gauge\na 1 1\na 2 x\n# EOF\n' > "$tmp/badts.om"
err=$($bin import --quiet openmetrics "$tmp/badts.om" "$tmp/dbbad" 2>&1); rc=$?
check "bad timestamp exits 1" '[ $rc -eq 1 ]'
check "bad timestamp names line 3" '[[ "$err" == *"badts.om: line 3"* ]]'
check "bad import writes no block" '[ -z "$(ls "$tmp/dbbad" 2>/dev/null | grep -v lock)" ]'
printf '# TYPE a gauge\na 1\n# EOF\n' > "$tmp/nots.om"
err=$($bin import --quiet openmetrics "$tmp/nots.om" "$tmp/dbnots" 2>&1)
check "sample without timestamp is refused" '[[ "$err" == *"line 2: sample without a timestamp"* ]]'
printf '# TYPE a gauge\na 1 1\na 2 1\n# EOF\n' > "$tmp/dup.om"
err=$($bin import --quiet openmetrics "$tmp/dup.om" "$tmp/dbdup" 2>&1)
check "conflicting duplicate is refused" '[[ "$err" == *"duplicate sample for timestamp"* ]]'
err=$($bin import --quiet openmetrics "$tmp/missing.om" "$tmp/dbm" 2>&1); rc=$?
check "missing file exits 1 with its name" '[ $rc -eq 1 ] && [[ "$err" == *"missing.om"* ]]'
$bin import --bogus openmetrics a b >/dev/null 2>&1; rc=$?
check "unknown flag exits 2" '[ $rc -eq 2 ]'
$bin tsdb --help >/dev/null; rc=$?
check "tsdb --help exits 0" '[ $rc -eq 0 ]'

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
