"""Required documents and evidence exist (rollback plan, beta files)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import BetaElapsedParams, DocumentPresentParams, EvidencePresentParams

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


def beta_elapsed(run: PhaseRun, params: BetaElapsedParams, now: datetime | None = None) -> CheckResult:
    """A review of a 14-day beta judges 14 days that happened: the window opened (the ledger's
    beta_started row) at least the scorecard's days ago. Daily files caught up in one sitting do not
    make a beta; a demo plan may accept that replay, and the result says so."""
    card = next((c for c in run.spec.plan.scorecards if c.id == params.scorecard), None)
    if card is None:
        return CheckResult(Outcome.ERROR, f"the plan has no scorecard {params.scorecard!r}")
    opening = _window_opening(run, card.evidence_folder)
    if opening is None:
        return CheckResult(Outcome.FAILED, f"{card.phase}'s window never opened: no beta_started row in the ledger")
    start, days = opening[0], opening[1] or card.days  # the days the beta was started with, else the plan's
    moment = now or datetime.now(UTC)
    end = datetime.combine(start + timedelta(days=days), datetime.min.time(), UTC)
    measured = {"start": start.isoformat(), "days": days, "planned_end": end.isoformat(),
                "checked_at": moment.isoformat(), "replay": moment < end}
    if moment >= end:
        return CheckResult(Outcome.SUCCESSFUL, f"the {days}-day window opened {start} and ended {end:%Y-%m-%d %H:%M} "
                                               "UTC", measured)
    left = end - moment
    if params.replay_allowed:
        return CheckResult(Outcome.SUCCESSFUL, f"REPLAY: the {days}-day window opened {start} and ends "
                                               f"{end:%Y-%m-%d %H:%M} UTC; the demo plan accepts its days replayed "
                                               "in one sitting (not evidence of a real beta)", measured)
    return CheckResult(Outcome.FAILED, f"the {days}-day window opened {start} and ends {end:%Y-%m-%d %H:%M} UTC, "
                                       f"{left.days} day(s) {left.seconds // 3600} h from now: the review cannot judge "
                                       "days that have not happened", measured)


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
    opening = _window_opening(run, folder)
    return opening[0] if opening else None


def _window_opening(run: PhaseRun, folder: str) -> tuple[date, int | None] | None:
    """(first day, days the run asked for) of the window of the scorecard writing to ``folder``."""
    from include.launch.spec.scorecard import WINDOW_OPENED

    card = next((c for c in run.spec.plan.scorecards if c.evidence_folder == folder), None)
    if card is None:
        return None
    opened = [row for row in run.ledger.rows(launch_id=run.spec.launch_id, phase_id=card.phase)
              if row.event in WINDOW_OPENED and row.outcome == Outcome.SUCCESSFUL.value]
    started = [row for row in opened if row.payload.get("start")]  # beta_started names the window's start
    if started:
        days = started[-1].payload.get("days")
        return (datetime.fromisoformat(started[-1].payload["start"]).astimezone(UTC).date(),
                int(days) if days else None)
    return (opened[0].recorded_at.astimezone(UTC).date(), None) if opened else None
