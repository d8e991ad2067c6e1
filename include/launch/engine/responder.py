"""Who answered a human-in-the-loop question, in the plan's terms.

Airflow records ``responded_by`` as the auth manager's ``{id, name}``. Under FAB the id is a row
number and the name is the user name, which is what a plan names (``exec_approver``) and what the
launch's auth manager matched against the assignment (include.access.auth_manager); under the
simple auth manager both are the user name. So the plan's user is the ``name``, never the ``id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from include.launch.plan.models import Approver


def responder(event: Mapping[str, Any], people: Iterable[Approver] = ()) -> tuple[str, str]:
    """(user name, display name): the display name is the plan's for a person it names."""
    who = event.get("responded_by_user") or {}
    user = str(who.get("name") or who.get("id") or "")
    names = {person.id: person.name for person in people}
    return user, names.get(user, user)
