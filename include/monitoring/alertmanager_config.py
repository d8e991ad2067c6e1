"""alertmanager.yml: P0 -> pager and Slack urgent, P1 -> Slack urgent, P2 -> Slack.

A P1 also pages when the plan's P1 actions say so (Launch B: "page on-call"), so routing follows the
launch documents rather than one fixed table.

The Slack webhook is read by Alertmanager from ``api_url_file`` (a 0600 file written at deploy
time from the Slack connection), so neither this template nor the installed YAML holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from include.launch.plan.models import Plan
from include.monitoring.settings import MonitoringSettings

CONFIG_FILE = "alertmanager.yml"
SLACK_SECRET = "secrets/slack_webhook_url"

SLACK_TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.severity }} {{ .CommonLabels.alertname }}'
SLACK_TEXT = ('{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Labels.alertname }}: {{ .Annotations.summary }}\n'
              'Runbook: {{ .Annotations.runbook }}\n{{ end }}')


def _slack(channel: str, secret: Path) -> dict[str, Any]:
    return {"api_url_file": str(secret), "channel": channel, "send_resolved": True,
            "title": SLACK_TITLE, "text": SLACK_TEXT}


def paged_severities(plan: Plan) -> list[str]:
    """P0 always pages; another severity pages when its incident actions mention paging."""
    paged = {"P0"} | {rule.severity.value for rule in plan.incidents
                      if any("page" in action.lower() for action in rule.actions)}
    return sorted(paged)


def alertmanager_document(plan: Plan, settings: MonitoringSettings, config_dir: Path) -> dict[str, Any]:
    channels = plan.notifications.channels
    default = channels.get("default", "#launch")
    urgent = channels.get("urgent", default)
    secret = config_dir / SLACK_SECRET
    pager: dict[str, Any] = {"name": "pager"}
    if settings.pager_url:
        pager["webhook_configs"] = [{"url": settings.pager_url, "send_resolved": True}]
    routes: list[dict[str, Any]] = []
    for severity in paged_severities(plan):
        routes.append({"matchers": [f'severity="{severity}"'], "receiver": "pager", "continue": True,
                       "group_wait": "0s"})
    routes += [
        {"matchers": ['severity="P0"'], "receiver": "slack_urgent", "group_wait": "0s"},
        {"matchers": ['severity="P1"'], "receiver": "slack_urgent"},
        {"matchers": ['severity="P2"'], "receiver": "slack"},
    ]
    return {
        "route": {"receiver": "slack", "group_by": ["alertname", "severity"], "group_wait": settings.group_wait,
                  "group_interval": settings.group_interval, "repeat_interval": settings.repeat_interval,
                  "routes": routes},
        "receivers": [pager, {"name": "slack_urgent", "slack_configs": [_slack(urgent, secret)]},
                      {"name": "slack", "slack_configs": [_slack(default, secret)]}],
    }
