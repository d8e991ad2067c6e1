"""The text the monitoring snapshot records (ledger, evidence, XCom) carries no secret."""

from __future__ import annotations

from pathlib import Path

from include.launch.plan import load_plan
from include.launch.plugins.changes.monitoring import redact_config
from include.monitoring.bundle import render_bundle
from include.monitoring.settings import MonitoringSettings

PAGER_TOKEN = "FAKE-PAGER-TOKEN-7f3a9c"
SETTINGS = MonitoringSettings("http://127.0.0.1:9090", "/p", "http://127.0.0.1:9093", "/a",
                              pager_url=f"https://pager.example.com/v2/hooks/{PAGER_TOKEN}?key={PAGER_TOKEN}")


def test_rendered_alertmanager_config_keeps_the_pager_host_not_its_token() -> None:
    bundle = render_bundle(load_plan("accubooks"), ["http://127.0.0.1:18001"], SETTINGS, Path("/p"), Path("/a"))
    installed = bundle.alertmanager["alertmanager.yml"]
    assert PAGER_TOKEN in installed  # Alertmanager needs it ...
    masked = redact_config(installed)
    assert PAGER_TOKEN not in masked  # ... the record does not
    assert "https://pager.example.com/***" in masked
    assert len(masked.splitlines()) == len(installed.splitlines())  # same lines: diffs stay readable


def test_files_without_secrets_are_recorded_as_they_are() -> None:
    bundle = render_bundle(load_plan("accubooks"), ["http://127.0.0.1:18001"], SETTINGS, Path("/p"), Path("/a"))
    for text in bundle.prometheus.values():
        assert redact_config(text) == text


def test_secret_shapes_in_a_hand_written_config() -> None:
    text = """receivers:
- name: pd
  pagerduty_configs:
  - routing_key: 0123456789abcdef
    service_key: "svc-secret-1"
  slack_configs:
  - api_url: https://hooks.slack.com/services/tfake/bfake/slacksecret
    api_url_file: /etc/alertmanager/secrets/slack_webhook_url
  webhook_configs: [{url: 'http://bob:pw-secret@pager.local:8080/hook/PATHSECRET', send_resolved: true}]
  http_config:
    authorization: {type: Bearer, credentials: bearer-secret}
    basic_auth: {username: bob, password: hunter2}
"""
    masked = redact_config(text)
    for secret in ("0123456789abcdef", "svc-secret-1", "slacksecret", "hooks.slack.com/services", "pw-secret",
                   "PATHSECRET", "bearer-secret", "hunter2"):
        assert secret not in masked, (secret, masked)
    assert "api_url_file: /etc/alertmanager/secrets/slack_webhook_url" in masked  # a path, not a secret
    assert "http://pager.local:8080/***" in masked
