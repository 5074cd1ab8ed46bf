#!/usr/bin/env python3
"""Cold start of a Lambda function binary against a minimal local Lambda Runtime API.

The stub serves one `GET /2018-06-01/runtime/invocation/next` with an event file and waits for the
`POST /2018-06-01/runtime/invocation/<id>/response` (or `/error`). Each run execs the binary afresh, so every run
is a cold start: process start, init (configuration, keys, SDK client), then the first invocation, which
includes the first DynamoDB request (a new connection to the emulator). Prints one JSON line per binary:
median and p90 of exec -> first `next` (init) and of exec -> response (total), over --runs runs.

Usage: bench_coldstart.py --binary PATH --event FILE [--runs 20] [--strace FILE]
With --strace, one more run under `strace -f -e trace=%file` lists every file the cold start touches.
The function's environment (TABLE_NAME, AWS_ENDPOINT_URL_DYNAMODB, SIGNING_KEYS_JSON, ...) is inherited.
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import threading
import time

RUNTIME_PREFIX = "/2018-06-01/runtime/invocation/"


class Stub(http.server.BaseHTTPRequestHandler):
    """One invocation: hand out the event once, record when the answer arrives."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        state = self.server.state
        if self.path != RUNTIME_PREFIX + "next" or state["served"]:
            # A second `next` would block in real Lambda until the next event; the run is over by then.
            state["done"].wait(5)
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        state["served"] = True
        state["next_at"] = time.perf_counter()
        body = state["event"]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        if self.path.startswith(RUNTIME_PREFIX) and state["answered_at"] is None:
            state["answered_at"] = time.perf_counter()
            state["outcome"] = self.path.rsplit("/", 1)[-1]
            state["payload"] = payload
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        state["done"].set()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The function is killed once it has answered; its dropped connection is expected.
        pass


def one_run(binary, event, strace_file=None):
    server = Server(("127.0.0.1", 0), Stub)
    server.state = {"event": event, "served": False, "next_at": None, "answered_at": None, "outcome": None,
                    "payload": b"", "done": threading.Event()}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "RUST_LOG": "warn",
    })
    command = [binary] if strace_file is None else ["strace", "-f", "-e", "trace=%file", "-o", strace_file, binary]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = server.state["done"].wait(30)
    child.kill()
    child.wait()
    server.shutdown()
    state = server.state
    if not finished or state["next_at"] is None:
        raise SystemExit(f"{binary}: no answer within 30 s")
    if state["outcome"] != "response":
        raise SystemExit(f"{binary}: invocation failed: {state['payload'][:300]!r}")
    return (state["next_at"] - started) * 1000, (state["answered_at"] - started) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--event", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--strace", help="also run once under `strace -f -e trace=%%file`, the trace to this file")
    args = parser.parse_args()
    with open(args.event, "rb") as f:
        event = f.read()
    one_run(args.binary, event)  # page cache warm; not counted
    init, total = [], []
    for _ in range(args.runs):
        i, t = one_run(args.binary, event)
        init.append(i)
        total.append(t)
    if args.strace:
        one_run(args.binary, event, args.strace)

    def p90(values):
        return sorted(values)[max(0, int(len(values) * 0.9) - 1)]

    files = None
    if args.strace:
        with open(args.strace) as f:
            calls = [line for line in f if "(" in line and "resumed" not in line]
        files = {"file_syscalls": len(calls),
                 "paths": sorted({line.split('"')[1] for line in calls if line.count('"') >= 2})}
    print(json.dumps({
        "binary": os.path.basename(args.binary), "runs": args.runs, "files": files,
        "init_ms_median": round(statistics.median(init), 2), "init_ms_p90": round(p90(init), 2),
        "total_ms_median": round(statistics.median(total), 2), "total_ms_p90": round(p90(total), 2),
    }))


if __name__ == "__main__":
    main()
