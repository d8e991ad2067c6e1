#!/usr/bin/env bash
# pip-audit over the pinned requirements, safe on a machine without a vulnerability service.
#
# pip-audit asks a vulnerability service about each pinned version: PyPI's per-version JSON API
# (https://pypi.org/pypi/<name>/<version>/json, default) or OSV (https://api.osv.dev). This script
# probes both first. When neither answers it says so plainly and exits 0 (CI is not failed by a
# network it cannot reach, and nobody mistakes "not audited" for "no vulnerabilities"). When one
# answers, findings fail the build unless triaged in docs/RELIABILITY.md and listed (one ID per
# line) in scripts/audit-ignore.txt.
#
#   scripts/audit.sh [requirements.txt]     AUDIT_TIMEOUT=8 (seconds per probe)
set -uo pipefail
cd "$(dirname "$0")/.."
REQUIREMENTS="${1:-requirements.txt}"
PY="${PY:-.venv/bin/python}"
PIP_AUDIT="${PIP_AUDIT:-.venv/bin/pip-audit}"
PYPI_URL="${AUDIT_PYPI_URL:-https://pypi.org/pypi}"
OSV_URL="${AUDIT_OSV_URL:-https://api.osv.dev/v1/query}"
TIMEOUT="${AUDIT_TIMEOUT:-8}"

if [[ ! -x "$PIP_AUDIT" ]]; then
  echo "audit: $PIP_AUDIT not installed (requirements-dev.txt pins pip-audit); run make venv"
  exit 1
fi

# One pinned package decides whether a service can answer for pinned versions at all.
read -r NAME VERSION < <(grep -E '^[A-Za-z0-9_.-]+==' "$REQUIREMENTS" | grep -v '^pip==' | head -1 | sed 's/==/ /')

probe() {  # probe pypi|osv -> prints the HTTP status (000 when unreachable)
  "$PY" - "$1" "$NAME" "$VERSION" "$PYPI_URL" "$OSV_URL" "$TIMEOUT" <<'EOF'
import json, sys, urllib.error, urllib.request
service, name, version, pypi, osv, timeout = sys.argv[1:]
if service == "pypi":
    request = urllib.request.Request(f"{pypi}/{name}/{version}/json")
else:
    body = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()
    request = urllib.request.Request(osv, data=body, headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=float(timeout)) as response:
        print(response.status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except Exception:  # refused, DNS, TLS, timeout: unreachable
    print("000")
EOF
}

PYPI_STATUS=$(probe pypi)
OSV_STATUS=$(probe osv)
if [[ "$PYPI_STATUS" == "200" ]]; then
  SERVICE=pypi
elif [[ "$OSV_STATUS" == "200" ]]; then
  SERVICE=osv
else
  echo "audit: NOT AUDITED: no vulnerability service reachable from this machine."
  echo "audit:   PyPI per-version JSON API $PYPI_URL/$NAME/$VERSION/json -> HTTP $PYPI_STATUS"
  echo "audit:   OSV $OSV_URL -> HTTP $OSV_STATUS (000 = unreachable)"
  echo "audit:   run scripts/audit.sh where pypi.org or api.osv.dev answers; see docs/RELIABILITY.md."
  exit 0
fi

REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
IGNORES=()
if [[ -f scripts/audit-ignore.txt ]]; then
  while read -r id _; do [[ -n "$id" && "$id" != \#* ]] && IGNORES+=(--ignore-vuln "$id"); done < scripts/audit-ignore.txt
fi
"$PIP_AUDIT" -r "$REQUIREMENTS" --no-deps --disable-pip --progress-spinner off -s "$SERVICE" \
  --timeout "$TIMEOUT" -f json -o "$REPORT" "${IGNORES[@]}" >/dev/null 2>&1
STATUS=$?
"$PY" - "$REPORT" "$SERVICE" "$STATUS" <<'EOF'
import json, sys
path, service, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    deps = json.load(open(path)).get("dependencies", [])
except (OSError, ValueError):
    print(f"audit: pip-audit ({service}) produced no report (exit {status}): NOT AUDITED")
    sys.exit(0 if status == 0 else 1)
audited = [d for d in deps if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
if not audited:
    print(f"audit: NOT AUDITED: {service} answered the probe but could not audit any of {len(deps)} pins")
    sys.exit(0)
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix"
        print(f"audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
skipped = len(deps) - len(audited)
print(f"audit: {service}: {len(audited)} pins audited, {skipped} skipped, {len(vulnerable)} with untriaged findings")
sys.exit(1 if vulnerable else 0)
EOF
