"""The beta's evidence as the daily scorecard left it: daily documents, surveys, rollups, quotes,
charts, and the incidents the ledger holds. Every name is relative to the evidence base, so the
review's documents can cite exactly the files they used."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from include.launch.evidence.store import EvidenceStore

DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def list_names(store: EvidenceStore, pattern: str) -> list[str]:
    """Files matching ``folder/glob`` under the store, as names relative to it, sorted."""
    from airflow.sdk import ObjectStoragePath

    folder, _, glob = pattern.rpartition("/")
    root = ObjectStoragePath(store.url_for(folder) if folder else store.base_url)
    if not root.exists():
        return []
    return sorted(f"{folder}/{p.name}" if folder else p.name for p in root.glob(glob) if p.is_file())


@dataclass
class Incident:
    incident_id: str
    severity: str
    title: str
    phase: str
    state: str  # open / resolved
    opened_at: str

    @property
    def integrity(self) -> bool:
        words = self.title.lower()
        return "integrity" in words or "isolation" in words

    def as_dict(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "severity": self.severity, "title": self.title, "phase": self.phase,
                "state": self.state, "opened_at": self.opened_at, "integrity": self.integrity}


@dataclass
class BetaEvidence:
    folder: str
    days: list[dict[str, Any]] = field(default_factory=list)  # daily documents, oldest first
    day_files: dict[str, str] = field(default_factory=dict)  # date -> file name
    surveys: dict[int, dict[str, Any]] = field(default_factory=dict)
    survey_files: dict[int, str] = field(default_factory=dict)
    weekly_files: list[str] = field(default_factory=list)
    quote_files: list[str] = field(default_factory=list)
    report_files: list[str] = field(default_factory=list)
    incident_files: list[str] = field(default_factory=list)
    charts: dict[str, str] = field(default_factory=dict)  # metric -> chart of the last day
    incidents: list[Incident] = field(default_factory=list)

    @property
    def first(self) -> str:
        return str(self.days[0]["date"]) if self.days else "-"

    @property
    def last(self) -> str:
        return str(self.days[-1]["date"]) if self.days else "-"

    def file_of(self, day: dict[str, Any]) -> str:
        return self.day_files[str(day["date"])]

    def all_files(self) -> list[str]:
        return [*self.day_files.values(), *self.survey_files.values(), *self.weekly_files, *self.quote_files,
                *self.incident_files]


def load(store: EvidenceStore, folder: str, ledger_rows: list[Any], beta_phase: str) -> BetaEvidence:
    """Read the scorecard folder ``folder`` and the launch's incident rows."""
    evidence = BetaEvidence(folder)
    for name in list_names(store, f"{folder}/daily_metrics_*.json"):
        document = json.loads(store.read_bytes(name))
        evidence.days.append(document)
        evidence.day_files[str(document["date"])] = name
    evidence.days.sort(key=lambda d: str(d["date"]))
    for name in list_names(store, f"{folder}/survey_results_day*.json"):
        match = re.search(r"day(\d+)\.json$", name)
        if match:
            evidence.surveys[int(match.group(1))] = json.loads(store.read_bytes(name))
            evidence.survey_files[int(match.group(1))] = name
    evidence.weekly_files = list_names(store, f"{folder}/weekly_metrics_week_*.md")
    evidence.quote_files = list_names(store, f"{folder}/user_quotes_*.md")
    evidence.report_files = list_names(store, f"{folder}/daily_report_*.md")
    evidence.incident_files = list_names(store, f"{folder}/incidents/INC-*.md")
    if evidence.days:
        for name in list_names(store, f"{folder}/charts/{evidence.last}/*.svg"):
            evidence.charts[name.rsplit("/", 1)[-1].removesuffix(".svg")] = name
    from include.launch.evidence.incident_log import incidents

    for found in incidents(list(ledger_rows)):
        if found.phase_id != beta_phase and not found.is_open:
            continue  # resolved incidents of other phases are theirs; open ones always count
        evidence.incidents.append(Incident(found.incident_id, found.severity, found.title, found.phase_id,
                                           "open" if found.is_open else "resolved",
                                           found.opened_at.isoformat(timespec="minutes")))
    return evidence
