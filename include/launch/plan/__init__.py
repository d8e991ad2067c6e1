"""Launch plans: models and loading. ``python -m include.launch.plan check FILE``."""

from include.launch.plan.loader import load_plan, parse_plan
from include.launch.plan.models import Phase, Plan

__all__ = ["Phase", "Plan", "load_plan", "parse_plan"]
