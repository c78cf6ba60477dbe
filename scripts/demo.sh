#!/usr/bin/env bash
# The demo: nines as it runs in a cluster, on this machine. Installs what it needs, builds nines and
# nines-workload (a synthetic service), starts a local Kubernetes control plane (kube-apiserver,
# etcd and kube-controller-manager, built once from the Kubernetes modules and cached: the first
# time takes about 11 minutes), a real Prometheus scraping the workload, and the operator; applies
# examples/ and prints `kubectl get slo` with live budgets. Then it breaks the checkout service
# (20% of its requests fail), shows the FastBurn condition, the Events and the alert, and mends it.
#
#   scripts/demo.sh            about 5 minutes after the first build, then stops what it started
#   scripts/demo.sh --keep     then leaves it all running, with the commands to look around
#   DEMO_SECONDS=60 scripts/demo.sh   a shorter look at the healthy budgets
#
# Idempotent and non-interactive: runs as well a second time, under CI and without a terminal.
# Prometheus-operator is not part of it (no pods run here): a loop copies the PrometheusRules the
# operator applies into Prometheus's rule file, as prometheus-operator would.
set -euo pipefail

usage() { sed -n '2,15s/^# \{0,1\}//p' "$0"; }
keep=false
for arg in "$@"; do
  case $arg in
    --keep) keep=true ;;
    -h | --help) usage && exit 0 ;;
    *) echo "demo: unknown argument $arg (see --help)" >&2 && exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
root=$(pwd)
build=$root/build
work=$build/demo
demo_seconds=${DEMO_SECONDS:-60}
jobs=${JOBS:-2}
# shellcheck source=e2e/lib/services.sh
source e2e/lib/services.sh

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold=$'\e[1m' red=$'\e[31m' reset=$'\e[0m'
else
  bold='' red='' reset=''
fi
say() { printf '%s\n' "$*"; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
die() {
  printf '%sdemo: %s%s\n' "$red" "$*" "$reset" >&2
  exit 1
}

# ---- Dependencies and build -------------------------------------------------------------------

step "Installing what the demo needs and building nines"
scripts/setup.sh
mkdir -p "$work"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs" --target nines nines-workload >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2 && die "the build failed"; }
tail -n 1 "$work/build.log"

# ---- Processes ------------------------------------------------------------------------------

pids=()
own_control_plane=false
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#pids[@]})); then
    say ""
    say "demo: stopping the operator, Prometheus and the workloads"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if $own_control_plane; then
    say "demo: stopping the control plane"
    e2e/controlplane/controlplane.sh down >/dev/null 2>&1 || true
  fi
  rm -f "$work"/*.pid
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A run with --keep that was left going holds its processes: stop them, by the ids it recorded,
# and only if they still name its programs.
for pidfile in "$work"/*.pid; do
  [ -f "$pidfile" ] || continue
  name=$(basename "$pidfile" .pid)
  old=$(cat "$pidfile")
  case $name in
    nines-workload-*) program=nines-workload ;;
    sync-rules) program=demo.sh ;;  # a subshell of this script
    *) program=$name ;;
  esac
  if [ "$(ps -p "$old" -o comm= 2>/dev/null)" = "${program:0:15}" ]; then
    say "demo: stopping $name ($old), left running by an earlier demo"
    kill "$old" 2>/dev/null || true
    while kill -0 "$old" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$pidfile"
done
remember() { pids+=("$2") && echo "$2" >"$work/$1.pid"; }

step "Starting a local Kubernetes control plane (the first time builds it: about 11 minutes)"
if ! e2e/controlplane/controlplane.sh env >/dev/null 2>&1; then own_control_plane=true; fi
$keep && own_control_plane=false  # --keep: leave it running for the commands printed at the end
environment=$(e2e/controlplane/controlplane.sh up --crds crds)
eval "$environment"
if command -v kubectl >/dev/null; then
  kubectl=kubectl
else
  e2e/controlplane/build.sh --with-kubectl >/dev/null
  kubectl="$(e2e/controlplane/build.sh --print-dir)/kubectl"
fi
k() { "$kubectl" "$@"; }
say "kube-apiserver $(k version -o json | jq -r .serverVersion.gitVersion), KUBECONFIG=$KUBECONFIG"
# A fresh start: the examples' namespaces from an earlier run go, with what nines generated there.
namespaces=$(grep -h '^  namespace:' examples/*.yaml | awk '{print $2}' | sort -u)
for ns in $namespaces; do k delete namespace "$ns" --ignore-not-found --wait=true >/dev/null; done
for ns in $namespaces; do k create namespace "$ns" >/dev/null; done

step "Starting two synthetic services and Prometheus"
# checkout: the service the demo breaks. steady: everything else the examples select.
start_workload "$build/nines-workload" "$work/checkout.log" --rate 20 --seed 1 ||
  die "nines-workload did not start: $(cat "$work/checkout.log")"
remember nines-workload-1 "$workload_pid"
checkout=$workload_url
start_workload "$build/nines-workload" "$work/steady.log" --rate 20 --seed 2 ||
  die "nines-workload did not start: $(cat "$work/steady.log")"
remember nines-workload-2 "$workload_pid"
steady=$workload_url
control() { curl -fsS -X POST "$checkout/control?$1" >/dev/null; }

rm -rf "$work/prometheus" && mkdir -p "$work/prometheus"
echo '{"groups": []}' >"$work/prometheus/rules.json"
{
  printf '# Written by scripts/demo.sh. The rule groups carry their own intervals.\n'
  printf 'global: {scrape_interval: 5s, scrape_timeout: 4s}\nrule_files: [rules.json]\n'
  printf 'scrape_configs:\n'
  printf -- '- job_name: checkout\n  static_configs: [{targets: ["%s"]}]\n' "${checkout#http://}"
  for job in admin-api catalog search payment-provider; do
    printf -- '- job_name: %s\n  static_configs: [{targets: ["%s"]}]\n' "$job" "${steady#http://}"
  done
} >"$work/prometheus/prometheus.yml"
# Native histograms: examples/latency-native.yaml reads one.
start_prometheus "$work/prometheus" "" --enable-feature=native-histograms ||
  die "Prometheus did not start: $(tail -n 5 "$work/prometheus/prometheus.log")"
remember prometheus "$prometheus_pid"
prom=$prometheus_url
sync_rules "$kubectl" "$work/prometheus/rules.json" "$prom" &
remember sync-rules "$!"
say "Prometheus $prom; checkout $checkout; steady $steady"

step "Starting the operator and applying examples/"
metrics_port=$(free_port)
"$build/nines" operator --log-format text --metrics-address "127.0.0.1:$metrics_port" \
  --prometheus-url "$prom" --status-interval 10s >"$work/operator.log" 2>&1 &
remember nines "$!"
k apply -f examples/ | sed 's/^/  /'
total=$(k get slo -A -o name | wc -l)

# Every objective Ready, and read from Prometheus: the state moves past Pending once Prometheus has
# loaded its rules, and the budgets follow once the first 5-minute counts are recorded.
evaluated() {
  k get slo -A -o json |
    jq '[.items[] | select(.status.state != null and .status.state != "Pending" and .status.sli != null)] | length'
}
for _ in $(seq 150); do
  [ "$(evaluated)" -ge "$total" ] && break
  sleep 2
done
say "$(evaluated) of $total objectives have a budget."
step "kubectl get slo -A -o wide"
k get slo -A -o wide

# ---- Healthy, then broken ---------------------------------------------------------------------

if ((demo_seconds > 0)); then
  step "Healthy for ${demo_seconds}s: the budgets as the operator writes them"
  end=$((SECONDS + demo_seconds))
  while ((SECONDS < end)); do
    sleep 15
    k get slo -n shop
  done
fi

step "Breaking checkout: 20% of its requests fail"
control "error_ratio=0.2"
fast_burn() {
  k get slo -n shop checkout-availability -o json |
    jq -e '.status.conditions[]? | select(.type == "FastBurn" and .status == "True")' >/dev/null
}
for _ in $(seq 30); do
  sleep 10
  k get slo -n shop
  fast_burn && break
done
if fast_burn; then
  say ""
  k get slo -n shop checkout-availability -o json |
    jq -r '.status.conditions[] | select(.type != "Ready") | "  \(.type)=\(.status): \(.message)"'
  step "kubectl get events -n shop (what the operator said)"
  k get events -n shop --field-selector involvedObject.name=checkout-availability \
    -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message | head -n 8
  step "The alert, in Prometheus"
  curl -fsS "$prom/api/v1/alerts" |
    jq -r '.data.alerts[] | select(.labels.slo == "checkout-availability") | "  \(.labels.alertname) \(.state) (long \(.labels.long), short \(.labels.short), severity \(.labels.severity))"'
else
  say "FastBurn did not hold within 5 minutes; see $work/operator.log"
fi

step "Mending checkout"
control "error_ratio=0"
say "The burn rates fall as the errors leave each window: 5m first, then 30m, 1h, 6h. The budget"
say "they spent stays spent for the 30-day window."
sleep 15
k get slo -A -o wide

# ---- Where to look ----------------------------------------------------------------------------

step "Where to look next"
ui=$prom
curl -fsS -o /dev/null "$prom/alerts" 2>/dev/null || ui=$prom/classic  # Debian's Prometheus
say "  export KUBECONFIG=$KUBECONFIG"
say "  kubectl get slo -A -o wide                     budgets, states, burn rates"
say "  kubectl describe slo -n shop checkout-availability   conditions and Events"
say "  kubectl get prometheusrule,configmap -n shop   what the operator generated"
say "  Prometheus   $ui/alerts   $ui/rules"
say "  operator     http://127.0.0.1:$metrics_port/metrics   log: $work/operator.log"
say "  break it     curl -X POST '$checkout/control?error_ratio=0.05'"
say "  docs         docs/status.md (the status), docs/dashboards.md, docs/api.md"
if $keep; then
  say ""
  say "Everything keeps running (Ctrl-C stops the operator, Prometheus and the workloads;"
  say "e2e/controlplane/controlplane.sh down stops the control plane)."
  while true; do
    sleep 60
    k get slo -A
  done
fi
