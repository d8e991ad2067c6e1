"""scripts/audit.sh: findings fail the build, triaged ones do not, and it never reports 'no
vulnerabilities' when nothing could be audited. Hermetic: pip-audit is a fake (PIP_AUDIT) that
answers like pip-audit does, except in the unreachable case, which runs the real pip-audit through a
proxy address nothing listens on (so no request leaves the machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "scripts" / "audit.sh"
REAL_PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
DEAD = "http://127.0.0.1:9"  # the discard port: connection refused

# A fake pip-audit: records its arguments, and writes the report (FAKE_REPORT, minus ignored
# vulnerabilities, as pip-audit does) to its -o file, or FAKE_STDERR to stderr; exits FAKE_EXIT.
FAKE = """\
import json, os, sys
args = sys.argv[1:]
open(os.environ["FAKE_ARGS"], "w").write(json.dumps(args))
sys.stderr.write(os.environ.get("FAKE_STDERR", ""))
if "FAKE_REPORT" in os.environ:
    ignored = {args[i + 1] for i, arg in enumerate(args) if arg == "--ignore-vuln"}
    report = json.loads(os.environ["FAKE_REPORT"])
    for dep in report["dependencies"]:
        if "vulns" in dep:
            dep["vulns"] = [v for v in dep["vulns"] if v["id"] not in ignored]
    open(args[args.index("-o") + 1], "w").write(json.dumps(report))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""
VULN = {"id": "GHSA-test-0001", "fix_versions": ["2.35.0"], "aliases": ["CVE-2099-0001"], "description": "x"}


def dep(name: str, version: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "version": version, "vulns": list(vulns)}


def report(*deps: dict[str, Any]) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


@pytest.fixture()
def requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("requests==2.34.2\nidna==3.20\n")
    return path


def run_audit(tmp_path: Path, requirements: Path, ignore: str = "", real: bool = False,
              **fake: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("no_proxy", "all_proxy")}
    ignore_file = tmp_path / "audit-ignore.txt"
    ignore_file.write_text(ignore)
    env.update(PY=sys.executable, AUDIT_IGNORE=str(ignore_file), AUDIT_TIMEOUT="5", AUDIT_DEADLINE="60",
               FAKE_ARGS=str(tmp_path / "args.json"), **fake)
    if real:
        env.update(PIP_AUDIT=str(REAL_PIP_AUDIT), HTTPS_PROXY=DEAD, HTTP_PROXY=DEAD, https_proxy=DEAD,
                   http_proxy=DEAD, XDG_CACHE_HOME=str(tmp_path / "cache"))
    else:
        program = tmp_path / "pip-audit"
        program.write_text(f"#!{sys.executable}\n{FAKE}")
        program.chmod(0o755)
        env["PIP_AUDIT"] = str(program)
    result = subprocess.run([str(AUDIT), str(requirements)], capture_output=True, text=True, cwd=ROOT, env=env,
                            check=False, timeout=120)
    args_file = tmp_path / "args.json"
    return result, json.loads(args_file.read_text()) if args_file.exists() else []


@pytest.mark.skipif(not REAL_PIP_AUDIT.is_file(), reason="pip-audit not installed (requirements-dev.txt)")
def test_audit_without_a_vulnerability_service_says_so_and_passes(tmp_path: Path, requirements: Path) -> None:
    result, _ = run_audit(tmp_path, requirements, real=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT AUDITED: pip-audit could not reach its vulnerability service: " in result.stdout
    assert "Max retries exceeded" in result.stdout  # pip-audit's own error line, from its stderr
    assert "No known vulnerabilities" not in result.stdout


def test_unreachable_service_reports_pip_audits_error_and_passes(tmp_path: Path, requirements: Path) -> None:
    error = "ERROR:pip_audit._cli:Could not connect to the vulnerability feed"
    result, args = run_audit(tmp_path, requirements, FAKE_STDERR=f"{error}\nERROR:pip_audit._cli:Tip: ...\n",
                             FAKE_EXIT="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"NOT AUDITED: pip-audit could not reach its vulnerability service: {error}" in result.stdout
    assert args[:5] == ["-r", str(requirements), "--no-deps", "--disable-pip", "--progress-spinner"]
    assert "--timeout" in args and "-s" not in args  # pip-audit's own service, a per-request timeout


def test_untriaged_finding_fails_naming_it(tmp_path: Path, requirements: Path) -> None:
    result, _ = run_audit(tmp_path, requirements, FAKE_REPORT=report(dep("requests", "2.34.2", VULN),
                                                                     dep("idna", "3.20")), FAKE_EXIT="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "audit: requests 2.34.2: GHSA-test-0001 (fixed in 2.35.0)" in result.stdout
    assert "2 pins audited, 0 skipped, 1 with untriaged findings" in result.stdout


def test_triaged_finding_in_the_ignore_list_passes(tmp_path: Path, requirements: Path) -> None:
    result, args = run_audit(tmp_path, requirements, ignore="# triaged in docs/RELIABILITY.md\nGHSA-test-0001  why\n",
                             FAKE_REPORT=report(dep("requests", "2.34.2", VULN), dep("idna", "3.20")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert args[args.index("--ignore-vuln") + 1] == "GHSA-test-0001" and args.count("--ignore-vuln") == 1
    assert "2 pins audited, 0 skipped, 0 with untriaged findings" in result.stdout


def test_clean_audit_passes(tmp_path: Path, requirements: Path) -> None:
    result, args = run_audit(tmp_path, requirements, FAKE_REPORT=report(dep("requests", "2.34.2"), dep("idna", "3.20")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 pins audited, 0 skipped, 0 with untriaged findings" in result.stdout
    assert "NOT AUDITED" not in result.stdout and "--ignore-vuln" not in args


def test_every_pin_skipped_is_not_audited_not_clean(tmp_path: Path, requirements: Path) -> None:
    """pip-audit exits 0 ('No known vulnerabilities found') when its service 404s every pin."""
    skipped = [{"name": name, "skip_reason": f"Dependency not found and could not be audited: {name}"}
               for name in ("requests", "idna")]
    result, _ = run_audit(tmp_path, requirements, FAKE_REPORT=report(*skipped),
                          FAKE_STDERR="No known vulnerabilities found\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT AUDITED: pip-audit answered for none of 2 pins: Dependency not found" in result.stdout


def test_other_pip_audit_failure_fails_with_its_error(tmp_path: Path, requirements: Path) -> None:
    error = "ERROR:pip_audit._cli:invalid requirements input: nope"
    result, _ = run_audit(tmp_path, requirements, FAKE_STDERR=f"{error}\n", FAKE_EXIT="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"pip-audit failed (exit 1) and produced no report: {error}" in result.stdout
    assert "NOT AUDITED" not in result.stdout
