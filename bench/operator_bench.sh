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
namespaces=()
for i in $(seq 0 $((namespace_count - 1))); do namespaces+=("nines-bench-$i"); done
# shellcheck source=bench/lib.sh
source bench/lib.sh

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

bench_cluster
bench_client "$client"

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
  start_operator "$work/operator.log" ${requeue_period:+--requeue-period "$requeue_period"}
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
      pending=$(count_state Pending)
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
  hwm=$(hwm_mib "$operator_pid")
  rss=$(rss_mib "$operator_pid")
  ready=$(count_ready)
  [ "$ready" -eq "$count" ] || { echo "operator_bench: $ready objectives Ready=True, not $count" >&2; exit 1; }
  dashboards=$(count_rows "$configmap_path" "$managed")
  [ "$dashboards" -eq "$count" ] || { echo "operator_bench: $dashboards dashboards, not $count" >&2; exit 1; }
  stop_operator
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
