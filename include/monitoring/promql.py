"""How a PromQL template of the target profile becomes a query: scoped to the launch's scrape job,
over the rate window.

One table per launch (``Plan.promql()``: the profile's templates and Prometheus' own uptime) serves
alert rules, dashboards, gates and the daily figures, so an alert and the panel that explains it
always compute the same number. Expressions are in the metric's unit (percent, ms).
"""

from __future__ import annotations

from collections.abc import Mapping

from include.launch.core.vocabulary import Metric

WINDOW = "$window"
SELECTOR = "$selector"

# What Prometheus itself measures of any service: uptime from its own ``up`` series. Everything
# else is the target profile's (``target_profile.monitoring.promql``): the engine names no series.
GENERIC: dict[Metric, str] = {
    Metric.UPTIME_PERCENT: "100 * avg(avg_over_time(up{$selector}[$window]))",
}

# "downtime" in the incident rules: a replica that does not answer its scrape.
DOWNTIME_EXPRESSION = "up{$selector} == 0"


def selector(job: str) -> str:
    return f'job="{job}"'


def render(template: str, job: str, window: str) -> str:
    """A template with the scrape job and rate window filled in."""
    return template.replace(SELECTOR, selector(job)).replace(WINDOW, window)


def expression(templates: Mapping[Metric, str], metric: Metric, job: str, window: str) -> str | None:
    """The PromQL for a plan metric from the launch's templates (``Plan.promql()``), or None when
    Prometheus has no series for it."""
    template = templates.get(metric)
    return None if template is None else render(template, job, window)
