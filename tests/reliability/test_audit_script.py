"""scripts/audit.sh never reports 'no vulnerabilities' when nothing could be audited."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_audit_without_a_vulnerability_service_says_so_and_passes() -> None:
    env = {**os.environ, "AUDIT_PYPI_URL": "http://127.0.0.1:9/pypi", "AUDIT_OSV_URL": "http://127.0.0.1:9/v1/query",
           "AUDIT_TIMEOUT": "2"}
    result = subprocess.run([str(ROOT / "scripts" / "audit.sh")], capture_output=True, text=True, cwd=ROOT, env=env,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "NOT AUDITED: no vulnerability service reachable" in result.stdout
    assert "127.0.0.1:9/pypi/" in result.stdout and "HTTP 000" in result.stdout
    assert "No known vulnerabilities" not in result.stdout
