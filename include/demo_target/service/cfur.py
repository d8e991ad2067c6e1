"""Crash-free users (CFUR) over a sliding window: a user 'crashed' when a request of theirs got a 5xx.

Users are the token's subject, else the client address. /metrics exports the active and crashed
user counts of this replica, so a scraper can add replicas up and compute CFUR over all of them.
"""

from __future__ import annotations

import threading
import time


class CrashFreeUsers:
    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._seen: dict[str, float] = {}
        self._crashed: dict[str, float] = {}
        self._lock = threading.Lock()

    def observe(self, user: str, crashed: bool) -> None:
        now = time.monotonic()
        with self._lock:
            self._seen[user] = now
            if crashed:
                self._crashed[user] = now

    def counts(self) -> tuple[int, int]:
        """(active users, crashed users) within the window; old entries are dropped."""
        horizon = time.monotonic() - self.window
        with self._lock:
            for table in (self._seen, self._crashed):
                for user in [u for u, t in table.items() if t < horizon]:
                    del table[user]
            return len(self._seen), len(self._crashed)

    def percent(self) -> float:
        active, crashed = self.counts()
        return 100.0 if active == 0 else (active - crashed) / active * 100
