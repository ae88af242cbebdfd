#!/usr/bin/env python3
"""latency_bench.py - HTTP query latency of flint beside VictoriaMetrics and
Prometheus: ../shared/bench/queries.txt through /api/v1/query_range over the
dataset's full range at a 60 s step (query_bench.py: 1 cold run, then the
median of --reps), in one session so the ratios are comparable on a shared
machine.

  flint:            a copy of an imported data dir (`flint import openmetrics`;
                    --flint-data, imported here when missing) served by
                    `flint server` with no scrape jobs on 127.0.0.1:<free port>;
                    measured before and after the peers, both runs reported
  victoriametrics:  run_peer.py storage --peer victoriametrics (HTTP import,
                    merges settled, then the same query_bench)
  prometheus:       run_peer.py storage --peer prometheus (promtool backfill,
                    ~8 min); the storage step's result of the same `make
                    bench` is reused when present (--reuse-prometheus)

Writes latency.json and latency.md under --out. Standard library only.

Usage: latency_bench.py --harness DIR --data DIR [--flint ./flint]
           [--flint-data DIR] [--peers victoriametrics,prometheus] [--reps 7]
           [--out bench/results]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(url, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/v1/query?query=1", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def flint_queries(args, src, label):
    """Serve a copy of src with flint and run query_bench; returns its JSON."""
    tmp = tempfile.mkdtemp(prefix="bench-flint-latency-")
    data = os.path.join(tmp, "data")
    shutil.copytree(src, data, ignore=shutil.ignore_patterns("lock"))
    cfg = os.path.join(tmp, "empty.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(f"/tmp/bench-logs/flint-latency-{label}.log", "w")
    proc = subprocess.Popen([args.flint, "server", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_ready(url, 60):
            return {"error": f"flint server not ready, see /tmp/bench-logs/flint-latency-{label}.log"}
        out = os.path.join(tmp, "q.json")
        r = subprocess.run([sys.executable, os.path.join(args.harness, "query_bench.py"), "--url", url,
                            "--meta", os.path.join(args.data, "dataset.json"), "--reps", str(args.reps),
                            "--pid", str(proc.pid), "--out", out,
                            "--save-bodies", f"/tmp/bench-bodies-flint-{label}"],
                           stdout=subprocess.DEVNULL, stderr=log, timeout=1800)
        if r.returncode != 0 or not os.path.exists(out):
            return {"error": f"query_bench rc={r.returncode}"}
        return json.load(open(out))
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def peer_queries(args, peer):
    path = os.path.join(args.harness, "results", f"{peer}-storage.json")
    if not (peer == "prometheus" and args.reuse_prometheus and os.path.exists(path)):
        log = open(f"/tmp/bench-logs/{peer}-latency-driver.log", "w")
        r = subprocess.run([sys.executable, "run_peer.py", "storage", "--peer", peer, "--data", args.data,
                            "--reps", str(args.reps)],
                           cwd=args.harness, stdout=log, stderr=subprocess.STDOUT, timeout=3600)
        if r.returncode != 0 or not os.path.exists(path):
            return {"error": f"run_peer.py rc={r.returncode}, see /tmp/bench-logs/{peer}-latency-driver.log"}
    q = json.load(open(path)).get("queries")
    return q if isinstance(q, dict) else {"error": "no query results"}


def medians(res):
    return {k: v.get("median_ms") for k, v in (res.get("queries") or {}).items()} if "error" not in res else {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harness", required=True, help="writable copy of ../shared/bench")
    ap.add_argument("--data", default="/tmp/bench-data")
    ap.add_argument("--flint", default="./flint")
    ap.add_argument("--flint-data", default="/tmp/bench-flint-storage")
    ap.add_argument("--peers", default="victoriametrics,prometheus")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--reuse-prometheus", action="store_true")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs("/tmp/bench-logs", exist_ok=True)
    src = args.flint_data
    if not os.path.isdir(src):
        src = "/tmp/bench-flint-latency-src"
        if not os.path.exists(src + ".done"):
            shutil.rmtree(src, ignore_errors=True)
            with open("/tmp/bench-logs/flint-latency-import.log", "w") as log:
                subprocess.run([args.flint, "import", "openmetrics", os.path.join(args.data, "dataset.om"), src],
                               stdout=log, stderr=subprocess.STDOUT, check=True, timeout=3600)
            open(src + ".done", "w").close()
    runs = {"flint (before peers)": flint_queries(args, src, "1")}
    for p in [p for p in args.peers.split(",") if p]:
        runs[p] = peer_queries(args, p)
    runs["flint (after peers)"] = flint_queries(args, src, "2")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    json.dump({"when": when, "runs": runs}, open(os.path.join(args.out, "latency.json"), "w"), indent=1)

    med = {k: medians(v) for k, v in runs.items()}
    names = list(next((m for m in med.values() if m), {}).keys())
    cols = list(runs.keys())
    lines = [f"query_range over the full dataset, step 60 s, median of {args.reps} after a cold run, ms ({when})",
             "", "| query | " + " | ".join(cols) + " | flint ÷ VM (each flint run) |", "|---|" + "---:|" * (len(cols) + 1)]
    for n in names:
        cells = [("%.1f" % med[c][n]) if med[c].get(n) is not None else "-" for c in cols]
        fl = [med[c].get(n) for c in cols if c.startswith("flint") and med[c].get(n) is not None]
        vm = med.get("victoriametrics", {}).get(n)
        ratio = " / ".join("%.2f" % (f / vm) for f in fl) if fl and vm else "-"
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {ratio} |")
    for c in cols:
        if "error" in runs[c]:
            lines.append(f"\n{c}: error: {runs[c]['error']}")
    md = "\n".join(lines) + "\n"
    open(os.path.join(args.out, "latency.md"), "w").write(md)
    print(md)


if __name__ == "__main__":
    main()
