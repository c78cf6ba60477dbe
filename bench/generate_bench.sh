#!/usr/bin/env bash
# How fast `nines generate` renders many objectives: writes 10,000 ServiceLevelObjectives (a mix of
# every indicator kind, one file each, as a GitOps repository keeps them) into a temporary folder,
# then times `nines generate -f DIR -o OUT` three times, and prints each run's wall time,
# resources per second and peak memory. Then the same three runs with --promtool= : nines checks
# each timeslice expression with `promtool check rules` when promtool is on the PATH, one process
# per timeslice objective, and the second set shows what that check costs. Prints figures, asserts
# nothing about time.
#
# Usage: bench/generate_bench.sh [--count N] [--runs N]
# Environment: NINES (default build/nines).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nines=${NINES:-$root/build/nines}
count=10000
runs=3
while (($#)); do
  case $1 in
    --count) count=${2:?--count needs a number}; shift ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "generate_bench: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $count =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ ]] || { echo "generate_bench: --count and --runs want positive numbers" >&2; exit 2; }
[ -x "$nines" ] || { echo "generate_bench: $nines not found: build it with cmake --build build -j2" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nines-generate-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/in"

# Kinds by i % 10: 0-3 ratio with bad events, 4-5 ratio with good events, 6-7 latency on a classic
# histogram, 8 latency on a native histogram, 9 timeslice. Windows, objectives and alerting options
# vary so that every code path of the generator runs.
awk -v n="$count" -v dir="$tmp/in" 'BEGIN {
  split("30d 28d 7d 30d 14d", windows, " ")
  split("99.9 99.5 99 99.95 95", objectives, " ")
  for (i = 0; i < n; i++) {
    f = sprintf("%s/slo-%05d.yaml", dir, i)
    kind = i % 10; svc = sprintf("svc-%d", int(i / 10)); ns = sprintf("team-%d", i % 50)
    printf "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata:\n" > f
    printf "  name: %s-%d\n  namespace: %s\nspec:\n  service: %s\n", svc, kind, ns, svc > f
    printf "  description: objective %d of the generation benchmark\n", i > f
    printf "  objective: \"%s\"\n  window: %s\n", objectives[i % 5 + 1], windows[int(i / 5) % 5 + 1] > f
    printf "  labels:\n    team: %s\n    tier: \"%d\"\n  indicator:\n", ns, i % 3 + 1 > f
    if (kind <= 3) {
      printf "    ratio:\n      total: http_requests_total{job=\"%s\",namespace=\"%s\"}\n", svc, ns > f
      printf "      bad: http_requests_total{job=\"%s\",namespace=\"%s\",code=~\"5..\"}\n", svc, ns > f
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
    printf "  alerting:\n    labels:\n      team: %s\n", ns > f
    printf "    annotations:\n      runbook_url: https://runbooks.example/%s\n", svc > f
    if (i % 7 == 0) printf "    minEvents: 100\n" > f
    if (i % 11 == 0) printf "    budgetExhausted:\n      enabled: true\n" > f
    if (i % 13 == 0) printf "    fastBurn:\n      thresholds:\n      - burnRate: 10\n        long: 1h\n        short: 5m\n" > f
    close(f)
  }
}'
"$nines" validate -f "$tmp/in" --promtool= >/dev/null 2>&1 \
  || { echo "generate_bench: the generated resources do not validate:" >&2; "$nines" validate -f "$tmp/in" --promtool= | head >&2; exit 1; }

have_time=0
[ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1 && have_time=1

bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.1f", s / 1048576 }'; }
runs_done=0

# run LABEL ARGS...: one timed `nines generate`; prints wall time, resources/s, peak RSS, output.
run() {
  local label=$1 t0 t1 wall rss out_files out_size out
  shift
  # A fresh folder each run: writing right after deleting the last run's 10,000 files costs the
  # kernel seconds of system time that have nothing to do with nines.
  runs_done=$((runs_done + 1))
  out=$tmp/out-$runs_done
  t0=$(date +%s%N)
  if ((have_time)); then
    /usr/bin/time -v -o "$tmp/time.txt" "$nines" generate -f "$tmp/in" -o "$out" "$@" \
      >/dev/null 2>"$tmp/stderr" || { cat "$tmp/stderr" >&2; echo "generate_bench: nines generate failed" >&2; exit 1; }
    t1=$(date +%s%N)
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$tmp/time.txt")
  else # No GNU time: sample the process's high-water mark while it runs (a lower bound).
    "$nines" generate -f "$tmp/in" -o "$out" "$@" >/dev/null 2>"$tmp/stderr" &
    local pid=$! hwm=0 v
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$v" ] && ((v > hwm)) && hwm=$v
      sleep 0.02
    done
    wait "$pid" || { cat "$tmp/stderr" >&2; echo "generate_bench: nines generate failed" >&2; exit 1; }
    t1=$(date +%s%N)
    rss=$(awk -v k="$hwm" 'BEGIN { printf ">= %.1f MiB (VmHWM sampled)", k / 1024 }')
  fi
  # One PrometheusRule and one dashboard ConfigMap per objective.
  out_files=$(find "$out" -type f -name '*.yaml' | wc -l)
  [ "$out_files" = "$((2 * count))" ] ||
    { echo "generate_bench: $out_files files written, $((2 * count)) expected (a rule and a dashboard each)" >&2; exit 1; }
  out_size=$(bytes "$out")
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  printf '%-26s %8ss %10.0f/s %14s %6s files %5s MiB\n' "$label" "$wall" \
    "$(awk -v n="$count" -v w="$wall" 'BEGIN { print n / w }')" "$rss" "$out_files" "$out_size"
}

kinds=$(awk -v n="$count" 'BEGIN {
  for (i = 0; i < n; i++) { k = i % 10; if (k <= 5) r++; else if (k <= 7) c++; else if (k == 8) h++; else t++ }
  printf "%d ratio, %d classic-histogram latency, %d native-histogram latency, %d timeslice", r, c, h, t
}')
echo "nines generate benchmark: $("$nines" version)"
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr); run $(date -u +%FT%TZ)"
echo "input: $count ServiceLevelObjectives, one file each ($(bytes "$tmp/in") MiB): $kinds"
echo "command: nines generate -f DIR -o OUT (per objective a PrometheusRule and a dashboard ConfigMap)"
promtool_path=$(command -v promtool || true)
echo "promtool: ${promtool_path:-not found}; peak memory: $( ((have_time)) && echo '/usr/bin/time -v, maximum RSS of nines and its children' || echo 'sampled VmHWM')"
echo
for r in $(seq 1 "$runs"); do run "run $r (promtool check)"; done
for r in $(seq 1 "$runs"); do run "run $r (--promtool=)" --promtool=; done
