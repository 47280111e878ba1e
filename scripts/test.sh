#!/usr/bin/env bash
# The whole test suite: sets up .venv if needed, then runs the three pytest invocations that must
# stay apart (pytest-jupyter's loop fixtures and sync Playwright cannot share a process), and prints
# one combined "N passed, N failed" line. Extra arguments go to every pytest invocation.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else echo "test: /usr/bin/chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi
fi
out=test-artifacts; mkdir -p "$out"; rm -f "$out"/junit-*.xml
status=0
run() { # name, pytest args...
  local name=$1; shift
  echo "=== pytest $name"
  .venv/bin/python -m pytest -p no:cacheprovider --junitxml="$out/junit-$name.xml" "$@" || status=1
}
run core tests --ignore=tests/server --ignore=tests/ui --ignore=tests/bench "$@"
run server tests/server "$@"
run ui tests/ui "$@"
.venv/bin/python - "$out" <<'PY'
import sys, glob, xml.etree.ElementTree as ET
t = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for f in glob.glob(f"{sys.argv[1]}/junit-*.xml"):
    for suite in ET.parse(f).getroot().iter("testsuite"):
        for k in t: t[k] += int(suite.get(k, 0))
failed = t["failures"] + t["errors"]
print(f"{t['tests'] - failed - t['skipped']} passed, {failed} failed, {t['skipped']} skipped")
PY
exit $status
