#!/usr/bin/env bash
# The error-budget status end to end: the real kubectl and kube-apiserver (the local control plane
# of e2e/controlplane/, or the cluster NINES_E2E_KUBECONFIG names), a real Prometheus scraping two
# nines-workload services, and the operator between them.
#
#   e2e/status_test.sh                uses build/nines and build/nines-workload (NINES_BUILD)
#
# What it shows, with the objectives of e2e/status/objectives.yaml (short tiers, so that it takes
# minutes, not hours):
# - both objectives become Healthy with their budget near 100%;
# - the availability service starts failing 5% of its requests: SLOFastBurn fires in Prometheus,
#   FastBurn becomes True with an Event, `kubectl get slo` shows the budget falling and the state
#   Burning, then Exhausted with BudgetExhausted=True;
# - the latency service slows down (about 5% of requests over 300ms): SlowBurn becomes True with an
#   Event, FastBurn stays False, the state is Burning;
# - both recover: the burn conditions clear, with Events;
# - Prometheus stopped: NoData, with the reason in the conditions, while the rules are still
#   reconciled (a deleted PrometheusRule comes back); Prometheus back on the same address: the
#   status recovers, the operator never restarted.
# In a PrometheusRule-aware cluster prometheus-operator loads the rules; here a loop copies the
# rules the operator applied into Prometheus's rule file and reloads it (e2e/lib/services.sh).
# Every wait is a bounded poll; nothing is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${NINES_BUILD:-$root/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/nines-status-e2e.XXXXXX")
ns=status-e2e
pids=()
operator_pid=
prometheus_pid=
own_control_plane=false
# shellcheck source=e2e/lib/services.sh
source e2e/lib/services.sh

# shellcheck source=e2e/lib/checks.sh
source e2e/lib/checks.sh

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # A killed loop's wait says 143: not a failure of the cleanup, which must reach the end.
  for pid in $operator_pid $prometheus_pid "${pids[@]}"; do
    { kill "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "--- operator log tail:" >&2
    tail -n 40 "$work/operator.log" >&2 2>/dev/null || true
    echo "--- status history:" >&2
    tail -n 40 "$work/history" >&2 2>/dev/null || true
    tail -n 10 "$work/history.err" >&2 2>/dev/null || true
    echo "--- prometheus log tail:" >&2
    tail -n 10 "$work/prometheus/prometheus.log" >&2 2>/dev/null || true
  fi
  if [ -n "${KUBECONFIG:-}" ] && [ -n "${KUBECTL:-}" ]; then
    "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  fi
  if $own_control_plane; then e2e/controlplane/controlplane.sh down >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in "$build/nines" "$build/nines-workload"; do
  [ -x "$tool" ] || { echo "status_test: $tool is missing: build first" >&2; exit 1; }
done
for tool in prometheus curl jq; do
  command -v "$tool" >/dev/null || { echo "status_test: $tool is missing (scripts/setup.sh)" >&2; exit 1; }
done

# ---- A cluster ---------------------------------------------------------------------------------
if [ -n "${NINES_E2E_KUBECONFIG:-}" ]; then
  export KUBECONFIG=$NINES_E2E_KUBECONFIG
else
  own_control_plane=true
  environment=$(e2e/controlplane/controlplane.sh up --crds crds)
  eval "$environment"
fi
find_kubectl
k apply --server-side -f crds/ >/dev/null
k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null

# ---- Two services and Prometheus ---------------------------------------------------------------
# A high rate while healthy and a low one while failing: the failing minutes then stay a small
# part of the 30-day window for a while, so the burn shows before the budget is gone, as it does
# when a long healthy history precedes an incident. 5% errors are a burn rate of 50, far from the
# page tier's 14.4: at 2% the few requests of a 1-minute window made the condition (and the alert)
# flap around the threshold.
start_workload "$build/nines-workload" "$work/availability.log" --rate 500 --seed 11 ||
  { echo "status_test: the availability workload did not start" >&2; exit 1; }
pids+=("$workload_pid")
availability=$workload_url
start_workload "$build/nines-workload" "$work/latency.log" --rate 500 --seed 12 ||
  { echo "status_test: the latency workload did not start" >&2; exit 1; }
pids+=("$workload_pid")
latency=$workload_url
control() { curl -fsS -X POST "$1/control?$2" >/dev/null; }

mkdir -p "$work/prometheus"
echo '{"groups": []}' >"$work/prometheus/rules.json"
cat >"$work/prometheus/prometheus.yml" <<YAML
global: {scrape_interval: 5s, scrape_timeout: 5s, evaluation_interval: 5s}
rule_files: [rules.json]
scrape_configs:
- job_name: status-availability
  static_configs: [{targets: ["${availability#http://}"]}]
- job_name: status-latency
  static_configs: [{targets: ["${latency#http://}"]}]
YAML
start_prometheus "$work/prometheus" || { echo "status_test: Prometheus did not start" >&2; exit 1; }
prom=$prometheus_url
prom_port=${prom##*:}
sync_rules "$KUBECTL" "$work/prometheus/rules.json" "$prom" &
pids+=($!)
echo "status_test: Prometheus at $prom, workloads at $availability and $latency"

# ---- The operator ------------------------------------------------------------------------------
metrics_port=$(free_port)
"$build/nines" operator --log-format text --leader-elect=false --namespaces "$ns" \
  --metrics-address "127.0.0.1:$metrics_port" --prometheus-url "$prom" --status-interval 5s \
  --min-rate-window 1m --requeue-period 1m >"$work/operator.log" 2>&1 &
operator_pid=$!
k apply -f e2e/status/objectives.yaml >/dev/null

slo_json() { k get slo -n "$ns" "$1" -o json; }
state() { slo_json "$1" | jq -r '.status.state // ""'; }
budget() { slo_json "$1" | jq -r '.status.errorBudget.remaining // ""'; }
condition() {  # condition NAME TYPE -> "Status Reason"
  slo_json "$1" | jq -r --arg t "$2" '.status.conditions[]? | select(.type == $t) | "\(.status) \(.reason)"'
}
condition_is() { [[ "$(condition "$1" "$2")" == "$3"* ]]; }
state_is() { [ "$(state "$1")" = "$2" ]; }
event_count() {  # event_count NAME REASON
  k get events.events.k8s.io -n "$ns" -o json |
    jq --arg n "$1" --arg r "$2" '[.items[] | select(.regarding.name == $n and .reason == $r)] | length'
}
has_event() { [ "$(event_count "$1" "$2")" -ge 1 ]; }
alert_firing() {  # alert_firing ALERT SLO
  curl -fsS "$prom/api/v1/alerts" |
    jq -e --arg a "$1" --arg s "$2" '[.data.alerts[] | select(.labels.alertname == $a and .labels.slo == $s and .state == "firing")] | length > 0' >/dev/null
}

# The availability objective's state and budget, every 2s, to see the order they came in. Each
# sample is bounded: one kubectl stuck on a dropped connection must not stop the record (a CI run
# once saw it end at Burning while the objective was long Exhausted). A failed sample is kept as
# "error", with kubectl's message in history.err.
sample_state() {
  local line
  line=$(timeout 20 "$KUBECTL" --request-timeout=10s get slo -n "$ns" checkout-availability -o json \
    2>>"$work/history.err" | jq -r '"\(.status.state // "-") \(.status.errorBudget.remaining // "-")"') ||
    line="error -"
  echo "$(date +%s) $line" >>"$work/history"
}
(
  while true; do
    sample_state || true
    sleep 2
  done
) &
pids+=($!)

# ---- Healthy -----------------------------------------------------------------------------------
wait_within 300 "checkout-availability Healthy" state_is checkout-availability Healthy
wait_within 300 "checkout-latency Healthy" state_is checkout-latency Healthy
b=$(budget checkout-availability)
if awk -v b="$b" 'BEGIN { exit !(b >= 99) }'; then ok "budget near 100% ($b%)"; else not_ok "budget near 100%, not $b%"; fi
condition_is checkout-availability FastBurn "False BurnRateBelowThreshold" &&
  ok "FastBurn False" || not_ok "FastBurn False: $(condition checkout-availability FastBurn)"
condition_is checkout-availability BudgetExhausted "False BudgetRemaining" &&
  ok "BudgetExhausted False" || not_ok "BudgetExhausted False: $(condition checkout-availability BudgetExhausted)"
echo "--- kubectl get slo"
k get slo -n "$ns" | tee "$work/get-healthy"
grep -q 'checkout-availability .*Healthy' "$work/get-healthy" && ok "kubectl get slo shows Healthy" ||
  not_ok "kubectl get slo shows Healthy"

# ---- Errors ------------------------------------------------------------------------------------
# Enough healthy history first: 90,000 requests (three minutes at 500 a second) keep the 30-day SLI
# above the objective for minutes after the errors start, while the page tier's 2m window sees only
# them. Then the burn shows before the budget is gone.
requests_seen() {
  curl -fsS -G "$prom/api/v1/query" --data-urlencode 'query=sum(increase(http_requests_total{job="status-availability"}[30m]))' |
    jq -e '(.data.result[0].value[1] // "0" | tonumber) >= 90000' >/dev/null
}
wait_within 600 "90,000 healthy requests in Prometheus" requests_seen
control "$availability" "rate=5&error_ratio=0.05"
control "$latency" "rate=5&latency_ms=185"
wait_within 480 "SLOFastBurn fires in Prometheus" alert_firing SLOFastBurn checkout-availability
wait_within 120 "FastBurn True" condition_is checkout-availability FastBurn "True BurnRateAboveThreshold"
wait_within 60 "a FastBurn Event" has_event checkout-availability FastBurn
wait_within 600 "checkout-availability Exhausted" state_is checkout-availability Exhausted
condition_is checkout-availability BudgetExhausted "True BudgetSpent" &&
  ok "BudgetExhausted True" || not_ok "BudgetExhausted True: $(condition checkout-availability BudgetExhausted)"
wait_within 60 "a BudgetExhausted Event" has_event checkout-availability BudgetExhausted
echo "--- kubectl get slo -o wide"
k get slo -n "$ns" -o wide | tee "$work/get-exhausted"
grep -q 'checkout-availability .*Exhausted' "$work/get-exhausted" && ok "kubectl get slo shows Exhausted" ||
  not_ok "kubectl get slo shows Exhausted"
# The history: Healthy, then Burning with the budget falling, then Exhausted (the last sample is
# this moment's, taken here).
sample_state
if awk '
    $2 == "Healthy" && !burning { healthy = 1 }
    $2 == "Burning" && healthy { if (!burning) first = $3; burning = 1; last = $3 }
    $2 == "Exhausted" && burning { exhausted = 1 }
    END { exit !(healthy && burning && exhausted && last < first) }' "$work/history"; then
  ok "the state went Healthy, Burning (budget falling), Exhausted"
else
  not_ok "the state went Healthy, Burning (budget falling), Exhausted: $(awk '{print $2, $3}' "$work/history" | uniq | tr '\n' ';')"
fi

wait_within 480 "checkout-latency SlowBurn True" condition_is checkout-latency SlowBurn "True BurnRateAboveThreshold"
condition_is checkout-latency FastBurn "False" && ok "checkout-latency FastBurn stays False" ||
  not_ok "checkout-latency FastBurn stays False: $(condition checkout-latency FastBurn)"
state_is checkout-latency Burning && ok "checkout-latency Burning" ||
  not_ok "checkout-latency Burning, not $(state checkout-latency)"
wait_within 60 "a SlowBurn Event" has_event checkout-latency SlowBurn

# ---- Recovery ----------------------------------------------------------------------------------
control "$availability" "error_ratio=0"
control "$latency" "latency_ms=120"
wait_within 360 "checkout-availability FastBurn clears" condition_is checkout-availability FastBurn "False"
wait_within 360 "checkout-availability SlowBurn clears" condition_is checkout-availability SlowBurn "False"
wait_within 60 "a FastBurnResolved Event" has_event checkout-availability FastBurnResolved
wait_within 360 "checkout-latency SlowBurn clears" condition_is checkout-latency SlowBurn "False"
wait_within 60 "checkout-latency Healthy again" state_is checkout-latency Healthy
state_is checkout-availability Exhausted && ok "checkout-availability stays Exhausted: the spent budget stays spent" ||
  not_ok "checkout-availability stays Exhausted, not $(state checkout-availability)"
[ "$(event_count checkout-availability FastBurn)" -eq 1 ] && ok "one FastBurn Event for one burn" ||
  not_ok "one FastBurn Event for one burn, not $(event_count checkout-availability FastBurn)"

# ---- Prometheus away, and back -----------------------------------------------------------------
kill "$prometheus_pid" && wait "$prometheus_pid" 2>/dev/null || true
prometheus_pid=
wait_within 60 "Prometheus down: NoData" state_is checkout-latency NoData
condition_is checkout-latency FastBurn "Unknown PrometheusUnavailable" &&
  ok "the reason is in the conditions" || not_ok "the reason: $(condition checkout-latency FastBurn)"
slo_json checkout-latency | jq -r '.status.conditions[] | select(.type == "FastBurn") | .message'
k delete prometheusrule -n "$ns" checkout-latency >/dev/null
wait_within 90 "rules still reconciled while Prometheus is down" k get prometheusrule -n "$ns" checkout-latency
condition_is checkout-latency Ready "True" && ok "still Ready" || not_ok "still Ready: $(condition checkout-latency Ready)"

start_prometheus "$work/prometheus" "$prom_port" || { not_ok "Prometheus restarted"; exit 1; }
wait_within 120 "Prometheus back: checkout-latency Healthy" state_is checkout-latency Healthy
wait_within 120 "Prometheus back: checkout-availability Exhausted" state_is checkout-availability Exhausted
kill -0 "$operator_pid" && ok "the operator never restarted" || not_ok "the operator never restarted"

echo "--- kubectl get slo"
k get slo -n "$ns"
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")
grep -E '^nines_(objectives|status_cycles_total|status_queries_total|status_writes_total)' <<<"$metrics"
grep -q 'nines_status_cycles_total{outcome="prometheus_error"}' <<<"$metrics" &&
  ok "/metrics counts the cycles Prometheus was away" || not_ok "/metrics counts the cycles Prometheus was away"

echo
echo "status_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
