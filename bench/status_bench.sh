#!/usr/bin/env bash
# The status cycle for N objectives (default 10,000) against a real Prometheus: what one cycle
# costs (queries, seconds, status writes, API requests) when every objective needs a write, and
# when nothing changed (target: no write at all); the operator's memory and CPU. Against a real
# kube-apiserver: the local control plane of e2e/controlplane/ (built once, cached), or the cluster
# that NINES_E2E_KUBECONFIG names; Prometheus is Debian's `prometheus`, on loopback.
#
# Prometheus holds every public series the objectives' rules would record, with the same names and
# labels (slo, slo_namespace, service, spec.labels, window): `nines generate --format rulefile` renders
# the rules, and each recording rule of a public series (slo:objective:ratio, slo:sli:ratio,
# slo:error_budget_remaining:ratio, slo:burn_rate:ratio, slo:events:rate5m, and
# nines:slo_events:count where minEvents asks for it) is kept with its expression replaced by a
# constant: the objective as generated, an SLI that leaves half of the budget, burn rates of 0.5,
# 10 events a second. One rule group per objective, evaluated every minute. So every objective is
# Healthy with 50% of its budget, and stays exactly so: a perfectly steady state, the best case for
# "nothing changed" (real series move, and a status is written whenever a rounded value moves).
#
# Phases, into freshly created namespaces (deleted at the end):
#   A  `nines operator` without a status loop makes the N objectives Ready (state Pending); stopped.
#   B  `nines operator --prometheus-url URL --status-interval I` starts: its first cycle writes
#      every status (Pending -> Healthy); then --steady-cycles cycles where nothing changes.
#   C  the same operator restarted: its first cycle finds every status as it would write it, while
#      its workers revisit every objective once (its informers' first list).
# Every status cycle of B and C is printed as the operator's /metrics counted it, with its API
# requests (nines_api_requests_total) and the objectives' states; then a summary.
# Prints figures; asserts nothing about time.
#
# Usage: bench/status_bench.sh [--count N] [--interval DURATION] [--steady-cycles K]
#                              [--namespaces N] [--timeout S]
# Environment: NINES (default build/nines), NINES_E2E_KUBECONFIG, KUBECTL, CONTROLPLANE_CACHE,
# CONTROLPLANE_RUN_DIR.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
nines=${NINES:-$root/build/nines}
count=10000
interval=10s
steady_cycles=6
namespace_count=10
timeout=1800
while (($#)); do
  case $1 in
    --count) count=${2:?--count needs a number}; shift ;;
    --interval) interval=${2:?--interval needs a duration}; shift ;;
    --steady-cycles) steady_cycles=${2:?--steady-cycles needs a number}; shift ;;
    --namespaces) namespace_count=${2:?--namespaces needs a number}; shift ;;
    --timeout) timeout=${2:?--timeout needs a number}; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "status_bench: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for n in "$count" "$steady_cycles" "$namespace_count" "$timeout"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "status_bench: $n is not a positive number" >&2; exit 2; }
done
[ -x "$nines" ] || { echo "status_bench: $nines not found: build it with cmake --build build -j2" >&2; exit 1; }
for tool in curl jq prometheus; do
  command -v "$tool" >/dev/null || { echo "status_bench: $tool is missing (scripts/setup.sh)" >&2; exit 1; }
done
"$nines" operator --help 2>&1 | grep -q -- '--prometheus-url' ||
  { echo "status_bench: $nines operator has no --prometheus-url: build a newer nines" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nines-status-bench.XXXXXX")
operator_pid=
prometheus_pid=
sampler_pid=
namespaces=()
for i in $(seq 0 $((namespace_count - 1))); do namespaces+=("nines-bench-$i"); done
# shellcheck source=bench/lib.sh
source bench/lib.sh

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in $sampler_pid $operator_pid $prometheus_pid; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  if [ "$rc" -ne 0 ]; then
    for f in operator.log prometheus/prometheus.log; do
      [ -f "$work/$f" ] && { echo "--- $f tail:" >&2; tail -n 15 "$work/$f" >&2; }
    done
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
bench_client curl

# ---- The objectives, and Prometheus with their public series -----------------------------------
log "writing $count objectives and the constant rules of their public series"
write_objectives "$count" "$work/slo"
index_objects "$work/slo" >"$work/slo.index"
"$nines" generate --format rulefile --dashboards none --promtool= -f "$work/slo" >"$work/rules.generated.yaml" 2>"$work/generate.err" ||
  { cat "$work/generate.err" >&2; exit 1; }
mkdir -p "$work/prometheus"
awk -f bench/constant_rules.awk "$work/rules.generated.yaml" >"$work/prometheus/rules.yml"
rule_count=$(grep -c '^  - record: ' "$work/prometheus/rules.yml")
group_count=$(grep -c '^- name: ' "$work/prometheus/rules.yml")
[ "$group_count" -eq "$count" ] || { echo "status_bench: rules for $group_count objectives, not $count" >&2; exit 1; }
if command -v promtool >/dev/null; then
  promtool check rules "$work/prometheus/rules.yml" >/dev/null 2>"$work/promtool.err" ||
    { head "$work/promtool.err" >&2; exit 1; }
fi
cat >"$work/prometheus/prometheus.yml" <<'YAML'
global: {evaluation_interval: 1m}
rule_files: [rules.yml]
YAML
prom_port=$(free_port)
prometheus --config.file="$work/prometheus/prometheus.yml" --storage.tsdb.path="$work/prometheus/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus/prometheus.log" 2>&1 &
prometheus_pid=$!
prom=http://127.0.0.1:$prom_port
promql() { curl -fsS -G "$prom/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "0"'; }
log "Prometheus at $prom: $rule_count recording rules in $group_count groups; waiting for their first evaluation"
for _ in $(seq "$timeout"); do
  [ "$(promql 'count(slo:objective:ratio)' 2>/dev/null || echo 0)" = "$count" ] &&
    [ "$(promql 'count({__name__=~"slo:.*|nines:.*"})' 2>/dev/null || echo 0)" = "$rule_count" ] && break
  kill -0 "$prometheus_pid" 2>/dev/null || { echo "status_bench: Prometheus exited" >&2; exit 1; }
  sleep 1
done
[ "$(promql 'count({__name__=~"slo:.*|nines:.*"})')" = "$rule_count" ] ||
  { echo "status_bench: Prometheus has not evaluated every rule within ${timeout}s" >&2; exit 1; }
# Its own metrics from /metrics: it scrapes nothing, itself included.
prom_metric() {  # the sum of the samples of exactly that metric (not of others it is a prefix of)
  curl -fsS "$prom/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.6g", s }'
}
prom_series=$(prom_metric prometheus_tsdb_head_series)
prom_rule_seconds=$(prom_metric prometheus_rule_group_last_duration_seconds)
log "Prometheus: $prom_series head series; one evaluation of every group takes ${prom_rule_seconds}s"

echo "nines status benchmark: $("$nines" version)"
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg); run $(date -u +%FT%TZ)"
echo "cluster: $server_version ($($own_control_plane && echo 'the local control plane of e2e/controlplane' || echo "NINES_E2E_KUBECONFIG")); $count objectives in $namespace_count namespaces, applied with $client, 4 at a time"
echo "Prometheus: $(prometheus --version 2>&1 | head -1 | sed 's/^prometheus, //'); $rule_count constant recording rules (the public series of $count objectives), $prom_series head series; every group every 1m, ${prom_rule_seconds}s of rule evaluation a minute"
echo "operator: --prometheus-url $prom --status-interval $interval (and --leader-elect=false)"

# ---- A: the objectives, Ready ------------------------------------------------------------------
delete_namespaces
create_namespaces
start_operator "$work/operator-a.log"
log "A: applying $count objectives; the operator without a status loop makes them Ready"
start=$(now)
apply_objects "$work/slo.index"
deadline=$((SECONDS + timeout))
until [ "$(count_state Pending)" -ge "$count" ]; do
  ((SECONDS < deadline)) || { echo "status_bench: the objectives did not become Ready within ${timeout}s" >&2; exit 1; }
  sleep 2
done
ready_after=$(seconds_since "$start")
stop_operator
log "A: all $count Ready (Pending) after ${ready_after}s"

# ---- The sampler: the operator's /metrics every 2 s ---------------------------------------------
# Every wait below reads the sampler's file rather than /metrics: a scrape costs the operator
# something (nines_objectives counts the states of every cached objective), measured at the end.
# One line a sample: time, cycles, queries, writes, write errors, events, last cycle's seconds,
# requests, reconciles, objectives Healthy, Pending, NoData, RSS MiB, queue depth.
sample_loop() {
  local m
  while true; do
    if m=$(curl -fsS "$metrics_url" 2>/dev/null); then
      awk -v t="$(now)" -v rss="$(rss_mib "$operator_pid" 2>/dev/null || echo 0)" '
        /^nines_status_cycles_total\{/ { cycles += $NF }
        /^nines_status_queries_total / { queries = $NF }
        /^nines_status_writes_total / { writes = $NF }
        /^nines_status_write_errors_total / { errors = $NF }
        /^nines_status_events_total / { events = $NF }
        /^nines_status_cycle_seconds / { seconds = $NF }
        /^nines_api_requests_total\{/ { requests += $NF }
        /^nines_reconcile_total\{/ { reconciles += $NF }
        /^nines_objectives\{state="Healthy"\}/ { healthy = $NF }
        /^nines_objectives\{state="Pending"\}/ { pending = $NF }
        /^nines_objectives\{state="NoData"\}/ { nodata = $NF }
        /^nines_queue_depth / { queue = $NF }
        END { printf "%s %d %d %d %d %d %s %d %d %d %d %d %s %d\n", t, cycles, queries, writes, errors, events,
                     seconds, requests, reconciles, healthy, pending, nodata, rss, queue }' <<<"$m"
    fi
    sleep 2
  done
}
samples=
last_sample() {  # last_sample FIELD: of the sampler's latest line (2: cycles, 10: Healthy)
  tail -n 1 "$samples" 2>/dev/null | awk -v f="$1" '{ print $f }' | grep . || echo 0
}
wait_cycles() {  # wait_cycles N: until the cycle counter reaches N
  local deadline=$((SECONDS + timeout))
  until [ "$(last_sample 2)" -ge "$1" ]; do
    ((SECONDS < deadline)) || { echo "status_bench: no status cycle $1 within ${timeout}s" >&2; exit 1; }
    kill -0 "$operator_pid" 2>/dev/null || { echo "status_bench: the operator exited" >&2; exit 1; }
    sleep 1
  done
}
# cycle_table SAMPLES: one row per completed cycle, from the samples where the counter moved.
cycle_table() {
  # The counters of a fresh process start at 0: a cycle done before the first sample still shows.
  awk -v t0="$2" '
    $2 > prev_c {
      printf "%5d %8.1f %9.2f %7d %7d %6d %6d %8d %10d %8d %8d %8d %8.1f\n", $2, ($1 - t0) / 1e9, $7,
        $3 - pq, $4 - pw, $5 - pe, $6 - pv, $8 - pr, $9 - prc, $10, $11, $12, $13
      prev_c = $2; pq = $3; pw = $4; pe = $5; pv = $6; pr = $8; prc = $9
    }' "$1"
}
header() {
  printf '%5s %8s %9s %7s %7s %6s %6s %8s %10s %8s %8s %8s %8s\n' cycle "at s" "seconds" queries writes \
    errors events requests reconciles Healthy Pending NoData "RSS MiB"
}

# ---- B: the status loop starts -----------------------------------------------------------------
operator_args=(--prometheus-url "$prom" --status-interval "$interval")
t_b=$(now)
start_operator "$work/operator.log" "${operator_args[@]}"
samples=$work/samples-b
sample_loop >"$samples" &
sampler_pid=$!
cpu_b=$(cpu_ticks "$operator_pid")
log "B: the status loop runs; waiting until all $count are Healthy, then $steady_cycles cycles more"
deadline=$((SECONDS + timeout))
until [ "$(last_sample 10)" -ge "$count" ]; do
  ((SECONDS < deadline)) || { echo "status_bench: not all objectives Healthy within ${timeout}s" >&2; exit 1; }
  kill -0 "$operator_pid" 2>/dev/null || { echo "status_bench: the operator exited" >&2; exit 1; }
  sleep 1
done
healthy_after=$(seconds_since "$t_b")
# Then quiet: the start revisits every objective once (its informers' first list), beside the
# first cycles; steady cycles are counted once that is over.
still=0 last=-1
until ((still >= 3)); do
  ((SECONDS < deadline)) || { echo "status_bench: the operator did not become quiet within ${timeout}s" >&2; exit 1; }
  sleep 2
  r=$(last_sample 9)
  if [ "$r" = "$last" ] && [ "$(last_sample 14)" = 0 ]; then still=$((still + 1)); else still=0; fi
  last=$r
done
quiet_after=$(seconds_since "$t_b")
healthy_cycles=$(last_sample 2)
wait_cycles $((healthy_cycles + 1))  # the cycle in flight may still have written
steady_start_cpu=$(cpu_ticks "$operator_pid")
steady_start=$(now)
wait_cycles $((healthy_cycles + 1 + steady_cycles))
steady_end_cpu=$(cpu_ticks "$operator_pid")
steady_cpu=$(awk -v t=$((steady_end_cpu - steady_start_cpu)) -v hz="$ticks" -v a="$steady_start" -v b="$(now)" \
  'BEGIN { printf "%.2f", 100 * t / hz / ((b - a) / 1e9) }')
sleep 2.5
kill "$sampler_pid" && wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
# What one /metrics scrape costs the operator now (it counts the states of every cached objective).
scrape_before=$(cpu_ticks "$operator_pid")
for _ in $(seq 20); do curl -fsS "$metrics_url" >/dev/null; done
scrape_ms=$(awk -v t=$(($(cpu_ticks "$operator_pid") - scrape_before)) -v hz="$ticks" 'BEGIN { printf "%.0f", 1000 * t / hz / 20 }')
hwm_b=$(hwm_mib "$operator_pid")
rss_b=$(rss_mib "$operator_pid")
cpu_b_total=$(cpu_seconds $((steady_end_cpu - cpu_b)))
healthy=$(count_state Healthy)
[ "$healthy" -eq "$count" ] || { echo "status_bench: $healthy objectives Healthy in the API, not $count" >&2; exit 1; }
cp "$work/samples-b" "$work/samples-b.kept"
operator_requests_by_kind >"$work/requests-b"

# The queries themselves, as Prometheus evaluates them (stats=all), and the size of their answers.
query_stats() {
  local series by
  for series in slo:objective:ratio slo:sli:ratio slo:error_budget_remaining:ratio slo:burn_rate:ratio slo:events:rate5m nines:slo_events:count; do
    # As the status loop asks (operator/controller/budget_status.cc, StatusQueries).
    by="slo_namespace, slo"
    [[ $series == slo:burn_rate:ratio || $series == nines:slo_events:count ]] && by="$by, window"
    curl -fsS -G "$prom/api/v1/query" --data-urlencode "query=max by ($by) ($series)" \
      --data-urlencode stats=all -o "$work/answer.json"
    jq -r '"\(.data.result | length) \(.data.stats.timings.evalTotalTime)"' "$work/answer.json" |
      awk -v s="$series" -v bytes="$(wc -c <"$work/answer.json")" \
        '{ printf "  %-34s %7d samples %9.2f ms %7.2f MiB\n", s, $1, $2 * 1000, bytes / 1048576 }'

  done
}
query_stats >"$work/queries"

# ---- C: restarted ------------------------------------------------------------------------------
stop_operator
t_c=$(now)
start_operator "$work/operator-c.log" "${operator_args[@]}"
samples=$work/samples-c
sample_loop >"$samples" &
sampler_pid=$!
log "C: restarted; waiting for 3 cycles"
wait_cycles 3
sleep 2.5
kill "$sampler_pid" && wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
hwm_c=$(hwm_mib "$operator_pid")
operator_requests_by_kind >"$work/requests-c"
stop_operator
delete_namespaces

# ---- Report --------------------------------------------------------------------------------------
echo
echo "A: $count objectives applied and Ready (Pending) after ${ready_after}s, by the operator without a status loop"
echo
echo "B: the operator with the status loop, from its start (at s: since then; requests and reconciles: during the cycle"
echo "   and the wait before it; Healthy, Pending, NoData: the operator's cache when the cycle was seen):"
header
cycle_table "$work/samples-b.kept" "$t_b"
echo
echo "C: the same operator restarted, every objective already Healthy:"
header
cycle_table "$work/samples-c" "$t_c"
steady=$(cycle_table "$work/samples-b.kept" "$t_b" | awk -v h="$healthy_cycles" '$1 > h + 1 && $1 <= h + 1 + s' s="$steady_cycles")
echo
echo "summary:"
echo "  all $count Healthy after ${healthy_after}s of B; its revisits of every objective over after ${quiet_after}s, in cycle $healthy_cycles"
awk -v n="$count" 'NR == 1 { printf "  first cycle: %d queries, %.2fs, %d status writes (%d errors), %d Events, %d API requests\n", $4, $3, $5, $6, $7, $8 }' \
  <(cycle_table "$work/samples-b.kept" "$t_b")
awk '{ q += $4; s += $3; w += $5; r += $8; c++; if ($3 > max) max = $3 }
  END { if (c) printf "  steady (%d cycles with nothing changed): %.1f queries, %.3fs (max %.3fs), %.1f status writes, %.1f API requests per cycle\n", c, q / c, s / c, max, w / c, r / c }' <<<"$steady"
echo "  operator B: peak ${hwm_b} MiB (VmHWM), ${rss_b} MiB resident at the end; ${cpu_b_total}s of CPU from its start to the end of the steady cycles, ${steady_cpu}% of a core during them (with a /metrics scrape every 2 s, ${scrape_ms} ms of CPU each)"
awk -v hwm="$hwm_c" 'NR == 1 { printf "  restart (C): first cycle %d status writes, %.2fs; %d reconciles and %d API requests until it; peak %s MiB\n", $5, $3, $9, $8, hwm }' \
  <(cycle_table "$work/samples-c" "$t_c")
echo
echo "the six queries of a cycle, max by (slo_namespace, slo[, window]) (SERIES), on the Prometheus above (stats=all, one run each after the benchmark):"
cat "$work/queries"
echo
echo "B's API requests, from its start to the end of the steady cycles, by verb, resource and code:"
awk '{ printf "  %-6s %-30s %-4s %8d\n", $1, $2, $3, $4 }' "$work/requests-b"
echo "C's, from its start to its third cycle:"
awk '{ printf "  %-6s %-30s %-4s %8d\n", $1, $2, $3, $4 }' "$work/requests-c"
