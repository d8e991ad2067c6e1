"""Evidence files: inside the base, written once, hashed as written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from include.launch.core.errors import EvidenceError
from include.launch.evidence.store import EvidenceStore, resolve_base


def test_written_file_is_hashed_and_under_its_folder(evidence_base: Path) -> None:
    store = EvidenceStore("ignored-because-env", "phase1_pool_scaling")
    ref = store.write_json("pre_change_config.json", {"DB_POOL_MAX": 50})
    written = evidence_base / "phase1_pool_scaling" / "pre_change_config.json"
    assert json.loads(written.read_text()) == {"DB_POOL_MAX": 50}
    assert ref.sha256 == hashlib.sha256(written.read_bytes()).hexdigest()
    assert ref.path == written.as_uri()


def test_second_write_is_refused_unless_replacing(evidence_base: Path) -> None:
    store = EvidenceStore("x", "phase3_beta")
    store.write_text("daily_metrics_2026-01-03.json", "first")
    with pytest.raises(EvidenceError, match="already exists"):
        store.write_text("daily_metrics_2026-01-03.json", "second")
    store.write_text("daily_metrics_2026-01-03.json", "rerun", replace=True)
    assert store.read_bytes("daily_metrics_2026-01-03.json") == b"rerun"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b", "s3://elsewhere/x"],
                         ids=["parent", "absolute", "nested-parent", "url"])
def test_paths_outside_the_base_are_refused(evidence_base: Path, name: str) -> None:
    with pytest.raises(EvidenceError, match="must be a relative path inside the evidence base"):
        EvidenceStore("x", "phase1").write_text(name, "nope")


def test_relative_base_resolves_under_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCH_EVIDENCE_BASE", raising=False)
    assert resolve_base("launch/evidence").endswith("/launch/evidence")
    assert resolve_base("s3://bucket/launch/") == "s3://bucket/launch"


def test_relative_paths_resolve_against_the_project_root() -> None:
    """The evidence store, monitoring files and config checks resolve relative paths here: moving a
    module must not move the root (tests/test_architecture.py keeps the rooms; this keeps the root)."""
    from include.launch.evidence.store import PROJECT_ROOT

    assert (PROJECT_ROOT / "Makefile").is_file() and (PROJECT_ROOT / "include" / "plans").is_dir()
