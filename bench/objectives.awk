# Writes N ServiceLevelObjectives for the operator benchmarks, one file each, as NS_NAME.yaml in DIR.
#   awk -v n=10000 -v dir=DIR -v namespaces=10 -f bench/objectives.awk
# By i % 10: 0-3 ratio with bad events, 4-5 ratio with good events, 6-7 latency on a classic
# histogram, 8 latency on a native histogram, 9 timeslice; windows, objectives and alerting options
# vary (minEvents every 7th, budgetExhausted every 11th, a custom fast-burn tier every 13th).
# Namespaces nines-bench-0.. are taken ten objectives at a time, so that each holds every kind.
BEGIN {
  if (namespaces == "") namespaces = 10
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
}
