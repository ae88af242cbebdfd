#!/usr/bin/env python3
"""promdiff.py - differential test: Prometheus 2.42 and flint on the same data.

1. Writes one OpenMetrics file: gen_dataset.py's node_exporter-shaped series
   (../shared/bench, or $GEN_DATASET) plus httpdata.py's request counters and
   latency histogram, all in a 3-hour window starting at a fixed time (START).
2. Loads it into Prometheus (`promtool tsdb create-blocks-from openmetrics`)
   and into flint (`flint import openmetrics`), starts both servers on free
   loopback ports with an empty scrape configuration.
3. Sends every expression of queries.py to both, as instant queries at three
   times and as two range queries (60 s steps over 2 h, 15 s over 30 min), through /api/v1/query and
   /api/v1/query_range, and compares: result type, label sets, timestamps,
   values within 1e-6 relative (1e-9 absolute near zero; NaN equals NaN,
   infinities by sign). Two errors agree when their errorType does.
4. Checks that the documented Prometheus 2 -> 3 differences (EXPECTED_DIFFS)
   do show on the sample grid.

Prints one line per failure (query, the mode, and the first differing
series) and finally `promdiff: N passed, N failed`; exit 1 on failure.

    python3 tests/e2e/promdiff/promdiff.py [--flint ./flint] [--keep DIR]

Standard library only. Every child is killed on exit; waits are bounded.
"""
import argparse
import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpdata  # noqa: E402
import queries  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
START = 1699999200  # 2023-11-14T22:00:00Z, on a 2 h boundary
REL_TOL = 1e-6
ABS_TOL = 1e-9
CHILDREN = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def kill_children():
    for p in CHILDREN:
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + 10
    for p in CHILDREN:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(cmd, timeout, **kw):
    r = subprocess.run(cmd, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        sys.stderr.write("promdiff: %s failed:\n%s\n" % (" ".join(cmd), r.stdout.decode(errors="replace")[-2000:]))
        raise SystemExit(2)
    return r.stdout.decode(errors="replace")


class Server:
    def __init__(self, name, port):
        self.name, self.port = name, port

    def get(self, path, params, timeout=60):
        body = urllib.parse.urlencode(params, doseq=True)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if "/label/" in path:  # GET only, in Prometheus as in flint
                conn.request("GET", path + "?" + body)
            else:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        try:
            return json.loads(data)
        except ValueError:
            return {"status": "error", "errorType": "badjson", "error": data[:200].decode(errors="replace")}

    def wait_ready(self, proc, log, seconds=90):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if proc.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/-/ready")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.stderr.write("promdiff: %s did not become ready; log:\n%s\n" % (self.name, open(log).read()[-3000:]))
        raise SystemExit(2)


def start_server(name, cmd, port, logdir):
    log = os.path.join(logdir, name + ".log")
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    CHILDREN.append(proc)
    srv = Server(name, port)
    srv.wait_ready(proc, log)
    return srv


# ---- comparison -------------------------------------------------------------------------

def fval(s):
    return float(s)  # Python reads "NaN", "+Inf", "-Inf"


def same_value(a, b):
    x, y = fval(a), fval(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= max(ABS_TOL, REL_TOL * max(abs(x), abs(y)))


def lstr(m):
    return "{" + ", ".join('%s="%s"' % (k, m[k]) for k in sorted(m)) + "}"


def key(m):
    return tuple(sorted(m.items()))


def compare(p, f):
    """None when the two responses agree, else a one-line description."""
    if p.get("status") != "success" or f.get("status") != "success":
        if p.get("status") == f.get("status") == "error" and p.get("errorType") == f.get("errorType"):
            return None
        return "prometheus %s %s: %s | flint %s %s: %s" % (
            p.get("status"), p.get("errorType", ""), p.get("error", ""),
            f.get("status"), f.get("errorType", ""), f.get("error", ""))
    pd, fd = p["data"], f["data"]
    if pd["resultType"] != fd["resultType"]:
        return "resultType prometheus %s flint %s" % (pd["resultType"], fd["resultType"])
    rt = pd["resultType"]
    if rt in ("scalar", "string"):
        pt, pv = pd["result"]
        ft, fv = fd["result"]
        ok = pt == ft and (pv == fv if rt == "string" else same_value(pv, fv))
        return None if ok else "prometheus %r flint %r" % (pd["result"], fd["result"])
    pm = {key(s["metric"]): s for s in pd["result"]}
    fm = {key(s["metric"]): s for s in fd["result"]}
    if len(pm) != len(pd["result"]) or len(fm) != len(fd["result"]):
        return "duplicate label sets in a result (prometheus %d/%d, flint %d/%d)" % (
            len(pm), len(pd["result"]), len(fm), len(fd["result"]))
    only_p = sorted(set(pm) - set(fm))
    only_f = sorted(set(fm) - set(pm))
    if only_p or only_f:
        parts = []
        if only_p:
            parts.append("only in prometheus (%d): %s" % (len(only_p), lstr(dict(only_p[0]))))
        if only_f:
            parts.append("only in flint (%d): %s" % (len(only_f), lstr(dict(only_f[0]))))
        return "; ".join(parts)
    for k in sorted(pm):
        a, b = pm[k], fm[k]
        if rt == "vector":
            if a["value"][0] != b["value"][0] or not same_value(a["value"][1], b["value"][1]):
                return "%s prometheus %r flint %r" % (lstr(dict(k)), a["value"], b["value"])
        else:
            av, bv = a["values"], b["values"]
            at = [v[0] for v in av]
            bt = [v[0] for v in bv]
            if at != bt:
                miss = sorted(set(at) ^ set(bt))
                return "%s timestamps differ: prometheus %d points, flint %d, first differing t=%s" % (
                    lstr(dict(k)), len(at), len(bt), miss[0] if miss else "?")
            for x, y in zip(av, bv):
                if not same_value(x[1], y[1]):
                    return "%s at t=%s prometheus %s flint %s" % (lstr(dict(k)), x[0], x[1], y[1])
    return None


# ---- data ------------------------------------------------------------------------------

def write_dataset(tmp, series, hours):
    gen = os.environ.get("GEN_DATASET") or os.path.join(ROOT, "..", "shared", "bench", "gen_dataset.py")
    if not os.path.exists(gen):
        gen = "/work/shared/bench/gen_dataset.py"
    out = os.path.join(tmp, "gen")
    # A fixed start: gen_dataset's shapes follow the time of day (diurnal
    # load), so a start that moved with the clock would change which
    # filters select anything from run to run. Both servers keep it (100y
    # retention).
    run([sys.executable, gen, "--series", str(series), "--hours", str(hours), "--start", str(START),
         "--out", out, "--formats", "om"], 120)
    meta = json.load(open(os.path.join(out, "dataset.json")))
    path = os.path.join(tmp, "all.om")
    with open(path, "w") as f, open(os.path.join(out, "dataset.om")) as src:
        for line in src:
            if line.startswith("# EOF"):
                break
            f.write(line)
        httpdata.write(f, meta["start"], meta["end"], interval=meta["interval_s"])
        f.write("# EOF\n")
    shutil.rmtree(out)
    return path, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flint", default=os.path.join(ROOT, "flint"))
    ap.add_argument("--prometheus", default="prometheus")
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--hours", type=int, default=3)
    ap.add_argument("--keep", help="keep the temporary directory here (for debugging)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    for prog in (args.prometheus, args.promtool):
        if not shutil.which(prog):
            print("promdiff: %s not found (scripts/deps.sh test installs it)" % prog)
            print("promdiff: 0 passed, 1 failed")
            return 1
    tmp = args.keep or tempfile.mkdtemp(prefix="promdiff-")
    os.makedirs(tmp, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(SystemExit(143)))
    try:
        return run_all(args, tmp)
    finally:
        kill_children()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run_all(args, tmp):
    t0 = time.time()
    om, meta = write_dataset(tmp, args.series, args.hours)
    start, end, step = meta["start"], meta["end"], meta["interval_s"]
    pdir, fdir = os.path.join(tmp, "prom"), os.path.join(tmp, "flint")
    run([args.promtool, "tsdb", "create-blocks-from", "openmetrics", om, pdir], 300)
    run([args.flint, "import", "--quiet", "openmetrics", om, fdir], 300)
    cfg = os.path.join(tmp, "empty.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    pport, fport = free_port(), free_port()
    prom = start_server("prometheus", [args.prometheus, "--config.file", cfg, "--storage.tsdb.path", pdir,
                                "--storage.tsdb.retention.time", "100y", "--web.listen-address",
                                "127.0.0.1:%d" % pport, "--log.level", "warn"], pport, tmp)
    flint = start_server("flint", [args.flint, "server", "--config.file", cfg, "--storage.tsdb.path", fdir,
                            "--storage.tsdb.retention.time", "100y", "--web.listen-address",
                            "127.0.0.1:%d" % fport, "--log.level", "warn"], fport, tmp)
    if args.verbose:
        print("promdiff: data and servers ready in %.1fs" % (time.time() - t0))

    # Off-grid times: 7 s past a sample of gen_dataset (multiples of the
    # interval) and 2 s past one of httpdata (5 s past), never on a window edge.
    off = 7
    instants = [start + 3600 + off, start + 7200 + off, end - step + off]
    at = start + 5400 + off
    # The range starts 1 h in: 1 h windows then never reach before the first
    # sample (see the extrapolation entry of EXPECTED_DIFFS).
    rstart, rend, rstep = start + 3600 + off, end - step + off, 60
    passed = failed = 0

    def report(ok, what, q, detail):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL %s %s\n     %s" % (what, q, detail))

    def has_data(resp):
        if resp.get("status") != "success":
            return True  # the error cases are meant; compare() already matched errorType
        return resp["data"]["resultType"] in ("scalar", "string") or bool(resp["data"]["result"])

    for tmpl in queries.QUERIES:
        q = tmpl.replace("{AT}", str(at))
        answered = False
        for t in instants:
            p = prom.get("/api/v1/query", {"query": q, "time": t})
            d = compare(p, flint.get("/api/v1/query", {"query": q, "time": t}))
            report(d is None, "instant t=%d" % t, q, d)
            answered = answered or has_data(p)
        for params in ({"query": q, "start": rstart, "end": rend, "step": rstep},
                       {"query": q, "start": rend - 1800, "end": rend, "step": step}):
            p = prom.get("/api/v1/query_range", params)
            d = compare(p, flint.get("/api/v1/query_range", params))
            report(d is None, "range step=%s" % params["step"], q, d)
            answered = answered or has_data(p)
        # An expression that selects nothing compares nothing: the data or the
        # query is wrong. Only those listed as empty on purpose may be.
        report(answered or tmpl in queries.EMPTY_ON_PURPOSE, "has data", q,
               "Prometheus returns no series at any time: fix the query or the data")

    # Metadata endpoints over the whole data range (Prometheus answers them
    # per block, so only a range covering every block compares exactly).
    whole = {"start": start - 3600, "end": end + 3600}
    for path, params in (
            ("/api/v1/labels", {}),
            ("/api/v1/labels", {"match[]": "http_request_duration_seconds_bucket"}),
            ("/api/v1/label/__name__/values", {}),
            ("/api/v1/label/handler/values", {}),
            ("/api/v1/label/__name__/values", {"match[]": '{__name__=~".*_bytes"}'}),
            ("/api/v1/label/mountpoint/values", {"match[]": "node_filesystem_avail_bytes"}),
            ("/api/v1/series", {"match[]": '{__name__=~"node_load.*"}'}),
            ("/api/v1/series", {"match[]": ['http_requests_total{code="500"}', "app_version_info"]}),
            ("/api/v1/series", {"match[]": 'up{instance=~"host-00[01].*"}'})):
        p = prom.get(path, dict(whole, **params))
        f = flint.get(path, dict(whole, **params))
        ok = p.get("status") == f.get("status") == "success"
        if ok and path.endswith("/series"):
            ok = sorted(map(key, p["data"])) == sorted(map(key, f["data"]))
        elif ok:
            ok = p["data"] == f["data"]
        report(ok and bool(p["data"]), "metadata", "%s %s" % (path, params),
               "prometheus %s | flint %s" % (json.dumps(p)[:300], json.dumps(f)[:300]))

    # Documented Prometheus 2 -> 3 differences: they must show where the
    # entry says, and vanish at its control time.
    for q, t_differ, t_agree, why in queries.EXPECTED_DIFFS:
        t = start + t_differ
        p = prom.get("/api/v1/query", {"query": q, "time": t})
        f = flint.get("/api/v1/query", {"query": q, "time": t})
        ok = (compare(p, f) is not None and p.get("status") == f.get("status") == "success"
              and bool(f["data"]["result"]))
        report(ok, "expected 2->3 difference t=%d" % t, q, "answers agree or fail, but should differ: " + why)
        t = start + t_agree
        d = compare(prom.get("/api/v1/query", {"query": q, "time": t}),
                    flint.get("/api/v1/query", {"query": q, "time": t}))
        report(d is None, "control of an expected difference t=%d" % t, q, d)

    if args.verbose:
        print("promdiff: %d queries in %.1fs total" % (len(queries.QUERIES), time.time() - t0))
    print("promdiff: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
