"""The evidence files a plan says a phase leaves, checked against what is really in the store.

A listed name is a file, a pattern whose ``[TIMESTAMP]``, ``[DATE]`` or ``[N]`` stands for any
text (``daily_metrics_[DATE].json``), or a folder ending in ``/``. The ``incidents/`` folder holds
the reports of the incidents the phase opened, so it is required only when the ledger shows one.
"""

from __future__ import annotations

import re

from include.launch.plan.models import EvidenceFile

PLACEHOLDER = re.compile(r"\[(TIMESTAMP|DATE|N)\]")
INCIDENTS_FOLDER = "incidents/"


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(".+".join(re.escape(literal) for literal in PLACEHOLDER.split(name)[::2]))


def present(entry: EvidenceFile, names: list[str]) -> bool:
    """True when one of ``names`` (paths relative to the searched folder) satisfies the entry; a
    file may lie in any sub-folder (a run's own, or a day's)."""
    if entry.name.endswith("/"):
        return any(f"/{entry.name}" in f"/{name}" for name in names)
    pattern = _pattern(entry.name)
    return any(pattern.fullmatch(name.rsplit("/", 1)[-1]) for name in names)


def missing(entries: list[EvidenceFile], names: list[str], *, due: str, incidents_opened: bool) -> list[str]:
    """The names of the entries due at ``due`` that nothing in ``names`` satisfies."""
    return [entry.name for entry in entries
            if entry.due == due and not (entry.name == INCIDENTS_FOLDER and not incidents_opened)
            and not present(entry, names)]
