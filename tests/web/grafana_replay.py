#!/usr/bin/env python3
"""grafana_replay.py - replays what Grafana's Prometheus datasource sends, in
Grafana's order, against a real `flint server`, and checks every answer for
the exact shape Grafana parses.

The session (Grafana 9-11, backend and frontend requests together):
  1. data source settings page: GET /api/v1/status/buildinfo (flavour and
     version detection), "Save & test": GET and POST /api/v1/query with
     query=1%2B1&time=4;
  2. opening Explore / a dashboard: the language provider's GET
     /api/v1/labels?start=&end=, GET /api/v1/label/__name__/values, GET
     /api/v1/metadata, the exemplar probe GET /api/v1/query_exemplars with
     start/end in *milliseconds* (Grafana passes dateTime().valueOf());
  3. the metrics browser: label/__name__/values with a regex match[],
     /api/v1/series with a regex match[], label/<job>/values with match[],
     /api/v1/labels with match[];
  4. panels: POST /api/v1/query_range forms with start/end aligned to the
     step, step in decimal seconds, timeout=60s, `$__rate_interval` rendered
     as `1m0s`; instant queries for stat/table panels; exemplars for a panel;
     a broken expression.

Data: tests/e2e/promdiff/httpdata.py's request counters and histogram for
the last hour, imported with `flint import openmetrics` before the server
starts. Reuses tests/web/api_test.py's request helpers and check counters.

    python3 tests/web/grafana_replay.py [--flint ./flint]

Prints one line per failed check and `grafana: N passed, N failed`.
Standard library only; the server is always stopped.
"""
import argparse
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "promdiff"))
import api_test  # noqa: E402  (request(), check(), RESULTS)
import httpdata  # noqa: E402

check = api_test.check
# Grafana's Go client asks for gzip; every request here does too.
GRAFANA_HEADERS = {"Accept-Encoding": "gzip", "User-Agent": "Grafana/11.3.0"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def call(method, path, params=None, form=None):
    """One request the way Grafana sends it; (status, raw JSON bytes, doc)."""
    hdrs = dict(GRAFANA_HEADERS)
    if form is not None:
        hdrs.update(FORM)
    st, h, body = api_test.request(method, path, params=params, form=form, headers=hdrs)
    if h.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    check("%s %s: JSON answer" % (method, path), doc is not None, body[:200])
    check("%s %s: content-type" % (method, path), h.get("content-type") == "application/json", h)
    return st, body, doc or {}


# ---- shape checks (what Grafana's parsers read) ---------------------------------------

def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_value_str(s):
    if not isinstance(s, str):
        return False
    if s in ("NaN", "+Inf", "-Inf"):
        return True
    return re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", s) is not None


def check_envelope(name, st, raw, doc):
    """status first, data present, warnings/infos (if any) top-level lists of strings."""
    check(name + ": HTTP 200", st == 200, (st, raw[:200]))
    check(name + ": status success first", raw.startswith(b'{"status":"success","data":'), raw[:120])
    for k in ("warnings", "infos"):
        if k in doc:
            check(name + ": %s is a list of strings" % k,
                  isinstance(doc[k], list) and all(isinstance(w, str) for w in doc[k]), doc[k])
    data = doc.get("data")
    if isinstance(data, dict):
        check(name + ": no warnings inside data", "warnings" not in data and "infos" not in data, data.keys())
    check(name + ": no nulls for lists", b":null" not in raw, raw[:200])
    return data


def check_metric(name, m):
    check(name + ": metric is an object of strings",
          isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items()), m)


def check_matrix(name, st, raw, doc, start, end, step):
    data = check_envelope(name, st, raw, doc) or {}
    check(name + ": resultType matrix", data.get("resultType") == "matrix", data.get("resultType"))
    result = data.get("result")
    check(name + ": result list", isinstance(result, list), result)
    result = result or []
    seen = set()
    for s in result:
        check_metric(name, s.get("metric"))
        key = tuple(sorted(s.get("metric", {}).items()))
        check(name + ": series unique", key not in seen, key)
        seen.add(key)
        vals = s.get("values")
        ok = isinstance(vals, list) and len(vals) > 0 and all(
            isinstance(p, list) and len(p) == 2 and is_num(p[0]) and is_value_str(p[1]) for p in vals)
        check(name + ": values are [float seconds, \"string\"]", ok, vals[:3] if isinstance(vals, list) else vals)
        if not ok:
            continue
        ts = [p[0] for p in vals]
        check(name + ": timestamps ascending inside [start, end]",
              ts == sorted(set(ts)) and ts[0] >= start - 1e-9 and ts[-1] <= end + 1e-9, (ts[:3], start, end))
        off = [round((t - start) * 1000) % round(step * 1000) for t in ts]
        check(name + ": timestamps on the step grid", not any(off), (ts[:3], step))
    keys = [tuple(sorted(s.get("metric", {}).items())) for s in result]
    check(name + ": series sorted by labels", keys == sorted(keys), keys[:3])
    return result


def check_vector(name, st, raw, doc, t):
    data = check_envelope(name, st, raw, doc) or {}
    check(name + ": resultType vector", data.get("resultType") == "vector", data.get("resultType"))
    result = data.get("result")
    check(name + ": result list", isinstance(result, list), result)
    for s in result or []:
        check_metric(name, s.get("metric"))
        v = s.get("value")
        check(name + ": value is [t, \"string\"] at the query time",
              isinstance(v, list) and len(v) == 2 and is_num(v[0]) and abs(v[0] - t) < 1e-6 and is_value_str(v[1]), v)
    return result or []


def check_string_list(name, st, raw, doc, must_have=()):
    data = check_envelope(name, st, raw, doc)
    check(name + ": list of strings", isinstance(data, list) and all(isinstance(x, str) for x in data), data)
    data = data if isinstance(data, list) else []
    check(name + ": sorted, unique", data == sorted(set(data)), data[:10])
    for x in must_have:
        check(name + ": has %r" % x, x in data, data[:20])
    return data


# ---- the session ---------------------------------------------------------------------

def replay(now, peer=False):
    """The session; peer=True against Prometheus 2.42 (skips what only 3.x does)."""
    # 1. data source settings page ------------------------------------------------------
    st, raw, doc = call("GET", "/api/v1/status/buildinfo")
    data = check_envelope("buildinfo", st, raw, doc) or {}
    for k in ("version", "revision", "branch", "buildUser", "buildDate", "goVersion"):
        check("buildinfo: %s is a string" % k, isinstance(data.get(k), str), data)
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)", data.get("version", ""))
    check("buildinfo: semver >= 2.24 (Grafana's feature detection)",
          m is not None and (int(m.group(1)), int(m.group(2))) >= (2, 24), data.get("version"))
    check("buildinfo: no features key (not Mimir/Cortex)", "features" not in data, data)
    want = b'{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}'
    # Save & test, GET (httpMethod GET) with Grafana's escaping of '+'
    st, h, body = api_test.request("GET", "/api/v1/query?query=1%2B1&time=4", headers=GRAFANA_HEADERS)
    body = gzip.decompress(body) if h.get("content-encoding") == "gzip" else body
    check("save&test GET: exact body", st == 200 and body == want, body)
    st, raw, doc = call("POST", "/api/v1/query", form={"query": "1+1", "time": "4"})
    check("save&test POST: exact body", st == 200 and raw == want, raw)

    # 2. Explore opens: the language provider ------------------------------------------
    rng = {"start": str(now - 3600), "end": str(now)}  # Grafana: whole seconds
    st, raw, doc = call("GET", "/api/v1/labels", rng)
    check_string_list("labels", st, raw, doc, ("__name__", "handler", "instance", "job", "le"))
    st, raw, doc = call("GET", "/api/v1/label/__name__/values", rng)
    names = check_string_list("metric names", st, raw, doc,
                              ("http_requests_total", "http_request_duration_seconds_bucket"))
    st, raw, doc = call("GET", "/api/v1/metadata")
    data = check_envelope("metadata", st, raw, doc)
    check("metadata: object of metric -> list of {type, help, unit}", isinstance(data, dict) and all(
        isinstance(v, list) and all(isinstance(e, dict) and {"type", "help", "unit"} <= set(e) for e in v)
        for v in data.values()), data)
    ms = {"query": "test", "start": str((now - 1800) * 1000), "end": str(now * 1000)}
    st, raw, doc = call("GET", "/api/v1/query_exemplars", ms)
    data = check_envelope("exemplar probe (ms times)", st, raw, doc)
    check("exemplar probe: data is a list", isinstance(data, list), raw)

    # 3. metrics browser ---------------------------------------------------------------------
    st, raw, doc = call("GET", "/api/v1/label/__name__/values",
                        dict(rng, **{"match[]": '{__name__=~".*request.*"}'}))
    got = check_string_list("metric names match[] regex", st, raw, doc, ("http_requests_total",))
    check("metric names match[] regex: only matching names",
          got and all("request" in n for n in got) and set(got) <= set(names), got)
    st, raw, doc = call("GET", "/api/v1/series",
                        dict(rng, **{"match[]": '{__name__=~"http_requests_total", handler=~"/api/.*"}'}))
    data = check_envelope("series regex", st, raw, doc)
    ok = isinstance(data, list) and len(data) > 0 and all(
        isinstance(s, dict) and s.get("__name__") == "http_requests_total" and s.get("handler", "").startswith("/api/")
        and all(isinstance(v, str) for v in s.values()) for s in data)
    check("series regex: label objects of the matching series", ok, data[:2] if isinstance(data, list) else data)
    st, raw, doc = call("GET", "/api/v1/label/job/values", dict(rng, **{"match[]": "http_requests_total"}))
    jobs = check_string_list("job values for a metric", st, raw, doc, ("api",))
    check("job values for a metric: only api", jobs == ["api"], jobs)
    st, raw, doc = call("GET", "/api/v1/label/handler/values",
                        dict(rng, **{"match[]": 'http_requests_total{job="api"}', "limit": "40000"}))
    check_string_list("handler values with limit", st, raw, doc, ("/api/orders", "/api/users", "/healthz", "/login"))
    st, raw, doc = call("GET", "/api/v1/labels", dict(rng, **{"match[]": "http_request_duration_seconds_bucket"}))
    got = check_string_list("labels of one metric", st, raw, doc, ("le", "handler"))
    check("labels of one metric: no code label", "code" not in got, got)

    # 4. panels ----------------------------------------------------------------------------------
    panels = [
        ('sum by (handler) (rate(http_requests_total{job="api"}[1m0s]))', 15),
        ('sum by (handler) (rate(http_requests_total{code=~"5.."}[1m0s])) / '
         'sum by (handler) (rate(http_requests_total[1m0s]))', 30),
        ('histogram_quantile(0.95, sum by (le, handler) (rate(http_request_duration_seconds_bucket[4m0s])))', 60),
        ('sum(increase(http_requests_total[1h0m0s]))', 120),
        ('avg_over_time(http_inflight_requests[2m30s])', 7.5),
    ]
    for expr, step in panels:
        # Grafana aligns start and end down to a multiple of the step
        st_ms = int(step * 1000)
        end = (now * 1000 // st_ms) * st_ms / 1000
        start = ((now - 3 * 3600 // 4) * 1000 // st_ms) * st_ms / 1000
        fmt = lambda x: ("%.3f" % x).rstrip("0").rstrip(".")  # Go's FormatFloat(..., 'f', -1, 64)
        form = {"query": expr, "start": fmt(start), "end": fmt(end), "step": fmt(step), "timeout": "60s"}
        st, raw, doc = call("POST", "/api/v1/query_range", form=form)
        res = check_matrix("range step=%s %s" % (fmt(step), expr[:40]), st, raw, doc, start, end, step)
        check("range step=%s %s: has data" % (fmt(step), expr[:40]), len(res) > 0, raw[:200])
    t = now - 7
    st, raw, doc = call("POST", "/api/v1/query",
                        form={"query": 'sum by (code) (increase(http_requests_total[5m0s]))', "time": str(t),
                              "timeout": "60s"})
    res = check_vector("instant stat panel", st, raw, doc, t)
    check("instant stat panel: one series per code", sorted(r["metric"].get("code") for r in res) ==
          ["200", "404", "500"], res)
    # a counter function over a gauge: Prometheus 3 answers with an info
    st, raw, doc = call("POST", "/api/v1/query", form={"query": "rate(http_inflight_requests[1m0s])", "time": str(t)})
    check_vector("instant with an annotation", st, raw, doc, t)
    if not peer:  # Prometheus 2.42 has no info annotations
        check("annotation: top-level infos naming the metric",
              any("http_inflight_requests" in w for w in doc.get("infos", []) + doc.get("warnings", [])), doc)
    ex = {"query": 'sum by (handler) (rate(http_requests_total[1m0s]))', "start": str(now - 3600), "end": str(now)}
    st, raw, doc = call("POST", "/api/v1/query_exemplars", form=ex)
    data = check_envelope("panel exemplars", st, raw, doc)
    check("panel exemplars: list", isinstance(data, list), raw)
    # a typo in the panel: Grafana shows errorType/error
    st, raw, doc = call("POST", "/api/v1/query_range", form={"query": "sum(rate(http_requests_total[1m0s])",
                                                             "start": str(now - 600), "end": str(now),
                                                             "step": "15", "timeout": "60s"})
    check("broken panel: 400 bad_data", st == 400 and doc.get("status") == "error" and
          doc.get("errorType") == "bad_data" and isinstance(doc.get("error"), str) and doc["error"], raw)
    check("broken panel: error envelope order", raw.startswith(b'{"status":"error","errorType":"bad_data","error":'),
          raw)
    # too many points: Grafana's step is bounded, but a hand-set one is not
    st, raw, doc = call("POST", "/api/v1/query_range", form={"query": "up", "start": str(now - 86400),
                                                             "end": str(now), "step": "1", "timeout": "60s"})
    check("11,000 points: 400 bad_data", st == 400 and doc.get("errorType") == "bad_data", raw)


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def wait_ready(port, proc):
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            api_test.PORT = port
            if api_test.request("GET", "/-/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    api_test.PORT = None


def on_term(*_):
    raise SystemExit(143)  # unwinds through the finally that stops the children


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flint", default=os.path.join(ROOT, "flint"))
    ap.add_argument("--prometheus", metavar="BIN", help="replay against Prometheus (2.42: `prometheus`) instead "
                    "of flint, loaded by promtool: checks that the checks encode what Prometheus answers")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="grafana-replay-")
    proc = None
    try:
        now = int(time.time())
        data_start = (now - 3600) // 15 * 15
        om = os.path.join(tmp, "http.om")
        with open(om, "w") as f:
            httpdata.write(f, data_start, now - 30, interval=15)
            f.write("# EOF\n")
        db = os.path.join(tmp, "data")
        cfg = os.path.join(tmp, "empty.yml")
        with open(cfg, "w") as f:
            f.write("scrape_configs: []\n")
        log = open(os.path.join(tmp, "server.log"), "w+")
        if args.prometheus:
            r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, db],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            check("promtool import", r.returncode == 0, r.stdout[-500:])
            port = free_port()
            proc = subprocess.Popen([args.prometheus, "--config.file", cfg, "--storage.tsdb.path", db,
                                     "--web.listen-address", "127.0.0.1:%d" % port], stdout=log,
                                    stderr=subprocess.STDOUT)
            wait_ready(port, proc)
        else:
            r = subprocess.run([args.flint, "import", "--quiet", "openmetrics", om, db], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            check("import", r.returncode == 0, r.stdout[-500:])
            proc = subprocess.Popen([args.flint, "server", "--config.file", cfg, "--storage.tsdb.path", db,
                                     "--web.listen-address", "127.0.0.1:0"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and api_test.PORT is None and proc.poll() is None:
            log.seek(0)
            m = re.search(r'msg="listening".* port=(\d+)', log.read())
            if m:
                api_test.PORT = int(m.group(1))
            else:
                time.sleep(0.1)
        if api_test.PORT is None:
            log.seek(0)
            print("grafana: the server did not start:\n" + log.read()[-2000:])
            check("server starts", False)
        else:
            replay(now, peer=bool(args.prometheus))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("grafana: %d passed, %d failed" % (api_test.RESULTS["pass"], api_test.RESULTS["fail"]))
    return 0 if api_test.RESULTS["fail"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
