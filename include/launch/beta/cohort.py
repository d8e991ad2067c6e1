"""The beta cohort: invitees as (tenant, user), checked for shape without a database and against the
target's users with one. Every bad entry is named; nothing is partly accepted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ENTRY = re.compile(r"^\s*(\d+)\s*[:/]\s*(\d+)\s*$")


@dataclass(frozen=True)
class Invitee:
    """One invitee: the tenant enrolled in the beta and the user invited for it. ``entry`` is the
    1-based position in the form, so messages can name it."""

    entry: int
    tenant_id: int
    user_id: int

    @property
    def label(self) -> str:
        return f"entry {self.entry} ({self.tenant_id}:{self.user_id})"

    def as_dict(self) -> dict[str, int]:
        return {"tenant_id": self.tenant_id, "user_id": self.user_id}


def _parse_one(position: int, raw: Any) -> Invitee | str:
    if isinstance(raw, dict):
        try:
            return Invitee(position, int(raw["tenant_id"]), int(raw["user_id"]))
        except (KeyError, TypeError, ValueError):
            return f"entry {position} ({raw!r}): expected tenant_id and user_id"
    match = ENTRY.match(str(raw))
    if not match:
        return f"entry {position} ({str(raw)!r}): expected tenant_id:user_id"
    return Invitee(position, int(match.group(1)), int(match.group(2)))


def parse_cohort(entries: list[Any]) -> tuple[list[Invitee], list[str]]:
    """Invitees in form order, plus a problem for every entry that is not ``tenant_id:user_id``."""
    invitees: list[Invitee] = []
    problems: list[str] = []
    for position, raw in enumerate(entries, start=1):
        parsed = _parse_one(position, raw)
        if isinstance(parsed, str):
            problems.append(parsed)
        else:
            invitees.append(parsed)
    return invitees, problems


def cohort_problems(entries: list[Any], minimum: int, maximum: int) -> list[str]:
    """Everything wrong with the cohort that needs no database: size, shape, duplicates, a tenant
    named twice (one invitee per tenant: the beta flag is per tenant)."""
    problems: list[str] = []
    if not minimum <= len(entries) <= maximum:
        problems.append(f"{len(entries)} invitee(s) given; the beta needs {minimum}-{maximum}")
    invitees, shape = parse_cohort(entries)
    problems += shape
    seen_pairs: dict[tuple[int, int], Invitee] = {}
    seen_users: dict[int, Invitee] = {}
    seen_tenants: dict[int, Invitee] = {}
    for invitee in invitees:
        pair = (invitee.tenant_id, invitee.user_id)
        if pair in seen_pairs:
            problems.append(f"{invitee.label}: duplicate of {seen_pairs[pair].label}")
            continue
        seen_pairs[pair] = invitee
        if invitee.user_id in seen_users:
            problems.append(f"{invitee.label}: user {invitee.user_id} already invited as "
                            f"{seen_users[invitee.user_id].label}")
            continue
        seen_users[invitee.user_id] = invitee
        if invitee.tenant_id in seen_tenants:
            problems.append(f"{invitee.label}: tenant {invitee.tenant_id} already in the cohort as "
                            f"{seen_tenants[invitee.tenant_id].label}; one invitee per tenant")
            continue
        seen_tenants[invitee.tenant_id] = invitee
    return problems


def target_problems(conn: Any, invitees: list[Invitee], inactive_roles: list[str]) -> list[str]:
    """Invitees the target does not know as an active user of that tenant (a psycopg connection)."""
    ids = sorted({i.user_id for i in invitees})
    tenant_ids = sorted({i.tenant_id for i in invitees})
    users = {int(uid): (None if tid is None else int(tid), str(role)) for uid, tid, role in conn.execute(
        "SELECT id, tenant_id, role FROM users WHERE id = ANY(%s)", (ids,)).fetchall()}
    tenants = {int(row[0]) for row in conn.execute("SELECT id FROM tenants WHERE id = ANY(%s)",
                                                   (tenant_ids,)).fetchall()}
    inactive = {role.lower() for role in inactive_roles}
    problems = []
    for invitee in invitees:
        if invitee.tenant_id not in tenants:
            problems.append(f"{invitee.label}: tenant {invitee.tenant_id} does not exist")
            continue
        found = users.get(invitee.user_id)
        if found is None:
            problems.append(f"{invitee.label}: user {invitee.user_id} does not exist")
        elif found[0] != invitee.tenant_id:
            problems.append(f"{invitee.label}: user {invitee.user_id} belongs to tenant {found[0]}, "
                            f"not {invitee.tenant_id}")
        elif found[1].lower() in inactive:
            problems.append(f"{invitee.label}: user {invitee.user_id} is inactive (role {found[1]})")
    return problems
