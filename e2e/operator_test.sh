#!/usr/bin/env bash
# The operator end to end, with the real kubectl against a real kube-apiserver: the local control
# plane of e2e/controlplane/ (built once, cached), or the cluster that NINES_E2E_KUBECONFIG names.
#
#   e2e/operator_test.sh              uses build/nines (NINES_BUILD overrides)
#
# What it shows: applying the examples creates their PrometheusRules, identical to `nines
# generate`'s, and their dashboards, and every objective becomes Ready; an invalid objective gets
# Ready=False with the field in the message and an Event, and the others are unaffected; editing
# an objective updates its rules; a generated rule edited or deleted by hand is restored; a
# same-named PrometheusRule that the objective does not own is left byte for byte untouched and
# the objective reports OwnershipConflict; deleting an objective removes what it generated
# (garbage collection); the API server restarted under the operator; of two replicas exactly one
# writes, and when it dies the other takes over within the lease; SIGTERM stops it cleanly and
# releases the Lease.
# Every wait is a bounded poll; nothing is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=e2e/lib/services.sh
source e2e/lib/services.sh
build=${NINES_BUILD:-$root/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/nines-operator-e2e.XXXXXX")
operator_pid=
own_control_plane=false

# shellcheck source=e2e/lib/checks.sh
source e2e/lib/checks.sh

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # An operator that already died makes wait fail: not a failure of the cleanup, which must go on.
  for pid in $operator_pid ${second_pid:-}; do { kill "$pid" && wait "$pid"; } 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "operator log tail:" >&2
    tail -n 30 "$work"/replica-*.log >&2 2>/dev/null || true
  fi
  if $own_control_plane; then e2e/controlplane/controlplane.sh down >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$build/nines" ] || { echo "operator_test: $build/nines is missing: build first" >&2; exit 1; }

# ---- A cluster ---------------------------------------------------------------------------------
if [ -n "${NINES_E2E_KUBECONFIG:-}" ]; then
  export KUBECONFIG=$NINES_E2E_KUBECONFIG
  kubectl apply --server-side -f crds/ >/dev/null
else
  own_control_plane=true
  environment=$(e2e/controlplane/controlplane.sh up --crds crds)
  eval "$environment"
fi
# The machine's kubectl, or the one built from the same Kubernetes release.
find_kubectl
echo "operator_test: $(k version -o json | jq -r '"kubectl \(.clientVersion.gitVersion), server \(.serverVersion.gitVersion)"')"

namespaces=$(grep -h '^  namespace:' examples/*.yaml | awk '{print $2}' | sort -u)
for ns in $namespaces; do k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null; done

start_operator() {  # start_operator NAME: one replica, its log in $work/NAME.log, /metrics on $metrics
  metrics_port=$(free_port)
  metrics=http://127.0.0.1:$metrics_port/metrics
  "$build/nines" operator --log-format text --metrics-address "127.0.0.1:$metrics_port" \
    --requeue-period 1m --instance "$1" >>"$work/$1.log" 2>&1 &
  operator_pid=$!
}
relists() { curl -fsS "$metrics" | awk '$1 == "nines_watch_relists_total" { print $2 }'; }


ready_count() { k get slo -A -o json | jq '[.items[] | select(.status.conditions[]? | .type == "Ready" and .status == "True")] | length'; }
all_ready() { [ "$(ready_count)" -eq "$1" ]; }
condition() {  # condition NS NAME -> "Status Reason Message"
  k get slo -n "$1" "$2" -o json | jq -r '.status.conditions[]? | select(.type == "Ready") | "\(.status) \(.reason) \(.message)"'
}
rule_spec() { k get prometheusrule -n "$1" "$2" -o json | jq -S .spec; }
generated_spec() {  # the spec `nines generate` renders for a file, as JSON
  "$build/nines" generate --dashboards none -f "$1" | yq_spec "$2"
}
yq_spec() {  # the spec of the PrometheusRule named $1 in a YAML stream, via kubectl's own parser
  k create --dry-run=client -o json -f - 2>/dev/null |
    jq -S --arg n "$1" 'if .kind == "List" then .items[] else . end | select(.metadata.name == $n) | .spec'
}

# ---- Applying the examples ---------------------------------------------------------------------
start_operator replica-a
k apply -f examples/ >/dev/null
objectives=$(k get slo -A -o name | wc -l)
wait_for "all $objectives example objectives Ready" all_ready "$objectives"
for file in examples/*.yaml; do
  k create --dry-run=client -o json -f "$file" |
    jq -r 'if .kind == "List" then .items[] else . end | select(.kind == "ServiceLevelObjective") | "\(.metadata.namespace) \(.metadata.name)"' |
    while read -r ns name; do
      if [ "$(rule_spec "$ns" "$name")" = "$(generated_spec "$file" "$name")" ]; then
        echo "ok: $ns/$name: the PrometheusRule is what nines generate renders"
      else
        echo "FAIL: $ns/$name: the PrometheusRule differs from nines generate's" >&2
        echo x >>"$work/differ"
      fi
      k get configmap -n "$ns" "$name-slo-dashboard" -o name >/dev/null 2>&1 ||
        { echo "FAIL: $ns/$name: no dashboard ConfigMap" >&2 && echo x >>"$work/differ"; }
    done
done
if [ -s "$work/differ" ]; then not_ok "generated objects"; else ok "every PrometheusRule and dashboard as generated"; fi

# ---- An invalid objective ----------------------------------------------------------------------
# One that the CRD lets through (its schema and CEL reject the rest at admission, see
# e2e/crd_test.sh): only the operator's parser sees that the regular expression is unbalanced.
k apply -f - >/dev/null <<'EOF'
apiVersion: nines.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: broken, namespace: shop}
spec:
  service: broken
  objective: "99.9"
  indicator: {ratio: {total: a_total, bad: 'b_total{code=~"5(.."}'}}
EOF
invalid() { condition shop broken | grep -q '^False InvalidSpec spec.indicator.ratio.bad: invalid regular expression'; }
wait_for "an invalid objective is Ready=False with the field in the message" invalid
event() { k get events -n shop -o json | jq -e '[.items[] | select(.reason == "InvalidSpec" and .involvedObject.name == "broken")] | length > 0'; }
wait_for "an Event says why" event
if k get prometheusrule -n shop broken >/dev/null 2>&1; then not_ok "an invalid objective got rules"; else ok "nothing invalid reaches Prometheus"; fi
if all_ready "$objectives"; then ok "the other objectives are unaffected"; else not_ok "the others lost Ready"; fi

# ---- Edits, hand edits, deletions ----------------------------------------------------------------
k patch slo -n shop checkout-availability --type merge -p '{"spec":{"objective":"99.5"}}' >/dev/null
edited() { rule_spec shop checkout-availability | grep -q 'vector(0.995)'; }
wait_for "editing an objective updates its rules" edited
observed() { [ "$(k get slo -n shop checkout-availability -o jsonpath='{.status.observedGeneration}')" = 2 ]; }
wait_for "observedGeneration follows the edit" observed

before=$(rule_spec shop checkout-latency)
k patch prometheusrule -n shop checkout-latency --type merge -p '{"spec":{"groups":[]}}' >/dev/null
restored() { [ "$(rule_spec shop checkout-latency)" = "$before" ]; }
wait_for "a generated rule edited by hand is restored" restored
k delete prometheusrule -n shop checkout-latency >/dev/null
wait_for "a generated rule deleted by hand is restored" restored

k apply -f - >/dev/null <<'EOF'
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: theirs, namespace: shop, labels: {team: other}}
spec: {groups: [{name: theirs, rules: [{record: "x:y:z", expr: "vector(1)"}]}]}
EOF
theirs_before=$(k get prometheusrule -n shop theirs -o json)
sed 's/name: checkout-availability/name: theirs/' examples/availability.yaml | k apply -f - >/dev/null
conflict() { condition shop theirs | grep -q '^False OwnershipConflict PrometheusRule shop/theirs'; }
wait_for "a same-named rule it does not own: OwnershipConflict" conflict
if [ "$(k get prometheusrule -n shop theirs -o json)" = "$theirs_before" ]; then
  ok "... and that rule is byte for byte untouched"
else
  not_ok "the rule it does not own was changed"
fi

k delete slo -n shop catalog-availability >/dev/null
collected() { ! k get prometheusrule -n shop catalog-availability && ! k get configmap -n shop catalog-availability-slo-dashboard; }
wait_for "deleting an objective removes its rules and dashboard" collected

# ---- The API server restarted under the operator, its history compacted ---------------------
# It crashes (a few seconds down: the leader keeps its Lease) and while it is down etcd is
# compacted: every watch resumes from a resourceVersion that is gone, gets 410, and must list
# again. What changes right after the restart must all arrive, once.
if $own_control_plane; then
  invalid_events() { k get events -n shop -o json | jq '[.items[] | select(.reason == "InvalidSpec" and .involvedObject.name == "broken")] | length'; }
  events_before=$(invalid_events)
  relists_before=$(relists)
  e2e/controlplane/controlplane.sh restart-apiserver --crash --compact 2>>"$work/controlplane.log"
  k patch slo -n shop checkout-latency --type merge -p '{"spec":{"objective":"98"}}' >/dev/null
  k delete configmap -n shop checkout-availability-slo-dashboard >/dev/null
  after_restart() { rule_spec shop checkout-latency | grep -q 'vector(0.98)'; }
  wait_for "after an API server restart, edits still reach the rules" after_restart
  dashboard_back() { k get configmap -n shop checkout-availability-slo-dashboard; }
  wait_for "after an API server restart, a deleted dashboard is restored" dashboard_back
  relisted() { [ "$(relists)" -gt "$relists_before" ]; }
  wait_for "the watches expired (410) and the operator listed again" relisted
  if [ "$(invalid_events)" = "$events_before" ]; then ok "nothing duplicated: no second InvalidSpec Event"; else not_ok "InvalidSpec Events: $events_before before, $(invalid_events) after"; fi
  # The examples but catalog-availability (deleted above); broken and theirs never were Ready.
  if all_ready "$((objectives - 1))"; then ok "every valid objective still Ready"; else not_ok "Ready objectives after the restart: $(ready_count)"; fi
fi

# ---- Two replicas: exactly one writes; when it dies the other takes over -------------------------
first_pid=$operator_pid
start_operator replica-b
second_pid=$operator_pid
waiting() { grep -q "waiting to lead" "$work/replica-b.log"; }
wait_for "a second replica starts and waits for the Lease" waiting
holder() { k get lease -n default nines-operator -o jsonpath='{.spec.holderIdentity}'; }
if [ "$(holder)" = replica-a ]; then ok "the first replica holds the Lease"; else not_ok "Lease holder: $(holder)"; fi
k patch slo -n shop checkout-latency --type merge -p '{"spec":{"objective":"97"}}' >/dev/null
followed() { rule_spec shop checkout-latency | grep -q 'vector(0.97)'; }
wait_for "the leader follows an edit" followed
if grep -q "reconciled" "$work/replica-b.log"; then not_ok "the waiting replica wrote"; else ok "the waiting replica writes nothing"; fi

kill -KILL "$first_pid"  # dies without releasing the Lease: the other waits the lease duration out
wait "$first_pid" 2>/dev/null || true
operator_pid=$second_pid
second_pid=
k patch slo -n shop checkout-latency --type merge -p '{"spec":{"objective":"96"}}' >/dev/null
taken_over() { rule_spec shop checkout-latency | grep -q 'vector(0.96)'; }
wait_for "when the leader dies, the other takes over within the lease and follows edits" taken_over
if [ "$(holder)" = replica-b ]; then ok "the second replica holds the Lease"; else not_ok "Lease holder: $(holder)"; fi

# ---- SIGTERM ---------------------------------------------------------------------------------
kill -TERM "$operator_pid"
for _ in $(seq 100); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$operator_pid" 2>/dev/null; then
  not_ok "the operator did not stop within 10s of SIGTERM"
else
  wait "$operator_pid" && ok "SIGTERM stops the operator cleanly (exit 0)" || not_ok "non-zero exit after SIGTERM"
  operator_pid=
fi
if [ -z "$(holder)" ]; then ok "... and releases the Lease"; else not_ok "Lease still held by $(holder)"; fi

echo "operator_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
