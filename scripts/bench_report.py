#!/usr/bin/env python3
"""Prints scripts/bench's results (target/bench/*.json, one JSON object per line) as one Markdown table."""

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

# The goals of the benchmarks issue, per row; None when the row has none.
GOALS = {
    "introspect_opaque": 15_000,  # ns
    "issue_jwt": 60_000,
}
# Rows whose goal is relative to another row: at most this many times its median (the hardening issue: a hostile
# form body costs at most 3 times a normal request of the same endpoint).
RELATIVE_GOALS = {
    "issue_opaque_hostile_form": ("issue_opaque", 3),
    "issue_opaque_full_form": ("issue_opaque", 3),
}
SIZE_GOAL = 8 * 1024 * 1024
COLD_GOAL_MS = 25


def lines(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def verdict(value, goal):
    if goal is None:
        return ""
    return "meets" if value <= goal else "misses"


def main():
    out = sys.argv[1]
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    print(f"\n## Tessera benchmarks, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu or 'unknown CPU'}; "
          f"rustc {subprocess.run(['rustc', '--version'], capture_output=True, text=True).stdout.split()[1]}\n")
    print("| measurement | value | goal | |")
    print("|---|---|---|---|")
    instructions = {row["op"]: row["instructions"] for row in lines(out, "instructions.json")}
    medians = {row["op"]: row["median_ns"] for row in lines(out, "criterion.json")}
    for row in lines(out, "criterion.json"):
        op, ns = row["op"], row["median_ns"]
        goal = GOALS.get(op)
        ins = instructions.get(op)
        ins_text = f", {ins:,} instructions" if ins is not None else ""
        goal_text = f"<= {goal / 1000:.0f} µs" if goal else ""
        if op in RELATIVE_GOALS and RELATIVE_GOALS[op][0] in medians:
            base, factor = RELATIVE_GOALS[op]
            goal = factor * medians[base]
            goal_text = f"<= {factor}x {base} ({ns / medians[base]:.2f}x)"
        print(f"| handler {op} (median{', callgrind' if ins else ''}) | {ns / 1000:.2f} µs{ins_text} | "
              f"{goal_text} | {verdict(ns, goal)} |")
    for row in lines(out, "sizes.json"):
        print(f"| size {row['binary']} (stripped, {platform.machine()}) | {row['bytes'] / 1_048_576:.2f} MiB | "
              f"<= 8 MiB | {verdict(row['bytes'], SIZE_GOAL)} |")
    for row in lines(out, "coldstart.json"):
        files = row.get("files") or {}
        print(f"| cold start {row['binary']} (median of {row['runs']}; p90) | init {row['init_ms_median']} ms, "
              f"first response {row['total_ms_median']} ms; p90 {row['total_ms_p90']} ms; "
              f"{files.get('file_syscalls', '?')} file syscalls | <= {COLD_GOAL_MS} ms | "
              f"{verdict(row['total_ms_median'], COLD_GOAL_MS)} |")
    for row in lines(out, "capacity.json"):
        txn = row["items_written_in_transactions"]
        print(f"| DynamoDB {row['op']} (round trips; capacity by DynamoDB's rules, emulator's report) | "
              f"{row['reads']} read, {row['writes']} write; {row['keys_read']} keys read, "
              f"{row['items_written']} items written{f' + {txn} in a transaction' if txn else ''} "
              f"(largest {row['largest_item_bytes']} B): {row['rcu']} RCU, {row['wcu']} WCU "
              f"(moto: {row['emulator_rcu']:g} RCU, {row['emulator_wcu']:g} WCU) | | |")
    for name in ("throughput.json", "memory.json", "load_model.json"):
        for row in lines(out, name):
            print(f"| {row['label']} | {row['value']} | {row.get('goal', '')} | {row.get('verdict', '')} |")


if __name__ == "__main__":
    main()
