#!/usr/bin/env bash
# What nines's rules cost on a real Prometheus, against the naive rules.
#
# Builds (once, then cached) a Prometheus TSDB holding 30 days of synthetic request counters, a few
# hundred raw series, plus the 5-minute counts nines's recording rules would have written over those
# 30 days; then, at one instant at the end of the data, evaluates for each window the expression the
# generated rules use and the naive one (the same error ratio read straight from the raw series),
# through the HTTP API with stats=all, several times each, and prints evaluation time, samples read
# and values side by side. It never asserts on time: it prints figures.
#
# Usage: bench/rules_bench.sh [--regenerate] [--runs N]
#   --regenerate  rebuild the TSDB even when a cached one with the same parameters exists
#   --runs N      timed evaluations of each expression and window (default 5; the median is shown)
# Environment: NINES (default build/nines), BENCH_DIR (default build-bench/ at the repo root),
#   BENCH_INTERVAL (scrape interval of the synthetic data in seconds, 10 to 120; default 30).
# Needs: prometheus and promtool (scripts/setup.sh installs Debian's), curl, awk, sha256sum.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nines=${NINES:-$root/build/nines}
bench_dir=${BENCH_DIR:-$root/build-bench}

# Shape of the data. Changing any of these (or the generator, or the recording rules nines writes)
# changes the cache key, so the next run builds a new TSDB.
interval=${BENCH_INTERVAL:-30}             # scrape interval, seconds
days=30                                    # the SLO window (its tiers read 1h, 6h, 1d, 3d)
extra=$((6 * 3600))                        # data before the window, so every window is full
end_ts=1795392000                          # 2026-11-23T00:00:00Z: the instant every query runs at
start_ts=$((end_ts - days * 86400 - extra))
block=$((54 * 3600))                       # block range, as Prometheus with 40d retention compacts to
retention=40d                              # > days + extra: old blocks must not be deleted
seed=20261123

runs=5
regenerate=0
while (($#)); do
  case $1 in
    --regenerate) regenerate=1 ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "rules_bench: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "rules_bench: --runs wants a positive number" >&2; exit 2; }
[[ $interval =~ ^[0-9]+$ ]] && ((interval >= 10 && interval <= 120)) \
  || { echo "rules_bench: BENCH_INTERVAL wants 10 to 120 (seconds)" >&2; exit 2; }

t_begin=$(date +%s)
log() { printf '[%4ds] %s\n' $(($(date +%s) - t_begin)) "$*" >&2; }
die() { printf 'rules_bench: %s\n' "$*" >&2; exit 1; }

for tool in prometheus promtool curl awk sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs prometheus and promtool)"
done
[ -x "$nines" ] || die "$nines not found: build it with cmake --build build -j2"

mkdir -p "$bench_dir"
work=$(mktemp -d "$bench_dir/run.XXXXXX")
prom_pid=""
cleanup() {
  if [ -n "$prom_pid" ] && kill -0 "$prom_pid" 2>/dev/null; then
    kill "$prom_pid" 2>/dev/null || true
    wait "$prom_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. The objective and its rules ------------------------------------------------------------
total_sel='bench_requests_total{job="bench"}'
bad_sel='bench_requests_total{job="bench",code=~"5.."}'
objective=99.9
cat >"$work/slo.yaml" <<EOF
apiVersion: nines.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: bench-availability
  namespace: bench
spec:
  service: bench
  objective: "$objective"
  window: ${days}d
  indicator:
    ratio:
      total: $total_sel
      bad: $bad_sel
EOF
"$nines" generate -f "$work/slo.yaml" --format rulefile >"$work/rules.yaml" \
  || die "nines generate failed on $work/slo.yaml"
promtool check rules "$work/rules.yaml" >/dev/null || die "promtool rejects the generated rules"

# The window each burn rate (and the SLI) reads, and its expression, as "WINDOW<TAB>EXPR" lines.
awk '
  function flush() {
    if (rec == "slo:burn_rate:ratio" && win != "") print win "\t" expr
    else if (rec == "slo:sli:ratio") print "sli\t" expr
    rec = ""; expr = ""; win = ""
  }
  /^- name:/ { flush(); next }
  /^  - (record|alert):/ { flush(); rec = $3; next }
  /^    expr: / { expr = substr($0, 11); next }
  /^      window: / { win = $2; next }
  END { flush() }
' "$work/rules.yaml" >"$work/exprs.tsv"

# Only the two recording rules that write the 5-minute counts, in their group (for its interval):
# the backfiller evaluates every recording rule of a file, and the burn rates read recorded series
# it would not have yet.
awk '
  /^- name:/ { group = $3; keep = 0; next }
  /^  interval:/ { every = $2; next }
  /^  - (record|alert):/ {
    keep = ($3 == "nines:slo_events:increase5m" || $3 == "nines:slo_bad_events:increase5m")
    if (keep && !header) { print "groups:\n- name: " group "\n  interval: " every "\n  rules:"; header = 1 }
  }
  keep { print }
' "$work/rules.yaml" >"$work/recording.yaml"
[ "$(grep -c '^  - record:' "$work/recording.yaml")" = 2 ] \
  || die "could not find the two nines:slo_*:increase5m recording rules in the generated rules"
promtool check rules "$work/recording.yaml" >/dev/null || die "promtool rejects $work/recording.yaml"

expr_of() { # WINDOW -> the generated expression for it
  local e
  e=$(awk -F'\t' -v w="$1" '$1 == w { print $2; exit }' "$work/exprs.tsv")
  [ -n "$e" ] || die "the generated rules have no expression for window $1"
  case $e in \"* | \'*) die "quoted expression for window $1: this script reads plain YAML scalars only" ;; esac
  printf '%s' "$e"
}

# --- Prometheus ----------------------------------------------------------------------------------
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}
printf 'global:\n  scrape_interval: 1m\n' >"$work/prometheus.yml"

start_prometheus() { # DATA_DIR: starts Prometheus on it (no scrapes, no rules), waits until ready
  port=$(free_port)
  url="http://127.0.0.1:$port"
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$1" \
    --storage.tsdb.retention.time=$retention --web.listen-address="127.0.0.1:$port" \
    >>"$work/prometheus.log" 2>&1 &
  prom_pid=$!
  local i
  for i in $(seq 1 240); do
    if curl -fsS "$url/-/ready" >/dev/null 2>&1; then return; fi
    kill -0 "$prom_pid" 2>/dev/null || { tail -20 "$work/prometheus.log" >&2; die "prometheus exited on start"; }
    sleep 0.5
  done
  tail -20 "$work/prometheus.log" >&2
  die "prometheus not ready after 120s"
}
stop_prometheus() {
  kill "$prom_pid" 2>/dev/null || true
  wait "$prom_pid" 2>/dev/null || true
  prom_pid=""
}
metric() { # NAME -> its value on Prometheus's own /metrics (empty if unknown)
  curl -fsS "$url/metrics" -o "$work/metrics.txt" 2>/dev/null || return 0
  awk -v m="$1" '$1 == m { v = $2 } END { print v }' "$work/metrics.txt"
}

# query EXPR -> sets q_value, q_eval (seconds), q_samples; dies on any error.
query() {
  local out
  out=$(curl -fsS -G "$url/api/v1/query" --data-urlencode "query=$1" \
    --data-urlencode "time=$end_ts" --data-urlencode "stats=all") \
    || die "query failed: $1"
  case $out in *'"status":"success"'*) ;; *) die "query failed: $1: $out" ;; esac
  q_value=$(sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p' <<<"$out")
  q_eval=$(sed -n 's/.*"evalTotalTime":\([0-9.eE+-]*\).*/\1/p' <<<"$out")
  q_samples=$(sed -n 's/.*"totalQueryableSamples":\([0-9]*\).*/\1/p' <<<"$out")
  [ -n "$q_value" ] || die "query returned no sample: $1: $out"
  [ -n "$q_eval" ] && [ -n "$q_samples" ] || die "no stats in the answer (Prometheus too old?): $out"
}

# --- 2-3. The TSDB, cached on its parameters -----------------------------------------------------
prom_version=$(prometheus --version 2>&1 | head -1)
key=$( {
  echo "interval=$interval days=$days extra=$extra end=$end_ts block=$block seed=$seed"
  echo "$prom_version"
  awk -W version 2>/dev/null | head -1 || awk --version | head -1 # rand() differs between awks
  cat "$root/bench/gen_openmetrics.awk" "$work/recording.yaml"
} | sha256sum | cut -c1-12)
data="$bench_dir/tsdb-$key"

if ((regenerate)) || [ ! -f "$data/.complete" ]; then
  rm -rf "$data" "$data.tmp"
  mkdir -p "$data.tmp" "$work/om" "$work/recorded"
  log "generating ${days}d+$((extra / 3600))h of OpenMetrics at ${interval}s into $work/om"
  awk -v start=$start_ts -v end=$end_ts -v interval="$interval" -v block=$block \
    -v out="$work/om" -v seed=$seed -f "$root/bench/gen_openmetrics.awk" >"$data.tmp/shape.txt" \
    || die "the OpenMetrics generator failed"
  log "$(tr '\n' ' ' <"$data.tmp/shape.txt")($(du -sh "$work/om" | cut -f1) of text)"

  log "backfilling the raw series (promtool tsdb create-blocks-from openmetrics, 2 at a time)"
  # One file per block range, so each promtool run parses its own file only.
  export data
  ls "$work"/om/*.om | xargs -P 2 -I{} sh -c \
    'promtool tsdb create-blocks-from openmetrics --quiet --max-block-duration=54h "$1" "$data.tmp" >"$1.log" 2>&1 || { cat "$1.log" >&2; exit 1; }' _ {} \
    || die "promtool create-blocks-from openmetrics failed"
  rm -rf "$work/om"
  raw_blocks=$(find "$data.tmp" -mindepth 2 -maxdepth 2 -name meta.json | wc -l)
  log "$raw_blocks raw blocks, $(du -sh "$data.tmp" | cut -f1)"

  log "backfilling nines:slo_events:increase5m and nines:slo_bad_events:increase5m (create-blocks-from rules)"
  start_prometheus "$data.tmp"
  # From $work with a relative path: Prometheus offsets a group's evaluations within its interval
  # by a hash of the group's name and file, so the same path gives the same timestamps every time.
  (cd "$work" && promtool tsdb create-blocks-from rules --url="$url" --start=$((start_ts + 600)) \
    --end=$end_ts --output-dir=recorded --max-block-duration=54h recording.yaml) \
    >"$work/rules-backfill.log" 2>&1 || { cat "$work/rules-backfill.log" >&2; die "promtool create-blocks-from rules failed"; }
  stop_prometheus
  mv "$work"/recorded/* "$data.tmp/"

  # On start Prometheus loads the new blocks, and within a minute or two merges each into the raw
  # block it overlaps (vertical compaction), as a live Prometheus holds both in the same blocks.
  log "restarting Prometheus on raw + recorded blocks; waiting for it to merge them"
  start_prometheus "$data.tmp"
  for i in $(seq 1 120); do
    [ "$(metric prometheus_tsdb_blocks_loaded)" = "$raw_blocks" ] && break
    sleep 5
  done
  loaded=$(metric prometheus_tsdb_blocks_loaded)
  [ "$loaded" = "$raw_blocks" ] || log "warning: $loaded blocks loaded after 10 minutes, $raw_blocks expected"
  stop_prometheus
  rm -rf "$data.tmp/wal" "$data.tmp/chunks_head"
  touch "$data.tmp/.complete"
  mv "$data.tmp" "$data"
  log "TSDB ready: $data"
else
  log "reusing the TSDB in $data (--regenerate to rebuild it)"
fi

# --- 4. The measurement --------------------------------------------------------------------------
start_prometheus "$data"
blocks=$(metric prometheus_tsdb_blocks_loaded)
query "count($total_sel)"; series=$q_value
query "count($bad_sel)"; bad_series=$q_value
samples=$(awk '$1 == "samples" { print $2 }' "$data/shape.txt")
query "count_over_time(nines:slo_events:increase5m[$((days * 86400 + extra))s])"; recorded=$q_value

echo "nines rules benchmark: $prom_version"
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr); run $(date -u +%FT%TZ)"
echo "data: $series raw series of $total_sel ($bad_series match the bad selector), scraped every ${interval}s,"
echo "      $samples raw samples from $(date -u -d @$start_ts +%FT%TZ) to $(date -u -d @$end_ts +%FT%TZ);"
echo "      nines:slo_events:increase5m and nines:slo_bad_events:increase5m: $recorded samples each (every 1m);"
echo "      $blocks blocks in $data ($(du -sh "$data" | cut -f1))"
echo "queries at $(date -u -d @$end_ts +%FT%TZ), $runs timed runs in a row each after one warm-up, median evalTotalTime;"
echo "naive = sum(increase(BAD[W])) / sum(increase(TOTAL[W])) on the raw series"
echo

spread() { sort -g | awk '{ v[NR] = $1 * 1000 } END { printf "%.3f .. %.3f", v[1], v[NR] }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
budget=$(awk -v o=$objective 'BEGIN { printf "%.10g", 1 - o / 100 }')

table=$work/table.tsv
: >"$table"
for w in 1h 6h 1d 3d ${days}d; do
  if [ "$w" = "${days}d" ]; then ours=$(expr_of sli); kind=sli; else ours=$(expr_of "$w"); kind=burn; fi
  naive="sum(increase(${bad_sel}[$w])) / sum(increase(${total_sel}[$w]))"
  # One warm-up each (the first read of a block's chunks pays for the page cache), and each
  # expression's runs in a row: right after a naive 30d query, Go's garbage collector is still
  # busy with its 30 million samples, and a query run then pays for part of it.
  : >"$work/ours.t"; : >"$work/naive.t"
  query "$ours"
  for r in $(seq 1 "$runs"); do query "$ours"; echo "$q_eval" >>"$work/ours.t"; done
  o_value=$q_value; o_samples=$q_samples
  query "$naive"
  for r in $(seq 1 "$runs"); do query "$naive"; echo "$q_eval" >>"$work/naive.t"; done
  n_value=$q_value; n_samples=$q_samples
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$kind" "$(median <"$work/ours.t")" \
    "$(median <"$work/naive.t")" "$o_samples" "$n_samples" "$o_value" "$n_value" \
    "$(spread <"$work/ours.t")" "$(spread <"$work/naive.t")" >>"$table"
  log "window $w done"
done

# What the long windows stand on: the two recording rules, evaluated every minute.
price=$work/price.tsv
: >"$price"
awk '/^  - record: / { r = $3 } /^    expr: / { print r "\t" substr($0, 11) }' "$work/recording.yaml" |
  while IFS=$'\t' read -r name e; do
    query "$e"
    : >"$work/rec.t"
    for r in $(seq 1 "$runs"); do query "$e"; echo "$q_eval" >>"$work/rec.t"; done
    printf '%s\t%s\t%s\n' "$name" "$(median <"$work/rec.t")" "$q_samples" >>"$price"
  done

awk -F'\t' -v budget="$budget" '
  BEGIN {
    printf "%-6s %-22s %10s %10s %8s %10s %10s %8s %12s %12s %9s\n", "window", "rule", "ours ms",
      "naive ms", "time x", "ours smpl", "naive smpl", "smpl x", "ours value", "naive value", "rel diff"
  }
  {
    # Our value in its own unit (burn rate, or SLI for the whole window); the naive error ratio
    # turned into the same unit; both error ratios.
    if ($2 == "sli") { rule = "slo:sli:ratio"; oerr = 1 - $7; nval = 1 - $8 }
    else { rule = "slo:burn_rate:ratio"; oerr = $7 * budget; nval = $8 / budget }
    w[NR] = $1; oe[NR] = oerr; ne[NR] = $8; so[NR] = $9; sn[NR] = $10
    diff = ($8 != 0) ? (oerr - $8) / $8 : 0
    printf "%-6s %-22s %10.3f %10.3f %8.1f %10d %10d %8.1f %12.6g %12.6g %+8.3f%%\n", $1, rule,
      $3 * 1000, $4 * 1000, ($3 > 0 ? $4 / $3 : 0), $5, $6, ($5 > 0 ? $6 / $5 : 0), $7, nval, diff * 100
  }
  END {
    printf "\nerror ratio over each window (bad / all events):\n"
    printf "%-6s %14s %14s\n", "window", "ours", "naive"
    for (i = 1; i <= NR; i++) printf "%-6s %14.8f %14.8f\n", w[i], oe[i], ne[i]
    printf "\nevaluation time over the runs, min .. max (ms):\n"
    printf "%-6s %-22s %-22s\n", "window", "ours", "naive"
    for (i = 1; i <= NR; i++) printf "%-6s %-22s %-22s\n", w[i], so[i], sn[i]
  }
' "$table"
echo
echo "what the long windows stand on: nines's two recording rules, each evaluated once a minute:"
awk -F'\t' '{ printf "%-34s %8.3f ms %8d samples\n", $1, $2 * 1000, $3 }' "$price"
echo
echo "time x and smpl x: naive / ours (above 1, ours is cheaper). rel diff: (ours - naive) / naive error ratio."
stop_prometheus
log "done"
