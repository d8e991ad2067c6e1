"""Small HTTP clients for Prometheus and Alertmanager: reload, readiness, rules, targets, queries,
notification counters and posting an alert. Errors propagate as requests exceptions, so a caller can
tell "could not reach it" (an error) from "it answered no" (a failure)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

TIMEOUT = 5.0
_RFC3339 = re.compile(r"^(?P<head>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?P<fraction>\.\d+)?(?P<zone>Z|z|[+-]\d\d:\d\d)?$")


def ready(base: str) -> bool:
    """True when /-/ready answers 200; connection errors raise (unreachable is not 'not ready')."""
    return requests.get(f"{base}/-/ready", timeout=TIMEOUT).status_code == 200


def reload(base: str) -> str:
    """POST /-/reload (needs --web.enable-lifecycle on Prometheus); raises with the server's message."""
    response = requests.post(f"{base}/-/reload", timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"reload of {base} answered {response.status_code}: {response.text.strip()[:500]}")
    return response.text.strip()


def _api(base: str, path: str, params: dict[str, str] | None = None) -> Any:
    response = requests.get(f"{base}{path}", params=params, timeout=TIMEOUT)
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body.get('error') or body}")
    return body["data"]


def loaded_rules(prometheus: str) -> dict[str, dict[str, Any]]:
    """Alerting rules Prometheus has loaded, by name: group, health, last error, state."""
    found = {}
    for group in _api(prometheus, "/api/v1/rules", {"type": "alert"})["groups"]:
        for rule in group["rules"]:
            found[rule["name"]] = {"group": group["name"], "file": group.get("file", ""), "health": rule.get("health"),
                                   "last_error": rule.get("lastError", ""), "state": rule.get("state"),
                                   "severity": rule.get("labels", {}).get("severity")}
    return found


def active_targets(prometheus: str) -> list[dict[str, Any]]:
    """The scrape manager's current targets. ``pool`` (the job_name) and ``address`` (the configured
    target) say which scrape config a target came from, whatever relabelling did to job/instance."""
    found = []
    for t in _api(prometheus, "/api/v1/targets", {"state": "active"})["activeTargets"]:
        labels, discovered = t.get("labels", {}), t.get("discoveredLabels", {})
        found.append({"job": labels.get("job"), "instance": labels.get("instance"),
                      "pool": t.get("scrapePool", labels.get("job")),
                      "address": discovered.get("__address__", labels.get("instance")), "health": t["health"],
                      "last_error": t.get("lastError", ""), "last_scrape": t.get("lastScrape")})
    return found


def scrape_timestamp(text: str | None) -> float | None:
    """``lastScrape`` (RFC 3339, nanoseconds) as epoch seconds; None when never scraped."""
    if not text or text.startswith("0001-01-01"):
        return None
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    zone = match["zone"] if match["zone"] not in (None, "Z", "z") else "+00:00"
    # at most microseconds: what datetime.fromisoformat accepts on every supported Python
    return datetime.fromisoformat(f"{match['head']}{(match['fraction'] or '')[:7]}{zone}").timestamp()


def loaded_scrape_targets(prometheus: str) -> dict[str, list[str]]:
    """The static targets of every scrape job in the config Prometheus is running now (not the file on
    disk): job_name -> sorted targets."""
    document = yaml.safe_load(_api(prometheus, "/api/v1/status/config")["yaml"]) or {}
    return static_targets(document)


def static_targets(document: dict[str, Any]) -> dict[str, list[str]]:
    """job_name -> sorted static targets of a prometheus.yml document."""
    return {str(job["job_name"]): sorted(str(target) for static in job.get("static_configs") or []
                                         for target in static.get("targets") or [])
            for job in document.get("scrape_configs") or []}


def last_reload(prometheus: str) -> dict[str, Any]:
    """Whether Prometheus's last config reload succeeded and when the last successful one was (epoch s)."""
    gauges = counters(prometheus, ("prometheus_config_last_reload_successful",
                                   "prometheus_config_last_reload_success_timestamp_seconds"))
    return {"successful": gauges.get("prometheus_config_last_reload_successful{}") == 1.0,
            "at": gauges.get("prometheus_config_last_reload_success_timestamp_seconds{}")}


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    """An instant query's vector result (empty list: no data)."""
    data = _api(prometheus, "/api/v1/query", {"query": expr})
    result = data["result"]
    return result if isinstance(result, list) else [{"metric": {}, "value": result}]


def first_value(result: list[dict[str, Any]]) -> float | None:
    """The first sample's number; None when there is none, or when it is NaN (histogram_quantile over
    an interval without observations: no data, never a number to compare)."""
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def counters(base: str, names: tuple[str, ...]) -> dict[str, float]:
    """Selected samples (counters or gauges) from a /metrics page, keyed ``name{label=value,...}``."""
    response = requests.get(f"{base}/metrics", timeout=TIMEOUT)
    response.raise_for_status()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in names:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}"] = float(sample.value)
    return found


def post_alerts(alertmanager: str, alerts: list[dict[str, Any]]) -> None:
    response = requests.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=TIMEOUT)
    if response.status_code != 200:
        raise RuntimeError(f"Alertmanager refused the alert: {response.status_code} {response.text[:300]}")
