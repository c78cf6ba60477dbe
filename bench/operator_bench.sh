#!/usr/bin/env bash
# What the operator costs against applying its output directly, for N objectives applied at once
# (default 1,000 and 10,000), against a real kube-apiserver: the local control plane of
# e2e/controlplane/ (built once, cached), or the cluster that NINES_E2E_KUBECONFIG names.
#
# For each N, one phase after the other, each into freshly created namespaces (the objectives are
# spread over --namespaces of them; all are deleted, and their deletion waited for, after a phase):
#   direct    `nines generate` renders every objective's PrometheusRule and dashboard ConfigMap;
#             the 2N objects are applied server-side, 4 at a time (the operator's default workers).
#             Timed until every apply has returned (then each object exists; counted afterwards).
#   operator  `nines operator --leader-elect=false` (default workers, no --prometheus-url) runs and
#             has synced; the N objectives are applied the same way, 4 at a time. Timed until every
#             PrometheusRule exists and every objective shows the state the operator writes with
#             Ready=True (polled with server-side Table lists, a few hundred bytes per object;
#             Ready=True of all N is checked once afterwards). Then: until the operator is quiet
#             (queue empty, no reconcile for 3 s), and its CPU over --idle-seconds after that.
# It prints per N: both times and their ratio, the time the objectives' apply alone took, the
# operator's peak memory (VmHWM), its CPU, its requests to the API server (its own
# nines_api_requests_total: the API server's counts do not say whose a request was) in total and
# by verb and resource, and, with the local control plane, the API server's and etcd's CPU.
# Prints figures; asserts nothing about time.
#
# The client: curl, 4 transfers at a time over HTTP/1.1, one server-side apply (PATCH,
# application/apply-patch+yaml) per object, with the kubeconfig's certificate or token. kubectl
# spends about 35 ms of its own CPU per object it applies, so on 2 cores it would measure kubectl.
# --client kubectl splits the objects into 4 files and runs 4 `kubectl apply --server-side` at once
# (also the fallback when the kubeconfig's credentials are not a certificate or a token).
#
# --requeue-period D is passed to the operator (its default, 10m, brings no revisit into the idle
# measurement; a shorter one measures what revisiting every objective costs).
#
# Usage: bench/operator_bench.sh [--client curl|kubectl] [--namespaces N] [--idle-seconds S]
#                                [--requeue-period D] [--timeout S] [COUNT...]
# Environment: NINES (default build/nines), NINES_E2E_KUBECONFIG, KUBECTL, CONTROLPLANE_CACHE,
# CONTROLPLANE_RUN_DIR.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
nines=${NINES:-$root/build/nines}
client=curl
namespace_count=10
idle_seconds=60
timeout=1800
requeue_period=
counts=()
while (($#)); do
  case $1 in
    --client) client=${2:?--client needs curl or kubectl}; shift ;;
    --namespaces) namespace_count=${2:?--namespaces needs a number}; shift ;;
    --idle-seconds) idle_seconds=${2:?--idle-seconds needs a number}; shift ;;
    --timeout) timeout=${2:?--timeout needs a number}; shift ;;
    --requeue-period) requeue_period=${2:?--requeue-period needs a duration}; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "operator_bench: unknown argument $1 (try --help)" >&2; exit 2 ;;
    *) counts+=("$1") ;;
  esac
  shift
done
((${#counts[@]})) || counts=(1000 10000)
for n in "${counts[@]}" "$namespace_count" "$idle_seconds" "$timeout"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "operator_bench: $n is not a positive number" >&2; exit 2; }
done
[[ $client == curl || $client == kubectl ]] || { echo "operator_bench: --client is curl or kubectl" >&2; exit 2; }
[ -x "$nines" ] || { echo "operator_bench: $nines not found: build it with cmake --build build -j2" >&2; exit 1; }
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "operator_bench: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nines-operator-bench.XXXXXX")
operator_pid=
own_control_plane=false
namespaces=()
for i in $(seq 0 $((namespace_count - 1))); do namespaces+=("nines-bench-$i"); done

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$operator_pid" ]; then kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null; fi
  if [ "$rc" -ne 0 ] && [ -f "$work/operator.log" ]; then
    echo "--- operator log tail:" >&2
    tail -n 20 "$work/operator.log" >&2 || true
  fi
  if [ -n "${KUBECONFIG:-}" ] && [ -n "${KUBECTL:-}" ] && ! $own_control_plane; then
    "$KUBECTL" delete namespace "${namespaces[@]}" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  if $own_control_plane; then e2e/controlplane/controlplane.sh down >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[%5ds] %s\n' "$SECONDS" "$*" >&2; }
now() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

# ---- A cluster ---------------------------------------------------------------------------------
if [ -n "${NINES_E2E_KUBECONFIG:-}" ]; then
  export KUBECONFIG=$NINES_E2E_KUBECONFIG
else
  own_control_plane=true
  log "starting the local control plane"
  environment=$(e2e/controlplane/controlplane.sh up --crds crds)
  eval "$environment"
fi
if [ -z "${KUBECTL:-}" ]; then
  if command -v kubectl >/dev/null; then
    KUBECTL=kubectl
  else
    e2e/controlplane/build.sh --with-kubectl >&2
    KUBECTL="$(e2e/controlplane/build.sh --print-dir)/kubectl"
  fi
fi
k() { "$KUBECTL" "$@"; }
$own_control_plane || k apply --server-side -f crds/ >/dev/null
server_version=$(k version -o json 2>/dev/null | jq -r '.serverVersion.gitVersion')

# The control plane's processes, when they are ours: their CPU is part of the cost.
cp_pids=()
if $own_control_plane; then
  run_dir=${CONTROLPLANE_RUN_DIR:-${CONTROLPLANE_CACHE:-$root/e2e/.cache}/run}
  for component in kube-apiserver etcd; do
    cp_pids+=("$(cat "$run_dir/pids/$component.pid")")
  done
fi

# ---- Credentials for curl ----------------------------------------------------------------------
mkdir -m 700 "$work/cred"
curl_auth=()
if k config view --raw --flatten --minify -o json >"$work/cred/kubeconfig.json" 2>/dev/null; then
  server=$(jq -r '.clusters[0].cluster.server // ""' "$work/cred/kubeconfig.json")
  jq -r '.clusters[0].cluster["certificate-authority-data"] // ""' "$work/cred/kubeconfig.json" | base64 -d >"$work/cred/ca.pem"
  jq -r '.users[0].user["client-certificate-data"] // ""' "$work/cred/kubeconfig.json" | base64 -d >"$work/cred/cert.pem"
  jq -r '.users[0].user["client-key-data"] // ""' "$work/cred/kubeconfig.json" | base64 -d >"$work/cred/key.pem"
  token=$(jq -r '.users[0].user.token // ""' "$work/cred/kubeconfig.json")
  if [ -s "$work/cred/ca.pem" ]; then
    curl_auth+=("cacert = \"$work/cred/ca.pem\"")
  elif [ "$(jq -r '.clusters[0].cluster["insecure-skip-tls-verify"] // false' "$work/cred/kubeconfig.json")" = true ]; then
    curl_auth+=("insecure")
  fi
  if [ -s "$work/cred/cert.pem" ] && [ -s "$work/cred/key.pem" ]; then
    curl_auth+=("cert = \"$work/cred/cert.pem\"" "key = \"$work/cred/key.pem\"")
  elif [ -n "$token" ]; then
    curl_auth+=("header = \"Authorization: Bearer $token\"")
  else
    curl_auth=()
  fi
fi
if ((${#curl_auth[@]} == 0)); then
  [ "$client" = curl ] && log "the kubeconfig's credentials are neither a certificate nor a token: using kubectl"
  client=kubectl
fi
curl_auth+=("http1.1" "silent")
printf '%s\n' "${curl_auth[@]}" >"$work/cred/auth.cfg"
if [ "$client" = curl ]; then
  code=$(curl -K "$work/cred/auth.cfg" -o /dev/null -w '%{http_code}' "$server/version" || true)
  [ "$code" = 200 ] || { echo "operator_bench: curl cannot reach $server with the kubeconfig's credentials (HTTP $code)" >&2; exit 1; }
fi

# ---- The objectives ----------------------------------------------------------------------------
# By i % 10: 0-3 ratio with bad events, 4-5 ratio with good events, 6-7 latency on a classic
# histogram, 8 latency on a native histogram, 9 timeslice; windows, objectives and alerting options
# vary. Namespaces are taken ten objectives at a time, so that each holds every kind. One file each.
write_objectives() {  # write_objectives COUNT DIR
  mkdir -p "$2"
  awk -v n="$1" -v dir="$2" -v namespaces="$namespace_count" 'BEGIN {
    split("30d 28d 7d 30d 14d", windows, " ")
    split("99.9 99.5 99 99.95 95", objectives, " ")
    for (i = 0; i < n; i++) {
      kind = i % 10; svc = sprintf("svc-%d", int(i / 10)); ns = sprintf("nines-bench-%d", int(i / 10) % namespaces)
      name = sprintf("%s-%d", svc, kind)
      f = sprintf("%s/%s_%s.yaml", dir, ns, name)
      printf "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata:\n" > f
      printf "  name: %s\n  namespace: %s\nspec:\n  service: %s\n", name, ns, svc > f
      printf "  description: objective %d of the operator benchmark\n", i > f
      printf "  objective: \"%s\"\n  window: %s\n", objectives[i % 5 + 1], windows[int(i / 5) % 5 + 1] > f
      printf "  labels:\n    team: team-%d\n    tier: \"%d\"\n  indicator:\n", i % 50, i % 3 + 1 > f
      if (kind <= 3) {
        printf "    ratio:\n      total: http_requests_total{job=\"%s\"}\n", svc > f
        printf "      bad: http_requests_total{job=\"%s\",code=~\"5..\"}\n", svc > f
      } else if (kind <= 5) {
        printf "    ratio:\n      total: grpc_server_handled_total{grpc_service=\"%s\"}\n", svc > f
        printf "      good: grpc_server_handled_total{grpc_service=\"%s\",grpc_code!~\"Internal|Unavailable\"}\n", svc > f
      } else if (kind <= 7) {
        printf "    latency:\n      histogram: http_request_duration_seconds{job=\"%s\"}\n", svc > f
        printf "      threshold: %s\n", (kind == 6 ? "300ms" : "1s") > f
      } else if (kind == 8) {
        printf "    latency:\n      histogram: rpc_duration_seconds{job=\"%s\"}\n      threshold: 250ms\n      native: true\n", svc > f
      } else {
        printf "    timeslice:\n      good: min by (job) (probe_success{job=\"%s\"}) == bool 1\n      slice: 1m\n", svc > f
      }
      printf "  alerting:\n    labels:\n      team: team-%d\n", i % 50 > f
      printf "    annotations:\n      runbook_url: https://runbooks.example/%s\n", svc > f
      if (i % 7 == 0) printf "    minEvents: 100\n" > f
      if (i % 11 == 0) printf "    budgetExhausted:\n      enabled: true\n" > f
      if (i % 13 == 0) printf "    fastBurn:\n      thresholds:\n      - burnRate: 10\n        long: 1h\n        short: 5m\n" > f
      close(f)
    }
  }'
}

# index_objects DIR: for every one-object YAML file under DIR, "API-PATH FILE", the path where a
# server-side apply of it goes (the object's own apiVersion, kind, namespace and name).
index_objects() {
  find "$1" -type f -name '*.yaml' | sort | xargs awk '
    function flush() {
      if (file == "") return
      if (kind == "PrometheusRule") plural = "prometheusrules"
      else if (kind == "ConfigMap") plural = "configmaps"
      else if (kind == "ServiceLevelObjective") plural = "servicelevelobjectives"
      else if (kind == "GrafanaDashboard") plural = "grafanadashboards"
      else { print "operator_bench: unknown kind " kind " in " file > "/dev/stderr"; exit 1 }
      prefix = index(api, "/") ? "/apis/" api : "/api/" api
      print prefix "/namespaces/" ns "/" plural "/" name, file
    }
    FNR == 1 { flush(); file = FILENAME; api = kind = ns = name = ""; meta = 0 }
    /^apiVersion: / { api = $2 }
    /^kind: / { kind = $2 }
    /^metadata:/ { meta = 1; next }
    /^[^ ]/ { meta = 0 }
    meta && /^  name: / { name = $2 }
    meta && /^  namespace: / { ns = $2 }
    END { flush() }'
}

# apply_objects INDEX: applies every object of INDEX server-side, 4 at a time; fails unless every
# answer is 2xx.
apply_objects() {
  local index=$1
  if [ "$client" = curl ]; then
    awk -v server="$server" -v auth="$work/cred/auth.cfg" '
      BEGIN { while ((getline line < auth) > 0) opts = opts line "\n" }
      { if (NR > 1) print "next"
        printf "url = \"%s%s?fieldManager=bench&force=true\"\nrequest = \"PATCH\"\n", server, $1
        printf "header = \"Content-Type: application/apply-patch+yaml\"\ndata-binary = \"@%s\"\n", $2
        printf "output = \"/dev/null\"\nwrite-out = \"%%{http_code} %%{url}\\n\"\n%s", opts }' "$index" >"$work/curl.cfg"
    curl --parallel --parallel-max 4 -K "$work/curl.cfg" >"$work/curl.out" 2>"$work/curl.err" || true
    local good
    good=$(awk '$1 ~ /^2/' "$work/curl.out" | wc -l)
    if [ "$good" -ne "$(wc -l <"$index")" ]; then
      echo "operator_bench: $good of $(wc -l <"$index") applies succeeded:" >&2
      awk '$1 !~ /^2/' "$work/curl.out" | head -5 >&2
      head -5 "$work/curl.err" >&2
      return 1
    fi
  else
    local chunk pids=()
    for chunk in 0 1 2 3; do
      awk -v c="$chunk" 'NR % 4 == c { print $2 }' "$index" | while read -r f; do echo '---'; cat "$f"; done >"$work/chunk-$chunk.yaml"
    done
    for chunk in 0 1 2 3; do
      k apply --server-side --force-conflicts --field-manager=bench -f "$work/chunk-$chunk.yaml" >/dev/null &
      pids+=($!)
    done
    local failed=0 pid
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    ((failed == 0)) || { echo "operator_bench: kubectl apply failed" >&2; return 1; }
  fi
}

# table PATH [SELECTOR]: the rows of a server-side Table list of PATH (every namespace), one line
# each: the cells, tab-separated. Cheap: no objects, only the printer columns.
table() {
  local path=$1 selector=${2:-}
  if [ "$client" = curl ]; then
    curl -K "$work/cred/auth.cfg" -fS -G "$server$path" --data-urlencode "includeObject=None" \
      ${selector:+--data-urlencode "labelSelector=$selector"} \
      -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io' |
      jq -r '.rows[]?.cells | map(tostring) | join("\t")'
  else  # kubectl prints the same Table
    local resource
    resource=$(basename "$path")
    k get "$resource" -A --no-headers ${selector:+-l "$selector"} | awk -v OFS='\t' '{ $1 = ""; sub(/^\t/, ""); print }'
  fi
}
slo_path=/apis/nines.dev/v1alpha1/servicelevelobjectives
rule_path=/apis/monitoring.coreos.com/v1/prometheusrules
configmap_path=/api/v1/configmaps
managed=app.kubernetes.io/managed-by=nines
count_rows() { table "$@" | wc -l; }
# State is the Table's 7th cell (Name, Service, Objective, Window, SLI, Budget, State, Age): the
# operator writes Pending (no status loop) in the same status update as Ready=True.
count_pending() { table "$slo_path" | awk -F'\t' '$7 == "Pending"' | wc -l; }
count_ready() {  # Ready=True, from the objects themselves: once, at the end
  k get slo -A -o json | jq '[.items[] | select(.status.conditions[]? | .type == "Ready" and .status == "True")] | length'
}

create_namespaces() {
  local ns
  for ns in "${namespaces[@]}"; do k create namespace "$ns" --dry-run=client -o yaml; echo '---'; done | k apply -f - >/dev/null
}
delete_namespaces() {
  local start
  start=$(now)
  k delete namespace "${namespaces[@]}" --ignore-not-found --wait=false >/dev/null
  local left
  for _ in $(seq "$timeout"); do
    # Captured first: `| grep -q` would end kubectl with SIGPIPE, a failure under pipefail.
    if left=$(k get namespace "${namespaces[@]}" --ignore-not-found -o name) && [ -z "$left" ]; then
      log "namespaces deleted in $(seconds_since "$start")s"
      return 0
    fi
    sleep 1
  done
  echo "operator_bench: the namespaces were not deleted within ${timeout}s" >&2
  return 1
}

ticks=$(getconf CLK_TCK)
cpu_ticks() {  # cpu_ticks PID...: utime + stime, summed
  local pid total=0 t
  for pid in "$@"; do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
cpu_seconds() { awk -v t="$1" -v hz="$ticks" 'BEGIN { printf "%.1f", t / hz }'; }
apiserver_requests() {  # every request the API server counted, all clients
  k get --raw /metrics | awk '/^apiserver_request_total\{/ { s += $NF } END { printf "%d", s }'
}
# The API server's own request durations, "VERB resource[/sub] count seconds" (all clients), for
# the kinds of the benchmark; latency_report BEFORE AFTER prints the mean of each in between.
apiserver_latency() {
  k get --raw /metrics | awk '/^apiserver_request_duration_seconds_(sum|count)\{/ &&
      /resource="(servicelevelobjectives|prometheusrules|configmaps|grafanadashboards)"/ {
    match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
    match($0, /subresource="[^"]*"/); sub_ = substr($0, RSTART + 13, RLENGTH - 14)
    match($0, /verb="[^"]*"/); v = substr($0, RSTART + 6, RLENGTH - 7)
    key = v " " r (sub_ == "" ? "" : "/" sub_)
    if ($1 ~ /_sum\{/) s[key] += $NF; else c[key] += $NF }
    END { for (key in c) print key, c[key], s[key] }'
}
latency_report() {
  awk 'NR == FNR { n[$1 " " $2] = $3; t[$1 " " $2] = $4; next }
    $1 != "WATCH" { key = $1 " " $2; dn = $3 - n[key]; dt = $4 - t[key]
      if (dn > 0) printf "  %-6s %-30s %8d  %7.2f ms\n", $1, $2, dn, 1000 * dt / dn }' "$1" "$2" | sort -k3,3nr
}
metrics_url=
operator_metric() {  # operator_metric NAME: the sum of its samples
  curl -fsS "$metrics_url" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d", s }'
}
operator_requests_by_kind() {  # "VERB resource count" of nines_api_requests_total, largest first
  curl -fsS "$metrics_url" | awk '/^nines_api_requests_total\{/ {
      match($0, /verb="[^"]*"/); v = substr($0, RSTART + 6, RLENGTH - 7)
      match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
      match($0, /code="[^"]*"/); c = substr($0, RSTART + 6, RLENGTH - 7)
      s[v " " r " " c] += $NF }
    END { for (key in s) print key, s[key] }' | sort -k4,4nr
}

# ---- The benchmark -----------------------------------------------------------------------------
echo "nines operator benchmark: $("$nines" version)"
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg); run $(date -u +%FT%TZ)"
echo "cluster: $server_version ($($own_control_plane && echo 'the local control plane of e2e/controlplane' || echo "NINES_E2E_KUBECONFIG")); client: $client, 4 applies at a time; $namespace_count namespaces"
echo

results=()
for count in "${counts[@]}"; do
  dir=$work/n$count
  log "N=$count: writing the objectives and generating their objects"
  write_objectives "$count" "$dir/slo"
  "$nines" generate -f "$dir/slo" -o "$dir/generated" --promtool= >/dev/null 2>"$dir/generate.err" ||
    { cat "$dir/generate.err" >&2; exit 1; }
  index_objects "$dir/generated" >"$dir/generated.index"
  index_objects "$dir/slo" >"$dir/slo.index"
  [ "$(wc -l <"$dir/generated.index")" -eq $((2 * count)) ] ||
    { echo "operator_bench: $(wc -l <"$dir/generated.index") generated objects, $((2 * count)) expected" >&2; exit 1; }
  generated_mib=$(du -sm "$dir/generated" | cut -f1)

  # -- direct
  delete_namespaces
  create_namespaces
  log "N=$count direct: applying $((2 * count)) objects ($generated_mib MiB)"
  api_before=$(apiserver_requests)
  apiserver_latency >"$dir/latency-direct-0"
  cp_before=$(cpu_ticks "${cp_pids[@]}")
  start=$(now)
  apply_objects "$dir/generated.index"
  direct=$(seconds_since "$start")
  apiserver_latency >"$dir/latency-direct-1"
  direct_cp=$(cpu_seconds $(($(cpu_ticks "${cp_pids[@]}") - cp_before)))
  direct_api=$(($(apiserver_requests) - api_before))
  rules=$(count_rows "$rule_path" "$managed")
  dashboards=$(count_rows "$configmap_path" "$managed")
  [ "$rules" -eq "$count" ] && [ "$dashboards" -eq "$count" ] ||
    { echo "operator_bench: after the direct apply $rules rules and $dashboards dashboards exist, not $count" >&2; exit 1; }
  log "N=$count direct: ${direct}s; $rules rules and $dashboards dashboards exist"
  delete_namespaces

  # -- operator
  create_namespaces
  metrics_port=$(for _ in $(seq 100); do p=$((20000 + RANDOM % 20000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; break; }; done)
  metrics_url=http://127.0.0.1:$metrics_port/metrics
  "$nines" operator --leader-elect=false --log-format text --metrics-address "127.0.0.1:$metrics_port" \
    ${requeue_period:+--requeue-period "$requeue_period"} >"$work/operator.log" 2>&1 &
  operator_pid=$!
  for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1 && break
    kill -0 "$operator_pid" 2>/dev/null || { echo "operator_bench: the operator exited" >&2; exit 1; }
    sleep 0.1
  done
  requests_start=$(operator_metric nines_api_requests_total)
  log "N=$count operator: synced after $requests_start requests; applying $count objectives"
  api_before=$(apiserver_requests)
  apiserver_latency >"$dir/latency-operator-0"
  cp_before=$(cpu_ticks "${cp_pids[@]}")
  op_before=$(cpu_ticks "$operator_pid")
  poll=$(awk -v n="$count" 'BEGIN { p = n / 5000; if (p < 0.5) p = 0.5; print p }')
  start=$(now)
  apply_objects "$dir/slo.index"
  applied=$(seconds_since "$start")
  log "N=$count operator: objectives applied in ${applied}s; polling every ${poll}s"
  rules=0 pending=0 done_at=
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    ((rules >= count)) || rules=$(count_rows "$rule_path" "$managed")
    if ((rules >= count)); then
      pending=$(count_pending)
      if ((pending >= count)); then done_at=$(seconds_since "$start"); break; fi
    fi
    kill -0 "$operator_pid" 2>/dev/null || { echo "operator_bench: the operator exited" >&2; exit 1; }
    sleep "$poll"
  done
  [ -n "$done_at" ] || { echo "operator_bench: after ${timeout}s, $rules rules and $pending objectives Ready" >&2; exit 1; }
  requests_ready=$(($(operator_metric nines_api_requests_total) - requests_start))
  reconciles_ready=$(operator_metric nines_reconcile_total)
  log "N=$count operator: all Ready after ${done_at}s; waiting until it is quiet"
  # Quiet: the queue empty and no reconcile for 3 s (the rules' and statuses' own watch events
  # bring each objective back once or twice after it is Ready).
  last=-1 still=0 quiet_at=
  while ((SECONDS < deadline)); do
    reconciles=$(operator_metric nines_reconcile_total)
    if [ "$reconciles" = "$last" ] && [ "$(operator_metric nines_queue_depth)" = 0 ]; then
      still=$((still + 1))
      if ((still >= 6)); then quiet_at=$(awk -v s="$(seconds_since "$start")" 'BEGIN { printf "%.1f", s - 3 }'); break; fi
    else
      still=0
    fi
    last=$reconciles
    sleep 0.5
  done
  [ -n "$quiet_at" ] || { echo "operator_bench: the operator did not become quiet within ${timeout}s" >&2; exit 1; }
  op_busy=$(cpu_seconds $(($(cpu_ticks "$operator_pid") - op_before)))
  busy_cp=$(cpu_seconds $(($(cpu_ticks "${cp_pids[@]}") - cp_before)))
  busy_api=$(($(apiserver_requests) - api_before))
  apiserver_latency >"$dir/latency-operator-1"
  requests_quiet=$(($(operator_metric nines_api_requests_total) - requests_start))
  reconciles_quiet=$(operator_metric nines_reconcile_total)
  operator_requests_by_kind >"$dir/requests-by-kind"
  log "N=$count operator: quiet after ${quiet_at}s ($reconciles_quiet reconciles); measuring idle CPU for ${idle_seconds}s"
  idle_before=$(cpu_ticks "$operator_pid")
  idle_requests_before=$(operator_metric nines_api_requests_total)
  sleep "$idle_seconds"
  idle_ticks=$(($(cpu_ticks "$operator_pid") - idle_before))
  idle_cpu=$(awk -v t="$idle_ticks" -v hz="$ticks" -v s="$idle_seconds" 'BEGIN { printf "%.2f", 100 * t / hz / s }')
  idle_requests=$(($(operator_metric nines_api_requests_total) - idle_requests_before))
  idle_reconciles=$(($(operator_metric nines_reconcile_total) - reconciles_quiet))
  hwm=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$operator_pid/status")
  rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$operator_pid/status")
  ready=$(count_ready)
  [ "$ready" -eq "$count" ] || { echo "operator_bench: $ready objectives Ready=True, not $count" >&2; exit 1; }
  dashboards=$(count_rows "$configmap_path" "$managed")
  [ "$dashboards" -eq "$count" ] || { echo "operator_bench: $dashboards dashboards, not $count" >&2; exit 1; }
  kill "$operator_pid" && wait "$operator_pid" 2>/dev/null || true
  operator_pid=
  delete_namespaces

  ratio=$(awk -v a="$done_at" -v b="$direct" 'BEGIN { printf "%.2f", a / b }')
  results+=("$count $direct $applied $done_at $ratio $quiet_at $hwm $rss $requests_ready $requests_quiet $reconciles_ready $reconciles_quiet $op_busy $idle_cpu $idle_requests $direct_api $busy_api ${direct_cp:-0} ${busy_cp:-0}")
  {
    echo "N=$count: the operator's requests from the apply until quiet, by verb, resource and code (per objective):"
    awk -v n="$count" '{ printf "  %-6s %-30s %-4s %8d  %6.2f\n", $1, $2, $3, $4, $4 / n }' "$dir/requests-by-kind"
    echo "N=$count: the API server's own mean time per request (every client), direct phase:"
    latency_report "$dir/latency-direct-0" "$dir/latency-direct-1"
    echo "N=$count: the same, operator phase from the apply until quiet:"
    latency_report "$dir/latency-operator-0" "$dir/latency-operator-1"
    if [ -n "$requeue_period" ]; then
      echo "N=$count: while idle (${idle_seconds}s, --requeue-period $requeue_period): $idle_reconciles reconciles, $idle_requests requests"
    fi
  } >"$dir/breakdown"
  rm -rf "$dir/generated" "$dir/slo"
done

echo
printf '%-6s %9s %9s %9s %6s %9s %9s %8s\n' N "direct s" "apply s" "operator" ratio "quiet s" "peak MiB" "idle CPU"
for r in "${results[@]}"; do
  read -r n direct applied done_at ratio quiet hwm rss _ <<<"$r"
  idle=$(awk '{ print $14 }' <<<"$r")
  printf '%-6s %9s %9s %9s %6s %9s %9s %7s%%\n' "$n" "$direct" "$applied" "$done_at" "${ratio}x" "$quiet" "$hwm" "$idle"
done
echo
printf '%-6s %10s %10s %9s %9s %9s %10s %9s %12s %12s\n' N "req Ready" "req quiet" "req/obj" "reconc." "CPU s" "idle req" "RSS MiB" "API dir/op" "CP CPU d/op"
for r in "${results[@]}"; do
  read -r n direct applied done_at ratio quiet hwm rss rq_ready rq_quiet rc_ready rc_quiet op_busy idle idle_req api_d api_o cp_d cp_o <<<"$r"
  printf '%-6s %10s %10s %9.1f %9s %9s %10s %9s %12s %12s\n' "$n" "$rq_ready" "$rq_quiet" \
    "$(awk -v a="$rq_quiet" -v n="$n" 'BEGIN { print a / n }')" "$rc_quiet" "$op_busy" "$idle_req" "$rss" \
    "$api_d/$api_o" "$($own_control_plane && echo "$cp_d/$cp_o" || echo n/a)"
done
echo
for count in "${counts[@]}"; do cat "$work/n$count/breakdown"; done
cat <<'EOF'

direct: 2N objects (rule + dashboard) applied 4 at a time, until every apply returned.
apply s: the N objectives' own apply, 4 at a time; operator: from its start until every rule
exists and every objective is Ready; ratio = operator / direct. quiet: until the queue emptied and
no reconcile ran for 3 s. peak: the operator's VmHWM; idle CPU: its utime+stime after quiet, in %
of one core. req: its requests to the API server (nines_api_requests_total) from the apply to
Ready, and to quiet; reconc.: reconciles to quiet; CPU s: its CPU from the apply to quiet; idle
req: its requests while idle. API dir/op: requests the API server counted (every client) in the
direct phase and in the operator phase up to quiet; CP CPU d/op: kube-apiserver + etcd CPU seconds,
same spans (local control plane only).
EOF
