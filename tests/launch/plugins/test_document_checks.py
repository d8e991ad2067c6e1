"""document_present: the rollback plan (or any document a plan names) must exist and say something;
a missing or empty file fails the gate, naming the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.plan import load_plan
from include.launch.spec.phase import build_phase_spec
from tests.harness.checks import run_check

DOCUMENT = "pre_launch/rollback_plan.md"


@pytest.fixture()
def run(evidence_base: Path) -> PhaseRun:
    return PhaseRun(spec=build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks"),
                    run_id="documents_test")


@pytest.mark.parametrize("content", [None, b"", b"  \n\t\n"], ids=["missing", "empty", "blank"])
def test_a_missing_or_empty_document_fails_naming_it(run: PhaseRun, evidence_base: Path, content: bytes | None) -> None:
    if content is not None:
        EvidenceStore(str(evidence_base)).write_bytes(DOCUMENT, content)
    result = run_check("document_present", run, path=DOCUMENT)
    assert (result.outcome, result.summary) == (Outcome.FAILED, f"required document {DOCUMENT} is missing or empty")


def test_a_document_that_says_something_passes(run: PhaseRun, evidence_base: Path) -> None:
    EvidenceStore(str(evidence_base)).write_text(DOCUMENT, "# Rollback\n1. restore the pool settings\n")
    result = run_check("document_present", run, path=DOCUMENT)
    assert (result.outcome, result.summary) == (Outcome.SUCCESSFUL, f"{DOCUMENT} present")
