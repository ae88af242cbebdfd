#!/usr/bin/env python3
"""storage_bench.py - flint's storage benchmark beside Prometheus and
VictoriaMetrics, on the same dataset, in one run.

  flint:            `flint import openmetrics dataset.om DIR` (timed), then the
                    data dir's size, `flint tsdb analyze DIR` for completeness
  prometheus:       ../shared/bench run_peer.py storage --peer prometheus
                    (promtool backfill, compaction settle, queries)
  victoriametrics:  run_peer.py storage --peer victoriametrics (HTTP import)

Reports bytes per sample on disk and samples per second loaded for each,
writes JSON and a Markdown table under --out. Standard library only.

Usage: storage_bench.py --harness DIR --data DIR [--flint ./flint]
                        [--peers prometheus,victoriametrics] [--out DIR]
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for fn in files:
            try:
                st = os.lstat(os.path.join(root, fn))
            except FileNotFoundError:
                continue
            if fn == "lock":
                continue
            total += st.st_size
    return total


def run_flint(args, meta):
    d = "/tmp/bench-flint-storage"
    shutil.rmtree(d, ignore_errors=True)
    om = os.path.join(args.data, meta["files"]["om"] if "files" in meta else "dataset.om")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    log = open("/tmp/bench-logs/flint-import.log", "w")
    r = subprocess.run([args.flint, "import", "openmetrics", om, d], stdout=log, stderr=subprocess.STDOUT,
                       timeout=args.timeout)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"flint import failed (rc={r.returncode}), see /tmp/bench-logs/flint-import.log")
    size = dir_bytes(d)
    an = subprocess.run([args.flint, "tsdb", "analyze", "--format=json", d], capture_output=True, text=True,
                        timeout=600)
    analyze = json.loads(an.stdout) if an.returncode == 0 else {"error": an.stderr}
    res = {
        "peer": "flint",
        "load_method": "flint import openmetrics",
        "load_wall_s": round(wall, 2),
        "samples_per_s": round(meta["samples"] / wall),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "peak_rss_mib": round(after.ru_maxrss / 1024, 1),
        "bytes": size,
        "bytes_per_sample": round(size / meta["samples"], 4),
        "analyze": analyze,
    }
    res["complete"] = analyze.get("samples") == meta["samples"] and analyze.get("series") == meta["series"]
    return res


def run_peer(args, peer):
    cmd = [sys.executable, "run_peer.py", "storage", "--peer", peer, "--data", args.data]
    log = open(f"/tmp/bench-logs/{peer}-storage-driver.log", "w")
    r = subprocess.run(cmd, cwd=args.harness, stdout=log, stderr=subprocess.STDOUT, timeout=args.timeout * 4)
    path = os.path.join(args.harness, "results", f"{peer}-storage.json")
    if r.returncode != 0 or not os.path.exists(path):
        return {"peer": peer, "error": f"run_peer.py rc={r.returncode}, see /tmp/bench-logs/{peer}-storage-driver.log"}
    j = json.load(open(path))
    load = j.get("load", {})
    wall = load.get("wall_s_incl_flush", load.get("wall_s"))
    return {
        "peer": peer,
        "load_method": load.get("method"),
        "load_wall_s": wall,
        "samples_per_s": load.get("samples_per_s"),
        "bytes_after_load": (load.get("size_after_load") or {}).get("apparent"),
        "bytes": (j.get("size_settled") or {}).get("apparent"),
        "bytes_per_sample": j.get("bytes_per_sample"),
        "queries": {q["name"]: q.get("median_ms") for q in j.get("queries", {}).get("results", [])}
        if isinstance(j.get("queries"), dict) else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True, help="writable copy of ../shared/bench")
    ap.add_argument("--data", default="/tmp/bench-data")
    ap.add_argument("--flint", default="./flint")
    ap.add_argument("--peers", default="prometheus,victoriametrics")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs("/tmp/bench-logs", exist_ok=True)
    meta = json.load(open(os.path.join(args.data, "dataset.json")))
    results = [run_flint(args, meta)]
    print(json.dumps(results[0]), flush=True)
    for p in [p for p in args.peers.split(",") if p]:
        results.append(run_peer(args, p))
        print(json.dumps(results[-1]), flush=True)
    out = {"dataset": {k: meta.get(k) for k in ("series", "samples", "interval_s", "samples_per_series")},
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": results}
    json.dump(out, open(os.path.join(args.out, "storage.json"), "w"), indent=1)
    lines = [f"Dataset: {meta['series']:,} series, {meta['samples']:,} samples ({out['when']})", "",
             "| | load method | load s | samples/s | bytes on disk | bytes/sample |", "|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['peer']} | error: {r['error']} | | | | |")
            continue
        lines.append(f"| {r['peer']} | {r['load_method']} | {r['load_wall_s']} | {r['samples_per_s']:,} | "
                     f"{r['bytes']:,} | **{r['bytes_per_sample']}** |")
    md = "\n".join(lines) + "\n"
    open(os.path.join(args.out, "storage.md"), "w").write(md)
    print(md)


if __name__ == "__main__":
    main()
