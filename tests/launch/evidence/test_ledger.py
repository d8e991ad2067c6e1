"""The audit ledger: concurrent appends keep one chain; every kind of tampering is found and named."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from include.launch.core.errors import LedgerError
from include.launch.evidence.ledger import GENESIS, Event, Ledger
from include.launch.evidence.store import EvidenceStore

ROOT = Path(__file__).resolve().parents[3]


def _fill(ledger: Ledger, count: int, store: EvidenceStore | None = None) -> None:
    for index in range(count):
        refs = [store.write_text(f"file_{index}.txt", f"evidence {index}")] if store else []
        ledger.append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", event="check_result",
                            outcome="successful", payload={"index": index}, evidence=refs))


def test_parallel_appends_leave_one_unbroken_chain(ledger_db: str) -> None:
    ledger = Ledger(ledger_db)

    def worker(thread: int) -> None:
        for index in range(50):
            ledger.append(Event(launch_id="accubooks", event="check_result", task_id=f"t{thread}",
                                payload={"thread": thread, "index": index}))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = ledger.rows()
    assert len(rows) == 400
    assert [row.seq for row in rows] == list(range(1, 401))
    assert rows[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.row_hash for earlier, later in itertools.pairwise(rows))
    assert ledger.verify() == []


def test_payload_secrets_are_masked_before_hashing(ledger_db: str) -> None:
    ledger = Ledger(ledger_db)
    row = ledger.append(Event(launch_id="l", event="change_applied",
                              payload={"admin_token": "s3cr3t", "url": "postgresql://app:hunter2@db/x"}))
    assert "s3cr3t" not in row.body and "hunter2" not in row.body
    assert ledger.verify() == []


def _tamper(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)


@pytest.mark.parametrize(("sql", "expected"), [
    ("UPDATE launch_ledger SET outcome = 'failed' WHERE seq = 3", "row seq=3 (check_result): contents altered"),
    ("UPDATE launch_ledger SET body = replace(body, '\"index\":4', '\"index\":40') WHERE seq = 5",
     "row seq=5 (check_result): contents altered"),
    ("DELETE FROM launch_ledger WHERE seq = 4", "row seq=5 (check_result): expected seq 4"),
    ("UPDATE launch_ledger SET seq = -1 WHERE seq = 3; UPDATE launch_ledger SET seq = 3 WHERE seq = 4;"
     " UPDATE launch_ledger SET seq = 4 WHERE seq = -1", "row seq=3 (check_result): prev_hash does not match"),
], ids=["edit-column", "edit-payload", "delete-row", "swap-rows"])
def test_tampering_is_detected_and_named(ledger_db: str, evidence_base: Path, sql: str, expected: str) -> None:
    ledger = Ledger(ledger_db)
    _fill(ledger, 6, EvidenceStore("unused", "phase1_pool_scaling"))
    assert ledger.verify() == []
    _tamper(ledger_db, sql)
    problems = ledger.verify()
    assert problems, "tampering went unnoticed"
    assert problems[0].startswith(expected), problems


@pytest.mark.parametrize("change", ["edit", "delete"])
def test_altered_or_missing_evidence_file_is_named(ledger_db: str, evidence_base: Path, change: str) -> None:
    ledger = Ledger(ledger_db)
    _fill(ledger, 3, EvidenceStore("unused", "phase1_pool_scaling"))
    target = evidence_base / "phase1_pool_scaling" / "file_1.txt"
    if change == "edit":
        target.write_text("evidence 1, quietly improved")
    else:
        target.unlink()
    problems = ledger.verify()
    word = "altered" if change == "edit" else "missing"
    assert problems == [f"row seq=2 (check_result): evidence file {word}: {target.as_uri()}"]
    assert ledger.verify(check_files=False) == []


def test_cli_verify_exit_codes(ledger_db: str, evidence_base: Path) -> None:
    ledger = Ledger(ledger_db)
    _fill(ledger, 3)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "include.launch.ledger", "verify"], capture_output=True,
                              text=True, cwd=ROOT, check=False)

    unsigned = run()  # rows appended without the engine's signing key: nothing vouches for them
    assert unsigned.returncode == 1
    assert "no signing key: Airflow connection 'launch_signing_key' is not defined" in unsigned.stderr
    _tamper(ledger_db, "UPDATE launch_ledger SET actor = 'mallory' WHERE seq = 2")
    broken = run()
    assert broken.returncode == 1
    assert "first: row seq=2 (check_result): contents altered" in broken.stderr


def test_unreachable_ledger_fails_loudly_after_retries() -> None:
    ledger = Ledger("host=127.0.0.1 port=1 dbname=nowhere connect_timeout=1", attempts=2, backoff_seconds=0.01)
    with pytest.raises(LedgerError, match="ledger unavailable after 2 attempts; event 'rollback' not recorded"):
        ledger.append(Event(launch_id="accubooks", event="rollback"))
