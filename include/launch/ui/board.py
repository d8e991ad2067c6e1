"""The launch board's data: per launch the status table, pending approvals, the latest beta scorecard
and its trend chart, open incidents, every evidence file, and the ledger's verification status.

Plain functions returning frozen dataclasses (``as_dict`` gives the JSON API's shape); the Airflow
plugin in ``plugins/launch_board.py`` only renders them. Every section is read on its own: a source
that cannot be read becomes an ``error`` in that section, never a broken board.

Plans: every ``*.yaml`` in ``include/plans``, or the files named (os.pathsep-separated) by env
``LAUNCH_BOARD_PLANS``.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from include.launch.core.errors import EvidenceError
from include.launch.evidence.incident_log import Incident, open_incidents
from include.launch.evidence.store import resolve_base

if TYPE_CHECKING:
    from include.launch.evidence.ledger import Ledger, Row
    from include.launch.plan import Plan

PLANS_ENV = "LAUNCH_BOARD_PLANS"
DAILY_METRICS = re.compile(r"^daily_metrics_(\d{4}-\d{2}-\d{2})\.json$")
# Served as text so a browser never runs what an evidence file holds (html reports, svg charts are
# shown through <img> or as text; the plugin also sends CSP sandbox on every file).
_TEXT_TYPES = {".md": "text/plain", ".txt": "text/plain", ".json": "application/json", ".log": "text/plain",
               ".csv": "text/plain", ".yaml": "text/plain", ".yml": "text/plain"}


# --- plans ------------------------------------------------------------------------------------

def plan_files() -> list[Path]:
    """The plan files the board shows, in a stable order."""
    configured = os.environ.get(PLANS_ENV, "")
    if configured:
        return [Path(item) for item in configured.split(os.pathsep) if item]
    from include.launch.plan.loader import PLANS_DIR

    return sorted(PLANS_DIR.glob("*.yaml"))


def load_plans() -> dict[str, Plan]:
    """Launch id -> plan, for every plan file (a broken plan file raises PlanError naming it)."""
    from include.launch.plan import load_plan

    plans: dict[str, Plan] = {}
    for path in plan_files():
        plan = load_plan(path)
        plans[plan.launch.id] = plan
    return plans


def take_incident_step(launch_id: str, incident_id: str, step: str, actor: str, note: str,
                       root_cause: str = "") -> Incident:
    """The board's acknowledge / mitigate / resolve: the same step (and refusals) as the incident
    step DAG and the CLI, taken as the signed-in user."""
    from include.launch.engine.incidents import take_incident_step as take
    from include.launch.plan import load_plan

    for path in plan_files():
        plan = load_plan(path)
        if plan.launch.id == launch_id:
            return take(plan, path, incident_id, step, actor, note, root_cause)
    raise KeyError(f"no launch {launch_id!r}")


# --- the sections -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PhaseRow:
    """One line of the status table of seed 000."""

    phase_id: str
    title: str
    dag_id: str
    status: str
    duration: str
    start: datetime | None
    end: datetime | None
    outcome: str
    run_id: str


@dataclass(frozen=True)
class PendingApproval:
    """An Airflow Required Action not answered yet; ``url`` is its page in the Airflow UI."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    subject: str
    assigned_users: list[str]
    created_at: datetime | None
    url: str


@dataclass(frozen=True)
class EvidenceFile:
    """``path`` is relative to the evidence base; ``url`` is the board's route serving it."""

    folder: str
    path: str
    size: int
    url: str


@dataclass(frozen=True)
class CriterionScore:
    metric: str
    description: str
    value: Any
    op: str
    threshold: Any
    outcome: str


@dataclass(frozen=True)
class BetaScorecard:
    """The newest daily scorecard; ``chart_url``: the newest trend chart (SVG), if any."""

    date: str
    day: Any
    file_url: str
    criteria: list[CriterionScore]
    passed: int
    total: int
    chart_url: str | None
    days_recorded: int
    chart_urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LedgerStatus:
    """The last stored verification (``python -m include.launch.ledger verify``; the board never
    re-hashes every file on a page view): state ``verified`` (chain, files and signed checkpoints
    intact), ``broken`` (problems found), ``not verified`` (none recorded yet) or ``unavailable``
    (the ledger could not be read: an error, not a failure)."""

    state: str
    rows: int
    problems: list[str] = field(default_factory=list)
    error: str = ""
    verified_at: str = ""
    rows_since: int = 0  # rows appended after that verification


@dataclass(frozen=True)
class Section:
    """A section's items, or why they could not be read."""

    items: list[Any] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class Board:
    launch_id: str
    name: str
    version_from: str
    version_to: str
    evidence_base: str
    phases: Section
    approvals: Section
    incidents: Section
    overrides: Section
    evidence: Section
    scorecard: BetaScorecard | None
    scorecard_error: str
    ledger: LedgerStatus

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_json_default))  # type: ignore[no-any-return]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# --- status table -----------------------------------------------------------------------------

def phase_table(plan: Plan, ledger: Ledger) -> list[PhaseRow]:
    from include.launch.evidence.status import phase_statuses

    dag_ids = {phase.id: phase.dag_id for phase in plan.phases}
    return [PhaseRow(item.phase_id, item.title, dag_ids[item.phase_id], item.status, item.duration, item.start,
                     item.end, item.outcome, item.run_id)
            for item in phase_statuses(plan, ledger)]


# --- freeze overrides ---------------------------------------------------------------------------

def granted_overrides(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Every change freeze lifted for a run: who asked and why, who approved, until when."""
    from include.launch.evidence.overrides import granted_overrides as grants

    return grants(list(rows))


# --- approvals --------------------------------------------------------------------------------

def required_action_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The Airflow UI route of one task instance's Required Action (relative to the UI's base)."""
    mapped = f"/mapped/{map_index}" if map_index >= 0 else ""
    return (f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
            f"{mapped}/required_actions")


def pending_approvals(dag_ids: Sequence[str], *, ui_base: str = "", session: Any = None) -> list[PendingApproval]:
    """Unanswered HITL details of the given DAGs whose task still waits, oldest first.

    Reads Airflow's metadata DB: call it inside an Airflow process (the api-server, a test).
    """
    if session is None:
        from airflow.utils.session import create_session

        with create_session() as own_session:
            return pending_approvals(dag_ids, ui_base=ui_base, session=own_session)

    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import State, TaskInstanceState
    from sqlalchemy import select

    # awaiting_input (3.3's HITL state), deferred, running...: anything not finished still waits.
    waiting = [state for state in TaskInstanceState if state not in State.finished]
    statement = (
        select(HITLDetail, TaskInstance)
        .join(TaskInstance, HITLDetail.ti_id == TaskInstance.id)
        .where(TaskInstance.dag_id.in_(list(dag_ids)), HITLDetail.responded_at.is_(None),
               TaskInstance.state.in_(waiting))
        .order_by(HITLDetail.created_at)
    )
    base = ui_base.rstrip("/")
    result = []
    for detail, ti in session.execute(statement).all():
        users = [str(user.get("name") or user.get("id")) for user in (detail.assignees or [])]
        result.append(PendingApproval(
            dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
            subject=detail.subject, assigned_users=users, created_at=detail.created_at,
            url=base + required_action_path(ti.dag_id, ti.run_id, ti.task_id, ti.map_index),
        ))
    return result


# --- evidence ---------------------------------------------------------------------------------

class EvidenceTree:
    """Read-only view of one evidence base (a local folder; other fsspec URLs are listed through
    ObjectStoragePath). Every path is checked to stay inside the base."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.local: Path | None = Path(unquote(parts.path)).resolve() if parts.scheme == "file" else None

    @staticmethod
    def clean(relative: str) -> str:
        path = PurePosixPath(relative)
        if (not relative or path.is_absolute() or ".." in path.parts or "\\" in relative or "://" in relative
                or "\x00" in relative):
            raise EvidenceError(f"evidence path {relative!r} must be a relative path inside the evidence base")
        return str(path)

    def _local_file(self, relative: str) -> Path:
        assert self.local is not None
        target = (self.local / self.clean(relative)).resolve()
        if not target.is_relative_to(self.local):  # a symlink pointing out of the base
            raise EvidenceError(f"evidence path {relative!r} leaves the evidence base")
        return target

    def files(self) -> list[tuple[str, int]]:
        """(relative path, size) of every file, sorted."""
        if self.local is not None:
            if not self.local.is_dir():
                return []
            found = []
            for path in self.local.rglob("*"):
                if path.is_file() and path.resolve().is_relative_to(self.local):
                    found.append((path.relative_to(self.local).as_posix(), path.stat().st_size))
            return sorted(found)
        from airflow.sdk import ObjectStoragePath

        root = ObjectStoragePath(self.base_url)
        if not root.exists():
            return []
        prefix = str(root).rstrip("/") + "/"
        return sorted((str(path)[len(prefix):], int(path.stat().st_size)) for path in root.rglob("*")
                      if path.is_file())

    def read(self, relative: str) -> bytes:
        if self.local is not None:
            target = self._local_file(relative)
            if not target.is_file():
                raise FileNotFoundError(relative)
            return target.read_bytes()
        from airflow.sdk import ObjectStoragePath

        remote = ObjectStoragePath(f"{self.base_url}/{self.clean(relative)}")
        if not remote.is_file():
            raise FileNotFoundError(relative)
        return bytes(remote.read_bytes())


def media_type(relative: str) -> str:
    """The content type a file is served with: text for documents, never active HTML."""
    suffix = PurePosixPath(relative).suffix.lower()
    if suffix in _TEXT_TYPES:
        return _TEXT_TYPES[suffix]
    if suffix in (".html", ".htm"):
        return "text/plain"
    guessed, _ = mimetypes.guess_type(relative)
    return guessed or "application/octet-stream"


def evidence_url(launch_id: str, relative: str, prefix: str = "") -> str:
    return f"{prefix}/evidence/{quote(launch_id, safe='')}/{quote(relative)}"


def plan_folders(plan: Plan) -> list[str]:
    """The evidence folders a launch owns, in plan order: pre-launch, phases, scorecards."""
    folders = [plan.evidence.pre_launch_folder, *(phase.id for phase in plan.phases),
               *(card.evidence_folder for card in plan.scorecards)]
    return list(dict.fromkeys(folders))


def evidence_files(plan: Plan, tree: EvidenceTree, *, prefix: str = "") -> list[EvidenceFile]:
    """Every file in the launch's folders, grouped by folder in plan order."""
    folders = plan_folders(plan)
    order = {folder: index for index, folder in enumerate(folders)}
    listed = [EvidenceFile(path.split("/", 1)[0], path, size, evidence_url(plan.launch.id, path, prefix))
              for path, size in tree.files() if "/" in path and path.split("/", 1)[0] in order]
    return sorted(listed, key=lambda item: (order[item.folder], item.path))


# --- beta scorecard ---------------------------------------------------------------------------

def _criteria(document: dict[str, Any]) -> list[CriterionScore]:
    """Rows of ``criteria`` (+ ``weekly_criteria``) as include.launch.beta writes them (metric,
    description, op, threshold, value, status); ``outcome``/``passed`` are read too."""
    raw: Any = document.get("criteria")
    if not isinstance(raw, list):
        raw = document.get("scorecard") if isinstance(document.get("scorecard"), list) else []
    raw = list(raw) + [row for row in document.get("weekly_criteria", []) or [] if isinstance(row, dict)]
    scores = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        outcome = item.get("status", item.get("outcome"))
        if outcome is None and "passed" in item:
            outcome = "pass" if item["passed"] else "fail"
        scores.append(CriterionScore(
            metric=str(item.get("metric", item.get("name", ""))), description=str(item.get("description", "")),
            value=item.get("value"), op=str(item.get("op", "")), threshold=item.get("threshold"),
            outcome=str(outcome or "-"),
        ))
    return scores


def latest_scorecard(plan: Plan, tree: EvidenceTree, *, prefix: str = "") -> BetaScorecard | None:
    """The newest ``daily_metrics_<DATE>.json`` of the launch's first scorecard, or None (no beta yet)."""
    if not plan.scorecards:
        return None
    folder = plan.scorecards[0].evidence_folder
    files = [path for path, _ in tree.files() if path.startswith(folder + "/")]
    daily = sorted((match.group(1), path) for path in files
                   if (match := DAILY_METRICS.match(path[len(folder) + 1:])))
    if not daily:
        return None
    date, path = daily[-1]
    document = json.loads(tree.read(path))
    criteria = _criteria(document if isinstance(document, dict) else {})
    charts = sorted(p for p in files if p.endswith(".svg"))
    # include.launch.beta draws charts/<DATE>/<metric>.svg: the newest day's charts, trend ones first
    newest = [p for p in charts if f"/{date}/" in p] or charts
    trend = sorted(newest, key=lambda p: ("trend" not in PurePosixPath(p).name, p))
    return BetaScorecard(
        date=date, day=document.get("day") if isinstance(document, dict) else None,
        file_url=evidence_url(plan.launch.id, path, prefix), criteria=criteria,
        passed=sum(1 for c in criteria if c.outcome.lower() in ("successful", "passed", "pass", "met")),
        total=len(criteria), chart_url=evidence_url(plan.launch.id, trend[0], prefix) if trend else None,
        chart_urls=[evidence_url(plan.launch.id, p, prefix) for p in trend],
        days_recorded=len(daily),
    )


# --- ledger -----------------------------------------------------------------------------------

def ledger_status(base: str, rows_now: int) -> LedgerStatus:
    from include.launch.evidence.verification import last_result

    result = last_result(base)
    if result is None:
        return LedgerStatus("not verified", rows_now, error="no verification recorded yet: run python -m "
                                                             "include.launch.ledger verify")
    return LedgerStatus("verified" if result["ok"] else "broken", int(result["rows"]), list(result["problems"])[:20],
                        verified_at=str(result["verified_at"]), rows_since=max(rows_now - int(result["rows"]), 0))


# --- the board --------------------------------------------------------------------------------

def build_board(plan: Plan, *, ledger: Ledger | None = None, ui_base: str = "", prefix: str = "",
                session: Any = None) -> Board:
    """Everything one launch's board shows. ``ui_base``: the Airflow UI's base path (links to
    Required Actions); ``prefix``: where the board's routes are mounted (evidence links)."""
    import psycopg

    from include.launch.core.errors import LedgerError
    from include.launch.evidence.ledger import Ledger

    tree = EvidenceTree(resolve_base(plan.evidence.base))
    rows: list[Row] = []
    ledger_error = ""
    try:
        ledger = ledger or Ledger.from_connection(plan.connections.ledger)
        rows = ledger.rows(launch_id=plan.launch.id)
    except (psycopg.Error, LedgerError, OSError, ValueError) as exc:
        ledger_error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - e.g. AirflowNotFoundException for a missing connection
        ledger_error = f"{type(exc).__name__}: {exc}"

    if ledger_error or ledger is None:
        phases = Section(error=f"ledger unavailable: {ledger_error}")
        incidents = Section(error=f"ledger unavailable: {ledger_error}")
        overrides = Section(error=f"ledger unavailable: {ledger_error}")
        status = LedgerStatus("unavailable", 0, error=ledger_error)
    else:
        phases = _section(lambda: phase_table(plan, ledger))
        incidents = Section(items=open_incidents(list(rows)))
        overrides = Section(items=granted_overrides(rows)[::-1])  # newest first
        try:
            status = ledger_status(plan.evidence.base, len(ledger.rows()))
        except (psycopg.Error, ValueError, OSError) as exc:
            status = LedgerStatus("unavailable", 0, error=f"{type(exc).__name__}: {exc}")

    dag_ids = [phase.dag_id for phase in plan.phases] + [card.dag_id for card in plan.scorecards]
    approvals = _section(lambda: pending_approvals(dag_ids, ui_base=ui_base, session=session))
    evidence = _section(lambda: evidence_files(plan, tree, prefix=prefix))
    scorecard, scorecard_error = None, ""
    try:
        scorecard = latest_scorecard(plan, tree, prefix=prefix)
    except (OSError, ValueError, EvidenceError) as exc:
        scorecard_error = f"{type(exc).__name__}: {exc}"
    return Board(
        launch_id=plan.launch.id, name=plan.launch.name, version_from=plan.launch.version_from,
        version_to=plan.launch.version_to, evidence_base=tree.base_url, phases=phases, approvals=approvals,
        incidents=incidents, overrides=overrides, evidence=evidence, scorecard=scorecard,
        scorecard_error=scorecard_error, ledger=status,
    )


def _section(read: Any) -> Section:
    try:
        return Section(items=list(read()))
    except Exception as exc:  # noqa: BLE001 - one unreadable source must not take the board down
        return Section(error=f"{type(exc).__name__}: {exc}")
