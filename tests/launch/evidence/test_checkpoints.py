"""Signed checkpoints: what a hash chain alone cannot find, by someone who can write the ledger
database and has read this code. Deleting the newest row, rewriting a row and recomputing every
later hash, a forged checkpoint and a missing key are each found and named; the CLI says why it
cannot run in one line (exit 2) and stores its result for the board."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from include.devservices.ports import free_port
from include.launch.evidence.checkpoint import FOLDER, name_of, new_key, sign
from include.launch.evidence.ledger import Ledger, row_hash
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.evidence.verification import last_result, main
from include.launch.plan import load_plan
from include.launch.plan.loader import _resolve
from include.launch.spec.phase import build_phase_spec

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def signed(ledger_db: str, evidence_base: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A ledger whose engine rows are signed: the key lives in an Airflow connection, not the database."""
    seed, public, ident = new_key()
    monkeypatch.setenv("AIRFLOW_CONN_LAUNCH_SIGNING_KEY", json.dumps({"conn_type": "generic", "password": seed}))
    run = PhaseRun(spec=build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", _resolve("accubooks")),
                   run_id="run_checkpoints", task_id="check")
    for n in range(5):
        run.record("check_result", "successful", {"n": n})
    return {"ledger": ledger_db, "evidence": evidence_base, "public": public, "key_id": ident}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str) -> Result:
    """``python -m include.launch.ledger ARGS`` in this process (output captured): the subprocess
    costs an Airflow import per call; the offline bundle check below keeps its own process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def verify(*extra: str) -> Result:
    return cli("verify", *extra)


def sql(url: str, statement: str, values: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, values)


def recompute_chain_from(url: str, seq: int) -> None:
    """What an admin who has read ledger.py does after editing a row: every later hash recomputed."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT seq, recorded_at, launch_id, phase_id, run_id, task_id, event, outcome, actor, "
                            "body, prev_hash FROM launch_ledger WHERE seq >= %s ORDER BY seq", (seq,)).fetchall()
        before = conn.execute("SELECT row_hash FROM launch_ledger WHERE seq = %s", (seq - 1,)).fetchone()
        assert before is not None
        previous = before[0]
        for number, recorded_at, *columns, body, _ in rows:
            digest = row_hash(number, recorded_at, columns, body, previous)
            conn.execute("UPDATE launch_ledger SET prev_hash = %s, row_hash = %s WHERE seq = %s",
                         (previous, digest, number))
            previous = digest


def test_a_signed_ledger_verifies_and_the_result_is_stored(signed: dict[str, Any]) -> None:
    result = verify()
    assert result.returncode == 0, result.stderr
    assert f"OK: 5 row(s), chain, evidence hashes and signed checkpoints verified (key {signed['key_id']})" \
        in result.stdout
    assert len(list((signed["evidence"] / FOLDER).glob("seq_*.json"))) == 5
    stored = json.loads((signed["evidence"] / "ledger_verification.json").read_text())
    assert stored["ok"] is True and stored["rows"] == 5 and stored["key_id"] == signed["key_id"]
    # An auditor without the private key checks with the published public key.
    assert verify("--public-key", signed["public"], "--signing-key", "nowhere").returncode == 0


def test_deleting_the_newest_row_is_found(signed: dict[str, Any]) -> None:
    sql(signed["ledger"], "DELETE FROM launch_ledger WHERE seq = 5")
    assert Ledger(signed["ledger"]).verify() == []  # the chain alone cannot see it
    result = verify()
    assert result.returncode == 1
    assert "first: row seq=5: missing, but a checkpoint signed at" in result.stderr
    assert "(rows deleted)" in result.stderr
    assert json.loads((signed["evidence"] / "ledger_verification.json").read_text())["ok"] is False


def test_a_row_rewritten_with_every_later_hash_recomputed_is_found(signed: dict[str, Any]) -> None:
    sql(signed["ledger"], "UPDATE launch_ledger SET outcome = 'failed' WHERE seq = 3")
    recompute_chain_from(signed["ledger"], 3)
    assert Ledger(signed["ledger"]).verify() == []  # a consistent chain again
    result = verify()
    assert result.returncode == 1
    assert "first: row seq=3 (check_result): rewritten: its hash differs from the one signed at" in result.stderr


def test_a_forged_checkpoint_is_found(signed: dict[str, Any]) -> None:
    """A new row with a checkpoint signed by another key (the forger does not hold ours)."""
    run = PhaseRun(spec=build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", _resolve("accubooks")),
                   run_id="run_forger", task_id="x")
    run.checkpoints._missing = "not signing here"  # the forger appends without our key ...
    row = run.record("approval_given", "successful", {"comment": "approved, honest"})
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged = sign(Ed25519PrivateKey.generate(), row.seq, row.row_hash)  # ... and signs with their own
    EvidenceStore(str(signed["evidence"]), FOLDER).write_json(name_of(row.seq), forged.__dict__)
    result = verify()
    assert result.returncode == 1
    assert f"checkpoint seq={row.seq}: its signature does not verify with key {signed['key_id']}" in result.stderr
    assert f"rows seq={row.seq}..{row.seq}: after the newest signed checkpoint (seq 5)" in result.stderr


def test_an_edited_checkpoint_is_found(signed: dict[str, Any]) -> None:
    path = signed["evidence"] / FOLDER / name_of(2)
    document = json.loads(path.read_text())
    document["row_hash"] = "0" * 64
    path.write_text(json.dumps(document))
    result = verify()
    assert result.returncode == 1 and "checkpoint seq=2: its signature does not verify" in result.stderr


def test_a_replaced_evidence_file_is_named(signed: dict[str, Any]) -> None:
    run = PhaseRun(spec=build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", _resolve("accubooks")),
                   run_id="run_files", task_id="x")
    ref = run.evidence.write_text("report.md", "# all good\n")
    run.record("phase_completed", "successful", {}, [ref])
    run.evidence.write_text("report.md", "# all good, trust me\n", replace=True)
    result = verify()
    assert result.returncode == 1 and f"evidence file altered: {ref.path}" in result.stderr


def test_verify_says_why_it_cannot_run_in_one_line(ledger_db: str, evidence_base: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_LAUNCH_DB")
    missing = verify()
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("ledger: cannot run:") and "launch_db" in missing.stderr
    unreachable = verify("--dsn", "host=127.0.0.1 port=1 dbname=nowhere connect_timeout=1")
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr
    assert unreachable.stderr.startswith("ledger: cannot read the ledger:")
    assert len(unreachable.stderr.strip().splitlines()) == 1


# --- the evidence bundle -------------------------------------------------------------------------

def launch_story(signed: dict[str, Any]) -> None:
    """A phase with an approval, an incident and a rollback, each with its evidence."""
    run = PhaseRun(spec=build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", _resolve("accubooks")),
                   run_id="run_story", task_id="story", triggering_user="operator")
    report = run.evidence.write_text("rollback_report.md", "# Rolled back: error rate 4 %\n")
    run.record("phase_started", "", {})
    run.record("approval_given", "successful", {"comment": "Reviewed the pre-checks and the rollback plan."},
               actor="exec_approver")
    run.record("incident_opened", "P0", {"incident_id": "INC-1", "title": "error rate 4 %"})
    run.record("rollback_completed", "successful", {"reason": "error_rate_percent > 1 for 5 min"}, [report])
    run.record("phase_failed", "failed", {"reason": "rolled back"})


def export_bundle(out: Path, *extra: str) -> Result:
    return cli("export", "--launch", "accubooks", *extra, str(out))


def test_a_bundle_is_verified_with_no_database_and_no_airflow(signed: dict[str, Any], tmp_path: Path,
                                                              pg_server: Any) -> None:
    launch_story(signed)
    out = tmp_path / "accubooks_bundle.tar.gz"
    made = export_bundle(out)
    assert made.returncode == 0, made.stderr
    assert f"bundle: {out}: 10 row(s) of launch accubooks, 1 evidence file(s), key {signed['key_id']}" in made.stdout
    # The auditor's machine: no ledger connection, no database answering, no Airflow home.
    offline = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "AIRFLOW_HOME": str(tmp_path / "no_airflow"),
               "HOME": str(tmp_path)}
    checked = subprocess.run([sys.executable, "-c", "import sys; "
                              "from include.launch.evidence.verification import main; rc = main(sys.argv[1:]); "
                              "assert 'airflow' not in sys.modules, 'airflow imported'; "
                              "sys.exit(rc)", "verify", "--bundle", str(out), "--public-key", signed["public"]],
                             capture_output=True, text=True, cwd=tmp_path, env=offline, check=False)
    assert checked.returncode == 0, checked.stderr
    text = checked.stdout
    assert "bundle: OK:" in text and f"signed with key {signed['key_id']}" in text
    assert "rollback_completed successful by operator: error_rate_percent > 1 for 5 min" in text
    assert "approval_given successful by exec_approver: Reviewed the pre-checks and the rollback plan." in text
    assert "incident_opened P0 by operator: error rate 4 %" in text


@pytest.mark.parametrize("edit", ["evidence", "row", "checkpoint", "manifest"])
def test_an_edited_bundle_is_found_naming_the_file_or_row(signed: dict[str, Any], tmp_path: Path, edit: str) -> None:
    import tarfile

    launch_story(signed)
    out = tmp_path / "bundle.tar.gz"
    assert export_bundle(out).returncode == 0
    with tarfile.open(out, "r:gz") as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]
    manifest = json.loads(files["manifest.json"])
    evidence_name = next(iter(manifest["evidence"].values()))
    if edit == "evidence":  # the file and its manifest hash both replaced: the row's own hash still differs
        files[evidence_name] = b"# all fine\n"
        manifest["files"][evidence_name] = __import__("hashlib").sha256(files[evidence_name]).hexdigest()
        expected = f"evidence file altered: {evidence_name}"
    elif edit == "row":
        lines = files["ledger/rows.jsonl"].decode().splitlines()
        row = json.loads(lines[5])
        row["actor"] = "mallory"
        lines[5] = json.dumps(row, sort_keys=True)
        files["ledger/rows.jsonl"] = ("\n".join(lines) + "\n").encode()
        manifest["files"]["ledger/rows.jsonl"] = __import__("hashlib").sha256(files["ledger/rows.jsonl"]).hexdigest()
        expected = f"row seq={row['seq']} ({row['event']}): contents altered"
    elif edit == "checkpoint":
        name = sorted(n for n in files if n.startswith("checkpoints/"))[-1]
        document = json.loads(files[name])
        document["row_hash"] = "f" * 64
        files[name] = json.dumps(document).encode()
        manifest["files"][name] = __import__("hashlib").sha256(files[name]).hexdigest()
        expected = f"checkpoint seq={document['seq']}: its signature does not verify"
    else:
        files["extra.txt"] = b"planted"
        expected = "extra.txt: in the bundle, not in its manifest"
    files["manifest.json"] = json.dumps(manifest).encode()
    edited = tmp_path / "edited.tar.gz"
    with tarfile.open(edited, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, __import__("io").BytesIO(data))
    result = verify("--bundle", str(edited), "--public-key", signed["public"])
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


def test_the_plan_names_the_signing_key_connection(ledger_db: str, evidence_base: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``connections.signing_key`` is read: rows are signed with the key the plan names, not the default."""
    from include.launch.evidence.checkpoint import public_key_from, read_all

    ours, ours_public, ours_id = new_key()
    default, _, _ = new_key()
    monkeypatch.setenv("AIRFLOW_CONN_OTHER_SIGNING_KEY", json.dumps({"conn_type": "generic", "password": ours}))
    monkeypatch.setenv("AIRFLOW_CONN_LAUNCH_SIGNING_KEY", json.dumps({"conn_type": "generic", "password": default}))
    plan = load_plan("accubooks")
    plan = plan.model_copy(update={"connections": plan.connections.model_copy(update={"signing_key":
                                                                                      "other_signing_key"})})
    spec = build_phase_spec(plan, "phase1_pool_scaling", _resolve("accubooks"))
    run = PhaseRun(spec=spec, run_id="run_other_key", task_id="check")
    run.record("check_result", "successful", {})
    (checkpoint,), _ = read_all(str(evidence_base))
    assert checkpoint.key_id == ours_id and checkpoint.verifies(public_key_from(ours_public))


def _hourly_verification(airflow_db: Path) -> Any:
    """The shipped ``accubooks_ledger_verification`` DAG, parsed now (the test's connections are set)."""
    from include.launch.dags import ledger_verification_dag

    return ledger_verification_dag("accubooks")


def test_the_hourly_dag_verifies_a_signed_ledger_and_stores_the_result(signed: dict[str, Any], slack: Any,
                                                                      airflow_db: Path) -> None:
    dag = _hourly_verification(airflow_db)
    assert dag.dag_id == "accubooks_ledger_verification" and dag.schedule == "@hourly"
    run = dag.test()
    assert run.state == "success"
    stored = last_result(str(signed["evidence"]))
    assert stored is not None and stored["ok"] and stored["rows"] == 5 and stored["key_id"] == signed["key_id"]
    assert not [text for text in slack.texts() if "P0" in text]


def test_the_hourly_dag_fails_loudly_naming_the_deleted_row(signed: dict[str, Any], slack: Any,
                                                           airflow_db: Path) -> None:
    sql(signed["ledger"], "DELETE FROM launch_ledger WHERE seq = (SELECT max(seq) FROM launch_ledger)")
    run = _hourly_verification(airflow_db).test()
    assert run.state == "failed"
    stored = last_result(str(signed["evidence"]))
    assert stored is not None and not stored["ok"] and any("seq=5" in p for p in stored["problems"]), stored
    (alarm,) = [text for text in slack.texts() if "ledger verification failed" in text]
    assert "[P0]" in alarm and "BROKEN" in alarm and "seq=5" in alarm, alarm


@pytest.mark.parametrize("break_it", ["no_signing_key", "ledger_unreachable"])
def test_the_hourly_dag_fails_loudly_when_it_cannot_verify(signed: dict[str, Any], slack: Any, airflow_db: Path,
                                                           monkeypatch: pytest.MonkeyPatch, break_it: str) -> None:
    if break_it == "no_signing_key":
        monkeypatch.delenv("AIRFLOW_CONN_LAUNCH_SIGNING_KEY")
        named = "no signing key: Airflow connection 'launch_signing_key' is not defined"
    else:
        monkeypatch.setenv("AIRFLOW_CONN_LAUNCH_DB", json.dumps({
            "conn_type": "postgres", "host": "127.0.0.1", "port": free_port(), "schema": "ledger", "login": "x"}))
        named = "cannot read the ledger"
    run = _hourly_verification(airflow_db).test()
    assert run.state == "failed"
    alarms = [text for text in slack.texts() if "ledger verification failed" in text]
    assert alarms and "[P0]" in alarms[0] and named in alarms[0], slack.texts()
