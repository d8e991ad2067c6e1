"""Create the launch roles (and the demo users) in FAB's tables, idempotently.

    python -m include.access.sync                              # roles only (production, Helm)
    python -m include.access.sync --demo-users PASSWORDS.json  # roles + include.access.roles.DEMO_USERS

Run it after ``airflow db migrate`` and before the api-server starts, wherever a stack is set up
(``include.devservices``, the compose file's init, the Helm chart's create-user job). Running it
again converges: each launch role gets exactly its permission set, each demo user exactly its role,
active, with the password in the file. The passwords file is read, or written (0600) with random
passwords when missing; passwords are never printed or logged (FAB logs user names only).

It ends by naming every user a shipped plan names as an approver who has no Airflow account: no
one can answer for such a user (``auth_manager`` matches by name), so it is said, not ignored.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from include.access.roles import ADMIN, DEMO_USERS, EVIDENCE_RESOURCE, READ, role_permissions


def ensure_password_file(path: Path, users: Iterable[str]) -> dict[str, str]:
    """``{user: password}`` from ``path``; users missing from it get a random one (file mode 0600)."""
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [user for user in users if user not in known]
    if missing or not path.exists():
        known.update({user: secrets.token_urlsafe(16) for user in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(json.dumps(known))
    return known


def dag_owned(resource: str) -> bool:
    """A per-DAG resource (``DAG:<id>``, ``DAG Run:<id>``): a DAG's ``access_control`` grants those,
    and the DAG processor re-syncs them on every parse, so the role sync leaves them alone."""
    from airflow.providers.fab.www.security.permissions import PREFIX_LIST

    return resource.startswith(tuple(PREFIX_LIST))


def sync_roles(sm: Any) -> None:
    """FAB's built-in roles, then each launch role with exactly its permissions (per-DAG grants
    kept, see ``dag_owned``); Admin gets evidence."""
    sm.sync_roles()
    for name, wanted in role_permissions().items():
        role = sm.find_role(name) or sm.add_role(name)
        per_dag = [perm for perm in role.permissions if perm.resource and dag_owned(perm.resource.name)]
        role.permissions = [sm.create_permission(action, resource) for action, resource in sorted(wanted)] + per_dag
        sm.session.commit()
    admin = sm.find_role(ADMIN)
    evidence = sm.create_permission(READ, EVIDENCE_RESOURCE)
    if evidence not in admin.permissions:
        sm.add_permission_to_role(admin, evidence)


def sync_users(sm: Any, users: Mapping[str, str], passwords: Mapping[str, str]) -> None:
    """Each user (name -> role) exists, is active, holds exactly that role and the given password."""
    from werkzeug.security import check_password_hash

    for name, role_name in users.items():
        role = sm.find_role(role_name)
        if role is None:
            raise ValueError(f"user {name!r}: no role {role_name!r}")
        user = sm.find_user(username=name)
        if user is None:
            sm.add_user(name, name, "(launch)", f"{name}@launch.invalid", role, passwords[name])
            continue
        user.roles, user.active = [role], True
        sm.session.commit()
        if not check_password_hash(user.password or "", passwords[name]):
            sm.reset_password(user.id, passwords[name])


def _approver_ids(node: Any) -> Iterator[str]:
    """Every ``approvers: [{id: ...}]`` anywhere in a plan (phases, freeze overrides, ...)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "approvers" and isinstance(value, list):
                yield from (str(item["id"]) for item in value if isinstance(item, dict) and "id" in item)
            else:
                yield from _approver_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _approver_ids(item)


def unknown_plan_users(sm: Any, plans: Iterable[Any]) -> list[str]:
    """``plan: user`` for each approver a plan names who has no Airflow account."""
    missing = []
    for plan in plans:
        for name in dict.fromkeys(_approver_ids(plan.model_dump(mode="json"))):
            if sm.find_user(username=name) is None:
                missing.append(f"{plan.launch.id}: {name}")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.access.sync", description=__doc__.split("\n")[0])
    parser.add_argument("--demo-users", type=Path, metavar="PASSWORDS_JSON",
                        help="also create the demo users, passwords from (or written to) this file")
    args = parser.parse_args(argv)

    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    from include.launch.ui.board import load_plans

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sync_roles(sm)
        if args.demo_users:
            sync_users(sm, DEMO_USERS, ensure_password_file(args.demo_users, DEMO_USERS))
        missing = unknown_plan_users(sm, load_plans().values())
    print(f"access: roles synced{' and demo users' if args.demo_users else ''}")
    for item in missing:
        print(f"access: WARNING plan approver without an Airflow user (nobody can answer for them): {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
