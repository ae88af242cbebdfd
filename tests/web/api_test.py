#!/usr/bin/env python3
"""End-to-end test of flint's Prometheus HTTP API (web/api.c).

Starts tests/web/apiserver (a flint with known series, see apiserver.c) on
127.0.0.1 with a free port, sends the requests Grafana and curl send, and
checks status codes, envelopes and bodies. Python 3 standard library only.

    python3 tests/web/api_test.py [path/to/apiserver]    (default build/apiserver)

Exit status 0 when every check passed. Every request has a timeout and the
server is always stopped (SIGTERM, then SIGKILL after 10 s).
"""
import gzip
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.parse

TIMEOUT = 20  # seconds per request
PORT = None
SERVER = None  # the apiserver process; its stderr is the server log
RESULTS = {"pass": 0, "fail": 0}


def request(method, path, params=None, form=None, headers=None, raw_body=None):
    """One request; returns (status, headers dict lower-cased, body bytes)."""
    url = path
    if params is not None:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    body = raw_body
    hdrs = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form, doseq=True).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=TIMEOUT)
    try:
        conn.request(method, url, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def get_json(path, params=None, method="GET", form=None, headers=None):
    status, hdrs, body = request(method, path, params=params, form=form, headers=headers)
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
    # (tsdb_label_names does not narrow by time yet, so no start/end check here)
    st, doc, raw = get_json("/api/v1/label/job/values")
    check("label values", doc["data"] == ["api", "node", "prometheus"], raw)
    st, doc, raw = get_json("/api/v1/label/__name__/values")
    check("metric names", doc["data"] == ["http_requests_total", "up", "weird"], raw)
    st, doc, raw = get_json("/api/v1/label/__name__/values", {"match[]": '{job=~"a.*|node"}'})
    check("metric names regex match[]", doc["data"] == ["http_requests_total", "up"], raw)
    st, doc, raw = get_json("/api/v1/label/job/values", {"match[]": ["up", 'http_requests_total{code="500"}']})
    check("label values union", doc["data"] == ["api", "node", "prometheus"], raw)
    st, doc, raw = get_json("/api/v1/label/nosuch/values")
    check("label values empty is []", raw == b'{"status":"success","data":[]}', raw)
    st, doc, raw = get_json("/api/v1/label/job/values", {"limit": "2"})
    check("label values limit", doc["data"] == ["api", "node"] and doc.get("warnings") ==
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


def main():
    global PORT, SERVER
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/apiserver"
    proc = subprocess.Popen([binary, "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    SERVER = proc
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on "):
            print("FAIL server did not start: %r" % line)
            return 1
        PORT = int(line.split()[2])
        tests = [v for k, v in sorted(globals().items()) if k.startswith("test_") and callable(v)]
        for t in tests:
            try:
                t()
            except Exception as e:  # a crash in one test is a failure, not the end
                RESULTS["fail"] += 1
                print("FAIL %s raised %r" % (t.__name__, e))
        check("server still running", proc.poll() is None, proc.poll())
    finally:
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
    check("clean shutdown", rc == 0, rc)
    print("api: %d passed, %d failed" % (RESULTS["pass"], RESULTS["fail"]))
    return 0 if RESULTS["fail"] == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("no_proxy", "127.0.0.1")
    sys.exit(main())
