"""httpdata.py - the application-shaped half of promdiff's dataset.

gen_dataset.py (../shared/bench) gives node_exporter-shaped series; dashboards
and alert rules mostly look at request counters and latency histograms, so
this writes those in OpenMetrics text for the same time window:

  http_requests_total{job="api",instance,handler,method,code}  counters whose
      rates change every 20 minutes, a 5xx burst on /api/orders between 60 and
      80 minutes in, and one counter reset (app-2, /api/orders GET 200, at
      100 minutes: a restart).
  http_request_duration_seconds_{bucket,sum,count}{job="api",instance,handler}
      a classic histogram (le 0.05 .. +Inf) whose latency shifts up during the
      burst.
  http_inflight_requests{job="api",instance="app-1:8080"}   gauge, app-1 only
  app_version_info{job="api",instance,version}             constant 1

Samples sit every `interval` seconds at `offset` seconds past the grid of
gen_dataset (which samples on multiples of the interval), so Prometheus 3's
left-open range windows and Prometheus 2's left-closed ones see the same
samples when subqueries evaluate on round minutes. Deterministic (seeded).
Standard library only.
"""
import random

BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"]
INSTANCES = ["app-1:8080", "app-2:8080"]
# handler -> (base requests/s, methods)
HANDLERS = {
    "/api/users": (12.0, ["GET", "POST"]),
    "/api/orders": (5.0, ["GET", "POST"]),
    "/login": (1.5, ["POST"]),
    "/healthz": (0.2, ["GET"]),
}
CODE_SHARE = {"200": 0.95, "404": 0.04, "500": 0.01}


def _labels(d):
    return "{" + ",".join('%s="%s"' % kv for kv in d.items()) + "}"


def write(f, start, end, interval=15, offset=5, seed=7):
    """Append the families to the open text file f (no '# EOF')."""
    rng = random.Random(seed)
    times = list(range(start + offset, end + 1, interval))
    burst = (start + 3600, start + 4800)
    reset_at = start + 6000

    def multiplier(t, key):
        # piecewise constant load: a new level every 20 minutes per series
        r = random.Random("%s/%d" % (key, (t - start) // 1200))
        return 0.5 + r.random()

    f.write("# TYPE http_requests counter\n")
    per_handler = {}  # (instance, handler) -> requests per step, for the histogram
    for inst in INSTANCES:
        scale = 1.0 if inst == INSTANCES[0] else 0.7
        for handler, (base, methods) in HANDLERS.items():
            for method in methods:
                for code, share in CODE_SHARE.items():
                    if code == "404" and method != "GET":
                        continue
                    key = "%s%s%s%s" % (inst, handler, method, code)
                    lab = _labels({"job": "api", "instance": inst, "handler": handler,
                                   "method": method, "code": code})
                    v = float(rng.randint(1000, 50000))
                    lines = []
                    for t in times:
                        rate = base * scale * share * multiplier(t, key)
                        if code == "500" and handler == "/api/orders" and burst[0] <= t < burst[1]:
                            rate *= 30
                        n = max(0, int(round(rate * interval * (0.8 + 0.4 * rng.random()))))
                        ph = per_handler.setdefault((inst, handler), {})
                        ph[t] = ph.get(t, 0) + n
                        if (inst, handler, method, code) == (INSTANCES[1], "/api/orders", "GET", "200") \
                                and reset_at <= t < reset_at + interval:
                            v = float(n)  # the process restarted
                        else:
                            v += n
                        lines.append("http_requests_total%s %s %d\n" % (lab, repr(v), t))
                    f.writelines(lines)

    f.write("# TYPE http_request_duration_seconds histogram\n")
    bounds = [float(b) for b in BUCKETS[:-1]]
    for inst in INSTANCES:
        for handler in HANDLERS:
            counts = [0] * len(BUCKETS)
            total_sum = 0.0
            rows = []  # per time: cumulative bucket counts, sum, count
            for t in times:
                n = per_handler[(inst, handler)][t]
                slow = 4.0 if burst[0] <= t < burst[1] and handler == "/api/orders" else 1.0
                mean = {"/api/users": 0.08, "/api/orders": 0.2, "/login": 0.4, "/healthz": 0.01}[handler] * slow
                step = [0] * len(BUCKETS)
                for _ in range(n):
                    lat = rng.expovariate(1.0 / mean)
                    total_sum += lat
                    i = 0
                    while i < len(bounds) and lat > bounds[i]:
                        i += 1
                    step[i] += 1
                for i in range(len(BUCKETS)):
                    counts[i] += step[i]
                cum, acc = [], 0
                for c in counts:
                    acc += c
                    cum.append(acc)
                rows.append((t, cum, total_sum))
            base = {"job": "api", "instance": inst, "handler": handler}
            for i, le in enumerate(BUCKETS):
                lab = _labels(dict(base, le=le))
                f.writelines("http_request_duration_seconds_bucket%s %d %d\n" % (lab, cum[i], t)
                             for t, cum, _ in rows)
            lab = _labels(base)
            f.writelines("http_request_duration_seconds_sum%s %s %d\n" % (lab, repr(round(s, 6)), t)
                         for t, _, s in rows)
            f.writelines("http_request_duration_seconds_count%s %d %d\n" % (lab, cum[-1], t)
                         for t, cum, _ in rows)

    f.write("# TYPE http_inflight_requests gauge\n")
    lab = _labels({"job": "api", "instance": INSTANCES[0]})
    f.writelines("http_inflight_requests%s %d %d\n" % (lab, rng.randint(0, 40), t) for t in times)
    f.write("# TYPE app_version_info gauge\n")
    for inst, ver in zip(INSTANCES, ["1.4.2", "1.5.0"]):
        lab = _labels({"job": "api", "instance": inst, "version": ver})
        f.writelines("app_version_info%s 1 %d\n" % (lab, t) for t in times)
