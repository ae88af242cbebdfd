#!/usr/bin/env python3
"""check.py - the checks of tests/e2e/hostile.sh against a running flint
(Python standard library only).

    python3 check.py --flint 127.0.0.1:P --fixture 127.0.0.1:Q --info INFO.json
                     [--min-window 15] [--deadline 75] [--errors OUT.txt]

Waits (bounded by --deadline seconds) until every job in JOBS has at least
two stored `up` samples and the healthy target has been scraped for
--min-window seconds, then checks, per job:
  - hostile jobs: every stored up sample is 0, /api/v1/targets lastError
    matches the job's pattern, and no sample other than up/scrape_* is
    stored for the job (nothing partial of a failed scrape);
  - good jobs (TLS, auth with the right credentials): every up sample is 1,
    lastError is empty, the target's own series are stored;
  - healthy: its raw up samples are exactly 1 s apart with no gap, all 1,
    and their number matches the requests the fixture counted (+-1).
Prints one "ok ..." or "FAIL ..." line per check and, at the end,
"checks: N passed, N failed"; writes each job's lastError to --errors.
"""
import argparse
import json
import re
import sys
import time
import urllib.parse
import urllib.request

# job -> (expected up, lastError pattern or None for "empty", series check)
# patterns are the meaningful part of flint's message, matched with re.search
JOBS = {
    "malformed": (0, r"^line 3: ", None),
    "utf8-label": (0, r"^line 2: .*(UTF-8|utf-?8)", None),
    "utf8-name": (0, r"^line 2: .*(UTF-8|utf-?8)", None),
    "utf8-bare-name": (0, r"^line 2: ", None),
    "utf8-help": (0, r"^line 2: .*help.*(UTF-8|utf-?8)", None),
    "big-limit": (0, r"body size limit", None),
    "big-stream-limit": (0, r"body size limit", None),
    "big-nolimit": (0, r"^line {big_bad_line}: ", None),
    "many": (0, r"sample limit exceeded", None),
    "hang-headers": (0, r"(deadline exceeded|[Tt]imeout|timed out)", None),
    "hang-silent": (0, r"(deadline exceeded|[Tt]imeout|timed out)", None),
    "http-500": (0, r"\b500\b", None),
    "refused": (0, r"(?i)refused", None),
    "tls-wrong-ca": (0, r"(?i)certificate", None),
    "basic-bad": (0, r"\b401\b", None),
    "bearer-bad": (0, r"\b401\b", None),
    "tls-ip": (1, None, 'hostile_healthy_info{job="tls-ip",scheme="tls_ip"}'),
    "tls-server-name": (1, None, 'hostile_healthy_info{job="tls-server-name",scheme="tls_name"}'),
    "basic-good": (1, None, 'hostile_auth_ok{job="basic-good",path="/basic"}'),
    "bearer-good": (1, None, 'hostile_auth_ok{job="bearer-good",path="/bearer"}'),
}

PASS = 0
FAIL = 0


def check(ok, what, detail=""):
    global PASS, FAIL
    if ok:
        PASS += 1
        print("ok   %s" % what)
    else:
        FAIL += 1
        print("FAIL %s%s" % (what, (": " + detail) if detail else ""))


def get_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


class Flint:
    def __init__(self, addr):
        self.base = "http://" + addr

    def query(self, expr):
        u = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        d = get_json(u)
        if d.get("status") != "success":
            raise RuntimeError("query %s: %s" % (expr, d))
        return d["data"]

    def raw(self, expr):
        """[(ts_ms, value_str)] of the first series of a range selector."""
        d = self.query(expr)
        if d["resultType"] != "matrix" or not d["result"]:
            return []
        return [(int(round(float(t) * 1000)), v) for t, v in d["result"][0]["values"]]

    def targets(self):
        d = get_json(self.base + "/api/v1/targets")
        return {t["labels"].get("job", ""): t for t in d["data"]["activeTargets"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flint", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--info", required=True)
    ap.add_argument("--min-window", type=float, default=15.0)
    ap.add_argument("--deadline", type=float, default=75.0)
    ap.add_argument("--errors")
    ap.add_argument("--skip", default="", help="jobs left out of the configuration")
    a = ap.parse_args()
    for j in a.skip.split():
        JOBS.pop(j, None)
    info = json.load(open(a.info))
    fl = Flint(a.flint)

    # wait: two scrapes of every job, min-window seconds of healthy scrapes
    start = time.monotonic()
    missing = list(JOBS) + ["healthy"]
    while time.monotonic() - start < a.deadline:
        try:
            d = fl.query("count_over_time(up[5m])")
            have = {r["metric"].get("job"): float(r["value"][1]) for r in d["result"]}
            missing = [j for j in list(JOBS) + ["healthy"] if have.get(j, 0) < 2]
            if not missing and have.get("healthy", 0) >= a.min_window:
                break
        except OSError:
            pass
        time.sleep(0.5)
    check(not missing, "every job scraped at least twice within %gs" % a.deadline,
          "missing: %s" % " ".join(missing))

    targets = fl.targets()
    errors = []
    for job, (want_up, pattern, series) in JOBS.items():
        t = targets.get(job)
        if t is None:
            check(False, "%s: listed in /api/v1/targets" % job)
            continue
        err = t.get("lastError", "")
        errors.append("%-17s %-5s %s" % (job, t.get("health"), err if err else "(no error)"))
        ups = fl.raw('up{job="%s"}[5m]' % job)
        vals = sorted(set(v for _, v in ups))
        check(ups and vals == [str(want_up)], "%s: every stored up sample is %d" % (job, want_up),
              "%d samples, values %s, lastError %r" % (len(ups), vals, err))
        if pattern is None:
            check(err == "" and t.get("health") == "up", "%s: health up, no lastError" % job,
                  "health %s, lastError %r" % (t.get("health"), err))
            got = fl.query("count(last_over_time(%s[5m]))" % series)["result"]
            check(bool(got), "%s: its series %s is stored" % (job, series))
        else:
            pat = pattern.format(**info)
            check(re.search(pat, err) is not None and t.get("health") == "down",
                  "%s: health down, lastError matches /%s/" % (job, pat),
                  "health %s, lastError %r" % (t.get("health"), err))
            q = 'count(count_over_time({job="%s",__name__!~"up|scrape_.*"}[5m]))' % job
            got = fl.query(q)["result"]
            check(not got, "%s: nothing but up/scrape_* stored" % job,
                  "%s -> %s" % (q, got))

    # information: what the report series say about the failed scrapes
    for job in ("many", "big-nolimit", "malformed"):
        if job not in JOBS:
            continue
        vals = []
        for name in ("scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"):
            r = fl.query('last_over_time(%s{job="%s"}[5m])' % (name, job))["result"]
            vals.append("%s=%s" % (name, r[0]["value"][1] if r else "-"))
        print("info %s: %s" % (job, " ".join(vals)))
    if "many" in JOBS:
        # over sample_limit the scrape fails, but the body is still counted,
        # as Prometheus 2.42 reports it (1,000,000 distinct series served)
        for name in ("scrape_samples_scraped", "scrape_samples_post_metric_relabeling"):
            r = fl.query('last_over_time(%s{job="many"}[5m])' % name)["result"]
            check(bool(r) and r[0]["value"][1] == "1000000", "many: %s is the whole body (1000000)" % name,
                  "got %s" % (r[0]["value"][1] if r else "-"))

    # healthy: read the fixture's count first, then flint's samples (a scrape
    # in between makes flint's count the larger by one)
    counts = get_json("http://%s/counts" % a.fixture)
    ups = fl.raw('up{job="healthy"}[5m]')
    ts = [t for t, _ in ups]
    gaps = [(ts[i - 1], ts[i]) for i in range(1, len(ts)) if ts[i] - ts[i - 1] != 1000]
    check(len(ts) >= 2 and not gaps, "healthy: %d up samples exactly 1000 ms apart" % len(ts),
          "%d irregular steps, first %s" % (len(gaps), gaps[:5]))
    check(all(v == "1" for _, v in ups), "healthy: every up sample is 1",
          "values %s" % sorted(set(v for _, v in ups)))
    print("info healthy: time between two requests the fixture received: %d..%d ms"
          % (counts.get("healthy_gap_min_ms", 0), counts.get("healthy_gap_max_ms", 0)))
    served = counts.get("/healthy", 0)
    check(abs(served - len(ts)) <= 1, "healthy: fixture served %d, flint stored %d (+-1)" % (served, len(ts)))
    # the same series from the healthy target: one value per scrape
    vals = fl.raw('hostile_healthy_requests_total{job="healthy"}[5m]')
    check(len(vals) == len(ts), "healthy: hostile_healthy_requests_total has one sample per up sample",
          "%d vs %d" % (len(vals), len(ts)))
    # TLS: the client sent the configured server_name as SNI
    check(counts.get("sni:tls_name:hostile.test", 0) > 0, "tls-server-name: SNI hostile.test received",
          "fixture saw %s" % {k: v for k, v in counts.items() if k.startswith("sni:")})

    if a.errors:
        with open(a.errors, "w") as f:
            f.write("\n".join(errors) + "\n")
    print("checks: %d passed, %d failed" % (PASS, FAIL))
    return 0 if FAIL == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
