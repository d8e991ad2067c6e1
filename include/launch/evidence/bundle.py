"""An evidence bundle an auditor can verify offline (issue 21): one ``.tar.gz`` with the ledger's
rows (the whole chain, so it can be recomputed), the evidence files the launch's rows reference,
the signed checkpoints, the public key and a manifest of every member's SHA-256.

    python -m include.launch.ledger export --launch accubooks [--phase phase1_pool_scaling] OUT.tar.gz
    python -m include.launch.ledger verify --bundle OUT.tar.gz [--public-key B64]

Verifying a bundle needs neither the database nor Airflow: it reads the archive only, checks the
manifest, the chain, each evidence file against the hash its row recorded, and the checkpoints
against the key (pin it with ``--public-key``: a bundle's own key proves only that it is
self-consistent), then prints what happened: phases and outcomes, approvals with who, when and
comment, overrides, rollbacks and their reasons, incidents.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.launch.evidence.checkpoint import Checkpoint, checkpoint_problems, key_id, public_bytes, public_key_from
from include.launch.evidence.ledger import Row, chain_problems

FORMAT = 1
ROWS = "ledger/rows.jsonl"
MANIFEST = "manifest.json"


def _row_dict(row: Row) -> dict[str, Any]:
    return {**asdict(row), "recorded_at": row.recorded_at.astimezone(UTC).isoformat()}


def _row_of(data: dict[str, Any]) -> Row:
    return Row(**{**data, "recorded_at": datetime.fromisoformat(data["recorded_at"])})


def _member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    archive.addfile(info, io.BytesIO(data))


def export(rows: list[Row], checkpoints: list[Checkpoint], read: Any, base_url: str, public_key: Any,
           launch_id: str, phase_id: str | None, out: Path) -> dict[str, Any]:
    """Write the bundle; ``read(url) -> bytes`` reads an evidence file. Returns the manifest."""
    chosen = [r for r in rows if r.launch_id == launch_id and (phase_id is None or r.phase_id == phase_id)]
    members: dict[str, bytes] = {ROWS: "".join(json.dumps(_row_dict(r), sort_keys=True) + "\n"
                                               for r in rows).encode()}
    evidence: dict[str, str] = {}
    for row in chosen:
        for ref in row.evidence:
            url = str(ref["path"])
            relative = url.removeprefix(base_url).lstrip("/") or url.rsplit("/", 1)[-1]
            name = f"evidence/{relative}"
            if url not in evidence:
                members[name] = read(url)
                evidence[url] = name
    for checkpoint in checkpoints:
        members[f"checkpoints/seq_{checkpoint.seq:010d}.json"] = json.dumps(asdict(checkpoint), sort_keys=True).encode()
    manifest = {"format": FORMAT, "launch": launch_id, "phase": phase_id, "created_at": datetime.now(UTC).isoformat(),
                "rows": len(rows), "launch_rows": [r.seq for r in chosen],
                "public_key": base64.b64encode(public_bytes(public_key)).decode(), "key_id": key_id(public_key),
                "evidence": evidence,
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as archive:
        _member(archive, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        for name, data in sorted(members.items()):
            _member(archive, name, data)
    return manifest


def verify_bundle(path: Path, pinned_key: str | None = None) -> tuple[list[str], list[str]]:
    """(every problem, the human summary) of a bundle, from the archive alone."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            files = {m.name: archive.extractfile(m).read() for m in archive.getmembers()  # type: ignore[union-attr]
                     if m.isfile()}
    except (OSError, tarfile.TarError, EOFError) as exc:
        return [f"bundle {path}: not a readable evidence bundle ({exc})"], []
    if MANIFEST not in files:
        return [f"bundle {path}: no {MANIFEST}"], []
    manifest = json.loads(files.pop(MANIFEST))
    problems = []
    for name, digest in sorted(manifest["files"].items()):
        if name not in files:
            problems.append(f"{name}: listed in the manifest, missing from the bundle")
        elif hashlib.sha256(files[name]).hexdigest() != digest:
            problems.append(f"{name}: altered (its SHA-256 differs from the manifest's)")
    problems += [f"{name}: in the bundle, not in its manifest" for name in sorted(set(files) - set(manifest["files"]))]
    rows = [_row_of(json.loads(line)) for line in files.get(ROWS, b"").decode().splitlines() if line.strip()]
    problems += chain_problems(rows)
    by_seq = {r.seq: r for r in rows}
    chosen = [by_seq[s] for s in manifest["launch_rows"] if s in by_seq]
    for row in chosen:
        for ref in row.evidence:
            name = manifest["evidence"].get(ref["path"])
            if name is None or name not in files:
                problems.append(f"row seq={row.seq} ({row.event}): evidence file not in the bundle: {ref['path']}")
            elif hashlib.sha256(files[name]).hexdigest() != ref["sha256"]:
                problems.append(f"row seq={row.seq} ({row.event}): evidence file altered: {name}")
    key = public_key_from(pinned_key or manifest["public_key"])
    if pinned_key and key_id(key) != manifest["key_id"]:
        problems.append(f"the bundle says key {manifest['key_id']}, the pinned key is {key_id(key)}")
    checkpoints = sorted((Checkpoint.from_dict(json.loads(data)) for name, data in files.items()
                          if name.startswith("checkpoints/")), key=lambda c: c.seq)
    problems += checkpoint_problems(rows, checkpoints, key)
    return problems, summary(manifest, chosen, key_id(key))


def summary(manifest: dict[str, Any], rows: list[Row], key: str) -> list[str]:
    """What an auditor reads first: phases, approvals, overrides, rollbacks, incidents."""
    def when(row: Row) -> str:
        return f"{row.recorded_at:%Y-%m-%d %H:%M} UTC"

    lines = [f"Launch {manifest['launch']}" + (f", phase {manifest['phase']}" if manifest["phase"] else "")
             + f": {len(rows)} ledger row(s) of {manifest['rows']}, signed with key {key}", "", "Phases:"]
    outcomes: dict[str, str] = {}
    for row in rows:
        if row.event in ("phase_started", "phase_completed", "phase_failed", "rollback_completed", "rollback_failed"):
            outcomes[row.phase_id] = f"{row.event.removeprefix('phase_')} {row.outcome} ({when(row)})".strip()
    lines += [f"- {phase}: {outcome}" for phase, outcome in outcomes.items()] or ["- none"]
    sections = [("Approvals", ("approval_given", "approval_rejected", "rollout_decided")),
                ("Overrides", ("freeze_override_granted", "check_overridden")),
                ("Rollbacks", ("rollback_completed", "rollback_failed", "manual_rollback_completed")),
                ("Incidents", ("incident_opened", "incident_acknowledged", "incident_mitigated", "incident_resolved")),
                ("Beta pauses", ("beta_paused", "beta_resumed"))]
    for title, events in sections:
        found = [r for r in rows if r.event in events]
        lines += ["", f"{title}:"]
        lines += [f"- {when(r)} {r.phase_id} {r.event} {r.outcome} by {r.actor or 'the pipeline'}"
                  + (f": {_words(r)}" if _words(r) else "") for r in found] or ["- none"]
    return lines


def _words(row: Row) -> str:
    payload = row.payload
    for key in ("comment", "reason", "note", "title", "justification", "summary"):
        if payload.get(key):
            return str(payload[key])[:200]
    return ""
