"""One exception family for the project, so callers can catch ours and nothing else."""

from __future__ import annotations


class LaunchError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigurationError(LaunchError, ValueError):
    """A plan, param or input is wrong; nothing has been changed."""


class PlanError(ConfigurationError):
    """A plan file failed validation; carries one message per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: invalid launch plan ({len(problems)} problem(s)):\n{listing}")


class LedgerError(LaunchError):
    """The audit ledger could not be written or does not verify."""


class EvidenceError(LaunchError):
    """An evidence file could not be written (outside the base, written twice, unreachable)."""
