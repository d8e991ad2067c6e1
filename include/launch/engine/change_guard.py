"""What a change may touch, held to the plan's target profile at the moment of the change.

``plan check`` refuses a settings change outside ``target_profile.settings``; the engine checks
again right before it writes (the plan file may have been edited since the DAG was parsed), so a
forbidden setting is refused before anything on the target is touched. It also reads the service's
version on every replica before and after the change: a settings change that moved the version
deployed something nobody approved, and fails the phase (the rollback restores the settings)
unless the phase is a ``release``.
"""

from __future__ import annotations

import requests
from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.changes.catalog import settings_change_kinds
from include.launch.plugins.checks.health import read_version
from include.launch.plugins.target import Target
from include.launch.spec.effective import change_params


def guarded(run: PhaseRun) -> bool:
    """Whether this phase's change writes the service's settings (the guard and the version apply)."""
    change = run.spec.phase.change
    return change is not None and change.kind in settings_change_kinds()


def refuse_untouchable_settings(run: PhaseRun) -> None:
    """Refuse, recorded and before anything is touched, a setting the target profile does not list."""
    params = change_params(run.spec, run.params)
    touched = list(getattr(params, "settings", {}) or {})
    profile = run.spec.plan.target_profile
    allowed = profile.settings if profile is not None else []
    outside = [key for key in touched if key not in allowed]
    if not outside:
        return
    summary = (f"change refused before touching the target: {', '.join(outside)} not in the target profile's "
               f"settings ({', '.join(allowed) or 'none'})")
    run.record("change_refused", Outcome.FAILED.value, {"settings": outside, "allowed": allowed, "summary": summary})
    raise AirflowFailException(summary)


def read_versions(run: PhaseRun) -> dict[str, str]:
    """Each replica's version, read where the profile says; a replica that does not tell it fails
    the step (a version nobody can read cannot be held)."""
    profile = run.spec.plan.target_profile
    if profile is None:
        raise AirflowFailException("no target_profile: the service's version cannot be read")
    source = profile.version
    where = f"header {source.header}" if source.header else f"health field {source.health_field!r}"
    target = Target.from_connection(run.spec.plan.connections.target_api)
    versions: dict[str, str] = {}
    path = profile.health.path
    for url in target.replicas:
        try:
            value = read_version(url, profile, target.timeout)
        except (requests.RequestException, ValueError) as exc:
            raise AirflowFailException(f"{url}{path}: the version ({where}) cannot be read: {exc}") from None
        if not value:
            raise AirflowFailException(f"{url}{path} tells no version ({where})")
        versions[url] = str(value)
    return versions


def judge_versions(run: PhaseRun, before: dict[str, str], after: dict[str, str]) -> None:
    """Record the version before and after; a moved version fails unless the phase is a release."""
    moved = {url: (before.get(url), version) for url, version in after.items() if before.get(url) != version}
    release = run.spec.phase.release
    if not moved:
        summary = f"version unchanged on {len(after)} replica(s): {', '.join(sorted(set(after.values())))}"
    else:
        changes = "; ".join(f"{url}: {old} -> {new}" for url, (old, new) in moved.items())
        summary = f"version moved ({changes})" + ("" if release else ": the phase is not a release (release: false)")
    failed = bool(moved) and not release
    run.record("target_version", Outcome.FAILED.value if failed else Outcome.SUCCESSFUL.value,
               {"before": before, "after": after, "release": release, "summary": summary})
    if failed:
        raise AirflowFailException(summary)
