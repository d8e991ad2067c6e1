"""``make demo`` / ``make up``: the AccuBooks launch against the built-in demo target on a real Airflow.

Starts what it needs: PostgreSQL (LAUNCH_PG_URL or embedded), the demo target (two replicas,
1,000 tenants, live traffic), Prometheus and Alertmanager, a local Slack receiver (or the webhook
in SLACK_WEBHOOK_URL) and a pager receiver, and Airflow itself (api-server, scheduler,
dag-processor, triggerer). Every phase is triggered through Airflow's REST API as the operator
and approved as a different person. It ends with the status table, the evidence folder and the
ledger verification, and stops everything it started.

The launch, as its documents run it, with shortened windows: Phase 1 (pool scaling) and Phase 2
(monitoring), then Phase 3 enrolls a cohort of 12 generated tenants for a beta that started 13 days
ago, the target's activity for those 14 days is generated, the day-7 and day-14 survey CSVs land in
the inbox, the daily metrics DAG scores each of the 14 days (one run per logical date), and Phase 4
reviews the beta and the executive answers with the review's recommendation.

``--up`` starts the stack in the background instead and returns once Airflow is ready, printing the
UI address and the users' credentials; ``--down`` stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from include.demo_outcome import DemoError

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".run" / "demo"
EVIDENCE = ROOT / "launch" / "evidence"
DASHBOARDS = ROOT / "launch" / "dashboards"


@dataclass(frozen=True)
class Step:
    """One phase of the launch as an operator runs it: trigger, approve as someone else, wait."""

    dag_id: str
    approver: str
    conf: dict[str, Any]
    approval_task: str = "approve"


BETA_DAYS = 14
BETA_TENANTS = list(range(1, 13))
DAILY_DAG = "accubooks_beta_daily_metrics"
# The demo runs the DEMO PLAN (include/plans/accubooks_demo.yaml): its windows are minutes long, so
# no run weakens its plan through the trigger form and every phase opens the next one.
DEMO_PLAN = "accubooks_demo"
DEMO_DAGS = ROOT / "include" / "demo_dags"
STEPS = [
    Step("accubooks_phase1_pool_scaling", "exec_approver", {}),
    Step("accubooks_phase2_monitoring", "exec_approver", {}),
    Step("accubooks_phase3_beta", "exec_approver", {}),
    Step("accubooks_phase4_post_beta_review", "exec_approver", {}),
]


def say(message: str) -> None:
    print(f"[demo {clock.strftime('%H:%M:%S')}] {message}", flush=True)


ROLLBACK_PLAN = """# Rollback plan: AccuBooks Phase 1 (pool scaling)

1. Restore DB_POOL_MAX/MIN/IDLE_TIMEOUT/CONNECTION_TIMEOUT from pre_change_config.json (automatic).
2. Rolling restart, one replica at a time, waiting for /health to report the restored values.
3. Watch error rate and p95 for 15 minutes; document the reason in the ledger.
The engineering lead may roll back without approval.
"""


@contextlib.contextmanager
def demo_stack() -> Iterator[dict[str, Any]]:
    """Everything the launch runs against, started in order and stopped in reverse."""
    from include.devservices.airflow_stack import AirflowStack
    from include.devservices.demo_target_local import LiveTraffic, running_target
    from include.devservices.node_exporter import connection_json as node_connection_json
    from include.devservices.node_exporter import running_node_exporter
    from include.devservices.postgres import airflow_connection_json, start_server
    from include.devservices.prometheus import monitoring_stack
    from include.devservices.slack_receiver import SlackReceiver
    from include.launch.evidence.ledger import Ledger
    from include.launch.evidence.store import EvidenceStore
    from include.launch.plugins.checks.backup import backup_and_test_restore

    say("PostgreSQL: " + ("the server in LAUNCH_PG_URL" if os.environ.get("LAUNCH_PG_URL") else "embedded server"))
    server = start_server()
    ledger_url = server.create_database("launch_ledger")
    target_url = server.create_database("accubooks")
    metadata_url = server.create_database("airflow_meta")
    Ledger(ledger_url).ensure_schema()
    env = {"AIRFLOW_CONN_LAUNCH_DB": airflow_connection_json(ledger_url),
           "AIRFLOW_CONN_ACCUBOOKS_DB": airflow_connection_json(target_url),
           "LAUNCH_EVIDENCE_BASE": str(EVIDENCE), "LAUNCH_DASHBOARDS_DIR": str(DASHBOARDS)}
    slack = pager = None
    if os.environ.get("SLACK_WEBHOOK_URL"):
        env["AIRFLOW_CONN_SLACK_LAUNCH"] = json.dumps({"conn_type": "slackwebhook",
                                                       "password": os.environ["SLACK_WEBHOOK_URL"]})
        say("Slack: the webhook in SLACK_WEBHOOK_URL")
    else:
        slack = SlackReceiver(record_file=RUN / "slack_messages.jsonl").start()
        env["AIRFLOW_CONN_SLACK_LAUNCH"] = slack.connection_json()
        say(f"Slack: local receiver (messages in {RUN / 'slack_messages.jsonl'})")
    from include.launch.evidence.checkpoint import new_key

    seed, public_key, key = new_key()  # the demo's own signing key: the seed stays in this process's env
    env["AIRFLOW_CONN_LAUNCH_SIGNING_KEY"] = json.dumps({"conn_type": "generic", "password": seed})
    (RUN / "signing_public_key.txt").write_text(public_key + "\n")
    say(f"ledger checkpoints signed with key {key} (public key in {RUN / 'signing_public_key.txt'})")
    pager = SlackReceiver(record_file=RUN / "pager_messages.jsonl").start()
    # The engine pages here too (a breach in the watch after a rollback), not only Alertmanager.
    env["AIRFLOW_CONN_LAUNCH_PAGER"] = json.dumps({"conn_type": "http", "host": pager.url})
    try:
        say("demo target: 1,000 tenants, two replicas, pool max 50 / min 10, live traffic")
        with running_target(target_url, RUN / "target", tenants=1000) as target, LiveTraffic(target.urls, pause=0.02), \
                monitoring_stack(RUN / "monitoring", scrape_interval="5s", pager_url=pager.url) as monitoring, \
                running_node_exporter(RUN / "node_exporter") as db_host:
            env["AIRFLOW_CONN_ACCUBOOKS_API"] = target.connection_json()
            env["AIRFLOW_CONN_ACCUBOOKS_DB_HOST"] = node_connection_json(db_host)
            env["AIRFLOW_CONN_PROMETHEUS"] = json.dumps(monitoring.prometheus_connection())
            env["AIRFLOW_CONN_ALERTMANAGER"] = json.dumps(monitoring.alertmanager_connection())
            say(f"Prometheus {monitoring.prometheus.url}, Alertmanager {monitoring.alertmanager.url}")
            status = backup_and_test_restore(target_url, RUN / "backups", str(EVIDENCE), "accubooks")
            say(f"backup taken and restore-tested: {'OK' if status['restore_ok'] else 'MISMATCH'}")
            EvidenceStore(str(EVIDENCE)).write_text("pre_launch/rollback_plan.md", ROLLBACK_PLAN)
            say("Airflow: api-server, scheduler, dag-processor, triggerer (LocalExecutor)")
            airflow = AirflowStack(RUN / "airflow", metadata_url, extra_env=env, dags_folder=DEMO_DAGS).start()
            try:
                yield {"airflow": airflow, "target": target, "ledger_url": ledger_url, "slack": slack,
                       "pager": pager, "target_url": target_url, "public_key": public_key}
            finally:
                airflow.stop()
    finally:
        for receiver in (slack, pager):
            if receiver is not None:
                receiver.stop()


def beta_start() -> date:
    """Day 14 of the replayed beta is today, so every day has a logical date Airflow will run."""
    return datetime.now(UTC).date() - timedelta(days=BETA_DAYS - 1)


def conf_for(stack: dict[str, Any], step: Step) -> dict[str, Any]:
    if step.dag_id == "accubooks_phase3_beta":
        from include.demo_target.beta import cohort_entries

        return {**step.conf, "cohort": cohort_entries(stack["target_url"], BETA_TENANTS),
                "beta_start_date": beta_start().isoformat()}
    return step.conf


# Inside a change freeze the operator asks for an override; two other people approve it.
OVERRIDE_JUSTIFICATION = ("Demo of the freeze override: the launch rehearsal runs today, inside the "
                          "month-end freeze, with shortened windows against the demo target only.")
OVERRIDE_ANSWERERS = {"freeze_override": "eng_lead", "freeze_override_second": "exec_approver"}


def todays_freeze() -> Any:
    """The shipped plan's freeze that holds right now, if any (include.launch.engine.freeze.Freeze)."""
    from include.launch.engine.freeze import freeze_at
    from include.launch.plan import load_plan

    return freeze_at(load_plan(DEMO_PLAN).freeze_windows, datetime.now(UTC))


def wait_for_question(rest: Any, dag_id: str, run_id: str, timeout: float = 600) -> str:
    """The task id of the next approval this run asks for (after a person's reading pause), or ''
    when the run ends without asking."""
    from include.devservices.airflow_stack import HUMAN_READING_SECONDS, WAITING_FOR_A_PERSON

    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        waiting = [item["task_instance"]["task_id"] for item in rest.pending_approvals(dag_id, run_id)
                   if item["task_instance"].get("state") in WAITING_FOR_A_PERSON]
        if waiting:
            clock.sleep(HUMAN_READING_SECONDS)
            return str(waiting[0])
        if rest.run_state(dag_id, run_id) in ("success", "failed"):
            return ""
        clock.sleep(2)
    raise DemoError(f"{dag_id}: no approval asked and the run did not end within {timeout:g} s")


def run_step(stack: dict[str, Any], step: Step) -> tuple[str, str]:
    """Trigger as the operator, answer each question as its person; (run id, final state)."""
    airflow = stack["airflow"]
    operator = airflow.rest("operator")
    conf = conf_for(stack, step)
    freeze = todays_freeze()
    if freeze is not None and freeze.window.override is not None:
        conf["freeze_override_justification"] = OVERRIDE_JUSTIFICATION
    run_id = operator.trigger(step.dag_id, conf)
    say(f"{step.dag_id}: triggered by operator ({run_id}); waiting for the pre-checks")
    while (task_id := wait_for_question(operator, step.dag_id, run_id)) != "":
        person = OVERRIDE_ANSWERERS.get(task_id, step.approver)
        approver = airflow.rest(person)
        pending = next(item for item in approver.pending_approvals(step.dag_id, run_id)
                       if item["task_instance"]["task_id"] == task_id)
        option = (pending.get("defaults") or pending["options"])[0]  # a decision: the review's recommendation
        comment = "Justification read; the rehearsal may run in the freeze." if task_id in OVERRIDE_ANSWERERS \
            else "Reviewed the pre-check results and the change shown."
        answer = approver.answer(step.dag_id, run_id, task_id, option=option, params={"comment": comment})
        say(f"{step.dag_id}: {task_id}: {option!r} by {person} (HTTP {answer.status_code})")
        if task_id == step.approval_task:
            break
    state = operator.wait_for_end(step.dag_id, run_id, timeout=1200)
    say(f"{step.dag_id}: {state}")
    if state == "success" and step.dag_id == "accubooks_phase3_beta":
        state = replay_beta(stack)
    return run_id, state


def replay_beta(stack: dict[str, Any]) -> str:
    """The beta's 14 days: the cohort's activity and surveys in the target, then one daily DAG run
    per day, in order (the DAG runs one at a time)."""
    import psycopg

    from include.demo_target.beta import simulate_beta, write_survey_csv
    from include.launch.evidence.store import EvidenceStore

    start = beta_start()
    inbox = EvidenceStore(str(EVIDENCE), "phase3_beta")
    with psycopg.connect(stack["target_url"]) as conn:
        summary = simulate_beta(conn, BETA_TENANTS, BETA_DAYS, start, seed=14)
        for day in (7, 14):
            csv_file = RUN / f"survey_day{day}.csv"
            write_survey_csv(conn, csv_file, day, BETA_TENANTS)
            inbox.write_text(f"inbox/survey_day{day}.csv", csv_file.read_text(), replace=True)
    say(f"beta activity generated for {start} to {start + timedelta(days=BETA_DAYS - 1)}: {summary.decisions} "
        f"decisions, {summary.support_tickets} tickets, {summary.survey_responses} survey answers; surveys in inbox")
    operator = stack["airflow"].rest("operator")
    runs = [operator.trigger(DAILY_DAG, logical_date=datetime.combine(start + timedelta(days=n), time.min, tzinfo=UTC))
            for n in range(BETA_DAYS)]
    states = []
    for day, run_id in enumerate(runs, start=1):
        states.append(operator.wait_for_end(DAILY_DAG, run_id, timeout=600))
        say(f"{DAILY_DAG}: day {day:>2} of {BETA_DAYS} scored ({states[-1]})")
    return "success" if all(state == "success" for state in states) else "failed"


def report(ledger_url: str, public_key: str) -> bool:
    from include.launch.evidence.checkpoint import key_id, public_key_from
    from include.launch.evidence.ledger import Ledger
    from include.launch.evidence.status import status_markdown
    from include.launch.evidence.verification import store_result, verify_all
    from include.launch.plan import load_plan

    ledger = Ledger(ledger_url)
    table = status_markdown(load_plan(DEMO_PLAN), ledger)
    (EVIDENCE.parent / "status.md").write_text(table)
    print("\n" + table)
    print(f"Evidence folder: {EVIDENCE}")
    from include.launch.evidence.checkpoint import FOLDER

    for path in sorted(EVIDENCE.rglob("*")):
        if path.is_file() and path.parent.name != FOLDER:
            print(f"  {path.relative_to(EVIDENCE)}")
    print(f"  {FOLDER}/: {len(list((EVIDENCE / FOLDER).glob('seq_*.json')))} signed checkpoints, one per ledger row")
    from include.launch.evidence.overrides import grant_lines, granted_overrides

    for line in grant_lines(granted_overrides(ledger.rows(event="freeze_override_granted"))):
        print(line)
    key = public_key_from(public_key)
    problems, rows = verify_all(ledger, str(EVIDENCE), key)
    store_result(str(EVIDENCE), problems, rows, key_id(key))
    print(f"\nLedger verification: {'OK' if not problems else 'BROKEN'}: {rows} rows, chain, evidence hashes and "
          "signed checkpoints checked" + ("" if not problems else f"; first problem: {problems[0]}"))
    bundle_ok = bundle(ledger, key, public_key)
    return not problems and bundle_ok


def bundle(ledger: Any, key: Any, public_key: str) -> bool:
    """The auditor's copy: one file, verified here as the auditor would, with no database."""
    from include.launch.evidence.bundle import export, verify_bundle
    from include.launch.evidence.checkpoint import read_all
    from include.launch.evidence.store import read_url, resolve_base

    out = RUN / "accubooks_evidence_bundle.tar.gz"
    checkpoints, _ = read_all(str(EVIDENCE))
    manifest = export(ledger.rows(), checkpoints, read_url, resolve_base(str(EVIDENCE)), key, "accubooks", None, out)
    problems, _ = verify_bundle(out, public_key)
    print(f"Evidence bundle: {out} ({len(manifest['launch_rows'])} rows, {len(manifest['evidence'])} evidence files): "
          + ("verified offline: OK" if not problems else f"BROKEN: {problems[0]}")
          + f" (python -m include.launch.ledger verify --bundle {out} --public-key $(cat "
            f"{RUN / 'signing_public_key.txt'}))")
    return not problems


def prepare() -> None:
    from include.devservices.airflow_local import airflow_environment

    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    for folder in (EVIDENCE, DASHBOARDS):
        if folder.exists():
            say(f"clearing the previous demo's output in {folder}")
            shutil.rmtree(folder)
    os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    os.environ.update(airflow_environment(RUN / "airflow"))  # this process reads the same settings


UP_PID = ROOT / ".run" / "up.pid"
UP_LOG = ROOT / ".run" / "up.log"
READY = "STACK READY"


def running_up() -> int | None:
    """The pid of a stack started by ``make up`` that is still running."""
    if not UP_PID.exists():
        return None
    pid = int(UP_PID.read_text().strip() or 0)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, ValueError):
        return None
    return pid


def serve_until_stopped(airflow: Any) -> None:
    """The ``--up`` foreground: print how to sign in, then wait for SIGTERM (``make down``) or Ctrl-C."""
    from include.access.roles import DEMO_USERS
    from include.devservices.airflow_local import TEST_USERS, user_password

    print(f"\nAirflow UI: {airflow.base_url}   (Launch board: {airflow.base_url}/launch/)")
    print("Users (Airflow's FAB auth manager; approvers answer the Required Actions assigned to them, never "
          "a run they triggered):")
    for user in (u for u in TEST_USERS if u != "dag_test"):
        print(f"  {user:<14} {DEMO_USERS[user]:<16} password {user_password(airflow.home, user)}")
    print(f"Evidence: {EVIDENCE}\nStop everything with: make down\n{READY}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            clock.sleep(3600)
    say("stopping everything the stack started")


def start_detached(timeout: float = 600) -> int:
    """``make up``: run ``--up --foreground`` in its own session, return once it is ready."""
    if (pid := running_up()) is not None:
        print(f"a stack is already up (pid {pid}); see {UP_LOG} or stop it with: make down")
        return 1
    UP_LOG.parent.mkdir(parents=True, exist_ok=True)
    with UP_LOG.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "include.demo", "--up", "--foreground"], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                   cwd=ROOT)
    UP_PID.write_text(str(process.pid))
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        text = UP_LOG.read_text(errors="replace")
        if READY in text:
            print("Airflow UI:" + text.split("\nAirflow UI:", 1)[-1].replace(READY, "").rstrip())
            print(f"(log: {UP_LOG})")
            return 0
        if process.poll() is not None:
            print(text[-4000:])
            print(f"the stack exited with {process.returncode} before it was ready (log: {UP_LOG})")
            return 1
        clock.sleep(1)
    print(f"the stack was not ready within {timeout:g} s (log: {UP_LOG}); stopping it")
    stop_detached()
    return 1


def stop_detached(timeout: float = 90) -> int:
    """``make down``: SIGTERM to the ``make up`` process (it stops what it started), then SIGKILL."""
    pid = running_up()
    if pid is None:
        print("no stack from make up is running")
        UP_PID.unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline and running_up() is not None:
        clock.sleep(1)
    if running_up() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    UP_PID.unlink(missing_ok=True)
    print(f"stopped the stack (pid {pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo")
    parser.add_argument("--up", action="store_true", help="start the stack in the background and return when ready")
    parser.add_argument("--foreground", action="store_true", help="with --up: stay in the foreground (Ctrl-C stops)")
    parser.add_argument("--down", action="store_true", help="stop the stack that --up started")
    args = parser.parse_args(argv)
    if args.down:
        return stop_detached()
    if args.up and not args.foreground:
        return start_detached()
    if (pid := running_up()) is not None and os.getpid() != pid:
        print(f"a stack from make up is running (pid {pid}) on the same folders; stop it first: make down")
        return 1
    prepare()
    try:
        return run_demo(args.up)
    except DemoError as failure:
        print(f"\n{failure}", flush=True)
    except Exception as exc:  # noqa: BLE001 - the demo ends with a message a person can act on, never a traceback
        print(f"\nDEMO FAILED: {type(exc).__name__}: {exc}\n  process logs: {RUN / 'airflow' / 'process-logs'}"
              f"\n  everything the demo started has been stopped", flush=True)
    return 1


def run_demo(up: bool) -> int:
    from include.demo_outcome import explain

    started = clock.monotonic()
    with demo_stack() as stack:
        airflow = stack["airflow"]
        if up:
            serve_until_stopped(airflow)
            return 0
        freeze = todays_freeze()
        if freeze is not None and freeze.window.override is not None:
            say(f"today is inside the change freeze {freeze.label}: each phase asks for an override, approved by "
                f"{' and '.join(OVERRIDE_ANSWERERS.values())}")
        elif freeze is not None:
            say(f"today is inside the change freeze {freeze.label}, which the plan lets nobody override: "
                "the launch will be refused")
        failure = None
        for step in STEPS:
            run_id, state = run_step(stack, step)
            if state != "success":
                phase_id = next(p.id for p in _plan().phases if p.dag_id == step.dag_id)
                failure = explain(airflow.rest("operator"), stack["ledger_url"], step.dag_id, run_id,
                                  airflow.home, EVIDENCE, phase_id)
                say(f"{step.dag_id} did not succeed: the launch stops here")
                break
        ok = report(stack["ledger_url"], stack["public_key"])
        print(f"Launch board: {airflow.base_url}/launch/ (to keep a stack running: make up)")
        if stack["slack"] is not None:
            print(f"Slack messages received: {len(stack['slack'].messages)}")
    say(f"demo finished in {clock.monotonic() - started:.0f} s; everything it started is stopped")
    if failure is not None:
        raise DemoError(failure.message())
    if not ok:
        raise DemoError("DEMO FAILED: the ledger did not verify (see the problems above)")
    return 0


def _plan() -> Any:
    from include.launch.plan import load_plan

    return load_plan(DEMO_PLAN)


if __name__ == "__main__":
    sys.exit(main())
