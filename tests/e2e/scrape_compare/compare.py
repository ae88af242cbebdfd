#!/usr/bin/env python3
"""compare.py - the checks of tests/e2e/scrape_compare.sh (standard library only).

  compare.py freeport
      print a free loopback TCP port
  compare.py wait-http URL SECONDS
      poll URL until it answers 200 (exit 1 on timeout)
  compare.py run --flint URL --prom URL --start UNIX --timeout S \
                 --job NAME=EXPORTER_URL ... [--fixed JOB=METRIC ...] \
                 [--sample-count JOB ...] [--tricky JOB=METRIC:LABEL]
      wait until both servers scrape every job's target (up == 1, at least
      three scrapes), then compare what flint stored with what Prometheus
      stored, scraping the same targets with the same prometheus.yml.

Every check prints one line, "PASS <what>" or "FAIL <what>: <why>", with the
differences when there are some; the shell script counts them.
"""
import argparse
import json
import math
import os
import socket
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from app import TRICKY_LABELS  # noqa: E402  (module level is stdlib only)

OM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
             "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
REPORT = ["up", "scrape_duration_seconds", "scrape_samples_scraped",
          "scrape_samples_post_metric_relabeling", "scrape_series_added"]

results = []


def check(ok, what, why=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else ": " + why), flush=True)


def http_get(url, accept=None, timeout=5):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


def api(base, path, params):
    q = urllib.parse.urlencode(params, doseq=True)
    _, body = http_get(base + path + "?" + q, timeout=10)
    d = json.loads(body)
    if d.get("status") != "success":
        raise RuntimeError("%s%s: %s" % (base, path, body[:300]))
    return d["data"]


def go_float_g(f):
    """Go's strconv.FormatFloat(f, 'g', -1, 64)."""
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    r = repr(f)                      # shortest digits that round-trip
    m, _, e = r.partition("e")
    digits = m.lstrip("-").replace(".", "")
    point = m.lstrip("-").find(".")
    if point < 0:
        point = len(m.lstrip("-"))
    exp = (int(e) if e else 0) + point - 1
    lead = len(digits) - len(digits.lstrip("0"))
    digits = digits.strip("0") or "0"
    exp -= lead
    sign = "-" if m.startswith("-") else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, mant, "-" if exp < 0 else "+", abs(exp))
    if exp < 0:
        return sign + "0." + "0" * (-exp - 1) + digits
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return sign + digits[:exp + 1] + "." + digits[exp + 1:]


normalised = []


def norm_bound(v):
    """Prometheus 3 writes classic-histogram `le` and summary `quantile`
    values in float form ("1" -> "1.0", formatOpenMetricsFloat); 2.42 keeps
    the exporter's text. flint follows 3 (docs/testing.md), so both sides
    are compared in the 3 form."""
    try:
        f = float(v)
    except ValueError:
        return v
    g = go_float_g(f)
    if not any(c in g for c in "e.") and g not in ("+Inf", "-Inf", "NaN"):
        g += ".0"
    return g


def key(labels):
    out = []
    for n, v in sorted(labels.items()):
        if n in ("le", "quantile"):
            nv = norm_bound(v)
            if nv != v:
                normalised.append((n, v, nv))
            v = nv
        out.append((n, v))
    return tuple(out)


def fmt(k):
    return "{" + ", ".join("%s=%s" % (n, json.dumps(v, ensure_ascii=False)) for n, v in k) + "}"


def series(base, match, start, end):
    return {key(m) for m in api(base, "/api/v1/series", {"match[]": match, "start": start, "end": end})}


def instant(base, expr):
    """{labelset: value string} of an instant vector."""
    data = api(base, "/api/v1/query", {"query": expr})
    if data["resultType"] != "vector":
        raise RuntimeError("%s: not a vector" % expr)
    return {key(r["metric"]): r["value"][1] for r in data["result"]}


def diff_sets(what, a, b, names=("flint", "prometheus"), limit=40):
    if a == b:
        check(True, "%s (%d series)" % (what, len(a)))
        return
    only_a, only_b = sorted(a - b), sorted(b - a)
    lines = ["%d series in both, %d only in %s, %d only in %s"
             % (len(a & b), len(only_a), names[0], len(only_b), names[1])]
    for name, only in ((names[0], only_a), (names[1], only_b)):
        for k in only[:limit]:
            lines.append("  only in %s: %s" % (name, fmt(k)))
        if len(only) > limit:
            lines.append("  ... %d more only in %s" % (len(only) - limit, name))
    check(False, what, "\n".join(lines))


def exposed_samples(url):
    """(sample lines, {metric line name+labels: value string}) of an exporter."""
    _, body = http_get(url, accept=OM_ACCEPT)
    lines = [ln for ln in body.split("\n") if ln and not ln.startswith("#")]
    vals = {}
    for ln in lines:
        head, _, val = ln.rpartition(" ")
        vals[head] = val
    return lines, vals


def same_float(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def wait_scraped(servers, jobs, timeout):
    """Until every job's target is up in both servers with >= 3 scrapes."""
    deadline = time.time() + timeout
    state = {}
    while True:
        state = {}
        for name, base in servers.items():
            try:
                got = instant(base, 'count_over_time(up[10m]) and up == 1')
                by_job = {dict(k).get("job"): float(v) for k, v in got.items()}
                state[name] = {j: by_job.get(j, 0) for j in jobs}
            except Exception as e:  # not ready yet
                state[name] = {j: "error: %s" % e for j in jobs}
        if all(isinstance(n, float) and n >= 3 for s in state.values() for n in s.values()):
            return True, state
        if time.time() > deadline:
            return False, state
        time.sleep(0.5)


def targets_health(base):
    data = api(base, "/api/v1/targets", {})
    return {t["labels"].get("job"): (t["health"], t.get("lastError", ""), t["labels"])
            for t in data["activeTargets"]}


def run(a):
    servers = {"flint": a.flint, "prometheus": a.prom}
    jobs = dict(j.split("=", 1) for j in a.job)

    ok, state = wait_scraped(servers, jobs, a.timeout)
    for name in servers:
        check(all(isinstance(n, float) and n >= 3 for n in state[name].values()),
              "%s scraped every target at least 3 times with up == 1" % name,
              "scrapes per job: %s" % state[name])
    if not ok:
        for name, base in servers.items():
            try:
                print("  %s targets: %s" % (name, targets_health(base)))
            except Exception as e:
                print("  %s targets: %s" % (name, e))

    # target labels as each server reports them (static labels + relabelling)
    th = {n: targets_health(b) for n, b in servers.items()}
    tl = {n: {j: key(v[2]) for j, v in th[n].items()} for n in servers}
    check(tl["flint"] == tl["prometheus"], "target labels in /api/v1/targets are identical",
          "flint %s\n  prometheus %s" % (tl["flint"], tl["prometheus"]))

    start, end = a.start - 5, time.time() + 5
    # (a) stored series, per job and altogether (no self-scrape job: every
    # series must come from one of the three targets)
    for job in jobs:
        sel = '{job="%s"}' % job
        diff_sets("series of job %s identical" % job,
                  series(a.flint, sel, start, end), series(a.prom, sel, start, end))
    every = '{__name__=~".+"}'
    fl_all, pr_all = series(a.flint, every, start, end), series(a.prom, every, start, end)
    stray = sorted(k for k in fl_all | pr_all if dict(k).get("job") not in jobs)
    check(not stray, "no series outside the configured jobs (no self-metrics)",
          "\n".join("  " + fmt(k) for k in stray[:20]))
    diff_sets("all stored series identical", fl_all, pr_all)

    # (b) fixed-value gauges: the value each server stores is bit for bit
    # the app's; and the API writes it as the same text
    for spec in a.fixed:
        job, metric = spec.split("=", 1)
        _, exposed = exposed_samples(jobs[job])
        want = exposed.get(metric)
        sel = '%s{job="%s"}' % (metric, job)
        fv = list(instant(a.flint, sel).values())
        pv = list(instant(a.prom, sel).values())
        why = "app exposes %s, flint %s, prometheus %s" % (want, fv, pv)
        good = (want is not None and len(fv) == 1 and len(pv) == 1
                and same_float(float(fv[0]), float(want)) and same_float(float(pv[0]), float(want)))
        check(good, "%s %s: flint stores what prometheus stores and the app exposes (%s)" % (job, metric, want), why)
        if good:
            check(fv[0] == pv[0], "%s %s: /api/v1/query writes the value as Prometheus does (%s)" % (job, metric, pv[0]),
                  "flint writes %s, prometheus %s" % (json.dumps(fv[0]), json.dumps(pv[0])))

    # label values that need escapes arrive intact in both
    for spec in a.tricky:
        job, rest = spec.split("=", 1)
        metric, label = rest.split(":", 1)
        sel = '%s{job="%s"}' % (metric, job)
        fl = {dict(k).get(label) for k in series(a.flint, sel, start, end)}
        pr = {dict(k).get(label) for k in series(a.prom, sel, start, end)}
        missing = set(TRICKY_LABELS) - fl
        check(fl == pr and not missing,
              "%s %s{%s}: escaped label values stored as the app wrote them" % (job, metric, label),
              "flint %r\n  prometheus %r\n  missing in flint %r" % (sorted(fl, key=str), sorted(pr, key=str), missing))

    # honor_labels false: the app's own instance/job labels become exported_*
    if "app" in jobs:
        sel = 'e2e_clash_total{job="app"}'
        got = {n: [dict(k) for k in series(b, sel, start, end)] for n, b in servers.items()}
        good = all(len(v) == 1 and v[0].get("exported_instance") == "inner"
                   and v[0].get("exported_job") == "inner-job" and v[0].get("job") == "app"
                   for v in got.values())
        check(good, "target labels win, the app's instance/job stored as exported_instance/exported_job",
              "flint %s\n  prometheus %s" % (got["flint"], got["prometheus"]))

    # (c) the report series: same label sets, samples counts equal
    for m in REPORT:
        diff_sets("report series %s: same label sets" % m,
                  series(a.flint, m, start, end), series(a.prom, m, start, end))
    up = {n: instant(b, "up") for n, b in servers.items()}
    check(up["flint"] == up["prometheus"] and all(v == "1" for v in up["flint"].values()),
          "up == 1 for every target in both", "flint %s\n  prometheus %s" % (up["flint"], up["prometheus"]))
    for m in ("scrape_samples_scraped", "scrape_samples_post_metric_relabeling"):
        fv, pv = instant(a.flint, m), instant(a.prom, m)
        for job in jobs:
            f = {k: v for k, v in fv.items() if dict(k).get("job") == job}
            p = {k: v for k, v in pv.items() if dict(k).get("job") == job}
            check(f == p and len(f) == 1, "%s of job %s equal (%s)" % (m, job, list(f.values())),
                  "flint %s\n  prometheus %s" % (f, p))
    # Prometheus 2.42 stores OpenMetrics `_created` lines as series of their own
    for job in jobs:
        sel = '{job="%s",__name__=~".+_created"}' % job
        fc, pc = series(a.flint, sel, start, end), series(a.prom, sel, start, end)
        if pc or fc:
            check(fc == pc, "_created series of job %s stored as Prometheus 2.42 does (%d)" % (job, len(pc)),
                  "flint %d, prometheus %d" % (len(fc), len(pc)))
    sa = {n: instant(b, "scrape_series_added") for n, b in servers.items()}
    check(sa["flint"] == sa["prometheus"], "latest scrape_series_added equal per target (%s)"
          % sorted(set(sa["prometheus"].values())), "flint %s\n  prometheus %s" % (sa["flint"], sa["prometheus"]))
    # summed over the run: only meaningful when no scrape failed in either
    # (a failed scrape marks series stale; when they come back is the
    # servers' own business), so a run with a failed scrape skips it
    always_up = all(v == "1" for b in servers.values() for v in instant(b, "min_over_time(up[10m])").values())
    tot = {n: instant(b, "sum_over_time(scrape_series_added[10m])") for n, b in servers.items()}
    if always_up:
        check(tot["flint"] == tot["prometheus"], "scrape_series_added summed over the run equal per target (%s)"
              % sorted(tot["prometheus"].values()), "flint %s\n  prometheus %s" % (tot["flint"], tot["prometheus"]))
    else:
        print("SKIP scrape_series_added summed over the run: a scrape failed (flint %s, prometheus %s)"
              % (sorted(tot["flint"].values()), sorted(tot["prometheus"].values())))
    if normalised:
        kinds = sorted({"%s=%s -> %s" % x for x in normalised})
        print("note: %d le/quantile values compared in Prometheus 3 form: %s"
              % (len(kinds), ", ".join(kinds[:8])))
    for job in a.sample_count:
        lines, _ = exposed_samples(jobs[job])
        fv = instant(a.flint, 'scrape_samples_scraped{job="%s"}' % job)
        check(list(fv.values()) == [str(len(lines))],
              "scrape_samples_scraped of job %s == sample lines the app exposes (%d)" % (job, len(lines)),
              "flint %s" % fv)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "freeport":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "wait-http":
        deadline = time.time() + float(sys.argv[3])
        while time.time() < deadline:
            try:
                if http_get(sys.argv[2], timeout=2)[0] == 200:
                    return 0
            except Exception:
                pass
            time.sleep(0.2)
        print("timed out waiting for %s" % sys.argv[2], file=sys.stderr)
        return 1
    p = argparse.ArgumentParser(prog="compare.py run")
    p.add_argument("cmd", choices=["run"])
    p.add_argument("--flint", required=True)
    p.add_argument("--prom", required=True)
    p.add_argument("--start", type=float, required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--job", action="append", default=[])
    p.add_argument("--fixed", action="append", default=[])
    p.add_argument("--tricky", action="append", default=[])
    p.add_argument("--sample-count", action="append", default=[])
    a = p.parse_args()
    try:
        run(a)
    except Exception as e:  # an API that fails is a failed check, not a crash
        check(False, "comparison ran to the end", "%s: %s" % (type(e).__name__, e))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
