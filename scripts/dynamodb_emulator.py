#!/usr/bin/env python3
"""moto's DynamoDB server, handling one request at a time.

moto_server serves requests on threads, and moto's TransactWriteItems is not thread-safe: concurrent
transactions fail inside moto with "dictionary changed size during iteration" (HTTP 500). DynamoDB itself
serializes writes to an item, so a server that answers requests one by one is the faithful model for the
concurrency tests (e.g. 50 parallel refreshes of one token); the clients still race between their read and
their transaction, exactly as they would against DynamoDB.

usage: dynamodb_emulator.py HOST PORT
"""
import os
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
