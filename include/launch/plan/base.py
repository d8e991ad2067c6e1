"""The base of every plan model: frozen (a loaded plan is not edited) and strict (a misspelt field is
an error naming it, not a default silently used)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
