#!/usr/bin/python3
"""app.py - a python3-prometheus-client exporter for tests/e2e/scrape_compare.sh.

Runs under Debian's /usr/bin/python3 (it imports prometheus_client, the
Debian package python3-prometheus-client). Two modes:

  app.py single READY_FILE
      one process, the default registry (process_*, python_gc_*,
      python_info) plus counters, gauges, histograms, summaries, an info
      metric, an enum (OpenMetrics stateset), label values that need
      escaping (backslash, double quote, newline, UTF-8), a label named
      "instance" (the scraper renames it exported_instance) and gauges with
      fixed values (42.5, 0.1, 1e-7, 0.1+0.2, 1.5e300, -0.0).

  app.py multi READY_FILE
      the client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR must be set
      (to an empty directory) before start. Two forked worker processes
      write counters, histograms, summaries and gauges in every
      multiprocess_mode; the parent serves a MultiProcessCollector.

Both bind 127.0.0.1 port 0 and, once every value is written, write the
port to READY_FILE (atomically, via rename). READY_FILE.formats gets one
line "<User-Agent product>\t<content type>" per scraper and format served. The output never changes after
that (apart from process_* values), so every scrape returns the same series.
The exposition format follows the Accept header (OpenMetrics when asked).

SIGTERM/SIGINT end the process; workers exit when their parent is gone.
"""
import http.server
import multiprocessing
import os
import signal
import sys
import time

TRICKY_LABELS = [
    "C:\\dir\\file",            # backslash
    'say "hi"',                 # double quote
    "line1\nline2",             # newline
    "zürich ☃ 東京",            # UTF-8
    "all \\ \" \n mixed",      # everything at once
]


def serve(registry, ready_file):
    from prometheus_client import MetricsHandler
    from prometheus_client.exposition import choose_encoder
    seen = set()
    formats_file = ready_file + ".formats"

    class Handler(MetricsHandler.factory(registry)):
        def do_GET(self):
            # note once per scraper which format it was given
            ua = (self.headers.get("User-Agent") or "-").split("/")[0]
            ctype = choose_encoder(self.headers.get("Accept"))[1].split(";")[0]
            if (ua, ctype) not in seen:
                seen.add((ua, ctype))
                with open(formats_file, "a") as f:
                    f.write("%s\t%s\n" % (ua, ctype))
            super().do_GET()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, ready_file)
    srv.serve_forever()


def single(ready_file):
    from prometheus_client import (REGISTRY, Counter, Enum, Gauge, Histogram,
                                   Info, Summary)
    req = Counter("e2e_requests", "Requests handled.", ["method", "path"])
    for i, v in enumerate(TRICKY_LABELS):
        req.labels("GET", v).inc(i + 1)
    req.labels("POST", "/plain").inc(0.5)
    Counter("e2e_plain_events", "A counter without labels.").inc(7)
    clash = Counter("e2e_clash", "A label the scraper must rename.", ["instance", "job"])
    clash.labels("inner", "inner-job").inc()

    Gauge("e2e_fixed_value", "Always 42.5.").set(42.5)
    Gauge("e2e_tricky_tenth", "Always 0.1.").set(0.1)
    Gauge("e2e_tricky_small", "Always 1e-7.").set(1e-7)
    Gauge("e2e_tricky_sum", "Always 0.1+0.2.").set(0.1 + 0.2)
    Gauge("e2e_tricky_big", "Always 1.5e300.").set(1.5e300)
    Gauge("e2e_tricky_negzero", "Always -0.0.").set(-0.0)
    lg = Gauge("e2e_labelled_gauge", "Gauge with tricky labels.", ["v"])
    for i, v in enumerate(TRICKY_LABELS):
        lg.labels(v).set(i * 0.25 - 1)

    h = Histogram("e2e_latency_seconds", "Latency.", ["handler"],
                  buckets=(0.005, 0.05, 0.5, 5))
    for x in (0.001, 0.01, 0.2, 0.7, 3, 12):
        h.labels("/api").observe(x)
    h.labels('/q"uote').observe(0.02)
    s = Summary("e2e_payload_bytes", "Payload sizes.", ["dir"])
    for x in (10, 200, 3000):
        s.labels("in").observe(x)
    s.labels("out\\back").observe(1)

    Info("e2e_build", "Build information.").info(
        {"version": "1.2.3", "revision": 'a"b\\c', "branch": "main\nline"})
    e = Enum("e2e_state", "Current state.", states=["starting", "running", "stopped"])
    e.state("running")
    serve(REGISTRY, ready_file)


def worker(idx, ready, parent):
    # metrics are created after the fork so each file belongs to this pid
    from prometheus_client import Counter, Gauge, Histogram, Summary
    c = Counter("e2e_mp_jobs", "Jobs done per worker kind.", ["kind"])
    c.labels("batch").inc(idx + 1)
    c.labels('q"uote\\n').inc(2)
    Gauge("e2e_mp_fixed_max", "42.5 in every worker.", multiprocess_mode="max").set(42.5)
    Gauge("e2e_mp_fixed_min", "0.1 in every worker.", multiprocess_mode="min").set(0.1)
    Gauge("e2e_mp_livesum", "0.1 per live worker.", multiprocess_mode="livesum").set(0.1)
    Gauge("e2e_mp_sum", "1e-7 per worker.", multiprocess_mode="sum").set(1e-7)
    Gauge("e2e_mp_all", "One series per pid.", multiprocess_mode="all").set(idx + 0.5)
    Gauge("e2e_mp_liveall", "One series per live pid.", ["w"], multiprocess_mode="liveall").labels("zürich").set(idx)
    h = Histogram("e2e_mp_latency_seconds", "Latency.", buckets=(0.1, 1, 10))
    for x in (0.05, 0.5, 5 * (idx + 1)):
        h.observe(x)
    Summary("e2e_mp_size_bytes", "Sizes.").observe(100 * (idx + 1))
    ready.set()
    while os.getppid() == parent:
        time.sleep(0.5)


def multi(ready_file):
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    d = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not d or not os.path.isdir(d):
        sys.exit("app.py multi: PROMETHEUS_MULTIPROC_DIR must name a directory")
    ctx = multiprocessing.get_context("fork")
    procs = []
    for i in range(2):
        ev = ctx.Event()
        p = ctx.Process(target=worker, args=(i, ev, os.getpid()), daemon=True)
        p.start()
        procs.append((p, ev))
    for p, ev in procs:
        if not ev.wait(30):
            sys.exit("app.py multi: worker did not start")
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    serve(registry, ready_file)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("single", "multi"):
        sys.exit("usage: app.py single|multi READY_FILE")

    def stop(signum, frame):
        raise SystemExit(0)   # runs atexit: multiprocessing ends daemon workers
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    (single if sys.argv[1] == "single" else multi)(sys.argv[2])


if __name__ == "__main__":
    main()
