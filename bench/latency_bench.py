#!/usr/bin/env python3
"""latency_bench.py - HTTP query latency of flint beside VictoriaMetrics and
Prometheus: ../shared/bench/queries.txt through /api/v1/query_range over the
dataset's full range at a 60 s step (query_bench.py: 1 cold run, then the
median of --reps).

The machine is shared, so the servers run side by side and are measured in
interleaved rounds (the order rotates each round); a figure is the median of
a server's per-round medians, and the ratios compare the same time window.

  flint:            a copy of an imported data dir (--flint-data; `flint import
                    openmetrics dataset.om DIR` here when missing) served by
                    `flint server` with no scrape jobs
  victoriametrics:  a copy of /tmp/bench-victoriametrics-storage (the data
                    dir run_peer.py storage --peer victoriametrics leaves;
                    that is run first, ~2 min, when it is missing), served by
                    victoria-metrics -search.disableCache
  prometheus:       a copy of /tmp/bench-prometheus-storage (run_peer.py
                    storage --peer prometheus, ~8 min, when missing), served
                    by prometheus with no scrape jobs

Every server binds 127.0.0.1:<free port> and is ended by its PID; copies live
in a temporary directory removed at the end. Writes latency.json and
latency.md under --out. Standard library only.

Usage: latency_bench.py --harness DIR --data DIR [--flint ./flint]
           [--flint-data DIR] [--peers victoriametrics,prometheus]
           [--rounds 3] [--reps 5] [--out bench/results]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
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


def start_server(name, cmd, url, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if not wait_ready(url, 120):
        stop(proc)
        raise RuntimeError(f"{name} not ready, see {log_path}")
    return proc


def peer_data(args, peer):
    """The data dir a run_peer.py storage run left for peer (loading it first when missing)."""
    d = f"/tmp/bench-{peer}-storage"
    if args.reload or not os.path.isdir(d) or not os.listdir(d):
        log = open(f"/tmp/bench-logs/{peer}-latency-driver.log", "w")
        r = subprocess.run([sys.executable, "run_peer.py", "storage", "--peer", peer, "--data", args.data,
                            "--reps", "1"], cwd=args.harness, stdout=log, stderr=subprocess.STDOUT, timeout=3600)
        if r.returncode != 0:
            raise RuntimeError(f"run_peer.py rc={r.returncode}, see /tmp/bench-logs/{peer}-latency-driver.log")
    return d


def medians(res):
    return {k: v.get("median_ms") for k, v in (res.get("queries") or {}).items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harness", required=True, help="writable copy of ../shared/bench")
    ap.add_argument("--data", default="/tmp/bench-data")
    ap.add_argument("--flint", default="./flint")
    ap.add_argument("--flint-data", default="/tmp/bench-flint-storage")
    ap.add_argument("--flint-baseline", default=None,
                    help="another flint binary (e.g. an older build) measured alongside as 'flint-baseline'")
    ap.add_argument("--peers", default="victoriametrics,prometheus")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--reload", action="store_true", help="reload the peers' data even if present")
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
    peers = [p for p in args.peers.split(",") if p]
    dirs = {"flint": src}
    if args.flint_baseline:
        dirs["flint-baseline"] = src
    errors = {}
    for p in peers:
        try:
            dirs[p] = peer_data(args, p)
        except RuntimeError as e:
            errors[p] = str(e)
    tmp = tempfile.mkdtemp(prefix="bench-latency-")
    procs, urls = {}, {}
    try:
        cfg = os.path.join(tmp, "empty.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
        for name, d in dirs.items():
            copy = os.path.join(tmp, name)
            shutil.copytree(d, copy, ignore=shutil.ignore_patterns("lock", "*.lock", "flock.lock"))
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            listen = f"127.0.0.1:{port}"
            if name.startswith("flint"):
                binary = args.flint if name == "flint" else args.flint_baseline
                cmd = [binary, "server", f"--config.file={cfg}", f"--storage.tsdb.path={copy}",
                       f"--web.listen-address={listen}", "--log.level=warn"]
            elif name == "victoriametrics":
                cmd = ["victoria-metrics", f"-storageDataPath={copy}", f"-httpListenAddr={listen}",
                       "-search.disableCache", "-retentionPeriod=100y"]
            else:
                cmd = ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={copy}",
                       f"--web.listen-address={listen}", "--storage.tsdb.retention.time=100y"]
            try:
                procs[name] = start_server(name, cmd, url, f"/tmp/bench-logs/{name}-latency.log")
                urls[name] = url
            except RuntimeError as e:
                errors[name] = str(e)
        names = list(urls)
        rounds = {n: [] for n in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)] if names else []
            for n in order:
                out = os.path.join(tmp, f"{n}-{r}.json")
                subprocess.run([sys.executable, os.path.join(args.harness, "query_bench.py"), "--url", urls[n],
                                "--meta", os.path.join(args.data, "dataset.json"), "--reps", str(args.reps),
                                "--pid", str(procs[n].pid), "--out", out,
                                "--save-bodies", f"/tmp/bench-bodies-latency-{n}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
                if os.path.exists(out):
                    rounds[n].append(json.load(open(out)))
    finally:
        for p in procs.values():
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    med, per_round = {}, {}
    for n, rs in rounds.items():
        per_round[n] = [medians(x) for x in rs]
        qn = per_round[n][0].keys() if per_round[n] else []
        med[n] = {q: statistics.median([m[q] for m in per_round[n] if m.get(q) is not None] or [float("nan")])
                  for q in qn}
    json.dump({"when": when, "rounds": args.rounds, "reps": args.reps, "median_of_round_medians": med,
               "per_round_medians": per_round, "errors": errors, "raw": rounds},
              open(os.path.join(args.out, "latency.json"), "w"), indent=1)
    cols = list(med.keys())
    qnames = list(med.get("flint", {}).keys())
    lines = [f"query_range over the full dataset, step 60 s; each server: {args.rounds} interleaved rounds of "
             f"(1 cold + median of {args.reps}); median of the round medians, ms ({when})", "",
             "| query | " + " | ".join(cols) + " | flint ÷ VM |", "|---|" + "---:|" * (len(cols) + 1)]
    for q in qnames:
        cells = ["%.1f" % med[c][q] if q in med[c] else "-" for c in cols]
        vm = med.get("victoriametrics", {}).get(q)
        ratio = "%.2f" % (med["flint"][q] / vm) if vm else "-"
        lines.append(f"| {q} | " + " | ".join(cells) + f" | {ratio} |")
    for n, e in errors.items():
        lines.append(f"\n{n}: error: {e}")
    md = "\n".join(lines) + "\n"
    open(os.path.join(args.out, "latency.md"), "w").write(md)
    print(md)


if __name__ == "__main__":
    main()
