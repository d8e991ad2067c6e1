"""Phase 3: enroll the beta cohort; its rollback pauses the beta.

apply: per cohort tenant a beta_cohort row and the beta flag (until the planned end), detailed
logging (a flag that expires after ``detailed_logging_hours``), invitations (Slack to the beta
channel, email through the pluggable sender), and a ``beta_started`` ledger row with the start and
planned end that the daily metrics DAG reads.

revert = pause the beta: tell the cohort, turn both flags off, keep every row of their data, export
each cohort tenant's data as CSV into the evidence folder, record the reason (``beta_paused``).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from include.launch.beta.cohort import Invitee, parse_cohort, target_problems
from include.launch.beta.email import Mail, email_sender
from include.launch.core.connections import postgres_conninfo
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.changes.catalog import BetaEnrollmentParams

BETA_STARTED = "beta_started"
BETA_PAUSED = "beta_paused"
BETA_RESUMED = "beta_resumed"


def target_dsn(run: PhaseRun) -> str:
    return postgres_conninfo(run.spec.plan.connections.target_db)


def beta_channel(run: PhaseRun) -> str:
    channels = run.spec.plan.notifications.channels
    return channels.get("beta") or channels.get("default", "")


class BetaApplier:
    def __init__(self, params: BetaEnrollmentParams) -> None:
        self.params = params
        invitees, problems = parse_cohort(list(params.cohort))
        if problems:  # with_overrides refuses these in phase_gate; this guards direct use
            raise AirflowFailException("cohort: " + "; ".join(problems))
        self.invitees: list[Invitee] = invitees

    @property
    def tenants(self) -> list[int]:
        return sorted(i.tenant_id for i in self.invitees)

    @property
    def flags(self) -> list[str]:
        return [self.params.flag, self.params.logging_flag]

    # -- contract ---------------------------------------------------------------------------
    def snapshot(self, run: PhaseRun) -> dict[str, Any]:
        """Refuse unknown or inactive invitees before anything changes; capture flags and cohort rows."""
        with psycopg.connect(target_dsn(run)) as conn:
            problems = target_problems(conn, self.invitees, self.params.inactive_roles)
            if problems:
                run.record("cohort_refused", Outcome.FAILED.value, {"problems": problems,
                                                                    "summary": "cohort: " + "; ".join(problems)})
                raise AirflowFailException("cohort refused: " + "; ".join(problems))
            flags = [{"tenant_id": int(t), "flag": str(f), "enabled": bool(e),
                      "expires_at": x.isoformat() if x else None}
                     for t, f, e, x in conn.execute(
                         "SELECT tenant_id, flag, enabled, expires_at FROM feature_flags WHERE tenant_id = ANY(%s)"
                         " AND flag = ANY(%s) ORDER BY tenant_id, flag", (self.tenants, self.flags)).fetchall()]
            cohort = [{"tenant_id": int(t), "status": str(s)} for t, s in conn.execute(
                "SELECT tenant_id, status FROM beta_cohort WHERE tenant_id = ANY(%s) ORDER BY tenant_id",
                (self.tenants,)).fetchall()]
            people = {int(uid): {"email": str(email), "name": str(name)} for uid, email, name in conn.execute(
                "SELECT id, email, name FROM users WHERE id = ANY(%s)",
                ([i.user_id for i in self.invitees],)).fetchall()}
        snapshot = {
            "tenants": self.tenants, "flags": flags, "beta_cohort": cohort,
            "invitees": [{**i.as_dict(), **people.get(i.user_id, {})} for i in self.invitees],
        }
        run.evidence.write_json("pre_change_beta_state.json", snapshot, replace=True)
        return snapshot

    def apply(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        first_day = self.params.start_day()
        start = datetime.combine(first_day, time.min, tzinfo=UTC) if first_day else now
        planned_end = start + timedelta(days=self.params.beta_days)
        logging_until = now + timedelta(hours=self.params.detailed_logging_hours)  # logging starts now
        with psycopg.connect(target_dsn(run)) as conn, conn.transaction():
            for tenant in self.tenants:
                conn.execute("INSERT INTO beta_cohort (tenant_id, invited_at, status) VALUES (%s, %s, 'active') "
                             "ON CONFLICT (tenant_id) DO UPDATE SET invited_at = EXCLUDED.invited_at, "
                             "status = 'active'", (tenant, start))
                for flag, until in ((self.params.flag, planned_end), (self.params.logging_flag, logging_until)):
                    conn.execute("INSERT INTO feature_flags (tenant_id, flag, enabled, expires_at) "
                                 "VALUES (%s, %s, true, %s) ON CONFLICT (tenant_id, flag) DO UPDATE SET "
                                 "enabled = true, expires_at = EXCLUDED.expires_at", (tenant, flag, until))
        sent = self._invite(run, snapshot, start, planned_end)
        window = {"start": start.isoformat(), "planned_end": planned_end.isoformat(), "days": self.params.beta_days,
                  "detailed_logging_until": logging_until.isoformat(), "tenants": self.tenants,
                  "invitees": [i.as_dict() for i in self.invitees], "channel": beta_channel(run)}
        ref = run.evidence.write_json("beta_enrollment.json", {**window, "invitations": sent}, replace=True)
        run.record(BETA_STARTED, Outcome.SUCCESSFUL.value, window, [ref])
        return {**window, "invitations": len(sent)}

    def read_back(self, run: PhaseRun) -> dict[str, Any]:
        return read_enrollment(target_dsn(run), self.flags)

    def revert(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Pause the beta: notify, flags off, data kept, CSV export per cohort tenant, reason recorded."""
        return pause_cohort(run, self.params, self.tenants, snapshot.get("invitees", []), _rollback_reason(run))

    # -- people -----------------------------------------------------------------------------
    def _invite(self, run: PhaseRun, snapshot: dict[str, Any], start: datetime, end: datetime) -> list[dict[str, str]]:
        sender = email_sender(self.params.email_sender, run, self.params.smtp_conn_id)
        sent = []
        for person in snapshot.get("invitees", []):
            mail = Mail(to=str(person.get("email") or f"user{person['user_id']}@unknown"), kind="invitation",
                        key=f"{person['tenant_id']}_{person['user_id']}",
                        subject=f"You are invited to the {run.spec.plan.launch.name} beta",
                        body=(f"Hello {person.get('name', '')},\n\nYour organisation (tenant {person['tenant_id']}) is "
                              f"in the controlled beta from {start:%Y-%m-%d} to {end:%Y-%m-%d}. Detailed logging is on "
                              f"for the first {self.params.detailed_logging_hours:g} hours. We will ask for "
                              "your opinion on days 7 and 14.\n"))
            sent.append({"user_id": str(person["user_id"]), "to": mail.to, "via": sender.send(mail)})
        run.notify("beta_invited", f"Beta started for {len(self.tenants)} tenants ({start:%Y-%m-%d} to "
                                   f"{end:%Y-%m-%d}); {len(sent)} invitation(s) sent.",
                   details={"Channel": beta_channel(run), "Cohort": ", ".join(map(str, self.tenants))})
        return sent



PAUSED_BODY = ("We paused the beta: {reason}.\nAll your data is kept as it is. A CSV export of your organisation's "
               "data is available on request from your account team. We will contact you before the beta resumes.")
RESUMED_BODY = ("The beta is running again: {reason}.\nYour beta features are back on until {until}; nothing you "
                "entered was lost.")


def _tell_invitees(run: PhaseRun, params: BetaEnrollmentParams, people: list[dict[str, Any]], kind: str,
                   subject: str, body: str) -> list[str]:
    sender = email_sender(params.email_sender, run, params.smtp_conn_id)
    told = []
    for person in people:
        mail = Mail(to=str(person.get("email") or f"user{person['user_id']}@unknown"), kind=kind,
                    key=f"{person['tenant_id']}_{person['user_id']}",
                    subject=subject.format(launch=run.spec.plan.launch.name),
                    body=f"Hello {person.get('name', '')},\n\n{body}\n")
        sender.send(mail)
        told.append(mail.to)
    return told


def invitee_people(dsn: str, invitees: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each invitee (tenant_id, user_id) with the e-mail address and name the target holds."""
    ids = [int(i["user_id"]) for i in invitees]
    with psycopg.connect(dsn) as conn:
        people = {int(uid): {"email": str(email), "name": str(name)} for uid, email, name in conn.execute(
            "SELECT id, email, name FROM users WHERE id = ANY(%s)", (ids,)).fetchall()}
    return [{**i, **people.get(int(i["user_id"]), {})} for i in invitees]


def pause_cohort(run: PhaseRun, params: BetaEnrollmentParams, tenants: list[int], people: list[dict[str, Any]],
                 reason: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pause the beta: both flags off, every row kept, one CSV per tenant table, the invitees and
    Slack told, a ``beta_paused`` row with the reason (``extra``: who paused it, for which incident)."""
    flags = [params.flag, params.logging_flag]
    with psycopg.connect(target_dsn(run)) as conn, conn.transaction():
        conn.execute("UPDATE feature_flags SET enabled = false WHERE tenant_id = ANY(%s) AND flag = ANY(%s)",
                     (tenants, flags))
        conn.execute("UPDATE beta_cohort SET status = 'paused' WHERE tenant_id = ANY(%s)", (tenants,))
    exports = export_tenants(run, tenants)
    notified = _tell_invitees(run, params, people, "beta_paused", "The {launch} beta is paused",
                              PAUSED_BODY.format(reason=reason))
    run.notify("beta_paused", f"Beta paused: {reason}. {len(notified)} invitee(s) told; data kept; CSV exports "
                              "in the evidence folder.", severity="P1", details={"Channel": beta_channel(run)})
    document = {"reason": reason, "paused_at": datetime.now(UTC).isoformat(), "tenants": tenants,
                "data_kept": True, "exports": {str(t): [r.path for r in refs] for t, refs in exports.items()},
                "notified": notified, **(extra or {})}
    summary = run.evidence.write_json("beta_pause.json", document, replace=True)
    refs = [summary, *[ref for tenant_refs in exports.values() for ref in tenant_refs]]
    run.record(BETA_PAUSED, Outcome.SUCCESSFUL.value, {k: v for k, v in document.items() if k != "exports"}
               | {"export_files": sum(len(r) for r in exports.values())}, refs, actor=str((extra or {}).get("by", "")))
    return {"paused": tenants, "flags_enabled": False, "exports": document["exports"]}


def resume_cohort(run: PhaseRun, params: BetaEnrollmentParams, tenants: list[int], people: list[dict[str, Any]],
                  until: datetime, reason: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Resume a paused beta: the beta flag on again until the planned end (detailed logging stays
    off: its hours were the first ones), the cohort active, the invitees and Slack told."""
    with psycopg.connect(target_dsn(run)) as conn, conn.transaction():
        conn.execute("UPDATE feature_flags SET enabled = true, expires_at = %s WHERE tenant_id = ANY(%s) "
                     "AND flag = %s", (until, tenants, params.flag))
        conn.execute("UPDATE beta_cohort SET status = 'active' WHERE tenant_id = ANY(%s)", (tenants,))
    told = _tell_invitees(run, params, people, "beta_resumed", "The {launch} beta is running again",
                          RESUMED_BODY.format(reason=reason, until=f"{until:%Y-%m-%d}"))
    run.notify("beta_resumed", f"Beta resumed: {reason}. {len(told)} invitee(s) told.",
               details={"Channel": beta_channel(run)})
    document = {"reason": reason, "resumed_at": datetime.now(UTC).isoformat(), "tenants": tenants,
                "until": until.isoformat(), "notified": told, **extra}
    ref = run.evidence.write_json("beta_resume.json", document, replace=True)
    run.record(BETA_RESUMED, Outcome.SUCCESSFUL.value, document, [ref], actor=str(extra.get("by", "")))
    return document


def read_enrollment(dsn: str, flags: list[str]) -> dict[str, Any]:
    """Which tenants have each flag enabled (and until when), and the beta_cohort rows."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tenant_id, flag, expires_at FROM feature_flags WHERE enabled AND flag = ANY(%s) "
                            "ORDER BY tenant_id", (flags,)).fetchall()
        cohort = conn.execute("SELECT tenant_id, status FROM beta_cohort ORDER BY tenant_id").fetchall()
    enabled: dict[str, dict[str, str | None]] = {flag: {} for flag in flags}
    for tenant, flag, expires in rows:
        enabled[str(flag)][str(tenant)] = expires.isoformat() if expires else None
    return {"enabled": enabled, "beta_cohort": {str(t): str(s) for t, s in cohort}}


def _rollback_reason(run: PhaseRun) -> str:
    rows = run.own_rows("rollback_started")
    return str(rows[-1].payload.get("reason")) if rows else "rollback requested"


def export_tenants(run: PhaseRun, tenants: list[int]) -> dict[int, list[Any]]:
    """One CSV per tenant table per cohort tenant: ``exports/tenant_<id>/<table>.csv``."""
    model = run.spec.plan.data_model
    tables = dict(model.tenant_tables) if model else {"users": "tenant_id"}
    exports: dict[int, list[Any]] = {}
    with psycopg.connect(target_dsn(run)) as conn:
        for tenant in tenants:
            refs = []
            for table, column in sorted(tables.items()):
                query = sql.SQL("SELECT * FROM {} WHERE {} = {} ORDER BY 1").format(
                    sql.Identifier(table), sql.Identifier(column), sql.Literal(tenant))
                cursor = conn.execute(query)
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow([d.name for d in cursor.description or []])
                for record in cursor:
                    writer.writerow(["" if v is None else v.isoformat() if hasattr(v, "isoformat") else v
                                     for v in record])
                refs.append(run.evidence.write_text(f"exports/tenant_{tenant}/{table}.csv", buffer.getvalue(),
                                                    replace=True))
            exports[tenant] = refs
    return exports


def beta_enrollment(params: BetaEnrollmentParams) -> BetaApplier:
    return BetaApplier(params)
