"""The "Launch" board in the Airflow UI: a FastAPI app on the api-server plus a nav entry (iframe).

Routes (under ``/launch``; every one needs a signed-in Airflow user, 401 without a token, 403 with
an invalid one or without access to plugin views; evidence files also need ``can_read`` on the
``Launch Evidence`` resource, include.access.roles, because they carry tenant data such as
exports with user e-mails: a Viewer sees the board, its file names and no file):

    GET /launch/                              the board of the first launch (HTML)
    GET /launch/board/{launch_id}             the board of one launch (HTML)
    GET /launch/api/launches                  the launches: id, name, board and API URLs (JSON)
    GET /launch/api/launches/{launch_id}      one launch's board (JSON; include.launch.ui.board.Board)
    GET /launch/evidence/{launch_id}/{path}   one evidence file, path-checked to stay in the base
    POST /launch/api/launches/{launch_id}/incidents/{incident_id}/steps
                                              acknowledge, mitigate or resolve an incident as the
                                              signed-in user (JSON {step, note, root_cause}); needs
                                              ``can_create`` on ``Launch Incident Step`` (approvers)
                                              and the header ``X-Launch-Board: 1`` that only the
                                              board's own page sends (a cross-site form cannot);
                                              409 names a step the plan refuses

Airflow loads this file in every process that loads plugins, so importing it costs nothing: the
FastAPI app and the launch engine are built on the first request (``_LazyApp``). No ``from __future__
import annotations`` here: FastAPI reads the handlers' annotations, defined inside the factory.
"""

import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from airflow.plugins_manager import AirflowPlugin

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

    from include.launch.ui.board import Board

URL_PREFIX = "/launch"
BOARD_HEADER = "X-Launch-Board"  # sent by the board's own script with a step; a cross-site form cannot set it
STEP_METHOD: Final[Literal["POST"]] = "POST"  # FAB maps POST to can_create
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _LazyApp:
    """An ASGI app that builds the real FastAPI app on its first request."""

    def __init__(self, factory: Callable[[], "FastAPI"]) -> None:
        self._factory = factory
        self._app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._factory()
        await self._app(scope, receive, send)


# --- the app ----------------------------------------------------------------------------------

def _paths(request: "Request") -> tuple[str, str]:
    """(Airflow UI base path, this app's base path), both without a trailing slash."""
    mounted = str(request.scope.get("root_path", "")).rstrip("/")
    ui_base = mounted.removesuffix(URL_PREFIX) if mounted.endswith(URL_PREFIX) else ""
    return ui_base, mounted or URL_PREFIX


def create_board_app() -> "FastAPI":
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Body, Depends, FastAPI, HTTPException, Request, status
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from fastapi.security import HTTPBearer

    from include.access.roles import EVIDENCE_METHOD, EVIDENCE_RESOURCE, INCIDENT_STEP_RESOURCE
    from include.launch.core.errors import EvidenceError
    from include.launch.evidence.incident_log import IncidentStepError
    from include.launch.ui import board as data

    bearer = HTTPBearer(auto_error=False)

    async def signed_in_user(request: Request) -> Any:
        """Airflow's own rule (a bearer token, else the UI's session cookie), then plugin-view access."""
        user = await get_user(request, None, await bearer(request))
        if not get_auth_manager().is_authorized_view(access_view=AccessView.PLUGINS, user=user):
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Forbidden")
        return user

    def may_read_evidence(user: Any) -> bool:
        return bool(get_auth_manager().is_authorized_custom_view(
            method=EVIDENCE_METHOD, resource_name=EVIDENCE_RESOURCE, user=user))

    async def evidence_reader(user: Annotated[Any, Depends(signed_in_user)]) -> Any:
        """A signed-in user who may read evidence files (tenant data): 403 for anyone else."""
        if not may_read_evidence(user):
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN,
                                detail=f"Forbidden: evidence files need can_read on {EVIDENCE_RESOURCE!r}")
        return user

    app = FastAPI(title="Launch board", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(signed_in_user)])

    def may_take_steps(user: Any) -> bool:
        return bool(get_auth_manager().is_authorized_custom_view(
            method=STEP_METHOD, resource_name=INCIDENT_STEP_RESOURCE, user=user))

    async def incident_responder(request: Request, user: Annotated[Any, Depends(signed_in_user)]) -> Any:
        """A signed-in user who may take incident steps, from the board's own page: 403 otherwise."""
        if request.headers.get(BOARD_HEADER) != "1":
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN,
                                detail=f"Forbidden: an incident step is taken from the board (header {BOARD_HEADER})")
        if not may_take_steps(user):
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN,
                                detail=f"Forbidden: incident steps need can_create on {INCIDENT_STEP_RESOURCE!r}")
        return user

    def plan_for(launch_id: str) -> Any:
        plans = data.load_plans()
        if launch_id not in plans:
            raise HTTPException(status_code=404, detail=f"no launch {launch_id!r}; known: {sorted(plans)}")
        return plans[launch_id]

    def board_for(request: Request, launch_id: str) -> "Board":
        ui_base, prefix = _paths(request)
        return data.build_board(plan_for(launch_id), ui_base=ui_base, prefix=prefix)

    @app.get("/api/launches")
    async def launches(request: Request) -> JSONResponse:
        _, prefix = _paths(request)
        plans = await run_in_threadpool(data.load_plans)
        return JSONResponse({"launches": [
            {"launch_id": launch_id, "name": plan.launch.name, "board_url": f"{prefix}/board/{launch_id}",
             "api_url": f"{prefix}/api/launches/{launch_id}"} for launch_id, plan in plans.items()]})

    @app.get("/api/launches/{launch_id}")
    async def launch_board(request: Request, launch_id: str) -> JSONResponse:
        board = await run_in_threadpool(board_for, request, launch_id)
        return JSONResponse(board.as_dict())

    @app.post("/api/launches/{launch_id}/incidents/{incident_id}/steps")
    async def incident_step(launch_id: str, incident_id: str, body: Annotated[dict[str, Any], Body()],
                            user: Annotated[Any, Depends(incident_responder)]) -> JSONResponse:
        plan_for(launch_id)
        actor = str(user.get_name())
        try:
            incident = await run_in_threadpool(
                data.take_incident_step, launch_id, incident_id, str(body.get("step", "")), actor,
                str(body.get("note", "")), str(body.get("root_cause", "")))
        except IncidentStepError as exc:
            raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=f"refused: {exc}") from None
        return JSONResponse({"incident_id": incident.incident_id, "status": incident.status, "by": actor})

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request, user: Annotated[Any, Depends(signed_in_user)]) -> HTMLResponse:
        plans = await run_in_threadpool(data.load_plans)
        if not plans:
            return HTMLResponse(_page("Launch", "<p>No launch plans found.</p>", {}, ""))
        return await board_page(request, next(iter(plans)), user)

    @app.get("/board/{launch_id}", response_class=HTMLResponse)
    async def board_page(request: Request, launch_id: str,
                         user: Annotated[Any, Depends(signed_in_user)]) -> HTMLResponse:
        board = await run_in_threadpool(board_for, request, launch_id)
        plans = await run_in_threadpool(data.load_plans)
        _, prefix = _paths(request)
        names = {launch: plan.launch.name for launch, plan in plans.items()}
        steps_url = f"{prefix}/api/launches/{launch_id}/incidents" if may_take_steps(user) else ""
        body = render_board(board, _paths(request)[0], evidence_links=may_read_evidence(user), steps_url=steps_url)
        return HTMLResponse(_page(board.name, body, names, prefix, current=launch_id))

    @app.get("/evidence/{launch_id}/{relative:path}", dependencies=[Depends(evidence_reader)])
    async def evidence_file(launch_id: str, relative: str) -> Response:
        from include.launch.evidence.store import resolve_base

        plan = plan_for(launch_id)
        tree = data.EvidenceTree(resolve_base(plan.evidence.base))
        try:
            folder = tree.clean(relative).split("/", 1)[0]
            if folder not in data.plan_folders(plan) or "/" not in relative:
                raise EvidenceError(f"{relative!r} is not in an evidence folder of launch {launch_id!r}")
            body = await run_in_threadpool(tree.read, relative)
        except EvidenceError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        except (FileNotFoundError, IsADirectoryError):
            raise HTTPException(status_code=404, detail=f"no evidence file {relative!r}") from None
        # Evidence is shown, never run: no scripts, no sniffing, its own sandboxed origin.
        return Response(body, media_type=data.media_type(relative), headers={
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    return app


# --- HTML -------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light dark; --fg:#1a202c; --muted:#4a5568; --line:#e2e8f0; --bg:#fff; --card:#f7fafc;
        --ok:#2f855a; --bad:#c53030; --warn:#b7791f; --link:#2b6cb0; }
@media (prefers-color-scheme: dark) { :root { --fg:#e2e8f0; --muted:#a0aec0; --line:#2d3748; --bg:#1a202c;
        --card:#171923; --link:#63b3ed; } }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 16px 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 22px 0 8px; }
a { color: var(--link); } .muted { color: var(--muted); }
nav a { margin-right: 14px; } nav a.current { font-weight: 600; text-decoration: none; color: var(--fg); }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 5px 8px;
        border-bottom: 1px solid var(--line); vertical-align: top; } th { background: var(--card); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
        background: var(--card); border: 1px solid var(--line); }
.s-complete, .s-verified, .s-successful, .s-pass { color: var(--ok); border-color: var(--ok); }
.s-failed, .s-fail, .s-rolled-back, .s-broken, .s-rejected, .s-refused { color: var(--bad); border-color: var(--bad); }
.s-in-progress, .s-unavailable, .s-dry-run, .s-not-verified { color: var(--warn); border-color: var(--warn); }
.error { color: var(--bad); } .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 32px; }
div.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 8px; }
img.chart { max-width: 100%; background: #fff; border: 1px solid var(--line); }
ul.files { columns: 2; padding-left: 18px; } details { margin: 4px 0; }
"""

# Inside the Airflow UI the board is an iframe sandboxed without top navigation: a link to an
# Airflow page moves the UI's own router (same origin), so the page opens in the UI, not in the
# iframe. Opened on its own, the board's links are plain links.
_SCRIPT = """
function openInAirflow(event, path) {
  try {
    var top = window.top;
    if (!top || top === window) { return true; }
    var state = top.history.state || {};
    top.history.pushState({usr: null, key: Math.random().toString(36).slice(2, 10),
                           idx: (typeof state.idx === "number" ? state.idx : 0) + 1}, "", path);
    top.dispatchEvent(new PopStateEvent("popstate", {state: top.history.state}));
    event.preventDefault();
    return false;
  } catch (e) { return true; }
}
function takeStep(event, form) {
  event.preventDefault();
  var out = form.querySelector(".step-result");
  out.textContent = "recording...";
  fetch(form.dataset.url, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-Launch-Board": "1"},
        body: JSON.stringify({step: form.step.value, note: form.note.value, root_cause: form.root_cause.value})})
    .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
    .then(function (res) {
      if (res[0]) { out.textContent = res[1].incident_id + " " + res[1].status + " by " + res[1].by;
                    window.setTimeout(function () { window.location.reload(); }, 800); }
      else { out.textContent = res[1].detail || "refused"; out.className = "step-result error"; }
    })
    .catch(function (e) { out.textContent = "not recorded: " + e; out.className = "step-result error"; });
  return false;
}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _badge(text: str) -> str:
    return f'<span class="badge s-{_e(text.lower().replace(" ", "-"))}">{_e(text)}</span>'


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


def _airflow_link(path: str, text: str, cls: str = "") -> str:
    css = f' class="{_e(cls)}"' if cls else ""
    return (f'<a href="{_e(path)}"{css} '
            f'onclick="return openInAirflow(event, {_e(json.dumps(path))})">{_e(text)}</a>')


def render_board(board: "Board", ui_base: str, evidence_links: bool = True, steps_url: str = "") -> str:
    """The board's HTML; without ``evidence_links`` (a user who may not read evidence) files are
    listed by name only and the scorecard's charts, evidence files too, are left out; with
    ``steps_url`` (a user who may take incident steps) each open incident has its step form."""
    parts = [f'<h1>{_e(board.name)}</h1><p class="muted">{_e(board.version_from)} &rarr; '
             f'{_e(board.version_to)} &middot; launch <code>{_e(board.launch_id)}</code> &middot; '
             f'evidence <code>{_e(board.evidence_base)}</code> &middot; <a href="">refresh</a></p>']

    ledger = board.ledger
    since = f"; {ledger.rows_since} row(s) added since" if ledger.rows_since else ""
    when = f" at {ledger.verified_at[:16].replace('T', ' ')} UTC" if ledger.verified_at else ""
    detail = (f"{ledger.rows} row(s): chain, evidence hashes and signed checkpoints verified{when}{since}"
              if ledger.state == "verified" else
              f"{len(ledger.problems)} problem(s) found{when}: " + "; ".join(ledger.problems[:3]) + since
              if ledger.state == "broken" else ledger.error)
    parts.append(f'<p id="ledger">Ledger: {_badge(ledger.state.upper())} <span class="muted">{_e(detail)}'
                 "</span></p>")

    parts.append('<h2>Launch status</h2>')
    if board.phases.error:
        parts.append(f'<p class="error">{_e(board.phases.error)}</p>')
    else:
        rows = "".join(
            f'<tr data-phase="{_e(p.phase_id)}"><td>{_airflow_link(f"{ui_base}/dags/{p.dag_id}", p.title)}</td>'
            f'<td class="status">{_badge(p.status)}</td><td>{_e(p.duration)}</td><td>{_when(p.start)}</td>'
            f"<td>{_when(p.end)}</td><td>{_e(p.outcome)}</td></tr>" for p in board.phases.items)
        parts.append('<table id="status"><tr><th>Phase</th><th>Status</th><th>Duration</th><th>Start</th>'
                     f"<th>End</th><th>Outcome</th></tr>{rows}</table>")

    parts.append('<div class="grid"><div><h2>Pending approvals</h2>')
    if board.approvals.error:
        parts.append(f'<p class="error">{_e(board.approvals.error)}</p>')
    elif not board.approvals.items:
        parts.append('<p class="muted" id="no-approvals">No approval is waiting.</p>')
    else:
        items = "".join(
            f'<li>{_airflow_link(a.url, a.subject, "approval")} <span class="muted">{_e(a.dag_id)} &middot; '
            f'{_e(a.task_id)} &middot; for {_e(", ".join(a.assigned_users) or "anyone")} &middot; since '
            f"{_when(a.created_at)}</span></li>" for a in board.approvals.items)
        parts.append(f'<ul id="approvals">{items}</ul>')

    parts.append("<h2>Open incidents</h2>")
    if board.incidents.error:
        parts.append(f'<p class="error">{_e(board.incidents.error)}</p>')
    elif not board.incidents.items:
        parts.append('<p class="muted" id="no-incidents">No open incident.</p>')
    else:
        items = "".join(f"<li>{_badge(i.severity)} <b>{_e(i.incident_id)}</b> {_e(i.title)} <span class='muted'>"
                        f"{_e(i.phase_id)} &middot; {_e(i.status)} &middot; since {_when(i.opened_at)}</span>"
                        f"{_step_form(i, steps_url) if steps_url else ''}</li>"
                        for i in board.incidents.items)
        parts.append(f'<ul id="incidents">{items}</ul>')

    parts.append("<h2>Freeze overrides</h2>")
    if board.overrides.error:
        parts.append(f'<p class="error">{_e(board.overrides.error)}</p>')
    elif not board.overrides.items:
        parts.append('<p class="muted" id="no-overrides">No change freeze has been overridden.</p>')
    else:
        items = "".join(f"<li>{_badge('OVERRIDE')} <b>{_e(o['window'])}</b> {_e(o['phase_id'])}: "
                        f"{_e(o['justification'])} <span class='muted'>requested by {_e(o['requested_by'])}, "
                        f"approved by {_e(', '.join(o['approved_by']))}, until {_e(o['expires_at'])}</span></li>"
                        for o in board.overrides.items)
        parts.append(f'<ul id="overrides">{items}</ul>')
    parts.append("</div><div>")

    parts.append("<h2>Beta scorecard</h2>")
    card = board.scorecard
    if board.scorecard_error:
        parts.append(f'<p class="error">{_e(board.scorecard_error)}</p>')
    elif card is None:
        parts.append('<p class="muted" id="no-beta">No beta yet: no daily scorecard recorded.</p>')
    else:
        rows = "".join(f"<tr><td>{_e(c.description or c.metric)}</td><td>{_e(c.value)}</td>"
                       f"<td>{_e(c.op)} {_e(c.threshold)}</td><td>{_badge(c.outcome)}</td></tr>"
                       for c in card.criteria)
        latest = f'<a href="{_e(card.file_url)}">{_e(card.date)}</a>' if evidence_links else _e(card.date)
        parts.append(f"<p>Latest: {latest} &middot; {card.passed}/"
                     f"{card.total} criteria met &middot; {card.days_recorded} day(s) recorded</p>"
                     f'<table id="scorecard"><tr><th>Criterion</th><th>Value</th><th>Target</th><th></th></tr>'
                     f"{rows}</table>")
        charts = card.chart_urls or ([card.chart_url] if card.chart_url else [])
        if charts and evidence_links:
            images = "".join(f'<img class="chart" src="{_e(url)}" alt="beta trend chart">' for url in charts)
            parts.append(f'<div class="charts">{images}</div>')
    parts.append("</div></div>")

    parts.append("<h2>Evidence</h2>")
    if not evidence_links:
        parts.append('<p class="muted" id="evidence-restricted">Evidence files hold tenant data: your role lists '
                     "them but may not open them (Launch Evidence permission).</p>")
    if board.evidence.error:
        parts.append(f'<p class="error">{_e(board.evidence.error)}</p>')
    elif not board.evidence.items:
        parts.append('<p class="muted">No evidence file yet.</p>')
    else:
        folders: dict[str, list[Any]] = {}
        for item in board.evidence.items:
            folders.setdefault(item.folder, []).append(item)
        for folder, files in folders.items():
            links = "".join(f"<li>{_file_link(f.url, f.path.split('/', 1)[1], evidence_links)} "
                            f'<span class="muted">{f.size:,} B</span></li>' for f in files)
            parts.append(f'<details open><summary><b>{_e(folder)}/</b> ({len(files)})</summary>'
                         f'<ul class="files" id="evidence-{_e(folder)}">{links}</ul></details>')
    return "".join(parts)


def _step_form(incident: Any, steps_url: str) -> str:
    """Acknowledge / mitigate / resolve, as the signed-in user (the board's script posts it)."""
    from include.launch.evidence.incident_log import NOTE_MIN_CHARS

    options = "".join(f'<option value="{_e(step)}">{_e(step)}</option>' for step in incident.next_steps)
    url = f"{steps_url}/{incident.incident_id}/steps"
    return (f'<form class="incident-step" data-url="{_e(url)}" onsubmit="return takeStep(event, this)">'
            f'<select name="step">{options}</select> '
            f'<input name="note" required minlength="{NOTE_MIN_CHARS}" maxlength="2000" size="40" '
            'placeholder="What you saw or did"> '
            '<input name="root_cause" maxlength="4000" size="30" placeholder="Root cause (when resolving)"> '
            '<button type="submit">Record step</button> <span class="step-result muted"></span></form>')


def _file_link(url: str, name: str, linked: bool) -> str:
    return f'<a href="{_e(url)}" target="_blank" rel="noopener">{_e(name)}</a>' if linked else _e(name)


def _page(title: str, body: str, launches: dict[str, str], prefix: str, current: str = "") -> str:
    nav = "".join(f'<a href="{_e(prefix)}/board/{_e(launch)}"{" class=current" if launch == current else ""}>'
                  f"{_e(name)}</a>" for launch, name in launches.items())
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style><script>{_SCRIPT}</script></head>"
            f"<body><nav>{nav}</nav>{body}</body></html>")


class LaunchBoardPlugin(AirflowPlugin):
    """The launch board: the API app on the api-server and the "Launch" entry in the UI's nav."""

    name = "launch_board"
    fastapi_apps = [{"app": _LazyApp(create_board_app), "url_prefix": URL_PREFIX, "name": "Launch board"}]
    external_views = [{
        "name": "Launch",
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "url_route": "launch",
    }]
