#!/usr/bin/env python3
"""The local runner's memory under a long run of issues: RSS and token throughput after 2 M tokens.

Starts `tessera serve` (release, RUST_LOG=warn, pinned to CPU 0 with taskset) on a configuration of one opaque
client whose tokens live --ttl seconds, then, with wrk on CPU 1 (one thread, 100 connections, the form POST of
scripts/wrk_form_post.lua):
  1. the token endpoint's throughput on the fresh runner: a warm-up, then --runs measured runs (median req/s);
  2. more wrk runs until --tokens tokens have been issued in all (the measured runs count);
  3. the same measured runs again,
reading the runner's VmRSS and VmHWM (peak) from /proc/<pid>/status at start, after the --tokens and at the end.
Every response must be 2xx. With a short TTL the background sweep is what keeps memory flat; with a long TTL and
--max-items, the bound's evictions are.

Writes one row per scenario to OUT/memory.json (for scripts/bench_report.py) and the raw figures to
OUT/memory-raw.json.

Usage: bench_memory.py --tessera target/release/tessera --out target/bench [--tokens 2000000] [--ttl 5]
       [--max-items N] [--duration 10] [--runs 3]
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_SCRIPT = os.path.join(ROOT, "scripts", "wrk_form_post.lua")
CLIENT = ("bench-short-ttl", "bench-short-ttl-secret-0123456789abcdef")
SERVER_CPU, LOAD_CPU = "0", "1"
# Throughput after the long run, as a share of the fresh runner's: the issue saw 55 k fall to 35 k req/s (64 %).
GOAL_SHARE = 0.9


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kib(pid):
    """VmRSS and VmHWM of `pid`, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def wrk(url, duration):
    body = urllib.parse.urlencode({"grant_type": "client_credentials"})
    auth = "Basic " + base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
    env = {**os.environ, "WRK_BODY": body, "WRK_AUTH": auth}
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{ARGS.connections}", f"-d{duration}s", "--timeout", "5s",
            "-s", WRK_SCRIPT, url]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    run = json.loads(out.strip().splitlines()[-1])
    if run["non_2xx"] or run["socket_errors"]:
        sys.exit(f"{run['non_2xx']} non-2xx responses, {run['socket_errors']} socket errors")
    run["rps"] = run["requests"] / (run["duration_us"] / 1e6)
    return run


def measured(url, issued):
    """A warm-up and ARGS.runs runs; the median req/s and every run's figures. Adds the tokens issued."""
    runs = [wrk(url, ARGS.warmup)]
    runs += [wrk(url, ARGS.duration) for _ in range(ARGS.runs)]
    issued[0] += sum(r["requests"] for r in runs)
    timed = runs[1:]
    return {"median_rps": sorted(r["rps"] for r in timed)[len(timed) // 2],
            "runs": [{k: r[k] for k in ("rps", "p50_us", "p99_us")} for r in timed]}


def main():
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing (wrk: apt-get install wrk)")
    config = os.path.join(ARGS.out, "memory-config.toml")
    with open(config, "w") as f:
        f.write(f'[[clients]]\nclient_id = "{CLIENT[0]}"\nclient_secret = "{CLIENT[1]}"\nscopes = ["bench"]\n'
                f'grant_types = ["client_credentials"]\naccess_token_format = "opaque"\n'
                f'access_token_ttl_secs = {ARGS.ttl}\n')
    port = free_port()
    argv = ["taskset", "-c", SERVER_CPU, ARGS.tessera, "serve", "--addr", f"127.0.0.1:{port}", "--config", config]
    if ARGS.max_items:
        argv += ["--max-items", str(ARGS.max_items)]
    log = open(os.path.join(ARGS.out, "memory-tessera.log"), "w")
    server = subprocess.Popen(argv, stdout=log, stderr=log, env={**os.environ, "RUST_LOG": "warn"})
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None:
                sys.exit(f"tessera exited with {server.returncode}")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/oauth2/token"
        issued = [0]
        rss_start, _ = memory_kib(server.pid)
        before = measured(url, issued)
        while issued[0] < ARGS.tokens:
            issued[0] += wrk(url, ARGS.duration)["requests"]
        rss_filled, peak_filled = memory_kib(server.pid)
        issued_filled = issued[0]
        after = measured(url, issued)
        rss_end, peak_end = memory_kib(server.pid)
    finally:
        server.terminate()
        server.wait()

    raw = {"ttl_secs": ARGS.ttl, "max_items": ARGS.max_items, "issued_before_after_runs": issued_filled,
           "issued_total": issued[0], "rss_kib": {"start": rss_start, "filled": rss_filled, "end": rss_end},
           "peak_kib": {"filled": peak_filled, "end": peak_end}, "before": before, "after": after}
    with open(os.path.join(ARGS.out, "memory-raw.json"), "a") as f:
        f.write(json.dumps(raw) + "\n")
    mib = lambda kib: f"{kib / 1024:,.0f} MiB"
    share = after["median_rps"] / before["median_rps"]
    bound = f"--max-items {ARGS.max_items:,}" if ARGS.max_items else "default --max-items"
    print(f"TTL {ARGS.ttl} s, {bound}: RSS {mib(rss_start)} at start, {mib(rss_filled)} after {issued_filled:,} "
          f"tokens (peak {mib(peak_filled)}), {mib(rss_end)} after {issued[0]:,}; token req/s "
          f"{before['median_rps']:,.0f} fresh, {after['median_rps']:,.0f} after ({share:.0%})", file=sys.stderr)
    row = {
        "label": f"memory: token endpoint after {issued_filled / 1e6:.1f} M opaque tokens (TTL {ARGS.ttl} s, {bound}; "
                 f"c={ARGS.connections}, medians of {ARGS.runs} runs of {ARGS.duration} s, wrk on CPU {LOAD_CPU}, "
                 f"server on CPU {SERVER_CPU})",
        "value": f"RSS {mib(rss_start)} at start, {mib(rss_filled)} after them (peak {mib(peak_filled)}), "
                 f"{mib(rss_end)} after {issued[0] / 1e6:.1f} M; {before['median_rps']:,.0f} req/s fresh, "
                 f"{after['median_rps']:,.0f} req/s after ({share:.0%})",
        "goal": f"after >= {GOAL_SHARE:.0%} of fresh",
        "verdict": "meets" if share >= GOAL_SHARE else "misses",
    }
    with open(os.path.join(ARGS.out, "memory.json"), "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tessera", required=True, help="the tessera CLI binary (release build)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokens", type=int, default=2_000_000, help="tokens to issue before the second runs")
    parser.add_argument("--ttl", type=int, default=5, help="the client's access_token_ttl_secs")
    parser.add_argument("--max-items", type=int, default=None, help="tessera serve --max-items (default: its own)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    ARGS = parser.parse_args()
    os.makedirs(ARGS.out, exist_ok=True)
    main()
