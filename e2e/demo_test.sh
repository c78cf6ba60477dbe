#!/usr/bin/env bash
# The README's first command, checked: scripts/demo.sh runs to its end without a terminal and
# prints what it promises: every example objective with a live budget in `kubectl get slo`, the
# FastBurn condition and its Event once checkout breaks, the alert in Prometheus, and where to look
# next. DEMO_SECONDS=0 skips the healthy minute; everything else is the demo as a newcomer runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp "${TMPDIR:-/tmp}/nines-demo.XXXXXX")
trap 'rm -f "$out"' EXIT

passed=0
failed=0
expect() {  # expect DESCRIPTION EXTENDED-REGEX
  if grep -qE "$2" "$out"; then
    passed=$((passed + 1))
    echo "ok: $1"
  else
    failed=$((failed + 1))
    echo "FAIL: $1 (no line matches /$2/)" >&2
  fi
}

if ! CI=true NO_COLOR=1 DEMO_SECONDS=0 scripts/demo.sh </dev/null >"$out" 2>&1; then
  echo "FAIL: scripts/demo.sh exited with an error; its output:" >&2
  cat "$out" >&2
  exit 1
fi
# What a newcomer sees first, in the test's log too.
sed -n '/== kubectl get slo -A -o wide/,/^== /p' "$out" | sed '$d'
sed -n '/FastBurn=True/,/== Mending/p' "$out" | sed '$d'
total=$(grep -c '^kind: ServiceLevelObjective' examples/*.yaml | awk -F: '{ n += $2 } END { print n }')
expect "every example objective has a budget" "^$total of $total objectives have a budget"
expect "kubectl get slo -A -o wide, with the burn columns" "NAMESPACE +NAME +SERVICE +OBJECTIVE +WINDOW +SLI +BUDGET +STATE +AGE +FAST BURN +SLOW BURN"
expect "a Healthy objective with its SLI and budget" "checkout-latency +checkout +99 +30d +[0-9.]+ +[0-9.-]+ +Healthy"
expect "FastBurn once checkout breaks" "FastBurn=True: a page tier holds: burn rate"
expect "the FastBurn Event" "Warning +FastBurn +a page tier holds"
expect "the alert in Prometheus" "SLOFastBurn firing"
expect "where to look next" "export KUBECONFIG="
expect "everything it started is stopped" "demo: stopping the operator, Prometheus and the workloads"
if [ "$failed" -ne 0 ]; then
  echo "--- the demo's output:" >&2
  cat "$out" >&2
fi
echo
echo "demo_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
