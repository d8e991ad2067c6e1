"""One Sample type for every metric source: named values (None = no data) plus raw counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """taken_at: unix seconds. values: metric name -> value in the vocabulary's unit, None when the
    source had no data for it (inconclusive, never a pass). raw: cumulative counters, so the next
    sample can compute rates over the interval between them. error: the source could not be read."""

    taken_at: float
    source: str
    values: dict[str, float | None] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"taken_at": self.taken_at, "source": self.source, "values": self.values, "raw": self.raw,
                "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        return cls(float(data["taken_at"]), str(data["source"]), dict(data.get("values") or {}),
                   dict(data.get("raw") or {}), str(data.get("error") or ""))
