"""Faults that arrive mid-launch, as in life: an action fired when the ledger shows an event."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable

from include.launch.evidence.ledger import Ledger


class WhenLedgerShows:
    """Runs ``action`` once the ledger shows ``event`` (a fault arriving mid-launch, as in life)."""

    def __init__(self, ledger_db: str, event: str, action: Callable[[], None], task_prefix: str = "") -> None:
        self.ledger, self.event, self.action, self.task_prefix = Ledger(ledger_db), event, action, task_prefix
        self.fired = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        seen = {row.seq for row in self.ledger.rows(event=self.event)}  # only events from now on count
        while not self._stop.is_set():
            if any(r.task_id.startswith(self.task_prefix) and r.seq not in seen
                   for r in self.ledger.rows(event=self.event)):
                self.action()
                self.fired.set()
                return
            time.sleep(0.2)

    def __enter__(self) -> WhenLedgerShows:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def kill_task_process(ti_id: str) -> int:
    """SIGKILL the process running task instance ``ti_id`` (Airflow names it ``airflow worker --
    <ti id>``; its LocalExecutor parent, which reports the death, is left alone). Returns how many."""
    import psutil

    killed = 0
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info.get("cmdline") or [])
        if ti_id in command and "LocalExecutor" not in command:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
                killed += 1
    return killed
