#!/usr/bin/env bash
# The demo: nines's rules on a real Prometheus, watched live. Builds nines and nines-workload (a
# synthetic checkout service), renders examples/availability.yaml and examples/latency.yaml into a
# rule file, starts the workload and Prometheus (scraping it as job "checkout", which the examples
# select), and prints each objective's SLI, budget and burn rates every few seconds. Then it breaks
# the service (20% of requests fail), shows SLOFastBurn firing, mends it and watches the burn
# rates fall.
#
#   scripts/demo.sh            about 3 minutes, then stops everything it started
#   scripts/demo.sh --keep     then leaves everything running, a table every 15s, until Ctrl-C
#   DEMO_SECONDS=90 scripts/demo.sh   shorter (the alert still takes its minute to fire)
#
# Idempotent and non-interactive: runs as well a second time, under CI and without a terminal.
set -euo pipefail

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; }
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
demo_seconds=${DEMO_SECONDS:-180}
interval=${DEMO_INTERVAL:-15}  # seconds between tables
jobs=${JOBS:-2}

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold=$'\e[1m' red=$'\e[31m' green=$'\e[32m' dim=$'\e[2m' reset=$'\e[0m'
else
  bold='' red='' green='' dim='' reset=''
fi
say() { printf '%s\n' "$*"; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
die() {
  printf '%sdemo: %s%s\n' "$red" "$*" "$reset" >&2
  exit 1
}

# ---- Dependencies and build -------------------------------------------------------------------

step "Installing what the demo needs and building"
scripts/setup.sh
mkdir -p "$work"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs" --target nines nines-workload >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2 && die "the build failed"; }
tail -n 1 "$work/build.log"

# ---- Rules ----------------------------------------------------------------------------------

step "Validating the objectives and generating their rules"
objectives=(examples/availability.yaml examples/latency.yaml)
inputs=()
for f in "${objectives[@]}"; do inputs+=(-f "$f"); done
"$build/nines" validate "${inputs[@]}"
"$build/nines" generate --format rulefile "${inputs[@]}" >"$work/rules.yaml"
promtool check rules "$work/rules.yaml" | sed -n 's/^ */  /; /[^ ]/p'
groups=$(grep -c '^- name:\|^  - name:' "$work/rules.yaml")
say "${objectives[*]} -> $work/rules.yaml ($groups rule groups)"

# ---- Processes ------------------------------------------------------------------------------

pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#pids[@]})); then
    say ""
    say "demo: stopping Prometheus and nines-workload"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$work"/*.pid
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A run with --keep that was left going holds the ports and the data folder: stop it, by the ids it
# recorded, and only if they still name its programs.
for name in prometheus nines-workload; do
  pidfile=$work/$name.pid
  [ -f "$pidfile" ] || continue
  old=$(cat "$pidfile")
  if [ "$(ps -p "$old" -o comm= 2>/dev/null)" = "$name" ]; then
    say "demo: stopping $name $old, left running by an earlier demo"
    kill "$old" 2>/dev/null || true
    while kill -0 "$old" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$pidfile"
done

# Port 0: the workload picks a free port and says which on its first line, so it cannot race.
step "Starting nines-workload and Prometheus"
"$build/nines-workload" --listen 127.0.0.1:0 --rate 20 --error-ratio 0 --latency-ms 120 --seed 1 \
  >"$work/workload.log" 2>&1 &
pids+=($!)
echo $! >"$work/nines-workload.pid"
workload=
for _ in $(seq 50); do
  workload=$(grep -o 'http://[0-9.:]*' "$work/workload.log" | head -n 1 || true)
  [ -n "$workload" ] && break
  sleep 0.1
done
[ -n "$workload" ] || die "nines-workload did not start: $(cat "$work/workload.log")"
control() { curl -fsS -X POST "$workload/control?$1"; }

free_port() {  # a port nothing answers on; Prometheus may still lose it to a race, hence retries
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Fresh data each run: the last run's errors would otherwise still be in the 1h window.
rm -rf "$work/data"
cat >"$work/prometheus.yml" <<EOF
# Written by scripts/demo.sh. The rule groups carry their own intervals.
global:
  scrape_interval: 5s
  scrape_timeout: 4s
rule_files:
  - rules.yaml
scrape_configs:
  - job_name: checkout   # the examples select job="checkout"
    static_configs:
      - targets: ['${workload#http://}']
EOF

prom=
for attempt in 1 2 3; do
  port=$(free_port) || die "no free port found"
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$port" >"$work/prometheus.log" 2>&1 &
  prom_pid=$!
  for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
      prom=http://127.0.0.1:$port
      break
    fi
    kill -0 "$prom_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -n "$prom" ]; then
    pids+=("$prom_pid")
    echo "$prom_pid" >"$work/prometheus.pid"
    break
  fi
  kill "$prom_pid" 2>/dev/null || true
  wait "$prom_pid" 2>/dev/null || true
  say "demo: Prometheus did not start on port $port (attempt $attempt); see $work/prometheus.log"
done
[ -n "$prom" ] || die "Prometheus did not start: $(tail -n 5 "$work/prometheus.log")"

api() { curl -fsS -G "$prom/api/v1/$1" "${@:2}"; }

# Rules loaded and the target scraped at least once: before that every table would be empty.
loaded=false
for _ in $(seq 120); do
  rule_groups=$(api rules | jq '.data.groups | length')
  target=$(api targets | jq -r '[.data.activeTargets[] | select(.labels.job == "checkout")][0].health // ""')
  if [ "$rule_groups" -eq "$groups" ] && [ "$target" = up ]; then
    loaded=true
    break
  fi
  sleep 0.5
done
$loaded || die "Prometheus has $rule_groups of $groups rule groups, target '$target'; see $work/prometheus.log"
started=$SECONDS  # the tables' clock: time since Prometheus started
started_epoch=$(date +%s)
say "Prometheus loaded $rule_groups rule groups; target job=\"checkout\" is up."

# Debian's Prometheus serves only the classic web UI, under /classic/.
ui=$prom
curl -fsS -o /dev/null "$prom/alerts" 2>/dev/null || ui=$prom/classic
where() {
  say "  Prometheus  $prom"
  say "    rules     $ui/rules"
  say "    alerts    $ui/alerts"
  say "    graph     $ui/graph?g0.expr=slo:burn_rate:ratio&g0.tab=0&g0.range_input=15m"
  say "  workload    $workload/metrics   (change it: curl -X POST '$workload/control?error_ratio=0.05')"
  say "  files       $work/ (prometheus.yml, rules.yaml, logs)"
}
where

# ---- The table ------------------------------------------------------------------------------

# Every series of one name, as {"namespace/name": value}.
by_slo() {
  api query --data-urlencode "query=$1" |
    jq -c '[.data.result[] | {key: "\(.metric.slo_namespace)/\(.metric.slo)", value: .value[1]}]
           | from_entries'
}

last_table=  # the last table's rows, tab-separated, for the summary
last_table_at=0
peak_burn=  # the availability objective's highest 5m burn rate in any table
table() {    # table TITLE
  local objective sli budget burn5m burn1h traffic firing names
  objective=$(by_slo 'slo:objective:ratio')
  sli=$(by_slo 'slo:sli:ratio')
  budget=$(by_slo 'slo:error_budget_remaining:ratio')
  burn5m=$(by_slo 'slo:burn_rate:ratio{window="5m"}')
  burn1h=$(by_slo 'slo:burn_rate:ratio{window="1h"}')
  traffic=$(by_slo 'slo:events:rate5m')
  firing=$(api alerts | jq -c '[.data.alerts[] | select(.state == "firing")
    | {key: "\(.labels.slo_namespace)/\(.labels.slo)",
       value: (.labels.alertname + (if .labels.long then " \(.labels.long)/\(.labels.short)" else "" end))}]
    | group_by(.key) | map({key: .[0].key, value: (map(.value) | unique | join(", "))}) | from_entries')
  # The objectives are the rule groups' names: nines/NAMESPACE/NAME/KIND.
  names=$(api rules | jq -r '[.data.groups[].name | split("/") | "\(.[1])/\(.[2])"] | unique[]')
  last_table=$(for n in $names; do
    jq -rn --arg n "$n" --argjson o "$objective" --argjson s "$sli" --argjson b "$budget" \
      --argjson f "$burn5m" --argjson h "$burn1h" --argjson t "$traffic" --argjson a "$firing" \
      '[$n, $o[$n], $s[$n], $b[$n], $f[$n], $h[$n], $t[$n], $a[$n]] | map(. // "") | @tsv'
  done)
  local elapsed=$((SECONDS - started)) burn
  last_table_at=$SECONDS
  burn=$(column_of shop/checkout-availability 5)
  if [ -n "$burn" ] && awk -v b="$burn" -v p="${peak_burn:-0}" 'BEGIN { exit !(b > p) }'; then
    peak_burn=$burn
  fi
  printf '\n%s[%d:%02d] %s%s\n' "$bold" $((elapsed / 60)) $((elapsed % 60)) "$1" "$reset"
  printf '%-28s %6s %9s %12s %8s %8s %6s  %s\n' objective SLO "SLI*" "budget left*" "burn 5m" \
    "burn 1h" "req/s" "firing"
  printf '%s\n' "$last_table" | awk -F'\t' -v red="$red" -v green="$green" -v reset="$reset" '
    function num(v, scale, fmt) { return v == "" ? "-" : sprintf(fmt, v * scale) }
    {
      firing = $8 == "" ? green "-" reset : red $8 reset
      printf "%-28s %6s %9s %12s %8s %8s %6s  %s\n", $1, num($2, 100, "%.4g%%"),
        num($3, 100, "%.3f%%"), num($4, 100, "%.1f%%"), num($5, 1, "%.2f"), num($6, 1, "%.2f"),
        num($7, 1, "%.1f"), firing
    }'
}
column_of() {  # column_of OBJECTIVE FIELD: a value from the last table, empty when absent
  printf '%s\n' "$last_table" | awk -F'\t' -v n="$1" -v f="$2" '$1 == n { print $f }'
}
fast_burn_firing() {  # the first page tier, 1h/5m; the 6h/30m one has a 30m short window
  [ "$(api alerts | jq '[.data.alerts[] | select(.state == "firing" and .labels.alertname ==
      "SLOFastBurn" and .labels.long == "1h" and .labels.slo == "checkout-availability")]
      | length')" -gt 0 ]
}

note() {
  say "${dim}* SLI and budget left cover the objective's 30-day window, which here holds only the"
  say "  minutes since Prometheus started: they move far faster than on a month of data. The group"
  say "  that records SLO, SLI and budget runs every 2 minutes, so they read \"-\" until it has run."
  say "  req/s is slo:events:rate5m, a 5-minute rate: it climbs to 20 over the first 5 minutes. And"
  say "  while there are under 5 minutes of data, the 5m and 1h burn rates see the same samples.${reset}"
}
mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }

# ---- The story ------------------------------------------------------------------------------

step "A healthy service: no errors, median latency 120ms, 20 requests a second"
note
baseline=$((demo_seconds / 4))
rounds=$((baseline / interval))
((rounds >= 1)) || rounds=1
for ((i = 1; i <= rounds; i++)); do
  sleep "$interval"
  table "healthy ($i/$rounds)"
done

step "Breaking it: 20% of requests fail (POST $workload/control?error_ratio=0.2)"
control error_ratio=0.2 >/dev/null
broke_at=$SECONDS
say "20% errors against a 99.9% objective is a burn rate of 200. SLOFastBurn pages when the burn"
say "rate is over 14.4 in both the last hour and the last 5 minutes; the rules run every 30s."
fired_after=
next_table=$((SECONDS + interval))
while [ -z "$fired_after" ] && ((SECONDS - broke_at < 180)); do
  sleep 5
  if fast_burn_firing; then
    fired_after=$((SECONDS - broke_at))
    table "failing: SLOFastBurn 1h/5m is firing, ${fired_after}s after the errors began"
  elif ((SECONDS >= next_table)); then
    table "failing for $((SECONDS - broke_at))s"
    next_table=$((SECONDS + interval))
  fi
done
[ -n "$fired_after" ] || {
  table "failing for $((SECONDS - broke_at))s"
  die "SLOFastBurn 1h/5m did not fire within 180s; see $prom/alerts and $prom/rules"
}

step "Mending it: no more errors (POST $workload/control?error_ratio=0)"
control error_ratio=0 >/dev/null
mended_at=$SECONDS
failed_for=$((mended_at - broke_at))
say "The 5m burn rate falls as the errors slide out of its window; SLOFastBurn 1h/5m resolves once"
say "the last 5 minutes hold under 1.44% errors: at the latest 5 minutes after they began ($(mmss $((broke_at - started + 300))))."
resolved_after=
recovery=$((demo_seconds - (SECONDS - started)))
((recovery >= interval)) || recovery=$interval
next_table=$((SECONDS + interval))
while [ -z "$resolved_after" ] && ((SECONDS - mended_at < recovery)); do
  sleep 5
  if ! fast_burn_firing; then
    resolved_after=$((SECONDS - mended_at))
    table "mended: SLOFastBurn 1h/5m resolved, ${resolved_after}s after the errors stopped"
  elif ((SECONDS >= next_table)); then
    table "mended $((SECONDS - mended_at))s ago"
    next_table=$((SECONDS + interval))
  fi
done
[ -n "$resolved_after" ] || ((SECONDS - last_table_at < 5)) || table "mended $((SECONDS - mended_at))s ago"

# ---- What happened --------------------------------------------------------------------------

step "What happened"
avail=shop/checkout-availability
fmt() {  # fmt VALUE [SCALE [FORMAT]]
  if [ -n "$1" ]; then awk -v v="$1" -v s="${2:-1}" -v f="${3:-%.1f}" 'BEGIN { printf f, v * s }'; else echo "-"; fi
}
# What the same errors would have needed, and cost, on a service with history: the 1h window must
# hold 14.4 x 0.1% errors, 7.2% of its hour at 20% errors; 30 days at 20 req/s allow
# 30d x 20 x 0.1% bad requests.
needed=$(awk 'BEGIN { printf "%d", 3600 * 14.4 * 0.001 / 0.2 }')
spent=$(awk -v t="$failed_for" 'BEGIN { printf "%.2f", 100 * 0.2 * t / (2592000 * 0.001) }')
say "- For ${failed_for}s, 20% of checkout requests failed. The 5m burn rate peaked at $(fmt "$peak_burn"), and"
say "  SLOFastBurn 1h/5m fired ${fired_after}s after the errors began, quickly because the 1h window held"
say "  only the demo's $(mmss $((broke_at - started))) of healthy traffic. After an hour of it, the page"
say "  would have needed $(mmss "$needed") of these errors."
if [ -n "$resolved_after" ]; then
  say "- ${resolved_after}s after the errors stopped, the 5m burn rate was $(fmt "$(column_of $avail 5)") and"
  say "  SLOFastBurn 1h/5m had resolved: it has no 'for:', the 5m window ends it."
else
  say "- $((SECONDS - mended_at))s after the errors stopped, the 5m burn rate was $(fmt "$(column_of $avail 5)"). SLOFastBurn 1h/5m"
  say "  resolves when the errors have slid out of the 5m window (--keep to watch it)."
fi
firing_at_end=$(column_of $avail 8)
say "- Firing at the end: ${firing_at_end:-nothing}."
if [[ $firing_at_end == *6h* ]]; then
  say "  The slower tiers fire too: their long windows (6h, 1d, 3d) hold only these minutes, with no"
  say "  healthy days to dilute the errors."
fi
# When the budget was last recorded, on the tables' clock: its group runs only every 2 minutes.
budget_left=$(column_of $avail 4)
budget_at=$(api query --data-urlencode \
  'query=timestamp(slo:error_budget_remaining:ratio{slo="checkout-availability"})' |
  jq -r --argjson t0 "$started_epoch" '.data.result[0].value[1] // "" | if . == "" then . else (tonumber - $t0 | floor) end')
if [ -z "$budget_left" ]; then
  say "- Budget left: not recorded yet (its group runs every 2 minutes)."
elif ((budget_at < broke_at - started)); then
  say "- Budget left: $(fmt "$budget_left" 100)%, recorded at $(mmss "$budget_at"), before the errors began: its group"
  say "  runs every 2 minutes."
else
  say "- Budget left: $(fmt "$budget_left" 100)%, recorded at $(mmss "$budget_at"). The SLI's 30 days hold only these"
  say "  minutes too, so it falls far faster than it would on a month of data."
fi
say "  After 30 days of healthy traffic, the same incident would have spent ${spent}% of the budget."
say "- checkout-latency's 5m burn rate is $(fmt "$(column_of shop/checkout-latency 5)" 1 %.2f): failing requests are"
say "  as fast as the others, so its objective did not move."
say ""
say "Look around:"
where

if $keep; then
  say ""
  say "Prometheus and nines-workload keep running (--keep); a table every ${interval}s, Ctrl-C stops them."
  trap 'exit 0' INT
  while true; do
    sleep "$interval"
    table "watching"
  done
else
  say ""
  say "demo: done in $(mmss $((SECONDS - started))) of watching; --keep leaves everything running."
fi
