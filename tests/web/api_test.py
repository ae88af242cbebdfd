#!/usr/bin/env python3
"""End-to-end test of flint's Prometheus HTTP API (web/api.c).

Starts tests/web/apiserver (a flint with known series, see apiserver.c) on
127.0.0.1 with a free port, sends the requests Grafana and curl send, and
checks status codes, envelopes and bodies. Python 3 standard library, plus
Debian's python3-prometheus-client to parse /metrics and /federate (the
script re-runs itself under /usr/bin/python3 when this Python lacks it).

    python3 tests/web/api_test.py [path/to/apiserver] [--only test_a,test_b]

Exit status 0 when every check passed. Every request has a timeout and the
server is always stopped (SIGTERM, then SIGKILL after 10 s).
"""
import datetime
import gzip
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

TIMEOUT = 20  # seconds per request
PORT = None
NOW_MS = None  # apiserver's "now": its recent series are relative to it
BINARY = None
SERVER = None  # the apiserver process; its stderr is the server log
RESULTS = {"pass": 0, "fail": 0}


def request(method, path, params=None, form=None, headers=None, raw_body=None, port=None):
    """One request; returns (status, headers dict lower-cased, body bytes)."""
    url = path
    if params is not None:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    body = raw_body
    hdrs = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form, doseq=True).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    conn = http.client.HTTPConnection("127.0.0.1", port or PORT, timeout=TIMEOUT)
    try:
        conn.request(method, url, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def get_json(path, params=None, method="GET", form=None, headers=None, port=None):
    status, hdrs, body = request(method, path, params=params, form=form, headers=headers, port=port)
    return status, json.loads(body.decode()), body


def check(name, cond, detail=""):
    if cond:
        RESULTS["pass"] += 1
    else:
        RESULTS["fail"] += 1
        print("FAIL %s %s" % (name, detail))


def check_error(name, path, params, status, errtype, message, method="GET"):
    if method == "POST":
        st, doc, raw = get_json(path, method="POST", form=params)
    else:
        st, doc, raw = get_json(path, params=params)
    check(name + " status", st == status, "got %d: %s" % (st, raw))
    check(name + " envelope", doc.get("status") == "error" and doc.get("errorType") == errtype, raw)
    if message is not None:
        check(name + " message", doc.get("error") == message, "got %r want %r" % (doc.get("error"), message))
    check(name + " key order", raw.startswith(b'{"status":"error","errorType":'), raw)


# ---- tests -------------------------------------------------------------------------

def test_grafana_save_and_test():
    # Grafana's backend url-encodes its form: 1+1 travels as 1%2B1.
    want = b'{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}'
    st, hdrs, body = request("POST", "/api/v1/query", form={"query": "1+1", "time": "4"})
    check("save&test status", st == 200, st)
    check("save&test body", body == want, body)
    check("save&test content-type", hdrs.get("content-type") == "application/json", hdrs)
    st, hdrs, body = request("GET", "/api/v1/query", params={"query": "1+1", "time": "4"})
    check("save&test GET body", body == want, body)


def test_instant_vector():
    st, doc, _ = get_json("/api/v1/query", {"query": "up", "time": "1500"})
    check("instant status", st == 200 and doc["status"] == "success", doc)
    data = doc["data"]
    check("instant type", data["resultType"] == "vector", data)
    want = [
        {"metric": {"__name__": "up", "instance": "localhost:9090", "job": "prometheus"}, "value": [1500, "1"]},
        {"metric": {"__name__": "up", "instance": "localhost:9100", "job": "node"}, "value": [1500, "0"]},
    ]
    check("instant result", data["result"] == want, data["result"])
    # RFC 3339 time, fractional seconds
    st, doc, raw = get_json("/api/v1/query", {"query": "up", "time": "1970-01-01T00:25:00.5Z"})
    check("instant rfc3339", st == 200 and doc["data"]["result"][0]["value"] == [1500.5, "1"], raw)
    check("instant ms timestamp text", b"[1500.500," in raw, raw)
    # NaN and escaping of label values
    st, doc, raw = get_json("/api/v1/query", {"query": "weird", "time": "1500"})
    check("NaN value", doc["data"]["result"][0]["value"] == [1500, "NaN"], raw)
    check("escaped label", doc["data"]["result"][0]["metric"]["v"] == 'a"b<\u00e9>\n', raw)
    check("html escaped", b"\\u003c" in raw, raw)
    st, doc, _ = get_json("/api/v1/query", {"query": "http_requests_total / 0", "time": "1500"})
    check("+Inf value", [r["value"][1] for r in doc["data"]["result"]] == ["+Inf", "+Inf"], doc)
    st, doc, _ = get_json("/api/v1/query", {"query": "-1/0", "time": "1500"})
    check("-Inf scalar", doc["data"]["result"] == [1500, "-Inf"], doc)
    st, doc, _ = get_json("/api/v1/query", {"query": "0.1+0.2", "time": "1"})
    check("shortest float", doc["data"]["result"] == [1, "0.30000000000000004"], doc)
    st, doc, _ = get_json("/api/v1/query", {"query": '"hello"', "time": "2"})
    check("string result", doc["data"] == {"resultType": "string", "result": [2, "hello"]}, doc)
    st, doc, _ = get_json("/api/v1/query", {"query": "nothing_here", "time": "1500"})
    check("empty vector is []", doc["data"]["result"] == [], doc)
    st, doc, _ = get_json("/api/v1/query", {"query": "up", "time": "1500", "limit": "1"})
    check("query limit", len(doc["data"]["result"]) == 1 and doc.get("warnings") ==
          ["results truncated due to limit"], doc)
    check_error("query bad limit", "/api/v1/query", {"query": "up", "limit": "-1"}, 400, "bad_data",
                'invalid parameter "limit": limit must be non-negative')
    # an info annotation travels as "infos"
    st, doc, _ = get_json("/api/v1/query", {"query": "rate(up[1m])", "time": "1500"})
    check("infos", st == 200 and len(doc.get("infos", [])) == 1 and "warnings" not in doc, doc)


def test_range_query():
    params = {"query": "rate(http_requests_total[1m])", "start": "1500", "end": "1530", "step": "15s"}
    st, doc, _ = get_json("/api/v1/query_range", params)
    check("range status", st == 200, doc)
    data = doc["data"]
    check("range type", data["resultType"] == "matrix", data)
    want = [
        {"metric": {"code": "200", "job": "api"}, "values": [[1500, "1"], [1515, "1"], [1530, "1"]]},
        {"metric": {"code": "500", "job": "api"}, "values": [[1500, "0.1"], [1515, "0.1"], [1530, "0.1"]]},
    ]
    check("range result", data["result"] == want, data["result"])
    # step in seconds, Grafana's compound durations, POST form
    for step in ("15", "15.0", "0m15s"):
        p = dict(params, step=step)
        st, doc2, _ = get_json("/api/v1/query_range", method="POST", form=p)
        check("range step " + step, st == 200 and doc2["data"] == data, doc2)
    st, doc, _ = get_json("/api/v1/query_range", {"query": "1", "start": "10", "end": "20", "step": "5"})
    check("range scalar", doc["data"]["result"] == [{"metric": {}, "values": [[10, "1"], [15, "1"], [20, "1"]]}],
          doc)
    # exactly 11,000 points' worth is allowed, one more is not
    st, doc, raw = get_json("/api/v1/query_range", {"query": "1", "start": "0", "end": "11000", "step": "1"})
    check("11000 points ok", st == 200 and len(doc["data"]["result"][0]["values"]) == 11001, raw[:200])


def test_range_errors():
    q = "/api/v1/query_range"
    check_error("end<start", q, {"query": "up", "start": "20", "end": "10", "step": "1"}, 400, "bad_data",
                'invalid parameter "end": end timestamp must not be before start time')
    check_error("too many points", q, {"query": "up", "start": "0", "end": "11001", "step": "1"}, 400, "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution "
                "(?step=XX)")
    check_error("zero step", q, {"query": "up", "start": "0", "end": "10", "step": "0"}, 400, "bad_data",
                'invalid parameter "step": zero or negative query resolution step widths are not accepted. '
                "Try a positive integer")
    check_error("bad step", q, {"query": "up", "start": "0", "end": "10", "step": "abc"}, 400, "bad_data",
                'invalid parameter "step": cannot parse "abc" to a valid duration')
    check_error("bad start", q, {"query": "up", "start": "yesterday", "end": "10", "step": "1"}, 400, "bad_data",
                'invalid parameter "start": cannot parse "yesterday" to a valid timestamp')
    check_error("missing end", q, {"query": "up", "start": "0", "step": "1"}, 400, "bad_data",
                'invalid parameter "end": cannot parse "" to a valid timestamp')
    check_error("range of range vector", q, {"query": "up[5m]", "start": "0", "end": "10", "step": "1"}, 400,
                "bad_data", 'invalid parameter "query": invalid expression type "range vector" for range query, '
                            "must be Scalar or instant Vector")


def test_query_errors():
    q = "/api/v1/query"
    check_error("bad time", q, {"query": "up", "time": "abc"}, 400, "bad_data",
                'invalid parameter "time": invalid time value for \'time\': cannot parse "abc" to a valid timestamp')
    check_error("parse error", q, {"query": "sum(", "time": "1"}, 400, "bad_data", None)
    st, doc, _ = get_json(q, {"query": "sum(", "time": "1"})
    check("parse error prefix", doc["error"].startswith('invalid parameter "query": 1:'), doc)
    check_error("empty query", q, {"time": "1"}, 400, "bad_data", None)
    check_error("bad timeout", q, {"query": "up", "timeout": "soon"}, 400, "bad_data",
                'invalid parameter "timeout": cannot parse "soon" to a valid duration')
    check_error("execution error", q,
                {"query": 'label_replace(http_requests_total, "code", "x", "", "")', "time": "1500"}, 422,
                "execution", "vector cannot contain metrics with the same labelset")
    check_error("execution error POST", q,
                {"query": 'label_replace(http_requests_total, "code", "x", "", "")', "time": "1500"}, 422,
                "execution", None, method="POST")
    # a query far beyond its timeout: 503 timeout
    t0 = time.monotonic()
    check_error("timeout", q, {"query": "count_over_time(up[1d:1ms])", "time": "1500", "timeout": "0.05"}, 503,
                "timeout", None)
    check("timeout is quick", time.monotonic() - t0 < 10, time.monotonic() - t0)


def test_labels():
    st, doc, raw = get_json("/api/v1/labels")
    check("labels", st == 200 and doc["data"] == ["__name__", "code", "instance", "job", "v"], raw)
    st, doc, raw = get_json("/api/v1/labels", method="POST", form={"match[]": ["up"], "start": "0", "end": "5000"})
    check("labels match[]", doc["data"] == ["__name__", "instance", "job"], raw)
    st, doc, raw = get_json("/api/v1/labels", {"match[]": ["weird", "http_requests_total"]})
    check("labels two match[]", doc["data"] == ["__name__", "code", "job", "v"], raw)
    st, doc, raw = get_json("/api/v1/label/job/values")
    check("label values", doc["data"] == ["api", "fed", "node", "prometheus"], raw)
    st, doc, raw = get_json("/api/v1/label/__name__/values")
    check("metric names", doc["data"] == ["fed_counter", "fed_gauge", "fed_stale", "http_requests_total", "up",
                                          "weird"], raw)
    st, doc, raw = get_json("/api/v1/label/__name__/values", {"match[]": '{job=~"a.*|node"}'})
    check("metric names regex match[]", doc["data"] == ["http_requests_total", "up"], raw)
    st, doc, raw = get_json("/api/v1/label/job/values", {"match[]": ["up", 'http_requests_total{code="500"}']})
    check("label values union", doc["data"] == ["api", "node", "prometheus"], raw)
    st, doc, raw = get_json("/api/v1/label/nosuch/values")
    check("label values empty is []", raw == b'{"status":"success","data":[]}', raw)
    st, doc, raw = get_json("/api/v1/label/job/values", {"limit": "2"})
    check("label values limit", doc["data"] == ["api", "fed"] and doc.get("warnings") ==
          ["results truncated due to limit"], raw)
    check_error("labels bad start", "/api/v1/labels", {"start": "x"}, 400, "bad_data",
                'invalid parameter "start": invalid time value for \'start\': cannot parse "x" to a valid timestamp')
    check_error("labels empty matcher", "/api/v1/labels", {"match[]": '{job=~".*"}'}, 400, "bad_data", None)
    st, hdrs, _ = request("POST", "/api/v1/label/job/values")
    check("label values POST is 405", st == 405, st)


def test_series():
    st, doc, raw = get_json("/api/v1/series", {"match[]": "up"})
    want_up = [{"__name__": "up", "instance": "localhost:9090", "job": "prometheus"},
               {"__name__": "up", "instance": "localhost:9100", "job": "node"}]
    check("series", st == 200 and doc["data"] == want_up, raw)
    # POST body with repeated match[] (overlapping sets are merged, sorted)
    form = [("match[]", 'http_requests_total{code="500"}'), ("match[]", "up"), ("match[]", '{job="api"}'),
            ("start", "1000"), ("end", "2000")]
    st, doc, raw = get_json("/api/v1/series", method="POST", form=form)
    want = [{"__name__": "http_requests_total", "code": "200", "job": "api"},
            {"__name__": "http_requests_total", "code": "500", "job": "api"}] + want_up
    check("series POST repeated match[]", st == 200 and doc["data"] == want, raw)
    # body first, then the query string
    st, _, body = request("POST", "/api/v1/series?match[]=weird", form={"match[]": "up"})
    doc = json.loads(body)
    check("series body+query string", len(doc["data"]) == 3 and doc["data"][2]["__name__"] == "weird", body)
    st, doc, raw = get_json("/api/v1/series", {"match[]": "up", "start": "3000", "end": "4000"})
    check("series empty is []", raw == b'{"status":"success","data":[]}', raw)
    st, doc, raw = get_json("/api/v1/series", {"match[]": ["nope", "nada"]})
    check("series two match[] empty is []", raw == b'{"status":"success","data":[]}', raw)
    check_error("series no match[]", "/api/v1/series", {}, 400, "bad_data", "no match[] parameter provided")
    check_error("series bad match[]", "/api/v1/series", {"match[]": "up{"}, 400, "bad_data", None)
    st, doc, _ = get_json("/api/v1/series", {"match[]": "up{"})
    check("series bad match[] prefix", doc["error"].startswith('invalid parameter "match[]": '), doc)


def test_misc_endpoints():
    st, doc, raw = get_json("/api/v1/query_exemplars", {"query": "up", "start": "0", "end": "10"})
    check("exemplars", raw == b'{"status":"success","data":[]}', raw)
    st, doc, raw = get_json("/api/v1/status/buildinfo")
    version = doc["data"]["version"]
    parts = version.split(".")
    check("buildinfo semver", st == 200 and len(parts) == 3 and all(p.isdigit() for p in parts), raw)
    check("buildinfo >= 2.24", (int(parts[0]), int(parts[1])) >= (2, 24), version)
    check("buildinfo no features", "features" not in doc["data"], raw)
    for path, want in (("/api/v1/metadata", b'{"status":"success","data":{}}'),
                       ("/api/v1/rules", b'{"status":"success","data":{"groups":[]}}'),
                       ("/api/v1/alerts", b'{"status":"success","data":{"alerts":[]}}')):
        st, _, body = request("GET", path)
        check(path, st == 200 and body == want, body)
    check_error("metadata bad limit", "/api/v1/metadata", {"limit": "x"}, 400, "bad_data", "limit must be a number")
    st, doc, raw = get_json("/api/v1/format_query", {"query": "sum(rate(x[5m]))by(job)"})
    check("format_query", doc["data"] == "sum by (job) (rate(x[5m]))", raw)
    check_error("format_query error", "/api/v1/format_query", {"query": "sum("}, 400, "bad_data", None)
    for path, text in (("/-/healthy", b"Healthy"), ("/-/ready", b"Ready")):
        st, _, body = request("GET", path)
        check(path, st == 200 and text in body, body)
    st, doc, raw = get_json("/api/v1/targets")
    check("targets without a scraper", st == 200 and doc["data"] == {"activeTargets": [], "droppedTargets": [],
                                                                     "droppedTargetCounts": {}}, raw)
    st, hdrs, body = request("GET", "/metrics")
    check("/metrics", st == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4")
          and b"\nprometheus_tsdb_head_series " in body and b"# TYPE process_cpu_seconds_total counter" in body, body[:300])
    st, _, body = request("GET", "/api/v1/nosuch")
    check("404", st == 404, st)
    st, hdrs, body = request("GET", "/")  # the web UI (web/ui.c): / redirects like Prometheus'
    check("root redirects to the UI", st == 302 and hdrs.get("location") == "/graph", st)
    st, hdrs, _ = request("DELETE", "/api/v1/query")
    check("405", st == 405 and hdrs.get("allow") == "GET, POST", hdrs)
    st, _, body = request("GET", "/api/v1/query?query=%zz")
    check("bad escape", st == 400, body)


def test_gzip():
    st, hdrs, body = request("GET", "/api/v1/labels", headers={"Accept-Encoding": "gzip"})
    check("gzip header", hdrs.get("content-encoding") == "gzip", hdrs)
    plain = gzip.decompress(body)
    check("gzip body", json.loads(plain)["data"] == ["__name__", "code", "instance", "job", "v"], plain)
    st, hdrs, body = request("POST", "/api/v1/query", form={"query": "1+1", "time": "4"},
                             headers={"Accept-Encoding": "deflate, gzip;q=1.0"})
    check("gzip save&test", gzip.decompress(body) ==
          b'{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}', body)
    st, hdrs, body = request("GET", "/api/v1/labels", headers={"Accept-Encoding": "gzip;q=0"})
    check("gzip refused", "content-encoding" not in hdrs, hdrs)
    st, hdrs, body = request("GET", "/api/v1/labels")
    check("no gzip unasked", "content-encoding" not in hdrs and body.startswith(b"{"), hdrs)


def test_big_body():
    # a POST body over 8 MiB is refused, the server stays up
    st, _, body = request("POST", "/api/v1/query", raw_body=b"query=" + b"1" * (9 << 20),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    check("413", st == 413, (st, body[:100]))
    st, _, _ = request("GET", "/-/healthy")
    check("alive after 413", st == 200, st)


def test_cancel_on_disconnect():
    # a client that hangs up mid-query gets its query cancelled (logged)
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=TIMEOUT)
    c.request("GET", "/api/v1/query?" + urllib.parse.urlencode(
        {"query": "count_over_time(up[1d:1ms])", "time": "1500"}))
    time.sleep(0.3)
    c.close()
    found = False
    deadline = time.monotonic() + 8  # the server's own timeout is 10 s
    while not found and time.monotonic() < deadline:
        ready, _, _ = select.select([SERVER.stderr], [], [], 0.5)
        if ready:
            line = SERVER.stderr.readline()
            found = b"query canceled: the client went away" in line
            if not line:
                break
    check("cancel on disconnect", found)
    st, _, _ = request("GET", "/-/healthy")
    check("alive after cancel", st == 200, st)


def test_long_get():
    # a ~100 KB query in a GET URL (Grafana POSTs; curl users may not)
    query = "count(up) # " + "x" * 100000
    st, doc, raw = get_json("/api/v1/query", {"query": query, "time": "1500"})
    check("long GET", st == 200 and doc["data"]["result"] == [{"metric": {}, "value": [1500, "2"]}], raw[:200])


def test_concurrent():
    # several connections at once, each its own thread on the server
    conns = []
    for i in range(8):
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=TIMEOUT)
        c.request("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": "%d+1" % i, "time": "4"}))
        conns.append(c)
    ok = True
    for i, c in enumerate(conns):
        doc = json.loads(c.getresponse().read())
        ok &= doc["data"]["result"] == [4, str(i + 1)]
        c.close()
    check("concurrent", ok)


def test_labels_time_range():
    # only series with a sample in [start, end] count (Prometheus' querier bounds)
    now = NOW_MS / 1000
    st, doc, raw = get_json("/api/v1/labels", {"start": "1000", "end": "1500"})
    check("labels old range", st == 200 and doc["data"] == ["__name__", "code", "instance", "job", "v"], raw)
    st, doc, raw = get_json("/api/v1/labels", {"start": "%d" % (now - 100), "end": "%d" % now})
    check("labels recent range", doc["data"] == ["__name__", "instance", "job"], raw)
    st, doc, raw = get_json("/api/v1/labels", {"start": "3000", "end": "4000"})
    check("labels empty range", raw == b'{"status":"success","data":[]}', raw)
    st, doc, raw = get_json("/api/v1/label/__name__/values", {"start": "1500", "end": "1500"})
    check("names at one instant", doc["data"] == ["http_requests_total", "up", "weird"], raw)
    st, doc, raw = get_json("/api/v1/label/instance/values", {"start": "%d" % (now - 300)})
    check("values from start, end default", doc["data"] == ["a"], raw)
    st, doc, raw = get_json("/api/v1/label/instance/values", {"start": "%d" % (now - 700)})
    check("values wider start", doc["data"] == ["a", "b"], raw)
    st, doc, raw = get_json("/api/v1/label/instance/values", {"end": "1500"})
    check("values until end", doc["data"] == ["localhost:9090", "localhost:9100"], raw)
    st, doc, raw = get_json("/api/v1/label/job/values", {"match[]": "up", "start": "3000", "end": "4000"})
    check("values match[] outside range", raw == b'{"status":"success","data":[]}', raw)
    st, doc, raw = get_json("/api/v1/label/job/values", {"match[]": ["up", "fed_gauge"], "start": "%d" % (now - 130),
                                                         "end": "%d" % now})
    check("values match[] in range", doc["data"] == ["fed"], raw)
    st, doc, raw = get_json("/api/v1/labels", method="POST", form={"match[]": "fed_stale", "start": "%d" % (now - 95),
                                                                    "end": "%d" % (now - 85)})
    check("labels POST range", doc["data"] == ["__name__", "job"], raw)


def test_status_pages():
    st, doc, raw = get_json("/api/v1/status/config")
    check("status/config", st == 200 and doc["data"]["yaml"].startswith("global:\n  scrape_interval: 15s\n"), raw)
    st, doc, raw = get_json("/api/v1/status/flags")
    check("status/flags", st == 200 and doc["data"].get("query.max-concurrency") == "20"
          and doc["data"].get("storage.tsdb.retention.time") == "15d"
          and all(isinstance(v, str) for v in doc["data"].values()), raw)
    st, doc, raw = get_json("/api/v1/status/runtimeinfo")
    d = doc["data"]
    check("runtimeinfo keys", st == 200 and set(d) >= {"startTime", "CWD", "reloadConfigSuccess", "lastConfigTime",
                                                      "corruptionCount", "goroutineCount", "GOMAXPROCS", "GOGC",
                                                      "GODEBUG", "storageRetention"}, raw)
    check("runtimeinfo retention", d.get("storageRetention") == "15d or 1GiB", raw)
    check("runtimeinfo cwd", d.get("CWD") == os.getcwd(), (d.get("CWD"), os.getcwd()))
    check("runtimeinfo cores", d.get("GOMAXPROCS") == os.cpu_count(), (d.get("GOMAXPROCS"), os.cpu_count()))
    check("runtimeinfo threads", isinstance(d.get("goroutineCount"), int) and d["goroutineCount"] >= 2, raw)
    check("runtimeinfo config", d.get("reloadConfigSuccess") is True and d.get("corruptionCount") == 0, raw)
    # Go's RFC3339Nano: apiserver's config time is whole seconds, so no fraction
    check("runtimeinfo lastConfigTime", d.get("lastConfigTime") == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_MS // 1000)), (d.get("lastConfigTime"), NOW_MS))
    st_text = d.get("startTime", "")
    start = datetime.datetime.strptime(st_text, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in st_text else "%Y-%m-%dT%H:%M:%SZ")
    check("runtimeinfo startTime", abs(start.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()) < 3600,
          st_text)


def test_status_tsdb():
    # the expected figures are derived from /api/v1/series over all data
    st, doc, raw = get_json("/api/v1/series", {"match[]": '{__name__=~".+"}'})
    series = doc["data"]
    by_name, values, pairs, nbytes = {}, {}, {}, {}
    for s in series:
        by_name[s["__name__"]] = by_name.get(s["__name__"], 0) + 1
        for k, v in s.items():
            values.setdefault(k, set()).add(v)
            pairs["%s=%s" % (k, v)] = pairs.get("%s=%s" % (k, v), 0) + 1
            nbytes[k] = nbytes.get(k, 0) + len(v.encode())

    def top(d, n):
        return [{"name": k, "value": c} for k, c in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    st, doc, raw = get_json("/api/v1/status/tsdb")
    d = doc["data"]
    hs = d["headStats"]
    check("tsdb numSeries", st == 200 and hs["numSeries"] == len(series), (hs, len(series)))
    check("tsdb numLabelPairs", hs["numLabelPairs"] == len(pairs), (hs, len(pairs)))
    check("tsdb minTime", hs["minTime"] == 1000000, hs)
    check("tsdb maxTime", hs["maxTime"] == NOW_MS - 30000, hs)
    check("tsdb chunkCount", hs["chunkCount"] >= hs["numSeries"], hs)
    check("tsdb seriesCountByMetricName", d["seriesCountByMetricName"] == top(by_name, 10), raw)
    check("tsdb labelValueCountByLabelName",
          d["labelValueCountByLabelName"] == top({k: len(v) for k, v in values.items()}, 10), raw)
    check("tsdb memoryInBytesByLabelName", d["memoryInBytesByLabelName"] == top(nbytes, 10), raw)
    check("tsdb seriesCountByLabelValuePair", d["seriesCountByLabelValuePair"] == top(pairs, 10), raw)
    st, doc, raw = get_json("/api/v1/status/tsdb", {"limit": "2"})
    check("tsdb limit", all(len(doc["data"][k]) == 2 for k in ("seriesCountByMetricName", "seriesCountByLabelValuePair",
                                                               "labelValueCountByLabelName")), raw)
    check_error("tsdb bad limit", "/api/v1/status/tsdb", {"limit": "0"}, 400, "bad_data",
                "limit must be a positive number")


def parse_text(body):
    """Families from the text format with python3-prometheus-client's parser."""
    from prometheus_client.parser import text_string_to_metric_families
    return list(text_string_to_metric_families(body.decode()))


def test_federate():
    q = {"match[]": '{job="fed"}'}
    st, hdrs, body = request("GET", "/federate", q)
    check("federate status", st == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
          (st, hdrs))
    want = ('# TYPE fed_counter untyped\nfed_counter{job="fed",instance=""} 1e+06 %d\n'
            '# TYPE fed_gauge untyped\nfed_gauge{instance="a",job="fed"} 2.5 %d\n'
            % (NOW_MS - 30000, NOW_MS - 60000)).encode()
    check("federate body", body == want, body)
    fams = parse_text(body)
    check("federate parses", [(f.name, f.type, len(f.samples)) for f in fams] ==
          [("fed_counter", "unknown", 1), ("fed_gauge", "unknown", 1)], fams)
    check("federate timestamps", fams[1].samples[0].timestamp == (NOW_MS - 60000) / 1000, fams[1].samples)
    # repeated match[]: a series matched twice is written once, names sorted
    st, _, body = request("GET", "/federate", {"match[]": ["fed_gauge", '{instance="a"}', "fed_counter"]})
    check("federate repeated match[]", body == want, body)
    st, _, body = request("GET", "/federate", {"match[]": "up"})
    check("federate nothing in the lookback", st == 200 and body == b"", body)
    st, _, body = request("GET", "/federate", {"match[]": "fed_stale"})
    check("federate drops stale markers", st == 200 and body == b"", body)
    st, hdrs, zbody = request("GET", "/federate", q, headers={"Accept-Encoding": "gzip"})
    check("federate gzip", hdrs.get("content-encoding") == "gzip" and gzip.decompress(zbody) == want, hdrs)
    st, hdrs, body = request("GET", "/federate")
    check("federate without match[]: empty 200 as Prometheus 2.42",
          st == 200 and body == b"" and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
          (st, body, hdrs))
    st, _, body = request("GET", "/federate", {"match[]": "up{"})
    check("federate bad match[]", st == 400 and b"parse error" in body, (st, body))
    st, _, body = request("GET", "/federate", {"match[]": '{job=~".*"}'})
    check("federate empty matcher", st == 400, (st, body))
    st, hdrs, _ = request("POST", "/federate", form=q)
    check("federate POST is 405", st == 405 and hdrs.get("allow") == "GET", (st, hdrs))


def metric_value(fams, name, labels=None):
    for f in fams:
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
                return s.value
    return None


def test_metrics_counters():
    st, hdrs, body = request("GET", "/metrics")
    before = parse_text(body)
    key = {"handler": "/api/v1/query", "code": "200"}
    n0 = metric_value(before, "prometheus_http_requests_total", key) or 0
    q0 = metric_value(before, "prometheus_engine_query_duration_seconds_count", {"slice": "inner_eval"})
    b0 = metric_value(before, "prometheus_http_requests_total", {"handler": "/api/v1/query", "code": "400"}) or 0
    for i in range(3):
        request("GET", "/api/v1/query", {"query": "up", "time": "1500"})
    request("GET", "/api/v1/query", {"query": "up{"})
    st, hdrs, body = request("GET", "/metrics")
    after = parse_text(body)
    check("metrics requests_total counts", metric_value(after, "prometheus_http_requests_total", key) == n0 + 3,
          (n0, metric_value(after, "prometheus_http_requests_total", key)))
    check("metrics 400 counted", metric_value(after, "prometheus_http_requests_total",
                                              {"handler": "/api/v1/query", "code": "400"}) == b0 + 1)
    check("metrics engine queries", metric_value(after, "prometheus_engine_query_duration_seconds_count",
                                                 {"slice": "inner_eval"}) == q0 + 3)
    hist = metric_value(after, "prometheus_http_request_duration_seconds_count", {"handler": "/api/v1/query"})
    inf = metric_value(after, "prometheus_http_request_duration_seconds_bucket", {"handler": "/api/v1/query",
                                                                                 "le": "+Inf"})
    check("metrics histogram", hist is not None and hist == inf and hist >= n0 + 4, (hist, inf))
    check("metrics cap", metric_value(after, "prometheus_engine_queries_concurrent_max") == 20)
    check("metrics head series", metric_value(after, "prometheus_tsdb_head_series") == 9)
    check("metrics wal", metric_value(after, "prometheus_tsdb_wal_segment_current") is not None and
          metric_value(after, "prometheus_tsdb_wal_corruptions_total") == 0 and
          metric_value(after, "prometheus_tsdb_wal_fsync_duration_seconds_count") >= 2, body[-2000:])
    check("metrics samples appended", metric_value(after, "prometheus_tsdb_head_samples_appended_total") ==
          5 * 101 + 6, metric_value(after, "prometheus_tsdb_head_samples_appended_total"))
    for name in ("prometheus_tsdb_compactions_total", "prometheus_tsdb_blocks_loaded",
                 "prometheus_tsdb_storage_blocks_bytes", "prometheus_tsdb_wal_writes_failed_total",
                 "prometheus_engine_queries", "process_resident_memory_bytes"):
        check("metrics has " + name, metric_value(after, name) is not None, name)


def slow_query_conn(port):
    """Start a query that runs for seconds (a 1 ms subquery over 2 days) and
    stops soon after its client hangs up; returns the connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    c.request("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": "count_over_time(up[2d:1ms])",
                                                                "time": "1500"}))
    return c


def wait_running(port, n, seconds=8):
    """Poll /metrics until prometheus_engine_queries == n (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _, _, body = request("GET", "/metrics", port=port)
        if metric_value(parse_text(body), "prometheus_engine_queries") == n:
            return True
        time.sleep(0.05)
    return False


def test_concurrency_cap():
    # a second server with --query.max-concurrency 1
    proc, port, _ = start_server(["1"])
    if proc is None:
        check("cap server starts", False)
        return
    try:
        slow = slow_query_conn(port)
        check("cap: slow query running", wait_running(port, 1))
        st, doc, raw = get_json("/api/v1/query", {"query": "1+1", "time": "4", "timeout": "0.3"}, port=port)
        check("cap: 503 beyond the cap", st == 503 and doc == {"status": "error", "errorType": "unavailable",
                                                            "error": "too many concurrent queries (limit 1)"}, raw)
        st, doc, raw = get_json("/api/v1/query_range", {"query": "1", "start": "0", "end": "10", "step": "1",
                                                        "timeout": "0.3"}, port=port)
        check("cap: range query too", st == 503 and doc.get("errorType") == "unavailable", raw)
        st, doc, raw = get_json("/api/v1/labels", port=port)
        check("cap: labels are not capped", st == 200, raw)
        slow.close()  # the server cancels it and frees the slot
        # (the engine notices at its next check; slow builds such as TSan's take seconds)
        check("cap: slot released after cancel", wait_running(port, 0, 60))
        st, doc, raw = get_json("/api/v1/query", {"query": "1+1", "time": "4"}, port=port)
        check("cap: slot freed", st == 200 and doc["data"]["result"] == [4, "2"], raw)
        _, _, body = request("GET", "/metrics", port=port)
        fams = parse_text(body)
        check("cap: rejected counted", metric_value(fams, "flint_engine_queries_rejected_total") == 2)
        check("cap: max exported", metric_value(fams, "prometheus_engine_queries_concurrent_max") == 1)
        check("cap: none running", metric_value(fams, "prometheus_engine_queries") == 0)
    finally:
        stop_server(proc)


def test_concurrent_mixed():
    # every kind of request from several threads at once (also run under TSan)
    paths = [("/api/v1/query", {"query": "sum(rate(http_requests_total[1m]))", "time": "1500"}),
             ("/api/v1/query_range", {"query": "up", "start": "1000", "end": "2000", "step": "10"}),
             ("/api/v1/labels", {"start": "1000", "end": "1500"}),
             ("/api/v1/label/job/values", {}),
             ("/api/v1/series", {"match[]": "up"}),
             ("/federate", {"match[]": '{job="fed"}'}),
             ("/api/v1/status/tsdb", {}),
             ("/api/v1/status/runtimeinfo", {}),
             ("/metrics", {})]
    failures = []

    def worker(k):
        for i in range(12):
            path, params = paths[(i + k) % len(paths)]
            try:
                st, _, body = request("GET", path, params)
                if st != 200:
                    failures.append((path, st, body[:200]))
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append((path, repr(e)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check("concurrent mixed", not failures and not any(t.is_alive() for t in threads), failures[:3])


def start_server(extra_args=()):
    """Start apiserver on a free port; returns (process, port, now_ms) or (None, None, None)."""
    proc = subprocess.Popen([BINARY, "127.0.0.1:0"] + list(extra_args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("listening on "):
        print("FAIL server did not start: %r" % line)
        stop_server(proc)
        return None, None, None
    parts = line.split()
    return proc, int(parts[2]), int(parts[4])


def stop_server(proc):
    """SIGTERM, then SIGKILL after 10 s; returns the exit code (None if killed)."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    rest = proc.stderr.read()
    if rest.strip():
        sys.stderr.write(rest.decode(errors="replace"))
    proc.stdout.close()
    proc.stderr.close()
    return rc


def main():
    global PORT, SERVER, NOW_MS, BINARY
    args = sys.argv[1:]
    only = None
    if "--only" in args:  # --only test_a,test_b (the TSan run uses the concurrent ones)
        i = args.index("--only")
        only = set(args[i + 1].split(","))
        del args[i:i + 2]
    BINARY = args[0] if args else "build/apiserver"
    proc, PORT, NOW_MS = start_server()
    if proc is None:
        print("api: 0 passed, 1 failed")
        return 1
    SERVER = proc
    try:
        tests = [v for k, v in sorted(globals().items()) if k.startswith("test_") and callable(v)
                 and (only is None or k in only)]
        for t in tests:
            try:
                t()
            except Exception as e:  # a crash in one test is a failure, not the end
                RESULTS["fail"] += 1
                print("FAIL %s raised %r" % (t.__name__, e))
        check("server still running", proc.poll() is None, proc.poll())
    finally:
        rc = stop_server(proc)
    check("clean shutdown", rc == 0, rc)
    print("api: %d passed, %d failed" % (RESULTS["pass"], RESULTS["fail"]))
    return 0 if RESULTS["fail"] == 0 else 1


def ensure_prometheus_client():
    """The text-format checks use Debian's python3-prometheus-client, which
    only /usr/bin/python3 sees: re-run under it when this Python lacks it."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
                "/usr/bin/python3"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)


if __name__ == "__main__":
    ensure_prometheus_client()
    os.environ.setdefault("no_proxy", "127.0.0.1")
    sys.exit(main())
