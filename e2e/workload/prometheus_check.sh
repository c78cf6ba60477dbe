#!/usr/bin/env bash
# End-to-end check of nines-workload against a real Prometheus (2.40 or later): one Prometheus with
# native histograms enabled, which scrapes the protobuf format, and one without, which scrapes the
# text format, both scraping the same workload as jobs "search" and "checkout". Checks every metric
# family the examples select, that both formats give the same classic series and values, and that
# the native histogram follows a change of latency. Prints a PASS or FAIL line per check and exits
# non-zero if any failed. Everything it starts is stopped on exit, whatever happens. About a minute.
#
#   e2e/workload/prometheus_check.sh [PATH/TO/nines-workload]    default build/nines-workload
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=e2e/lib/services.sh
source e2e/lib/services.sh
workload_bin=${1:-build/nines-workload}
settle_seconds=${SETTLE_SECONDS:-30}  # traffic before the first queries

for tool in prometheus curl jq "$workload_bin"; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found"; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#pids[@]})); then
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

failed=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failed=$((failed + 1))
}
die() {
  fail "$*"
  for log in "$work"/*.log "$work"/*/prometheus.log; do
    [ -f "$log" ] && { echo "--- $log"; tail -n 20 "$log"; }
  done
  exit 1
}
# check NAME VALUE LOW HIGH: passes when LOW <= VALUE <= HIGH (numbers).
check() {
  if awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v != "" && v + 0 == v && v >= lo && v <= hi) }'; then
    pass "$1 = $2 (want $3..$4)"
  else
    fail "$1 = '$2' (want $3..$4)"
  fi
}

# same NAME A B: passes when the numbers A and B agree to a millionth (relative).
same() {
  if awk -v a="$2" -v b="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b
      exit !(a != "" && b != "" && a + 0 == a && b + 0 == b && d <= 1e-6 * m) }'; then
    pass "$1 = $2"
  else
    fail "$1 = '$2', want '$3'"
  fi
}

# ---- The workload: port 0, so it picks a free port and says which ----

start_workload "$workload_bin" "$work/workload.log" --rate 50 --error-ratio 0.1 --latency-ms 120 \
  --seed 1 || die "nines-workload did not start"
pids+=("$workload_pid")
workload=$workload_url
control() { curl -fsS -X POST "$workload/control?$1" >/dev/null; }

# ---- Two Prometheus servers ----

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 1s
scrape_configs:
  - job_name: search
    static_configs:
      - targets: ['${workload#http://}']
  - job_name: checkout
    static_configs:
      - targets: ['${workload#http://}']
EOF

# Each in its own folder (its data, its log), on the same configuration.
start_in() {  # start_in NAME [FLAGS...]: sets $prometheus_url
  local name=$1
  shift
  mkdir -p "$work/$name" && cp "$work/prometheus.yml" "$work/$name/" || return 1
  start_prometheus "$work/$name" "" "$@" || return 1
  pids+=("$prometheus_pid")
}
start_in native --enable-feature=native-histograms ||
  die "Prometheus with native histograms did not start"
native=$prometheus_url
start_in text || die "Prometheus without native histograms did not start"
text=$prometheus_url
start=$SECONDS
echo "workload $workload, Prometheus (native histograms) $native, Prometheus (text) $text"

# query PROMETHEUS PROMQL: the API's JSON answer, at time $at if set (else now). Equalities between
# queries need one time: a window that moves between them gains or loses a scrape.
at=
query() { curl -fsS -G "$1/api/v1/query" --data-urlencode "query=$2" ${at:+--data-urlencode "time=$at"}; }
# scalar PROMETHEUS PROMQL: the value of a one-element vector, or nothing.
scalar() { query "$1" "$2" | jq -r '.data.result[0].value[1] // empty'; }

for prom in "$native" "$text"; do
  up=
  for _ in $(seq 50); do
    up=$(curl -fsS "$prom/api/v1/targets" | jq '[.data.activeTargets[] | select(.health == "up")] | length')
    [ "$up" = 2 ] && break
    sleep 0.2
  done
  [ "$up" = 2 ] || die "$prom: $up of 2 targets up"
done
pass "both Prometheus servers scrape jobs search and checkout"

sleep $((settle_seconds - (SECONDS - start) > 0 ? settle_seconds - (SECONDS - start) : 0))

# ---- Native histograms, through the protobuf format ----

search='sum(rate(search_request_duration_seconds{job="search"}[1m]))'
# The true p99 of the latency (log-normal, median 120ms, sigma 0.3) is 241ms; schema 3 buckets are
# about 9% wide.
check "native: histogram_quantile(0.99, $search)" \
  "$(scalar "$native" "histogram_quantile(0.99, $search)")" 0.2 0.3
fraction_before=$(scalar "$native" "histogram_fraction(0, 1, $search)")
check "native: histogram_fraction(0, 1, $search)" "$fraction_before" 0.999 1
check "native: histogram_count($search)" "$(scalar "$native" "histogram_count($search)")" 10 60
kind=$(query "$native" 'search_request_duration_seconds{job="search"}' |
  jq -r '.data.result[0] | if has("histogram") then "histogram" elif has("value") then "float" else "none" end')
if [ "$kind" = histogram ]; then
  pass "native: search_request_duration_seconds is one native histogram sample"
else
  fail "native: search_request_duration_seconds is $kind, not a native histogram"
fi
check "native: classic series named search_request_duration_seconds_*" \
  "$(scalar "$native" 'count({__name__=~"search_request_duration_seconds_.+"}) or vector(0)')" 0 0

# ---- The other families, in both formats ----

# The examples' selectors, which take no job: both jobs count, so a rate is twice the workload's,
# and with less than a minute of samples [1m] underestimates it.
for prom in "$native" "$text"; do
  name=$([ "$prom" = "$native" ] && echo native || echo text)
  check "$name: sum(rate(grpc_server_handled_total{grpc_service=\"auth.Login\"}[1m]))" \
    "$(scalar "$prom" 'sum(rate(grpc_server_handled_total{grpc_service="auth.Login"}[1m]))')" 20 120
  by_status=$(query "$prom" 'sum by (status) (rate(nginx_ingress_controller_requests{ingress="gateway"}[1m]))' |
    jq -c '[.data.result[] | {(.metric.status): (.value[1] | tonumber)}] | add')
  echo "      $name: sum by (status) (rate(nginx_ingress_controller_requests{ingress=\"gateway\"}[1m])) = $by_status"
  check "$name: nginx_ingress_controller_requests, share of status 500" \
    "$(jq -r '.["500"] / ([.[]] | add)' <<<"$by_status")" 0.03 0.07
  check "$name: nginx_ingress_controller_requests, share of status 503" \
    "$(jq -r '.["503"] / ([.[]] | add)' <<<"$by_status")" 0.03 0.07
  check "$name: sum(rate(gateway_request_duration_seconds_bucket{route=\"/api\",le=\"0.5\"}[1m]))" \
    "$(scalar "$prom" 'sum(rate(gateway_request_duration_seconds_bucket{route="/api",le="0.5"}[1m]))')" 20 120
  check "$name: gateway good share (code!~\"5..\", le=\"0.5\")" \
    "$(scalar "$prom" 'sum(rate(gateway_request_duration_seconds_bucket{route="/api",code!~"5..",le="0.5"}[1m])) / sum(rate(gateway_request_duration_seconds_count{route="/api"}[1m]))')" \
    0.85 0.95
  check "$name: http_request_duration_seconds_bucket{job=\"checkout\"} series" \
    "$(scalar "$prom" 'count(http_request_duration_seconds_bucket{job="checkout"})')" 9 9
  check "$name: share within 300ms (classic, le=\"0.3\")" \
    "$(scalar "$prom" 'sum(rate(http_request_duration_seconds_bucket{job="checkout",le="0.3"}[1m])) / sum(rate(http_request_duration_seconds_count{job="checkout"}[1m]))')" \
    0.99 1
  check "$name: probe_success{job=\"checkout\"}" "$(scalar "$prom" 'probe_success{job="checkout"}')" 1 1
done

# Each simulated request is one of every family's: at one time, over a window the samples fill (no
# extrapolation to its start), their rates equal http_requests_total's. The native histogram comes
# from the same scrapes as the classic one, so their counts and sums agree too.
at=$(date +%s)
for prom in "$native" "$text"; do
  name=$([ "$prom" = "$native" ] && echo native || echo text)
  all=$(scalar "$prom" 'sum(rate(http_requests_total{job="checkout"}[20s]))')
  same "$name: grpc_server_handled_total = http_requests_total (per second, [20s])" \
    "$(scalar "$prom" 'sum(rate(grpc_server_handled_total{job="checkout",grpc_service="auth.Login"}[20s]))')" "$all"
  same "$name: grpc_code=\"Unavailable\" = code=\"500\"" \
    "$(scalar "$prom" 'sum(rate(grpc_server_handled_total{job="checkout",grpc_code=~"Internal|Unavailable|DeadlineExceeded"}[20s]))')" \
    "$(scalar "$prom" 'sum(rate(http_requests_total{job="checkout",code="500"}[20s]))')"
  same "$name: nginx_ingress_controller_requests = http_requests_total" \
    "$(scalar "$prom" 'sum(rate(nginx_ingress_controller_requests{job="checkout",ingress="gateway"}[20s]))')" "$all"
  # At a 120ms median all but about 1 in 10^9 requests take under 0.5s.
  same "$name: gateway_request_duration_seconds_bucket{le=\"0.5\"} = http_requests_total" \
    "$(scalar "$prom" 'sum(rate(gateway_request_duration_seconds_bucket{job="checkout",route="/api",le="0.5"}[20s]))')" "$all"
done
native_20s='sum(rate(search_request_duration_seconds{job="search"}[20s]))'
same "native: histogram_count = http_request_duration_seconds_count" \
  "$(scalar "$native" "histogram_count($native_20s)")" \
  "$(scalar "$native" 'sum(rate(http_request_duration_seconds_count{job="search"}[20s]))')"
same "native: histogram_sum = http_request_duration_seconds_sum" \
  "$(scalar "$native" "histogram_sum($native_20s)")" \
  "$(scalar "$native" 'sum(rate(http_request_duration_seconds_sum{job="search"}[20s]))')"
# 0.25 bounds a bucket of both: what falls below it must agree exactly, bucket by bucket.
same "native: histogram_fraction(0, 0.25) = share of the classic le=\"0.25\"" \
  "$(scalar "$native" "histogram_fraction(0, 0.25, $native_20s)")" \
  "$(scalar "$native" 'sum(rate(http_request_duration_seconds_bucket{job="search",le="0.25"}[20s])) / sum(rate(http_request_duration_seconds_count{job="search"}[20s]))')"
at=

check "text: any search_request_duration_seconds series" \
  "$(scalar "$text" 'count({__name__=~"search_request_duration_seconds.*"}) or vector(0)')" 0 0

# ---- Protobuf and text give the same series and values ----
# With the rate at 0 nothing changes: once both servers have scraped since, their latest samples
# must be equal. Bucket bounds are compared as numbers: see the note printed below.

control rate=0
sleep 5
families='{__name__=~"http_requests_total|http_request_duration_seconds_.+|probe_success|grpc_server_handled_total|nginx_ingress_controller_requests|gateway_request_duration_seconds_.+"}'
normalize='[.data.result[] | (.metric | if .le and .le != "+Inf" then .le |= (tonumber | tostring) else . end
  | to_entries | sort_by(.key) | map("\(.key)=\(.value)") | join(",")) + " " + .value[1]] | sort | .[]'
query "$native" "$families" | jq -r "$normalize" >"$work/native.series"
query "$text" "$families" | jq -r "$normalize" >"$work/text.series"
series=$(wc -l <"$work/text.series")
if [ "$series" -eq 82 ] && cmp -s "$work/native.series" "$work/text.series"; then
  pass "protobuf and text give the same $series classic series and values"
else
  fail "protobuf and text differ ($series text series, want 2 jobs x 41):"
  diff "$work/native.series" "$work/text.series" | head -n 20
fi
le_native=$(query "$native" 'count by (le) (http_request_duration_seconds_bucket)' | jq -rc '[.data.result[].metric.le] | sort')
le_text=$(query "$text" 'count by (le) (http_request_duration_seconds_bucket)' | jq -rc '[.data.result[].metric.le] | sort')
if [ "$le_native" != "$le_text" ]; then
  # Prometheus 2.x writes a protobuf bucket bound as OpenMetrics does (1.0) but keeps the text
  # format's as served (1): le="1" selects nothing from a protobuf scrape. nines matches le by
  # number, with a regex (le=~"1(\\.0*)?").
  echo "NOTE: the le labels are spelled differently: protobuf $le_native, text $le_text"
fi

# ---- The native histogram follows a change of latency ----

control "rate=50&latency_ms=1500"
sleep 12
fraction_after=$(scalar "$native" "histogram_fraction(0, 1, $search)")
if awk -v a="$fraction_after" -v b="$fraction_before" 'BEGIN { exit !(a != "" && a < b - 0.1) }'; then
  pass "native: after latency_ms=1500, histogram_fraction(0, 1, ...) fell from $fraction_before to $fraction_after"
else
  fail "native: after latency_ms=1500, histogram_fraction(0, 1, ...) is '$fraction_after' (was $fraction_before)"
fi
check "native: histogram_quantile(0.99, ...) after latency_ms=1500" \
  "$(scalar "$native" "histogram_quantile(0.99, $search)")" 1.5 4
at=$(date +%s)
same "native: histogram_fraction(0, 1) = share of the classic le=\"1.0\" (over [20s], latencies mixed)" \
  "$(scalar "$native" "histogram_fraction(0, 1, $native_20s)")" \
  "$(scalar "$native" 'sum(rate(http_request_duration_seconds_bucket{job="search",le="1.0"}[20s])) / sum(rate(http_request_duration_seconds_count{job="search"}[20s]))')"
at=

echo "$((SECONDS - start))s; $failed failed"
[ "$failed" -eq 0 ]
