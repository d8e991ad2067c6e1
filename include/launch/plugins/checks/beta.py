"""Phase 3 checks: the cohort is valid on the target; the target shows the flags for exactly the cohort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import NoParams

EXPIRY_SLACK = timedelta(minutes=10)  # apply and verify run minutes apart, never hours


def _change(run: PhaseRun):  # type: ignore[no-untyped-def]
    from include.launch.plugins.changes.catalog import BetaEnrollmentParams
    from include.launch.spec.effective import change_params

    params = change_params(run.spec, run.params)
    if not isinstance(params, BetaEnrollmentParams):
        raise TypeError(f"phase {run.spec.phase.id!r} does not enroll a beta cohort")
    return params


def beta_enrolled(run: PhaseRun, params: NoParams) -> CheckResult:
    """Beta flag and detailed logging (expiring after the configured hours) on for exactly the cohort."""
    from include.launch.beta.cohort import parse_cohort
    from include.launch.plugins.changes.beta import read_enrollment, target_dsn

    change = _change(run)
    cohort = {str(i.tenant_id) for i in parse_cohort(list(change.cohort))[0]}
    state = read_enrollment(target_dsn(run), [change.flag, change.logging_flag])
    problems = []
    now = datetime.now(UTC)
    for flag in (change.flag, change.logging_flag):
        granted = state["enabled"][flag]
        # A flag past its expires_at is off, whatever its enabled column says.
        ends = {t: datetime.fromisoformat(x) for t, x in granted.items() if x is not None}
        expired = {t for t, end in ends.items() if end <= now}
        enabled = set(granted) - expired
        if lapsed := sorted(cohort & expired, key=int):
            problems.append(f"{flag} expired for cohort tenant(s) " + ", ".join(
                f"{t} (at {ends[t].astimezone(UTC):%Y-%m-%d %H:%M} UTC)" for t in lapsed))
        if missing := sorted(cohort - enabled - expired, key=int):
            problems.append(f"{flag} off for cohort tenant(s) {', '.join(missing)}")
        if extra := sorted(enabled - cohort, key=int):
            problems.append(f"{flag} on for tenant(s) outside the cohort: {', '.join(extra)}")
    latest = now + timedelta(hours=change.detailed_logging_hours) + EXPIRY_SLACK
    for tenant, expires in state["enabled"][change.logging_flag].items():
        if tenant in cohort and (expires is None or datetime.fromisoformat(expires) > latest):
            problems.append(f"{change.logging_flag} for tenant {tenant} does not expire within "
                            f"{change.detailed_logging_hours:g} h (expires {expires or 'never'})")
    ref = run.evidence.write_json("beta_enrolled.json", {"cohort": sorted(cohort, key=int), **state,
                                                         "problems": problems}, replace=True)
    if problems:
        return CheckResult(Outcome.FAILED, "beta enrollment: " + "; ".join(problems), state, evidence=[ref])
    return CheckResult(Outcome.SUCCESSFUL, f"{change.flag} and {change.logging_flag} on for exactly the "
                                           f"{len(cohort)} cohort tenants", state, evidence=[ref])


def beta_cohort_valid(run: PhaseRun, params: NoParams) -> CheckResult:
    """Every invitee is an active user of the named tenant (for a pre-check; the applier checks it again)."""
    from include.launch.beta.cohort import parse_cohort, target_problems
    from include.launch.plugins.changes.beta import target_dsn

    change = _change(run)
    invitees = parse_cohort(list(change.cohort))[0]
    with psycopg.connect(target_dsn(run)) as conn:
        problems = target_problems(conn, invitees, change.inactive_roles)
    if problems:
        return CheckResult(Outcome.FAILED, "cohort: " + "; ".join(problems), {"problems": problems})
    return CheckResult(Outcome.SUCCESSFUL, f"{len(invitees)} invitees, each an active user of their tenant",
                       {"invitees": [i.as_dict() for i in invitees]})
