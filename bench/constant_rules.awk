# The public series of nines's generated rules, at constant values, for bench/status_bench.sh:
#   nines generate --format rulefile -f DIR | awk -f bench/constant_rules.awk >rules.yml
# Each recording rule of a public series (slo:objective:ratio, slo:sli:ratio,
# slo:error_budget_remaining:ratio, slo:burn_rate:ratio, slo:events:rate5m, nines:slo_events:count)
# is kept with its name and labels, under one group per objective evaluated every minute, and its
# expression replaced by a constant: the objective as generated, an SLI that leaves half of the
# budget, burn rates of 0.5, 10 events a second, a million events per window. Records are read as
# blocks: "  - record:", "    expr:", "    labels:" and its lines.
  function flush() {
    if (record == "") return
    key = ns "/" slo
    if (record == "slo:objective:ratio") { v = expr; sub(/^vector\(/, "", v); sub(/\)$/, "", v); objective[key] = v }
    if (record ~ /^(slo:objective:ratio|slo:sli:ratio|slo:error_budget_remaining:ratio|slo:burn_rate:ratio|slo:events:rate5m|nines:slo_events:count)$/) {
      if (!(key in seen)) { seen[key] = 1; order[++objectives] = key }
      rules[key] = rules[key] sprintf("  - record: %s\n    expr: @%s@\n    labels:\n%s", record, record, labels)
    }
    record = ""
  }
  /^- name: / || /^  - (record|alert): / { flush() }
  /^  - record: / { record = $3; expr = ""; labels = ""; ns = slo = ""; in_labels = 0; next }
  record != "" && /^    expr: / { expr = substr($0, 11); next }
  record != "" && /^    labels:/ { in_labels = 1; next }
  record != "" && in_labels && /^      [a-z_]+: / {
    labels = labels $0 "\n"
    if ($1 == "slo:") slo = $2
    if ($1 == "slo_namespace:") ns = $2
    next
  }
  /^    / { in_labels = 0 }
  END {
    flush()
    print "groups:"
    for (i = 1; i <= objectives; i++) {
      key = order[i]; o = objective[key]
      text = rules[key]
      gsub(/@slo:objective:ratio@/, sprintf("vector(%s)", o), text)
      gsub(/@slo:sli:ratio@/, sprintf("vector(%.10g)", 1 - (1 - o) / 2), text)
      gsub(/@slo:error_budget_remaining:ratio@/, "vector(0.5)", text)
      gsub(/@slo:burn_rate:ratio@/, "vector(0.5)", text)
      gsub(/@slo:events:rate5m@/, "vector(10)", text)
      gsub(/@nines:slo_events:count@/, "vector(1e+06)", text)
      printf "- name: bench/%s\n  interval: 1m\n  rules:\n%s", key, text
    }
  }