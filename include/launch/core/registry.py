"""Explicit registries of plug-in kinds (checks, change appliers, metric sources).

A plan names a plug-in by ``kind`` and gives it ``params``. The registry knows, for each kind, the
pydantic model its params must satisfy and where its implementation lives (``"module:function"``).
Implementations are imported only when a task runs them, so validating a plan (and parsing a DAG)
never imports great_expectations, pandas or the load generator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from include.launch.core.errors import ConfigurationError


class Params(BaseModel):
    """Base of every plug-in's params: frozen, and unknown keys are an error. Schemas are built on
    first use, so a DAG file pays only for the kinds its plan names."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


    def trigger_form(self) -> dict[str, dict[str, Any]]:
        """Trigger-form fields this plug-in adds, as Param keyword arguments by field name
        (``{"pool_max": {"default": 200, "type": "integer", "minimum": 1}}``). None by default."""
        return {}

    def with_overrides(self, values: dict[str, Any]) -> Params:
        """These params with the trigger form's values applied and validated (ValueError naming the
        field otherwise). Unchanged by default."""
        return self


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Kind(Generic[P]):
    """One registered plug-in kind."""

    name: str
    params_model: type[P]
    implementation: str
    summary: str

    def load(self) -> Callable[..., Any]:
        """Import the implementation on first use (inside a task, never at parse time)."""
        module_name, _, attribute = self.implementation.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attribute)  # type: ignore[no-any-return]
        except (ModuleNotFoundError, AttributeError) as exc:
            if module_name not in str(exc) and attribute not in str(exc):
                raise
            raise ConfigurationError(f"kind {self.name!r} has no implementation yet ({self.implementation})") from None


class Registry:
    """Kinds of one plug-in family, looked up by name; unknown names list the known ones."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._kinds: dict[str, Kind[Any]] = {}

    def register(self, name: str, params_model: type[Params], implementation: str, summary: str) -> None:
        if name in self._kinds:
            raise ConfigurationError(f"{self.family} kind {name!r} is registered twice")
        self._kinds[name] = Kind(name, params_model, implementation, summary)

    def register_all(self, package: str, kinds: list[tuple[str, type[Params], str, str]]) -> None:
        """Register ``(name, params model, module, summary)`` rows; each one's implementation is the
        function of the same name in ``<package>.<module>``."""
        for name, model, module, summary in kinds:
            self.register(name, model, f"{package}.{module}:{name}", summary)

    def get(self, name: str) -> Kind[Any]:
        try:
            return self._kinds[name]
        except KeyError:
            known = ", ".join(sorted(self._kinds))
            raise ConfigurationError(f"unknown {self.family} kind {name!r}; known kinds: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds
