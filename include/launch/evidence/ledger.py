"""Append-only, hash-chained audit ledger in PostgreSQL.

Each row stores the SHA-256 of the row before it and of every evidence file it references, so
any edit, deletion, reordering or change to a referenced file is found by ``verify``. Appends
from parallel tasks are serialised by a transaction-scoped advisory lock: the chain never forks.

    python -m include.launch.ledger verify [--conn-id launch_db | --dsn DSN] [--skip-files] [--public-key B64]
    python -m include.launch.ledger keygen
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from include.launch.core.errors import LedgerError
from include.launch.core.redact import redact
from include.launch.evidence.store import EvidenceRef, read_url, sha256_of

GENESIS = "0" * 64
_LOCK_KEY = 0x4C41554E43480001  # "LAUNCH" + 1: one advisory lock for every append

SCHEMA = """
CREATE TABLE IF NOT EXISTS launch_ledger (
    seq          bigint PRIMARY KEY,
    recorded_at  timestamptz NOT NULL,
    launch_id    text NOT NULL,
    phase_id     text NOT NULL DEFAULT '',
    run_id       text NOT NULL DEFAULT '',
    task_id      text NOT NULL DEFAULT '',
    event        text NOT NULL,
    outcome      text NOT NULL DEFAULT '',
    actor        text NOT NULL DEFAULT '',
    body         text NOT NULL,
    prev_hash    char(64) NOT NULL,
    row_hash     char(64) NOT NULL UNIQUE,
    payload      jsonb GENERATED ALWAYS AS ((body::jsonb) -> 'payload') STORED
);
CREATE INDEX IF NOT EXISTS launch_ledger_phase ON launch_ledger (launch_id, phase_id, event);
CREATE INDEX IF NOT EXISTS launch_ledger_run ON launch_ledger (run_id);
"""


@dataclass(frozen=True)
class Event:
    """One thing that happened. ``payload`` is redacted before it is stored."""

    launch_id: str
    event: str
    phase_id: str = ""
    run_id: str = ""
    task_id: str = ""
    outcome: str = ""
    actor: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    evidence: Sequence[EvidenceRef] = ()


@dataclass(frozen=True)
class Row:
    seq: int
    recorded_at: datetime
    launch_id: str
    phase_id: str
    run_id: str
    task_id: str
    event: str
    outcome: str
    actor: str
    body: str
    prev_hash: str
    row_hash: str

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)["payload"]  # type: ignore[no-any-return]

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return json.loads(self.body)["evidence"]  # type: ignore[no-any-return]


def canonical_body(payload: dict[str, Any], evidence: Sequence[EvidenceRef]) -> str:
    document = {"payload": redact(payload), "evidence": [ref.as_dict() for ref in evidence]}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(seq: int, recorded_at: datetime, columns: Sequence[str], body: str, prev_hash: str) -> str:
    material = json.dumps(
        [seq, recorded_at.astimezone(UTC).isoformat(), *columns, body, prev_hash],
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class Ledger:
    """The ledger on one PostgreSQL database (a libpq conninfo or URL)."""

    def __init__(self, dsn: str, *, attempts: int = 4, backoff_seconds: float = 0.5) -> None:
        self.dsn = dsn
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds

    @classmethod
    def from_connection(cls, conn_id: str) -> Ledger:
        from include.launch.core.connections import postgres_conninfo

        return cls(postgres_conninfo(conn_id))

    def ensure_schema(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            try:
                conn.execute(SCHEMA)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))

    def append(self, event: Event) -> Row:
        """Append one row; retried on connection errors, else LedgerError (never silently dropped)."""
        last_error: Exception | None = None
        for attempt in range(self.attempts):
            try:
                return self._append_once(event)
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(self.backoff_seconds * (2**attempt))
        raise LedgerError(f"ledger unavailable after {self.attempts} attempts; event {event.event!r} not recorded: "
                          f"{last_error}")

    def _append_once(self, event: Event) -> Row:
        body = canonical_body(event.payload, event.evidence)
        columns = [event.launch_id, event.phase_id, event.run_id, event.task_id, event.event, event.outcome,
                   event.actor]
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            last = conn.execute("SELECT seq, row_hash FROM launch_ledger ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
            recorded_at = datetime.now(UTC)
            digest = row_hash(seq, recorded_at, columns, body, prev_hash)
            conn.execute(
                "INSERT INTO launch_ledger (seq, recorded_at, launch_id, phase_id, run_id, task_id, event, outcome,"
                " actor, body, prev_hash, row_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (seq, recorded_at, *columns, body, prev_hash, digest),
            )
        return Row(seq, recorded_at, event.launch_id, event.phase_id, event.run_id, event.task_id, event.event,
                   event.outcome, event.actor, body, prev_hash, digest)

    def rows(self, *, launch_id: str | None = None, phase_id: str | None = None,
             event: str | None = None, run_id: str | None = None) -> list[Row]:
        clauses, values = [], []
        for column, value in (("launch_id", launch_id), ("phase_id", phase_id), ("event", event),
                              ("run_id", run_id)):
            if value is not None:
                clauses.append(f"{column} = %s")
                values.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with psycopg.connect(self.dsn) as conn:
            records = conn.execute(
                "SELECT seq, recorded_at, launch_id, phase_id, run_id, task_id, event, outcome, actor, body,"
                f" prev_hash, row_hash FROM launch_ledger{where} ORDER BY seq",
                values,
            ).fetchall()
        return [Row(*record) for record in records]

    def verify(self, *, check_files: bool = True) -> list[str]:
        """Every problem found, first broken row first; an empty list means the ledger is intact."""
        return chain_problems(self._physical_order(), _file_problems if check_files else None)

    def _physical_order(self) -> Iterator[Row]:
        with psycopg.connect(self.dsn) as conn:
            cursor = conn.execute(
                "SELECT seq, recorded_at, launch_id, phase_id, run_id, task_id, event, outcome, actor, body,"
                " prev_hash, row_hash FROM launch_ledger ORDER BY seq"
            )
            for record in cursor:
                yield Row(*record)


def chain_problems(rows: Iterable[Row], files: Callable[[str, Row], list[str]] | None = None) -> list[str]:
    """The chain's problems, oldest first (``files``: each row's evidence check): the ledger's verify
    and an exported bundle's share this one reading of the chain."""
    problems: list[str] = []
    previous_hash, expected_seq = GENESIS, 1
    for row in rows:
        columns = [row.launch_id, row.phase_id, row.run_id, row.task_id, row.event, row.outcome, row.actor]
        where = f"row seq={row.seq} ({row.event})"
        if row.seq != expected_seq:
            problems.append(f"{where}: expected seq {expected_seq}; a row was removed or reordered")
        if row.prev_hash != previous_hash:
            problems.append(f"{where}: prev_hash does not match the row before it; rows removed or reordered")
        if row_hash(row.seq, row.recorded_at, columns, row.body, row.prev_hash) != row.row_hash:
            problems.append(f"{where}: contents altered (hash mismatch)")
        if files is not None:
            problems.extend(files(where, row))
        previous_hash, expected_seq = row.row_hash, row.seq + 1
    return problems


def _file_problems(where: str, row: Row) -> list[str]:
    problems = []
    try:
        references = row.evidence
    except (ValueError, KeyError):
        return [f"{where}: body is not the JSON the ledger wrote"]
    for reference in references:
        try:
            data = read_url(reference["path"])
        except (OSError, FileNotFoundError):
            problems.append(f"{where}: evidence file missing: {reference['path']}")
            continue
        if sha256_of(data) != reference["sha256"]:
            problems.append(f"{where}: evidence file altered: {reference['path']}")
    return problems
