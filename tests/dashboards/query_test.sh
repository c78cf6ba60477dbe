#!/usr/bin/env bash
# Every PromQL expression of every dashboard, run against a real Prometheus.
#
# A broken query is the most common complaint about SLO dashboards, and a query that runs but
# returns nothing is the second. So this test renders the examples and 200 more objectives into
# rules and dashboards, starts three synthetic services (one failing 5% of requests, one healthy,
# one that fails for a while and recovers) and a Prometheus that scrapes them and evaluates the
# rules, waits until the review board has something to review, and then runs every panel query,
# every annotation and every variable query of every dashboard, as Grafana would, with Grafana's
# variables filled in. Each must succeed, and each must return data, except the alert panels of
# objectives that have no alert firing, which must then be empty.
#
#   tests/dashboards/query_test.sh          uses build/ (NINES_BUILD overrides)
#   KEEP=1 tests/dashboards/query_test.sh   leaves the work folder for a look
#
# About 5 minutes: the rules' own evaluation intervals set the pace. No timing is asserted; every
# wait is a bounded poll for a condition.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=e2e/lib/services.sh
source e2e/lib/services.sh
root=$(pwd)
build=${NINES_BUILD:-$root/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/nines-dashboard-queries.XXXXXX")

pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#pids[@]})); then kill "${pids[@]}" 2>/dev/null || true; fi
  if ((${#pids[@]})); then wait "${pids[@]}" 2>/dev/null || true; fi
  if [ "$rc" -ne 0 ]; then
    echo "query_test: failed; Prometheus log tail:" >&2
    tail -n 20 "$work/prometheus.log" >&2 2>/dev/null || true
  fi
  if [ -n "${KEEP:-}" ]; then echo "query_test: work folder kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
for tool in prometheus curl jq; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup.sh installs it)"
done
for binary in nines nines-workload; do
  [ -x "$build/$binary" ] || fail "$build/$binary is missing: build first"
done

# ---- Objectives: the examples, and 200 more for the shared boards -----------------------------
# "flaky" objectives run out of budget and recover during the test; "steady" ones never spend any,
# so the review board has objectives that could be tightened.
mkdir -p "$work/objectives"
cp examples/*.yaml "$work/objectives/"
{
  for i in $(seq -w 1 100); do
    for kind in flaky steady; do
      if [ "$kind" = flaky ]; then objective=95; else objective=99; fi
      cat <<EOF
---
apiVersion: nines.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: $kind-$i, namespace: team-${i:1:1}}
spec:
  service: $kind
  objective: "$objective"
  window: 7d
  labels: {tier: "$((10#$i % 3))"}
  indicator:
    ratio:
      total: http_requests_total{job="$kind"}
      bad: http_requests_total{job="$kind",code=~"5.."}
EOF
    done
  done
} >"$work/objectives/generated.yaml"

release_expr='label_replace(max(up), "service", "$service", "", "")'
"$build/nines" generate --format rulefile -f "$work/objectives" >"$work/rules.yaml"
"$build/nines" generate --format rulefile --dashboards json -f "$work/objectives" \
  --release-annotation "$release_expr" -o "$work/out" 2>/dev/null
mkdir -p "$work/dashboards"
# The examples' dashboards, and one of each generated kind: the other 199 are the same template.
find "$work/out" -name '*.json' ! -name 'flaky-*' ! -name 'steady-*' -exec cp {} "$work/dashboards/" \;
cp "$work/out/team-0/flaky-001.json" "$work/out/team-0/steady-001.json" "$work/dashboards/"
cp charts/nines/dashboards/*.json "$work/dashboards/"
dashboards=$(find "$work/dashboards" -name '*.json' | wc -l)
echo "query_test: $dashboards dashboards, $(grep -c '^  - name:\|^- name:' "$work/rules.yaml") rule groups"

# ---- Synthetic services and Prometheus --------------------------------------------------------

start_one() {  # start_one NAME ERROR_RATIO -> sets $url_NAME
  start_workload "$build/nines-workload" "$work/workload-$1.log" --rate 40 --error-ratio "$2" \
    --latency-ms 120 --seed 7 || fail "nines-workload $1 did not start: $(cat "$work/workload-$1.log")"
  pids+=("$workload_pid")
  printf -v "url_$1" '%s' "$workload_url"
}
start_one busy 0.05
start_one steady 0
start_one flaky 0.06

# The same service scraped as several jobs: each example's selector finds its job.
scrape() {  # scrape JOB URL
  printf '  - job_name: %s\n    static_configs:\n      - targets: ["%s"]\n' "$1" "${2#http://}"
}
{
  printf 'global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nrule_files:\n  - rules.yaml\n'
  printf 'scrape_configs:\n'
  for job in checkout admin-api; do scrape "$job" "$url_busy"; done
  for job in catalog search payment-provider steady; do scrape "$job" "$url_steady"; done
  scrape flaky "$url_flaky"
} >"$work/prometheus.yml"

# Native histograms: examples/latency-native.yaml reads one, served by the workload.
prom=
if start_prometheus "$work" "" --enable-feature=native-histograms; then
  pids+=("$prometheus_pid")
  prom=$prometheus_url
fi
[ -n "$prom" ] || fail "Prometheus did not start"
started=$(date +%s)

api() { curl -fsS -G "$prom/api/v1/$1" "${@:2}"; }
instant() { api query --data-urlencode "query=$1" | jq -r '.data.result | length'; }
value() { api query --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "none"'; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local what=$1 limit=$2
  shift 2
  local deadline=$(($(date +%s) + limit))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "waited ${limit}s for $what"
    sleep 3
  done
  echo "query_test: $what after $(($(date +%s) - started))s"
}
at_least() { [ "$(value "$1")" != none ] && awk -v v="$(value "$1")" -v n="$2" 'BEGIN{exit !(v >= n)}'; }

wait_for "every target up" 60 at_least 'count(up == 1)' 7
wait_for "every objective's budget recorded" 300 \
  at_least 'count(slo:error_budget_remaining:ratio)' 209
wait_for "the flaky objectives out of budget" 300 \
  at_least 'count(slo:error_budget_remaining:ratio{service="flaky"} <= 0)' 100
curl -fsS -X POST "$url_flaky/control?error_ratio=0" >/dev/null
wait_for "the flaky objectives recovered" 480 \
  at_least 'count(slo:error_budget_remaining:ratio{service="flaky"} > 0)' 100
wait_for "SLOFastBurn firing for checkout-availability" 120 \
  at_least 'count(ALERTS{alertname="SLOFastBurn",alertstate="firing",slo="checkout-availability"})' 1

# ---- Every query of every dashboard -----------------------------------------------------------

now=$(date +%s)
range_seconds=$((now - started + 60))
start=$((now - 600))
# Objectives with an alert firing at some point of the panels' range: their alert panels must show
# it, and the others must be empty.
api query --data-urlencode 'query=count by (slo_namespace, slo) (last_over_time(ALERTS{alertstate="firing"}[600s]))' \
  --data-urlencode "time=$now" | jq -r '.data.result[].metric | "\(.slo_namespace)/\(.slo)"' |
  sort -u >"$work/alerting"

# One line per query: uid, objective (namespace/name, or - on the shared boards), kind, title, instant, expr, with
# Grafana's variables filled in: the per-objective constants, All (.*) for the boards' filters,
# the custom variables' current values, and the built-in intervals and range.
jq -r --arg range "${range_seconds}s" '
  . as $d
  | ([.templating.list[] | {key: .name, value: (
        if .type == "constant" then .query
        elif .type == "custom" then .current.value
        elif .type == "query" then ".*"
        else "" end)}] | from_entries) as $own
  | ($own + {"__rate_interval": "1m", "__interval": "30s", "__range": $range}) as $vars
  | (([.templating.list[] | select(.type == "constant") | {key: .name, value: .query}]
      | from_entries) as $c | if $c.namespace then "\($c.namespace)/\($c.slo)" else "-" end) as $objective
  | def fill: gsub("\\$\\{?(?<n>[A-Za-z_][A-Za-z0-9_]*)\\}?"; $vars[.n] // "$\(.n)");
    ( .panels[] | select(.targets) | . as $p | .targets[]
      | [$d.uid, $objective, "panel", $p.title, (.instant | tostring), (.expr | fill)] ),
    ( .annotations.list[] | select(.expr)
      | [$d.uid, $objective, "annotation", .name, "false", (.expr | fill)] ),
    ( .templating.list[] | select(.type == "query")
      | [$d.uid, $objective, "variable", .name, "true", (.query | fill)] )
  | @tsv' "$work"/dashboards/*.json >"$work/queries.tsv"

queries=0
problems=0
problem() {
  problems=$((problems + 1))
  echo "FAIL: $*" >&2
}
while IFS=$'\t' read -r uid objective kind title instant expr; do
  queries=$((queries + 1))
  where="$uid ($objective) $kind \"$title\""
  if [ "$kind" = variable ]; then
    # label_values(SELECTOR, LABEL), as Grafana's Prometheus datasource runs it.
    [[ $expr =~ ^label_values\((.*),\ *([a-zA-Z_]+)\)$ ]] || {
      problem "$where: not a label_values() query: $expr"
      continue
    }
    response=$(api "label/${BASH_REMATCH[2]}/values" --data-urlencode "match[]=${BASH_REMATCH[1]}" 2>&1) ||
      { problem "$where: $response"; continue; }
    count=$(jq '.data | length' <<<"$response")
  else
    if [ "$instant" = true ]; then
      response=$(api query --data-urlencode "query=$expr" --data-urlencode "time=$now" 2>&1) ||
        { problem "$where: $expr: $response"; continue; }
    else
      response=$(api query_range --data-urlencode "query=$expr" --data-urlencode "start=$start" \
        --data-urlencode "end=$now" --data-urlencode "step=15" 2>&1) ||
        { problem "$where: $expr: $response"; continue; }
    fi
    [ "$(jq -r '.status' <<<"$response")" = success ] ||
      { problem "$where: $expr: $(jq -c . <<<"$response")"; continue; }
    if [ "$(jq '.warnings // [] | length' <<<"$response")" -gt 0 ]; then
      problem "$where: $expr: warnings $(jq -c .warnings <<<"$response")"
    fi
    count=$(jq '.data.result | length' <<<"$response")
  fi
  # Alert panels follow Prometheus's own alerts: data exactly when the objective had one firing.
  if [[ $objective != - && ($title == "Alerts firing" || $title == "Burn alerts") ]]; then
    if grep -qx "$objective" "$work/alerting"; then expected=data; else expected=empty; fi
  else
    expected=data
  fi
  if [ "$expected" = data ] && [ "$count" -eq 0 ]; then
    problem "$where returned nothing: $expr"
  elif [ "$expected" = empty ] && [ "$count" -ne 0 ]; then
    problem "$where shows an alert that Prometheus does not have: $expr"
  fi
done <"$work/queries.tsv"

# ---- What the shared boards say --------------------------------------------------------------

board() {  # board UID TITLE REFID: the query of a panel of a shared board, variables filled in
  awk -F'\t' -v u="$1" -v t="$2" '$1 == u && $4 == t {print $6}' "$work/queries.tsv" | sed -n "${3}p"
}
check() {  # check DESCRIPTION ACTUAL OPERATOR EXPECTED
  if awk -v a="$2" -v e="$4" "BEGIN{exit !(a $3 e)}"; then
    echo "ok: $1: $2"
  else
    problem "$1: $2, expected $3 $4"
  fi
}
table=(nines-overview "Objectives, least budget left first")
check "overview: objectives" "$(value "$(board nines-overview Objectives 1)")" ">=" 209
check "overview: rows of the table" "$(instant "$(board "${table[@]}" 1)")" ">=" 209
check "overview: one state per row" "$(instant "$(board "${table[@]}" 6)")" "==" \
  "$(instant "$(board "${table[@]}" 1)")"
check "overview: Fast burn column per row" "$(instant "$(board "${table[@]}" 4)")" "==" \
  "$(instant "$(board "${table[@]}" 1)")"
states=$(api query --data-urlencode "query=$(board "${table[@]}" 6)" |
  jq -r '[.data.result[].metric.state] | unique | join(",")')
# (Burning, an alert firing with budget left, needs more history than a test has: see
# tests/promtool for the state query on recorded series.)
for state in Healthy Exhausted; do
  check "overview: some objective $state" "$(grep -c "$state" <<<"$states")" "==" 1
done
check "review: ran out of budget" "$(value "$(board nines-review "Ran out of budget" 1)")" ">=" 100
check "review: recovered" "$(value "$(board nines-review Recovered 1)")" ">=" 100
check "review: could be tightened" "$(value "$(board nines-review "Could be tightened" 1)")" ">=" 100

echo "query_test: $queries queries of $dashboards dashboards against Prometheus, $problems problems"
[ "$problems" -eq 0 ]
