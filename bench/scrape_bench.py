#!/usr/bin/env python3
"""scrape_bench.py - flint's scrape memory/CPU benchmark beside Prometheus
and VictoriaMetrics, in one run, with ../shared/bench's scrape test:

  the fixture exporter serves --series series (default 100,000: 40 %
  counters, 40 % gauges, 20 % constants, new values every interval), each
  server scrapes it every --interval s for --duration s; RSS is sampled from
  /proc every 5 s, CPU seconds are the server process' utime+stime over the
  scraping window, active series = count({job="fixture"}).

flint runs as the harness' `custom` peer (`flint server --config.file
{config} ...`). Writes the harness' JSON per peer and scrape.md/json under
--out with bytes per active series (RSS at the end, peak VmHWM, RSS minus
the idle RSS) and CPU cores. Standard library only.

Usage: scrape_bench.py --harness DIR [--flint ./flint] [--peers
                       prometheus,victoriametrics] [--series N]
                       [--duration S] [--interval S] [--out DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import time


def run_peer(args, peer, label, env=None):
    cmd = [sys.executable, "run_peer.py", "scrape", "--peer", peer, "--label", label,
           "--series", str(args.series), "--duration", str(args.duration),
           "--interval", str(args.interval)]
    e = dict(os.environ)
    if env:
        e.update(env)
    log = open(f"/tmp/bench-logs/{label}-scrape-driver.log", "w")
    r = subprocess.run(cmd, cwd=args.harness, env=e, stdout=log, stderr=subprocess.STDOUT,
                       timeout=args.duration + 900)
    path = os.path.join(args.harness, "results", f"{label}-scrape.json")
    if r.returncode != 0 or not os.path.exists(path):
        return {"peer": label, "error": f"run_peer.py failed rc={r.returncode}; /tmp/bench-logs/{label}-scrape-driver.log"}
    with open(path) as f:
        return json.load(f)


def row(res):
    if "error" in res:
        return {"peer": res["peer"], "error": res["error"]}
    fin = res.get("final", {})
    idle = res.get("idle", {})
    act = res.get("active_series") or 0
    return {
        "peer": res.get("label"),
        "active_series": act,
        "up": res.get("up"),
        "scrapes_stored": res.get("scrapes_stored"),
        "idle_rss": idle.get("VmRSS"),
        "rss": fin.get("VmRSS"),
        "rss_anon": fin.get("RssAnon"),
        "hwm": fin.get("VmHWM"),
        "rss_per_series": res.get("rss_bytes_per_series"),
        "hwm_per_series": res.get("hwm_bytes_per_series"),
        "rss_minus_idle_per_series": res.get("rss_minus_idle_bytes_per_series"),
        "cpu_seconds": res.get("cpu_seconds_during_scrape"),
        "cpu_cores": res.get("cpu_cores_avg"),
        "scrape_duration_s": res.get("scrape_duration_s"),
        "data_dir_bytes": (res.get("data_dir_bytes") or {}).get("apparent"),
    }


def mib(b):
    return f"{b / 2**20:.1f} MiB" if b else "-"


def table(rows, args):
    cols = [r for r in rows if "error" not in r]
    out = [f"Scrape test: fixture exporter with {args.series:,} series, scraped every {args.interval} s "
           f"for {args.duration:.0f} s ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).", ""]
    out.append("| | " + " | ".join(r["peer"] for r in cols) + " |")
    out.append("|---|" + "---:|" * len(cols))

    def line(name, f):
        out.append(f"| {name} | " + " | ".join(f(r) for r in cols) + " |")

    line("active series", lambda r: f"{r['active_series']:,.0f}" if r["active_series"] else "-")
    line("idle RSS", lambda r: mib(r["idle_rss"]))
    line("RSS at end (anon)", lambda r: f"{mib(r['rss'])} ({mib(r['rss_anon'])})")
    line("peak RSS (VmHWM)", lambda r: mib(r["hwm"]))
    line("**RSS bytes / active series**", lambda r: f"**{r['rss_per_series']:,}**" if r["rss_per_series"] else "-")
    line("VmHWM bytes / active series", lambda r: f"{r['hwm_per_series']:,}" if r["hwm_per_series"] else "-")
    line("(RSS - idle) bytes / active series",
         lambda r: f"{r['rss_minus_idle_per_series']:,}" if r["rss_minus_idle_per_series"] else "-")
    line("CPU seconds while scraping", lambda r: f"{r['cpu_seconds']}" if r["cpu_seconds"] is not None else "-")
    line("**CPU cores (average)**", lambda r: f"**{r['cpu_cores']}**" if r["cpu_cores"] is not None else "-")
    line("last scrape duration", lambda r: f"{r['scrape_duration_s'] * 1000:.0f} ms" if r["scrape_duration_s"] else "-")
    line("data dir at end", lambda r: mib(r["data_dir_bytes"]))
    for r in rows:
        if "error" in r:
            out.append(f"\n{r['peer']}: {r['error']}")
    fl = next((r for r in cols if r["peer"] == "flint"), None)
    pr = next((r for r in cols if r["peer"] == "prometheus"), None)
    if fl and pr and fl.get("cpu_cores") and pr.get("cpu_cores"):
        out.append(f"\nflint CPU / Prometheus CPU = {fl['cpu_cores'] / pr['cpu_cores']:.2f}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harness", required=True, help="a writable copy of ../shared/bench")
    ap.add_argument("--flint", default="./flint")
    ap.add_argument("--peers", default="prometheus,victoriametrics")
    ap.add_argument("--series", type=int, default=100000)
    ap.add_argument("--duration", type=float, default=180)
    ap.add_argument("--interval", type=int, default=5)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    args.harness = os.path.abspath(args.harness)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs("/tmp/bench-logs", exist_ok=True)
    flint = os.path.abspath(args.flint)
    env = {"BENCH_START_CMD": f"{flint} server --config.file {{config}} --storage.tsdb.path {{data_dir}} "
                              f"--web.listen-address {{listen}} --log.level warn"}
    rows = [row(run_peer(args, "custom", "flint", env))]
    for p in [p for p in args.peers.split(",") if p]:
        rows.append(row(run_peer(args, p, p)))
    md = table(rows, args)
    print(md)
    with open(os.path.join(args.out, "scrape.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "scrape.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
