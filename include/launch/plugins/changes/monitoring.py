"""Phase 2's change: install the rendered Prometheus and Alertmanager config, reload both over HTTP,
publish the dashboards.

The snapshot keeps the text and sha256 of every file the install may overwrite (prometheus.yml,
every rule file, alertmanager.yml), so revert puts back exactly what was there, deletes what was not,
and reloads. The Slack webhook is written only to a 0600 file beside the installed Alertmanager config
(never into the snapshot, the ledger or the evidence).

The snapshot is recorded in the ledger, the evidence and XCom, so it holds config text with every
secret masked (URL paths, queries and credentials, secret-named keys: an installed alertmanager.yml
carries the pager's webhook URL). When masking changed a file, its exact text is kept only in a 0600
file under the Alertmanager folder's ``secrets/pre_change/`` (named by its sha256); revert restores
from there, checks the hash, and removes it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.redact import MASK, redact_text
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.changes.catalog import MonitoringInstallParams
from include.launch.plugins.target import Target
from include.monitoring import client
from include.monitoring.alertmanager_config import SLACK_SECRET
from include.monitoring.bundle import Bundle, render_bundle
from include.monitoring.prometheus_config import RULES_FOLDER
from include.monitoring.publish import publish
from include.monitoring.settings import MonitoringSettings, load_settings


def slack_webhook_url(conn_id: str) -> str:
    """The webhook URL held by the slackwebhook connection (password = full URL, or the token part)."""
    from include.launch.core.connections import get_connection

    conn = get_connection(conn_id)
    secret = str(conn.password or "")
    if not secret:
        raise AirflowFailException(f"connection {conn_id!r} has no webhook in its password")
    if "://" in secret:
        return secret
    host = str(conn.host or "https://hooks.slack.com/services").rstrip("/")
    return f"{host}/{secret.lstrip('/')}"


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomic replace, so Prometheus never reloads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as fh:
        fh.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


PRE_CHANGE_FOLDER = "secrets/pre_change"  # under the Alertmanager folder, beside the Slack secret
_URL = re.compile(r"(?P<base>[a-z][a-z0-9+.-]*://)(?P<rest>[^\s'\"<>]+)", re.I)
_SECRET_FIELD = re.compile(
    r"(?P<key>\b[\w.-]*(?:pass(?:word)?|secret|token|api[_-]?key|routing[_-]?key|service[_-]?key|"
    r"credentials?|authorization|webhook[_-]?url|url)(?![\w.-]*_file\b)[\w.-]*)(?P<sep>[ \t]*:[ \t]*)"
    r"(?P<value>[^\s#,{}\[\]][^#,}\]\n]*)", re.I)


def _mask_url(match: re.Match[str]) -> str:
    """``https://user:pw@host:1/path?q`` -> ``https://host:1/***``: the endpoint stays readable, the
    path (where webhook tokens live), query and credentials do not."""
    rest = match["rest"]
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rsplit("@", 1)[-1]
    tail = rest[len(authority):]
    hidden = "@" in authority or tail.strip("/") != ""
    return f"{match['base']}{host}/{MASK}" if hidden else match[0]


def _mask_field(match: re.Match[str]) -> str:
    value = match["value"].strip()
    if value.strip("'\"") in ("", MASK) or _URL.fullmatch(value.strip("'\"")):
        return match[0]  # empty, already masked, or a URL (masked by shape above)
    return f"{match['key']}{match['sep']}{MASK}"


def redact_config(text: str) -> str:
    """Config text safe for the ledger and evidence: URLs keep scheme and host only, values of
    secret-named keys (password, token, routing_key, ...; not ``*_file`` paths) are masked, plus the
    ledger's own shapes (Slack hooks, bearer tokens). Lines and comments stay, so diffs stay readable."""
    masked = _SECRET_FIELD.sub(_mask_field, _URL.sub(_mask_url, text))
    return redact_text(masked)


class MonitoringInstaller:
    """snapshot / apply / read_back / revert for the monitoring config of one launch."""

    def __init__(self, params: MonitoringInstallParams) -> None:
        self.params = params
        self.log: list[str] = []

    # -- contract ---------------------------------------------------------------------------
    def snapshot(self, run: PhaseRun) -> dict[str, Any]:
        """Masked text and exact sha256 of every file the install may touch; exact text that masking
        changed goes to a private 0600 file, never into this record."""
        settings = load_settings(run.spec.plan)
        bundle = self._bundle(run, settings)
        paths = set(bundle.files(Path(settings.prometheus_dir), Path(settings.alertmanager_dir)))
        paths |= set((Path(settings.prometheus_dir) / RULES_FOLDER).glob("*.yml"))
        files: dict[str, str | None] = {}
        hashes: dict[str, str | None] = {}
        kept_privately: list[str] = []
        for path in sorted(paths):
            text = path.read_text() if path.exists() else None
            hashes[str(path)] = text_sha256(text) if text is not None else None
            files[str(path)] = redact_config(text) if text is not None else None
            if text is not None and files[str(path)] != text:
                self._keep_privately(settings, text)
                kept_privately.append(str(path))
        secret = Path(settings.alertmanager_dir) / SLACK_SECRET
        snapshot = {"files": files, "sha256": hashes, "kept_privately": kept_privately,
                    "slack_secret_existed": secret.exists(),
                    "rules_loaded": sorted(client.loaded_rules(settings.prometheus_url))}
        run.evidence.write_json("pre_change_monitoring_config.json", snapshot, replace=True)
        return snapshot

    def apply(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        settings = load_settings(run.spec.plan)
        bundle = self._bundle(run, settings)
        files = bundle.files(Path(settings.prometheus_dir), Path(settings.alertmanager_dir))
        diff: list[str] = []
        for path, text in files.items():
            before = snapshot["files"].get(str(path)) or ""  # already masked
            diff += difflib.unified_diff(before.splitlines(), redact_config(text).splitlines(),
                                         fromfile=f"{path} (before, secrets masked)",
                                         tofile=f"{path} (after, secrets masked)", lineterm="")
        run.evidence.write_text("config_diff.txt", "\n".join(diff) + "\n")
        try:
            for path, text in files.items():
                write_file(path, text)
                self._note(f"installed {path}")
            webhook = slack_webhook_url(run.spec.plan.connections.slack)
            write_file(Path(settings.alertmanager_dir) / SLACK_SECRET, webhook + "\n", mode=0o600)
            self._note("Slack webhook written to the Alertmanager secret file (0600)")
            self._reload(settings)
            published = publish(run.spec.plan, settings, self.params.dashboards)
            self._note(f"dashboards published ({published['mode']}): {', '.join(published['dashboards'])}")
        except Exception as exc:
            self._note(f"FAILED: {exc}")
            raise AirflowFailException(f"monitoring install failed: {exc}") from exc
        finally:
            run.evidence.write_text("deployment_log.txt", "\n".join(self.log) + "\n")
        after = {"files": {str(path): sha256(path) for path in files}, "rules": bundle.rule_set.names(),
                 "not_alertable": bundle.rule_set.not_alertable, "dashboards": published}
        run.evidence.write_json("post_change_monitoring_config.json", after)
        return after

    def read_back(self, run: PhaseRun) -> dict[str, Any]:
        settings = load_settings(run.spec.plan)
        rule_dir = Path(settings.prometheus_dir) / RULES_FOLDER
        return {"rule_files": {path.name: sha256(path) for path in sorted(rule_dir.glob("*.yml"))},
                "rules_loaded": sorted(client.loaded_rules(settings.prometheus_url))}

    def revert(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        settings = load_settings(run.spec.plan)
        self.log = []
        restored = {}
        originals = self._originals(settings, snapshot)  # every exact text, before touching anything
        for name, text in originals.items():
            path = Path(name)
            if text is None:
                path.unlink(missing_ok=True)
                self._note(f"rollback: removed {path} (absent before the change)")
            else:
                write_file(path, text)
                self._note(f"rollback: restored {path}")
            restored[name] = sha256(path)
        if not snapshot.get("slack_secret_existed"):
            (Path(settings.alertmanager_dir) / SLACK_SECRET).unlink(missing_ok=True)
        try:
            self._reload(settings)
        finally:
            run.evidence.write_text("rollback_log.txt", "\n".join(self.log) + "\n", replace=True)
        loaded = sorted(client.loaded_rules(settings.prometheus_url))
        if loaded != sorted(snapshot.get("rules_loaded", [])):
            raise AirflowFailException(f"rollback not verified: Prometheus loads {loaded}, "
                                       f"before the change it loaded {snapshot.get('rules_loaded')}")
        self._forget_private_copies(settings, snapshot)
        return {"files": restored, "rules_loaded": loaded}

    # -- helpers ----------------------------------------------------------------------------
    def _bundle(self, run: PhaseRun, settings: MonitoringSettings) -> Bundle:
        replicas = Target.from_connection(run.spec.plan.connections.target_api).replicas
        return render_bundle(run.spec.plan, replicas, settings, Path(settings.prometheus_dir),
                             Path(settings.alertmanager_dir))

    def _reload(self, settings: MonitoringSettings) -> None:
        for name, url in (("Prometheus", settings.prometheus_url), ("Alertmanager", settings.alertmanager_url)):
            client.reload(url)
            self._note(f"{name} reloaded ({url}/-/reload)")

    @staticmethod
    def _private_folder(settings: MonitoringSettings) -> Path:
        return Path(settings.alertmanager_dir) / PRE_CHANGE_FOLDER

    def _keep_privately(self, settings: MonitoringSettings, text: str) -> None:
        folder = self._private_folder(settings)
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        write_file(folder / text_sha256(text), text, mode=0o600)

    def _originals(self, settings: MonitoringSettings, snapshot: dict[str, Any]) -> dict[str, str | None]:
        """The exact pre-change text of every file: from the snapshot, or from the private copy when
        the snapshot only holds it masked; each checked against the snapshot's sha256."""
        hashes: dict[str, str | None] = snapshot.get("sha256") or {}
        private = set(snapshot.get("kept_privately") or [])
        originals: dict[str, str | None] = {}
        for name, text in snapshot["files"].items():
            digest = hashes.get(name)
            if text is not None and name in private:
                copy = self._private_folder(settings) / str(digest)
                if not copy.exists():
                    raise AirflowFailException(f"rollback impossible: the exact pre-change text of {name} "
                                               f"is missing ({copy})")
                text = copy.read_text()
            if text is not None and digest is not None and text_sha256(text) != digest:
                raise AirflowFailException(f"rollback impossible: the pre-change text of {name} does not "
                                           "match the snapshot's sha256")
            originals[name] = text
        return originals

    def _forget_private_copies(self, settings: MonitoringSettings, snapshot: dict[str, Any]) -> None:
        hashes: dict[str, str | None] = snapshot.get("sha256") or {}
        folder = self._private_folder(settings)
        for name in snapshot.get("kept_privately") or []:
            (folder / str(hashes.get(name))).unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    def _note(self, message: str) -> None:
        self.log.append(f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {message}")


def monitoring_install(params: MonitoringInstallParams) -> MonitoringInstaller:
    return MonitoringInstaller(params)
