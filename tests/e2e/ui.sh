#!/usr/bin/env bash
# ui.sh - end-to-end test of the web UI (web/ui.c, web/ui/*): imports a small
# demo data set (two hours ending at the last whole hour, so the server's
# head can still take new samples), starts `./flint server` scraping itself
# every second plus a target that is down, then tests/e2e/ui_check.py checks
# the HTTP side with plain requests (status, Content-Type, Cache-Control,
# gzip, 404s) and the pages in headless Chromium (--dump-dom): graph paths,
# legend, table rows, error with caret, targets and status. It also writes a
# screenshot of the graph page to the temp dir (UI_SCREENSHOT=path keeps it).
# FLINT=path tests another build (e.g. build/flint-asan).
# Last line: "ui: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
srv=
checker=
cleanup() {
    # The checker closes its browsers on TERM; then the server goes.
    if [ -n "$checker" ]; then kill "$checker" 2>/dev/null; wait "$checker" 2>/dev/null; fi
    if [ -n "$srv" ]; then kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; echo "ui: 0 passed, 1 failed"; exit 1; }

flint=${FLINT:-./flint}
[ -x "$flint" ] || fail "$flint is not built (make flint)"
command -v chromium >/dev/null || fail "chromium is not installed"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
end=$(( $(date +%s) / 3600 * 3600 ))   # last whole hour: the import's blocks end there
python3 tests/e2e/ui_check.py demo "$end" > "$tmp/demo.om" || fail "cannot write the demo data"
"$flint" import openmetrics --quiet --max-block-duration=1h "$tmp/demo.om" "$tmp/data" > "$tmp/import.log" 2>&1 ||
    { cat "$tmp/import.log"; fail "flint import"; }
cat > "$tmp/flint.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: flint
    static_configs:
      - targets: ['127.0.0.1:$port']
  - job_name: down
    static_configs:
      - targets: ['127.0.0.1:1']
YML
"$flint" server --config.file="$tmp/flint.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$port" > "$tmp/server.log" 2>&1 &
srv=$!
python3 tests/e2e/ui_check.py check "$port" "$end" "$tmp" &
checker=$!
wait "$checker"
rc=$?
checker=
[ $rc -eq 0 ] || { echo "--- server log"; tail -n 20 "$tmp/server.log"; }
exit $rc
