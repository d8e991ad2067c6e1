"""Run one replica: ``python -m include.demo_worker --port 8101 --env-file worker.env``.

The admin token is read from ``WORKER_ADMIN_TOKEN`` and the job store from ``DATABASE_URL``
(environment only: never an argument a process list would show)."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from include.demo_worker.service import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--env-file", type=Path)
    args = parser.parse_args()
    server = serve(args.port, args.env_file, os.environ.get("WORKER_ADMIN_TOKEN", ""),
                   os.environ.get("DATABASE_URL", ""))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
