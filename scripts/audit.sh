#!/usr/bin/env bash
# pip-audit over the pinned requirements, safe on a machine without a vulnerability service.
#
# pip-audit runs with its own defaults (its default vulnerability service; this script names none).
# Three outcomes:
#   - findings not triaged in docs/RELIABILITY.md and listed (one ID per line) in
#     scripts/audit-ignore.txt fail the build (exit 1);
#   - every pin audited with no untriaged finding passes (exit 0);
#   - NOT AUDITED (exit 0, said plainly, never "no vulnerabilities"): pip-audit could not reach its
#     service (its own error line is printed), did not finish in time, or answered for none of the pins.
#     CI is not failed by a network it cannot reach, and nobody mistakes not audited for clean.
# Any other pip-audit failure (bad requirements file, ...) fails the build with pip-audit's error line.
#
#   scripts/audit.sh [requirements.txt]
#   AUDIT_TIMEOUT=15 (pip-audit --timeout, seconds per request)   AUDIT_DEADLINE=120 (seconds in all)
#   AUDIT_IGNORE=scripts/audit-ignore.txt   PIP_AUDIT=.venv/bin/pip-audit   PY=.venv/bin/python
set -uo pipefail
if [[ -n "${1:-}" ]]; then REQUIREMENTS="$(realpath -- "$1")"; else REQUIREMENTS=requirements.txt; fi
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
PIP_AUDIT="${PIP_AUDIT:-.venv/bin/pip-audit}"
IGNORE_FILE="${AUDIT_IGNORE:-scripts/audit-ignore.txt}"
TIMEOUT="${AUDIT_TIMEOUT:-15}"
DEADLINE="${AUDIT_DEADLINE:-120}"

if [[ ! -x "$PIP_AUDIT" ]]; then
  echo "audit: $PIP_AUDIT not installed (requirements-dev.txt pins pip-audit); run make venv"
  exit 1
fi

REPORT=$(mktemp)
ERRORS=$(mktemp)
trap 'rm -f "$REPORT" "$ERRORS"' EXIT
IGNORES=()
if [[ -f "$IGNORE_FILE" ]]; then
  while read -r id _; do [[ -n "$id" && "$id" != \#* ]] && IGNORES+=(--ignore-vuln "$id"); done < "$IGNORE_FILE"
fi
timeout "$DEADLINE" "$PIP_AUDIT" -r "$REQUIREMENTS" --no-deps --disable-pip --progress-spinner off \
  --timeout "$TIMEOUT" -f json -o "$REPORT" "${IGNORES[@]}" >/dev/null 2>"$ERRORS"
STATUS=$?
"$PY" - "$REPORT" "$ERRORS" "$STATUS" "$DEADLINE" <<'EOF'
import json, re, sys
report, errors, status, deadline = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
# What pip-audit (or the requests library under it) says when its service cannot be reached or answer.
UNREACHABLE = re.compile(
    r"could not connect|connection ?error|connecttimeout|readtimeout|timed out|max retries exceeded"
    r"|name or service not known|name resolution|nodename nor servname|connection refused"
    r"|network is unreachable|no route to host|proxyerror|sslerror|serviceerror|not redirecting properly",
    re.IGNORECASE)


def error_line() -> str:
    """pip-audit's own error: its first ERROR log line (not its 'Tip:'), else the traceback's last line."""
    try:
        lines = [line.strip() for line in open(errors, errors="replace") if line.strip()]
    except OSError:
        lines = []
    logged = [line for line in lines if line.startswith("ERROR:") and "Tip:" not in line]
    if logged:
        return logged[0]
    return lines[-1] if lines else "(pip-audit wrote nothing to stderr)"


try:
    deps = json.load(open(report)).get("dependencies", [])
except (OSError, ValueError):
    deps = None
if deps is None:
    if status == 124:
        print(f"audit: NOT AUDITED: pip-audit did not finish within {deadline} s (AUDIT_DEADLINE)")
        sys.exit(0)
    line = error_line()
    if UNREACHABLE.search(line):
        print(f"audit: NOT AUDITED: pip-audit could not reach its vulnerability service: {line}")
        print("audit:   nothing was audited; run scripts/audit.sh where that service answers (docs/RELIABILITY.md)")
        sys.exit(0)
    print(f"audit: pip-audit failed (exit {status}) and produced no report: {line}")
    sys.exit(1)
audited = [d for d in deps if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
if not audited:
    reason = next((d["skip_reason"] for d in deps), "no pins in the requirements file")
    print(f"audit: NOT AUDITED: pip-audit answered for none of {len(deps)} pins: {reason}")
    sys.exit(0)
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix"
        print(f"audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
skipped = len(deps) - len(audited)
print(f"audit: {len(audited)} pins audited, {skipped} skipped, {len(vulnerable)} with untriaged findings")
if not vulnerable and status != 0:
    print(f"audit: pip-audit exited {status}: {error_line()}")
    sys.exit(1)
sys.exit(1 if vulnerable else 0)
EOF
