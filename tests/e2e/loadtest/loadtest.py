#!/usr/bin/env python3
"""loadtest.py - 32 concurrent dashboard clients against a flint server that
is scraping at the same time.

Setup: an hour of request counters and latency histograms
(tests/e2e/promdiff/httpdata.py) imported into a fresh data directory; a
`flint server` on it scraping itself and tests/scrape/fixture.py (/healthy)
every second. Load: --clients threads (default 32), each with a keep-alive
connection, send POST /api/v1/query_range forms the way Grafana does (one
hour, 15 s steps, end aligned to the step) cycling through five dashboard
queries, for --seconds (default 20).

Pass/fail (no timing is a pass/fail criterion):
  - every answer is HTTP 200 with status success (0 errors);
  - at least one query per client completed;
  - the scrapes kept up: for each target, the `up` samples over the load
    window are all 1 and no two consecutive ones are more than 1.5 scrape
    intervals apart (no missed scrape), and their count covers the window;
  - the server is still healthy afterwards.
Reported (not judged): throughput in queries/s, latency p50/p90/p99/max,
the server's peak RSS and CPU seconds.

Prints `load: N passed, N failed` after a line
`load: throughput Q queries/s ...`. Standard library only; children are
always stopped.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "promdiff"))
import httpdata  # noqa: E402

QUERIES = [
    'sum by (handler) (rate(http_requests_total{job="api"}[1m0s]))',
    'histogram_quantile(0.95, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m0s])))',
    'sum by (handler) (rate(http_requests_total{code=~"5.."}[5m0s])) / sum by (handler) (rate(http_requests_total[5m0s]))',
    'sum by (code) (increase(http_requests_total[1m0s]))',
    'avg by (job) (avg_over_time(scrape_duration_seconds[1m0s])) or max by (job) (up)',
]
RESULTS = {"pass": 0, "fail": 0}


def check(name, cond, detail=""):
    if cond:
        RESULTS["pass"] += 1
    else:
        RESULTS["fail"] += 1
        print("FAIL %s %s" % (name, detail))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path, params):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path + "?" + urllib.parse.urlencode(params))
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


class Client(threading.Thread):
    def __init__(self, idx, port, stop_at, step):
        super().__init__(daemon=True)
        self.idx, self.port, self.stop_at, self.step = idx, port, stop_at, step
        self.latencies = []
        self.errors = []
        self.bytes = 0

    def run(self):
        conn = None
        i = self.idx
        while time.time() < self.stop_at:
            q = QUERIES[i % len(QUERIES)]
            i += 1
            end = int(time.time()) // self.step * self.step
            body = urllib.parse.urlencode({"query": q, "start": end - 3600, "end": end, "step": self.step,
                                           "timeout": "60s"})
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request("POST", "/api/v1/query_range", body=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                data = r.read()
                self.bytes += len(data)
                if r.status != 200 or not data.startswith(b'{"status":"success"'):
                    self.errors.append("HTTP %d %s: %s" % (r.status, q, data[:200]))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.errors.append("%s: %r" % (q, e))
                if conn is not None:
                    conn.close()
                conn = None
                continue
            self.latencies.append(time.monotonic() - t0)
        if conn is not None:
            conn.close()


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def proc_stats(pid):
    rss = cpu = None
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024.0
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return rss, cpu


def on_term(*_):
    raise SystemExit(143)  # unwinds through the finally that stops the children


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flint", default=os.path.join(ROOT, "flint"))
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--step", type=int, default=15)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="flint-load-")
    children = []
    try:
        return run(args, tmp, children)
    finally:
        for p in children:
            if p.poll() is None:
                p.terminate()
        for p in children:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp, children):
    now = int(time.time())
    om = os.path.join(tmp, "http.om")
    # The imported block must end before now: flint's block meta covers the
    # whole aligned import window and the head refuses samples older than
    # the newest block's end, so a window reaching past now would make the
    # server drop every scraped sample. 10-minute windows, data up to the
    # last 10-minute boundary.
    window = 600
    with open(om, "w") as f:
        httpdata.write(f, (now - 3600) // window * window, now // window * window - 15, interval=15)
        f.write("# EOF\n")
    db = os.path.join(tmp, "data")
    r = subprocess.run([args.flint, "import", "--quiet", "--max-block-duration", "%ds" % window, "openmetrics", om,
                        db], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    check("import", r.returncode == 0, r.stdout[-500:])

    fixture = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "scrape", "fixture.py"), "--port", "0",
                                "--lifetime", str(int(args.seconds) + 120)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    children.append(fixture)
    m = re.match(r"port (\d+)", fixture.stdout.readline())
    check("fixture starts", m is not None)
    if not m:
        return 1
    fport, port = int(m.group(1)), free_port()
    cfg = os.path.join(tmp, "scrape.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                "  - job_name: flint\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                "  - job_name: fixture\n    metrics_path: /healthy\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % (port, fport))
    log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen([args.flint, "server", "--config.file", cfg, "--storage.tsdb.path", db,
                               "--web.listen-address", "127.0.0.1:%d" % port, "--log.level", "warn"],
                              stdout=log, stderr=subprocess.STDOUT)
    children.append(server)
    deadline = time.time() + 30
    ready = False
    while time.time() < deadline and server.poll() is None and not ready:
        try:
            ready = get(port, "/api/v1/query", {"query": "count(up == 1) == 2"})[1]["data"]["result"] != []
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            pass
        if not ready:
            time.sleep(0.25)
    check("server up and both targets scraped", ready)
    if not ready:
        print(open(os.path.join(tmp, "server.log")).read()[-2000:])
        return 1
    cpu0 = proc_stats(server.pid)[1] or 0.0

    load_start = time.time()
    clients = [Client(i, port, load_start + args.seconds, args.step) for i in range(args.clients)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(args.seconds + 120)
    load_end = time.time()
    rss, cpu1 = proc_stats(server.pid)
    lat = sorted(x for c in clients for x in c.latencies)
    errors = [e for c in clients for e in c.errors]
    elapsed = load_end - load_start
    nbytes = sum(c.bytes for c in clients)
    print("load: throughput %.1f queries/s (%d queries, %d clients, %.1f s, %.0f KiB per answer), latency p50 %.0f ms p90 %.0f ms "
          "p99 %.0f ms max %.0f ms; server peak RSS %.1f MiB, CPU %.1f s (%.2f ms per query)" % (
              len(lat) / elapsed, len(lat), args.clients, elapsed, nbytes / 1024.0 / max(1, len(lat)), 1000 * pct(lat, 50), 1000 * pct(lat, 90),
              1000 * pct(lat, 99), 1000 * (lat[-1] if lat else float("nan")), rss or 0, (cpu1 or 0) - cpu0,
              1000 * ((cpu1 or 0) - cpu0) / max(1, len(lat))))
    check("no client thread hung", not any(c.is_alive() for c in clients))
    check("0 errors", not errors, "%d errors, first: %s" % (len(errors), errors[:3]))
    check("every client completed queries", all(c.latencies for c in clients),
          [len(c.latencies) for c in clients])

    # The scrapes kept up: raw `up` samples over the load window.
    time.sleep(1.5)
    window = int(load_end - load_start) + 1
    st, doc = get(port, "/api/v1/query", {"query": "up[%ds]" % window, "time": "%.3f" % load_end})
    series = {s["metric"].get("job"): s["values"] for s in doc.get("data", {}).get("result", [])}
    check("up series for both jobs", sorted(series) == ["fixture", "flint"], sorted(series))
    for job, vals in sorted(series.items()):
        ts = [float(t) for t, _ in vals]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        print("load: scrape %s: %d up samples in %d s, largest gap %.3f s" % (job, len(ts), window,
                                                                           max(gaps) if gaps else 0))
        check("%s: every up sample is 1" % job, all(v == "1" for _, v in vals), [v for _, v in vals if v != "1"][:5])
        check("%s: no missed scrape (largest gap %.2f s)" % (job, max(gaps) if gaps else 0),
              gaps and max(gaps) <= 1.5, gaps and max(gaps))
        check("%s: samples cover the window (%d in %d s)" % (job, len(ts), window), len(ts) >= window - 2,
              len(ts))
    st, _ = get(port, "/api/v1/query", {"query": "1"})
    check("server healthy after the load", st == 200 and server.poll() is None)
    print("load: %d passed, %d failed" % (RESULTS["pass"], RESULTS["fail"]))
    return 0 if RESULTS["fail"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
