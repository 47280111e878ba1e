#!/usr/bin/env bash
# The whole test suite: sets up .venv if needed, then runs the labextension's checks (prettier,
# eslint, tsc, jest), the three pytest invocations that must stay apart (pytest-jupyter's loop
# fixtures and sync Playwright cannot share a process) and the release-wheel check, and prints one
# combined "N passed, N failed" line (every jest test and each lint/wheel check count as tests).
# Extra arguments go to every pytest invocation.
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
export PATH="$PWD/.venv/bin:$PATH"  # jlpm, jupyter-builder
check() { # name, command...: one JUnit test case "name" that passes when the command exits 0
  local name=$1; shift
  echo "=== $name: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  .venv/bin/python - "$out" "$name" $((SECONDS - start)) "$rc" <<'PY'
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr
out, name, seconds, rc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
log = escape(Path(out, f"{name}.log").read_text(errors="replace")[-20000:])
failure = f'<failure message="exit status {rc}">{log}</failure>' if rc else ""
Path(out, f"junit-{name}.xml").write_text(
    f'<testsuite name={quoteattr(name)} tests="1" failures="{int(rc != 0)}" errors="0" skipped="0" time="{seconds}">'
    f'<testcase classname="checks" name={quoteattr(name)} time="{seconds}">{failure}</testcase></testsuite>\n')
PY
  [ "$rc" = 0 ] || status=1
}
labext() { (cd labextension && jlpm "$@"); }
check jlpm-install labext install --immutable
check prettier labext prettier:check
check eslint labext eslint:check
check tsc labext typecheck
echo "=== jest"
JEST_JUNIT_OUTPUT_DIR="$PWD/$out" JEST_JUNIT_OUTPUT_NAME=junit-jest.xml labext test --ci || status=1
run core tests --ignore=tests/server --ignore=tests/ui --ignore=tests/bench "$@"
run server tests/server "$@"
run ui tests/ui "$@"
check wheel .venv/bin/python scripts/check_wheel.py
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
