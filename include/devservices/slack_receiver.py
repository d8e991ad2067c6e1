"""A local HTTP server that plays Slack's incoming webhook and records every message.

``mode`` makes it misbehave on purpose: ``ok`` answers 200 "ok", ``error`` answers 500, ``hang``
holds the request longer than any client timeout. Run it alone with
``python -m include.devservices.slack_receiver --port 0`` (prints its URL, appends JSON lines to
``--record FILE``).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class SlackReceiver:
    """Start with ``start()``; messages land in ``messages`` (and in ``record_file`` if given)."""

    host: str = "127.0.0.1"
    port: int = 0
    mode: str = "ok"
    hang_seconds: float = 30.0
    record_file: Path | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0

    def start(self) -> SlackReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                receiver.attempts += 1
                if receiver.mode == "hang":
                    time.sleep(receiver.hang_seconds)
                if receiver.mode in ("error", "hang"):
                    self._answer(500, b"internal_error")
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._answer(400, b"invalid_payload")
                    return
                record = {"path": self.path, "body": body, "received_at": time.time()}
                receiver.messages.append(record)
                if receiver.record_file is not None:
                    with receiver.record_file.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(record) + "\n")
                self._answer(200, b"ok")

            def _answer(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): that is the point of "hang"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access log
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/services/local"

    def connection_json(self) -> str:
        """The AIRFLOW_CONN_* value that points a slackwebhook connection here."""
        return json.dumps({"conn_type": "slackwebhook", "password": self.url})

    def texts(self) -> list[str]:
        return [str(message["body"].get("text", "")) for message in self.messages]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m include.devservices.slack_receiver")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", type=Path, default=None)
    args = parser.parse_args()
    receiver = SlackReceiver(port=args.port, record_file=args.record).start()
    print(receiver.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
