"""Required documents and evidence exist (rollback plan, beta files)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import DocumentPresentParams, EvidencePresentParams

DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def document_present(run: PhaseRun, params: DocumentPresentParams) -> CheckResult:
    store = EvidenceStore(run.spec.plan.evidence.base)
    if not store.exists(params.path) or not store.read_bytes(params.path).strip():
        return CheckResult(Outcome.FAILED, f"required document {params.path} is missing or empty")
    return CheckResult(Outcome.SUCCESSFUL, f"{params.path} present", {"path": store.url_for(params.path)})


def evidence_present(run: PhaseRun, params: EvidencePresentParams) -> CheckResult:
    """Each pattern has at least its count of files. For dated files (``daily_metrics_*.json``) the
    missing dates are named: gaps between the dates found and, when a scorecard of the plan writes
    to that folder, every date of its window (from the ledger's window-opening row) not present."""
    from include.launch.review.evidence import list_names

    store = EvidenceStore(run.spec.plan.evidence.base)
    problems: list[str] = []
    found: dict[str, int] = {}
    for pattern, minimum in params.files.items():
        names = list_names(store, pattern)
        found[pattern] = len(names)
        if "*" in pattern:
            missing = _missing_dates(run, pattern, names, minimum)
            if missing:
                problems.append(f"{pattern}: missing date(s) {', '.join(missing)}")
        if len(names) < minimum:
            problems.append(f"{pattern}: {len(names)} file(s), at least {minimum} required"
                            if "*" in pattern or minimum > 1 else f"{pattern} is missing")
    if problems:
        return CheckResult(Outcome.FAILED, "beta evidence incomplete: " + "; ".join(problems),
                           {"found": found, "problems": problems})
    return CheckResult(Outcome.SUCCESSFUL, "evidence complete: " + ", ".join(f"{p} ({n})" for p, n in found.items()),
                       {"found": found})


def _missing_dates(run: PhaseRun, pattern: str, names: list[str], minimum: int) -> list[str]:
    found = sorted({m.group(1) for n in names if (m := DATE.search(n.rsplit("/", 1)[-1]))})
    expected: set[date] = set()
    start = _window_start(run, pattern.rpartition("/")[0])
    if start is not None:
        expected |= {start + timedelta(days=k) for k in range(minimum)}
    if found:
        first, last = date.fromisoformat(found[0]), date.fromisoformat(found[-1])
        expected |= {first + timedelta(days=k) for k in range((last - first).days + 1)}
    if not found and start is None:
        return []
    return sorted(d.isoformat() for d in expected if d.isoformat() not in found)


def _window_start(run: PhaseRun, folder: str) -> date | None:
    """The first day of the window of the plan's scorecard that writes to ``folder``, if one opened."""
    from include.launch.spec.scorecard import WINDOW_OPENED

    card = next((c for c in run.spec.plan.scorecards if c.evidence_folder == folder), None)
    if card is None:
        return None
    opened = [row for row in run.ledger.rows(launch_id=run.spec.launch_id, phase_id=card.phase)
              if row.event in WINDOW_OPENED and row.outcome == Outcome.SUCCESSFUL.value]
    started = [row for row in opened if row.payload.get("start")]  # beta_started names the window's start
    if started:
        return datetime.fromisoformat(started[-1].payload["start"]).astimezone(UTC).date()
    return opened[0].recorded_at.astimezone(UTC).date() if opened else None
