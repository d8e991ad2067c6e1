"""``python -m include.launch.ledger verify``: the chain, the evidence files and the signed
checkpoints in one pass, one clear line when it cannot run (exit 2), and the result stored beside the
evidence (``ledger_verification.json``) so the board shows the last verification instead of
re-hashing every file on each view."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from include.launch.evidence.checkpoint import (
    SigningKeyError,
    checkpoint_problems,
    key_id,
    new_key,
    public_key_from,
    read_all,
    signing_key,
)
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.store import EvidenceStore

RESULT = "ledger_verification.json"
DEFAULT_BASE = "launch/evidence"


def verify_all(ledger: Ledger, base: str, public_key: Any, check_files: bool = True) -> tuple[list[str], int]:
    """(every problem, rows checked): chain and files first, then the checkpoints."""
    problems = ledger.verify(check_files=check_files)
    rows = ledger.rows()
    checkpoints, unreadable = read_all(base)
    problems += unreadable
    if public_key is None:
        problems.append("no key to check the signed checkpoints with: the newest rows cannot be vouched for")
    else:
        problems += checkpoint_problems(rows, checkpoints, public_key)
    return problems, len(rows)


@dataclass(frozen=True)
class Verification:
    problems: list[str]
    rows: int
    key_id: str  # the key the checkpoints were checked with ("" without one)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_and_store(ledger: Ledger, base: str, signing_conn_id: str, public_key: Any = None,
                     check_files: bool = True) -> Verification:
    """Verify with ``public_key``, else the public half of the signing key connection (its absence
    is the finding, named), and store the result for the board. Raises what reading the ledger
    raises: the callers say it in their own words."""
    key_problem = ""
    if public_key is None:
        try:
            public_key = signing_key(signing_conn_id).public_key()
        except SigningKeyError as exc:
            key_problem = str(exc)
    problems, count = verify_all(ledger, base, public_key, check_files=check_files)
    if key_problem:
        problems = [p for p in problems if not p.startswith("no key to check")] + [key_problem]
    result = Verification(problems, count, key_id(public_key) if public_key is not None else "")
    store_result(base, result.problems, result.rows, result.key_id)
    return result


def cannot_run(exc: Exception) -> str | None:
    """One line for why a verification could not run (no connection, no database), else None: the
    CLI and the hourly DAG say it the same way."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    if isinstance(exc, AirflowNotFoundException):
        return f"cannot run: {exc}"
    if isinstance(exc, psycopg.Error):
        return f"cannot read the ledger: {str(exc).strip().splitlines()[0]}"
    return None


def store_result(base: str, problems: list[str], rows: int, key: str) -> None:
    EvidenceStore(base).write_json(RESULT, {"verified_at": datetime.now(UTC).isoformat(), "rows": rows,
                                            "ok": not problems, "problems": problems, "key_id": key},
                                   replace=True)


def last_result(base: str) -> dict[str, Any] | None:
    store = EvidenceStore(base)
    return json.loads(store.read_bytes(RESULT)) if store.exists(RESULT) else None


def verify_command(args: argparse.Namespace) -> int:
    from airflow.sdk.exceptions import AirflowNotFoundException

    base = args.evidence_base or os.environ.get("LAUNCH_EVIDENCE_BASE") or DEFAULT_BASE
    try:
        ledger = Ledger(args.dsn) if args.dsn else Ledger.from_connection(args.conn_id)
        public = public_key_from(args.public_key) if args.public_key else None
        result = verify_and_store(ledger, base, args.signing_key, public, check_files=not args.skip_files)
    except (AirflowNotFoundException, psycopg.Error) as exc:
        print(f"ledger: {cannot_run(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:  # an unreadable --public-key
        print(f"ledger: cannot run: --public-key: {exc}", file=sys.stderr)
        return 2
    if result.problems:
        print(f"ledger: BROKEN: {len(result.problems)} problem(s); first: {result.problems[0]}", file=sys.stderr)
        for problem in result.problems[1:]:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"ledger: OK: {result.rows} row(s), chain, evidence hashes and signed checkpoints verified "
          f"(key {result.key_id or '-'})")
    return 0


def keygen() -> int:
    seed, public, ident = new_key()
    print(f"password (the signing key connection's, keep it secret): {seed}")
    print(f"public key (publish it; auditors verify with it): {public}")
    print(f"key id: {ident}")
    return 0


def verify_bundle_command(path: str, public_key: str | None) -> int:
    """Exit 0 with the summary, 1 naming every problem (and the summary), 2 for an unreadable bundle."""
    from pathlib import Path

    from include.launch.evidence.bundle import verify_bundle

    try:
        problems, lines = verify_bundle(Path(path), public_key)
    except ValueError as exc:
        print(f"ledger: cannot run: {exc}", file=sys.stderr)
        return 2
    if not lines:
        print(f"ledger: cannot run: {problems[0]}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    if problems:
        print(f"\nbundle: BROKEN: {len(problems)} problem(s); first: {problems[0]}", file=sys.stderr)
        for problem in problems[1:]:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"\nbundle: OK: {path}: manifest, chain, evidence files and signed checkpoints verified")
    return 0


def export_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from airflow.sdk.exceptions import AirflowNotFoundException

    from include.launch.evidence.bundle import export
    from include.launch.evidence.store import read_url, resolve_base

    base = args.evidence_base or os.environ.get("LAUNCH_EVIDENCE_BASE") or DEFAULT_BASE
    try:
        ledger = Ledger.from_connection(args.conn_id)
        public = signing_key(args.signing_key).public_key()
        rows = ledger.rows()
        checkpoints, _ = read_all(base)
        manifest = export(rows, checkpoints, read_url, resolve_base(base), public, args.launch, args.phase,
                          Path(args.out))
    except (AirflowNotFoundException, SigningKeyError) as exc:
        print(f"ledger: cannot run: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        print(f"ledger: cannot read the ledger: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ledger: cannot write the bundle: {exc}", file=sys.stderr)
        return 2
    print(f"bundle: {args.out}: {len(manifest['launch_rows'])} row(s) of launch {args.launch}, "
          f"{len(manifest['evidence'])} evidence file(s), key {manifest['key_id']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.launch.ledger")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="re-check the chain, every evidence file and the signed checkpoints")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--conn-id", default="launch_db", help="Airflow connection id (default launch_db)")
    source.add_argument("--dsn", help="libpq conninfo or URL, instead of a connection id")
    verify.add_argument("--skip-files", action="store_true", help="check the chain only")
    verify.add_argument("--signing-key", default="launch_signing_key",
                        help="the connection of the key that signed the checkpoints (its public half is used)")
    verify.add_argument("--public-key", help="base64 public key to check the checkpoints with, instead")
    verify.add_argument("--evidence-base", help="where the checkpoints are (default $LAUNCH_EVIDENCE_BASE)")
    verify.add_argument("--bundle", help="verify an exported bundle instead, with no database and no Airflow")
    export = commands.add_parser("export", help="write one self-contained evidence bundle of a launch")
    export.add_argument("--launch", required=True)
    export.add_argument("--phase", help="only this phase's rows and files (the whole chain is kept)")
    export.add_argument("out", help="the bundle to write (.tar.gz)")
    export.add_argument("--conn-id", default="launch_db")
    export.add_argument("--signing-key", default="launch_signing_key")
    export.add_argument("--evidence-base", help="default $LAUNCH_EVIDENCE_BASE")
    commands.add_parser("keygen", help="a new signing key: the connection password and the public key")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        return keygen()
    if args.command == "export":
        return export_command(args)
    if args.bundle:
        return verify_bundle_command(args.bundle, args.public_key)
    return verify_command(args)
