#!/usr/bin/env python3
"""Classic-histogram companion to ../shared/bench/gen_dataset.py for the
PromQL engine benchmark (bench/engine_bench.c, query (c)).

Writes <out>/hist.om: OpenMetrics text, timestamps in *seconds*, '# EOF'
last, one family `http_request_duration_seconds` (TYPE histogram) with, per
host ('instance'="host-NNN:9100", job="api"), the cumulative buckets
`_bucket{le=...}` (10 finite bounds + "+Inf"), `_count` and `_sum`.
Each series' samples are written consecutively in time order (series-major,
what a per-block appender needs). Counters are cumulative and monotonic;
bucket counts are non-decreasing in `le` at every step, `_count` equals the
"+Inf" bucket. Request rate follows a diurnal load shape per host, latency
is log-normal; about 1 host in 40 restarts once (counter reset).

Usage: gen_histogram.py --hosts 100 --hours 24 --interval 15 --out /tmp/bench-hist
Defaults: 100 hosts x 13 series = 1,300 series x 5,760 samples (7.5 M).
Only the Python standard library is used.
"""
import argparse
import bisect
import json
import math
import os
import random
import sys
import time

BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
LE = [repr(b) for b in BOUNDS] + ["+Inf"]


def host_series(seed, h, T, iv, start):
    """Return (bucket_rows[len(LE)][T], count[T], sum[T]) as strings."""
    rng = random.Random(f"hist/{seed}/{h}")
    phase = rng.random() * 2 * math.pi
    rps = 5 + rng.random() * 45            # requests/s at load 1.0
    mu = math.log(0.04 + rng.random() * 0.1)  # median latency 40-140 ms
    sigma = 0.6 + rng.random() * 0.5
    reboot = rng.randrange(T // 4, T - 5) if rng.random() < 0.025 and T > 20 else None
    nb = len(BOUNDS)
    cum = [rng.randrange(0, 10_000_000) for _ in range(nb + 1)]  # per-bucket (non-cumulative)
    total_sum = rng.random() * 1e6
    rows = [[None] * T for _ in range(nb + 1)]
    cnt = [None] * T
    sm = [None] * T
    day = 86400.0
    noise = 0.0
    for i in range(T):
        if i == reboot:
            cum = [0] * (nb + 1)
            total_sum = 0.0
        t = start + i * iv
        noise = 0.98 * noise + 0.02 * (rng.random() - 0.5) * 4
        load = min(4.0, max(0.05, 1.0 + 0.6 * math.sin(2 * math.pi * t / day + phase) + noise))
        n = int(rps * iv * load * (0.8 + 0.4 * rng.random()))
        # latency grows a little with load; draw a sample of the
        # distribution and scale it up to n requests (cheap and realistic)
        m = mu + 0.3 * (load - 1.0)
        draws = min(n, 64)
        if draws:
            per = [0] * (nb + 1)
            s = 0.0
            for _ in range(draws):
                x = math.exp(rng.gauss(m, sigma))
                per[bisect.bisect_left(BOUNDS, x)] += 1
                s += x
            scale = n / draws
            got = 0
            for k in range(nb + 1):
                c = int(per[k] * scale)
                cum[k] += c
                got += c
            cum[nb] += n - got  # rounding remainder into +Inf
            total_sum += s * scale
        acc = 0
        for k in range(nb + 1):
            acc += cum[k]
            rows[k][i] = str(acc)
        cnt[i] = str(acc)
        sm[i] = repr(round(total_sum, 6))
    return rows, cnt, sm


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--interval", type=int, default=15, help="seconds between samples")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", type=int, default=None,
                    help="unix seconds of the first sample (default: like gen_dataset.py, "
                         "2h-aligned, ending at least 2h before now)")
    ap.add_argument("--out", default="/tmp/bench-hist")
    args = ap.parse_args()

    iv = args.interval
    T = int(round(args.hours * 3600 / iv))
    if T < 1 or args.hosts < 1:
        sys.exit("need at least one host and one sample")
    if args.start is None:
        now = int(time.time())
        start = (now // 7200) * 7200 - 7200 - T * iv
    else:
        start = args.start
    start -= start % iv
    end = start + (T - 1) * iv
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "hist.om")
    ts = [f" {start + i * iv}\n" for i in range(T)]
    fam = "http_request_duration_seconds"
    t0 = time.time()
    data = [host_series(args.seed, h, T, iv, start) for h in range(args.hosts)]
    nseries = 0
    with open(path, "w", buffering=8 << 20) as f:
        f.write(f"# TYPE {fam} histogram\n")
        f.write(f"# HELP {fam} Request latency.\n")
        # OpenMetrics wants a histogram's samples grouped per label set
        # (buckets, then _count, then _sum); series-major within it.
        for h in range(args.hosts):
            rows, cnt, sm = data[h]
            inst = f'instance="host-{h:03d}:9100",job="api"'
            for k, le in enumerate(LE):
                prefix = f'{fam}_bucket{{{inst},le="{le}"}} '
                f.write("".join([prefix + v + t for v, t in zip(rows[k], ts)]))
                nseries += 1
            prefix = f"{fam}_count{{{inst}}} "
            f.write("".join([prefix + v + t for v, t in zip(cnt, ts)]))
            prefix = f"{fam}_sum{{{inst}}} "
            f.write("".join([prefix + v + t for v, t in zip(sm, ts)]))
            nseries += 2
        f.write("# EOF\n")
    meta = {"generator": "gen_histogram.py", "seed": args.seed, "hosts": args.hosts,
            "series": nseries, "samples_per_series": T, "samples": nseries * T,
            "interval_s": iv, "start": start, "end": end, "buckets": LE,
            "file_bytes": os.path.getsize(path), "gen_seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.out, "hist.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
