#include "operator/slo/rule_generator.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>

#include "operator/slo/number_format.h"

namespace nines::slo {
namespace {

using api::Duration;
using api::FormatDuration;
using api::QuotePromQLString;
using Json = nlohmann::ordered_json;

// A percentage with at most two decimals, trailing zeros dropped: 2, 5, 8.33.
std::string FormatPercent(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.2f", value);
  std::string out = buffer;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

std::string SecondsText(Duration d) { return std::to_string(d.seconds()); }

// `{slo="a",slo_namespace="b"}` plus extra matchers: selects this objective's own recorded series.
std::string OwnSelector(const api::SloSpec& spec, const std::string& series,
                        const std::string& window = "") {
  std::string out = series + "{slo=" + QuotePromQLString(spec.name) +
                    ",slo_namespace=" + QuotePromQLString(spec.namespace_name);
  if (!window.empty()) out += ",window=" + QuotePromQLString(window);
  return out + "}";
}

// The bucket boundary as both Prometheus 2 (`1`, `0.3`) and Prometheus 3 (`1.0`) write it, and with
// the trailing zeros some client libraries add.
std::string BucketBoundaryRegex(Duration threshold) {
  const std::string text = api::FormatSecondsDecimal(threshold);
  const size_t dot = text.find('.');
  if (dot == std::string::npos) return text + "(\\.0*)?";
  return text.substr(0, dot) + "\\." + text.substr(dot + 1) + "0*";
}

// How an indicator's events are counted from the raw series. For ratio and latency indicators
// `Total` and `Bad` give PromQL for the events in the last `range`; `function` is increase (a
// count) or rate (per second).
class RawEvents {
 public:
  explicit RawEvents(const api::SloSpec& spec) : spec_(spec) {}

  std::string Total(Duration range, std::string_view function = "increase") const {
    const std::string r = "[" + FormatDuration(range) + "]";
    const std::string f(function);
    if (const auto* ratio = std::get_if<api::RatioIndicator>(&spec_.indicator)) {
      return "sum(" + f + "(" + api::RenderSelector(ratio->total) + r + "))";
    }
    const auto& latency = std::get<api::LatencyIndicator>(spec_.indicator);
    if (latency.native) {
      return "histogram_count(sum(" + f + "(" + api::RenderSelector(latency.histogram) + r + ")))";
    }
    return "sum(" + f + "(" + api::RenderSelector(latency.histogram, "_count") + r + "))";
  }

  std::string Bad(Duration range) const {
    const std::string r = "[" + FormatDuration(range) + "]";
    // `or vector(0)`: a selector of bad events that matches nothing yet (no error has happened)
    // counts zero, rather than leaving the ratio absent. The sums carry no labels, so vector(0)
    // stands in for them exactly; without traffic the total is absent and so is any ratio.
    if (const auto* ratio = std::get_if<api::RatioIndicator>(&spec_.indicator)) {
      const std::string events = "sum(increase(" + api::RenderSelector(ratio->events) + r + "))";
      if (!ratio->events_are_good) return "(" + events + " or vector(0))";
      return GoodToBad(Total(range), events);
    }
    const auto& latency = std::get<api::LatencyIndicator>(spec_.indicator);
    std::string good;
    if (latency.native) {
      const std::string histogram =
          "sum(increase(" + api::RenderSelector(latency.histogram) + r + "))";
      good = "histogram_fraction(0, " + api::FormatSecondsDecimal(latency.threshold) + ", " +
             histogram + ") * histogram_count(" + histogram + ")";
    } else {
      good = "sum(increase(" +
             api::RenderSelector(
                 latency.histogram, "_bucket",
                 {{"le", api::MatchOp::kRegexMatch, BucketBoundaryRegex(latency.threshold)}}) +
             r + "))";
    }
    return GoodToBad(Total(range), good);
  }

 private:
  // Bad = all - good, never below zero (the two counters are scraped a moment apart).
  static std::string GoodToBad(const std::string& total, const std::string& good) {
    return "clamp_min(" + total + " - (" + good + " or vector(0)), 0)";
  }

  const api::SloSpec& spec_;
};

std::string BudgetText(const api::SloSpec& spec) { return spec.objective.BudgetRatioText(); }

// PromQL for the burn rate over `window`, and for the number of events in it.
struct WindowQueries {
  std::string burn_rate;
  std::string event_count;
  bool raw = false;  // reads raw series: evaluate in the short group
};

WindowQueries QueriesFor(const api::SloSpec& spec, Duration window) {
  const std::string w = "[" + FormatDuration(window) + "]";
  const std::string budget = BudgetText(spec);
  // Every *_over_time is summed: when `service` or `spec.labels` change, the counts recorded
  // under the old labels stay in the window beside the new ones, and must add up to one series.
  if (std::holds_alternative<api::TimesliceIndicator>(spec.indicator)) {
    const std::string slices = OwnSelector(spec, kSliceGoodSeries) + w;
    const std::string count = "sum(count_over_time(" + slices + "))";
    return {"(1 - sum(sum_over_time(" + slices + ")) / " + count + ") / " + budget, count,
            window <= kRawWindowLimit};
  }
  if (window <= kRawWindowLimit) {
    const RawEvents events(spec);
    const std::string total = events.Total(window);
    return {events.Bad(window) + " / (" + total + " > 0) / " + budget, total, true};
  }
  const std::string total =
      "sum(sum_over_time(" + OwnSelector(spec, kEventsIncreaseSeries) + w + "))";
  const std::string bad =
      "sum(sum_over_time(" + OwnSelector(spec, kBadEventsIncreaseSeries) + w + "))";
  const int64_t overlap = Duration::Minutes(5).ms / kLongInterval.ms;
  return {bad + " / (" + total + " > 0) / " + budget, total + " / " + std::to_string(overlap),
          false};
}

std::string SliQuery(const api::SloSpec& spec) {
  const std::string w = "[" + FormatDuration(spec.window) + "]";
  // Summed, as in QueriesFor: counts recorded under an objective's earlier labels still count.
  if (std::holds_alternative<api::TimesliceIndicator>(spec.indicator)) {
    const std::string slices = OwnSelector(spec, kSliceGoodSeries) + w;
    return "sum(sum_over_time(" + slices + ")) / sum(count_over_time(" + slices + "))";
  }
  return "1 - sum(sum_over_time(" + OwnSelector(spec, kBadEventsIncreaseSeries) + w +
         ")) / (sum(sum_over_time(" + OwnSelector(spec, kEventsIncreaseSeries) + w + ")) > 0)";
}

std::string BudgetLeftTemplate(const api::SloSpec& spec) {
  return "{{ with query `" + OwnSelector(spec, kBudgetRemainingSeries) +
         "` }}{{ . | first | value | humanizePercentage }}{{ else }}an unknown share{{ end }}";
}

std::string Describe(const api::SloSpec& spec) {
  return spec.namespace_name + "/" + spec.name + " (service " + spec.service + ", " +
         spec.objective.text + "% over " + FormatDuration(spec.window) + ")";
}

// The series already carry slo and slo_namespace; naming them on the rule too keeps every rule
// distinct when many objectives share one rule file (promtool's duplicate-rules lint).
std::map<std::string, std::string> AlertLabels(const api::SloSpec& spec) {
  auto labels = spec.alerting.labels;
  labels["slo"] = spec.name;
  labels["slo_namespace"] = spec.namespace_name;
  return labels;
}

AlertingRule BurnAlertRule(const api::SloSpec& spec, const api::BurnAlert& alert,
                           const api::BurnTier& tier, bool fast, const GenerateOptions& options) {
  const std::string rate = FormatNumber(tier.burn_rate);
  const std::string long_w = FormatDuration(tier.long_window);
  const std::string short_w = FormatDuration(tier.short_window);
  // max without(window): the alert is labelled with long and short, not with one window.
  std::string expr = "max without (window) (" + OwnSelector(spec, kBurnRateSeries, long_w) + " > " +
                     rate + ") and ignoring (window) " +
                     OwnSelector(spec, kBurnRateSeries, short_w) + " > " + rate;
  if (spec.alerting.min_events > 0) {
    expr += " and ignoring (window) " + OwnSelector(spec, kEventsCountSeries, long_w) +
            " >= " + std::to_string(spec.alerting.min_events);
  }
  const double share = tier.burn_rate * static_cast<double>(tier.long_window.ms) /
                       static_cast<double>(spec.window.ms) * 100.0;

  AlertingRule rule;
  rule.alert = fast ? kFastBurnAlert : kSlowBurnAlert;
  rule.expr = expr;
  rule.labels = AlertLabels(spec);
  rule.labels["severity"] = alert.severity;
  rule.labels["long"] = long_w;
  rule.labels["short"] = short_w;
  rule.annotations["summary"] = spec.name + " is burning its error budget " +
                                (fast ? "fast" : "steadily") + " (over " + rate + "x in " + long_w +
                                " and " + short_w + ")";
  rule.annotations["description"] = Describe(spec) +
                                    " burned its error budget at {{ printf \"%.2f\" $value }}x the "
                                    "sustainable rate over the last " +
                                    long_w + ", and over " + rate + "x over the last " + short_w +
                                    " too: at this threshold " + FormatPercent(share) +
                                    "% of the budget goes in " + long_w + ". " +
                                    BudgetLeftTemplate(spec) + " of the budget is left.";
  if (!options.grafana_url.empty()) {
    rule.annotations["dashboard_url"] = options.grafana_url + "/d/" + DashboardUid(spec);
  }
  for (const auto& [key, value] : spec.alerting.annotations) rule.annotations[key] = value;
  return rule;
}

AlertingRule BudgetExhaustedRule(const api::SloSpec& spec, const GenerateOptions& options) {
  AlertingRule rule;
  rule.alert = kBudgetExhaustedAlert;
  rule.expr = OwnSelector(spec, kBudgetRemainingSeries) + " <= 0";
  rule.labels = AlertLabels(spec);
  rule.labels["severity"] = spec.alerting.budget_exhausted_severity;
  rule.annotations["summary"] = spec.name + " has spent its whole error budget";
  rule.annotations["description"] = Describe(spec) + " has no error budget left over the last " +
                                    FormatDuration(spec.window) +
                                    ": {{ $value | humanizePercentage }} of it remains.";
  if (!options.grafana_url.empty()) {
    rule.annotations["dashboard_url"] = options.grafana_url + "/d/" + DashboardUid(spec);
  }
  for (const auto& [key, value] : spec.alerting.annotations) rule.annotations[key] = value;
  return rule;
}

Json LabelsToJson(const std::map<std::string, std::string>& labels) {
  Json out = Json::object();
  for (const auto& [key, value] : labels) out[key] = value;
  return out;
}

}  // namespace

std::map<std::string, std::string> SeriesLabels(const api::SloSpec& spec) {
  std::map<std::string, std::string> labels = spec.labels;
  labels["slo"] = spec.name;
  labels["slo_namespace"] = spec.namespace_name;
  labels["service"] = spec.service;
  return labels;
}

std::vector<Duration> BurnRateWindows(const api::SloSpec& spec) {
  std::set<Duration> windows;
  for (const api::BurnAlert* alert : {&spec.alerting.fast_burn, &spec.alerting.slow_burn}) {
    for (const api::BurnTier& tier : alert->tiers) {
      windows.insert(tier.long_window);
      windows.insert(tier.short_window);
    }
  }
  return {windows.begin(), windows.end()};
}

std::vector<RuleGroup> GenerateRuleGroups(const api::SloSpec& spec,
                                          const GenerateOptions& options) {
  const std::string prefix = "nines/" + spec.namespace_name + "/" + spec.name + "/";
  const auto labels = SeriesLabels(spec);
  auto with_window = [&](Duration window) {
    auto out = labels;
    out["window"] = FormatDuration(window);
    return out;
  };
  const bool timeslice = std::holds_alternative<api::TimesliceIndicator>(spec.indicator);

  std::vector<RuleGroup> groups;
  if (const auto* ts = std::get_if<api::TimesliceIndicator>(&spec.indicator)) {
    // One sample per slice: 1 when every series of the expression is non-zero, 0 when one is zero
    // or the expression returns nothing.
    groups.push_back(
        {prefix + "slices",
         ts->slice,
         {{kSliceGoodSeries, "(min((" + ts->good + ")) > bool 0) or on () vector(0)", labels}},
         {}});
  }
  RuleGroup short_group{prefix + "short", kShortInterval, {}, {}};
  RuleGroup long_group{prefix + "long", kLongInterval, {}, {}};
  RuleGroup window_group{prefix + "window",
                         spec.window <= Duration::Days(7) ? kLongInterval : Duration::Minutes(2),
                         {},
                         {}};

  if (timeslice) {
    short_group.recording_rules.push_back(
        {kEventsRateSeries,
         "count_over_time(" + OwnSelector(spec, kSliceGoodSeries) + "[5m]) / 300", labels});
  } else {
    const RawEvents events(spec);
    short_group.recording_rules.push_back(
        {kEventsRateSeries, events.Total(Duration::Minutes(5), "rate"), labels});
    long_group.recording_rules.push_back(
        {kEventsIncreaseSeries, events.Total(Duration::Minutes(5)), labels});
    long_group.recording_rules.push_back(
        {kBadEventsIncreaseSeries, events.Bad(Duration::Minutes(5)), labels});
  }

  std::set<Duration> counted_windows;  // long windows that a minEvents guard reads
  if (spec.alerting.min_events > 0) {
    for (const api::BurnAlert* alert : {&spec.alerting.fast_burn, &spec.alerting.slow_burn}) {
      for (const api::BurnTier& tier : alert->tiers) counted_windows.insert(tier.long_window);
    }
  }
  for (Duration window : BurnRateWindows(spec)) {
    const WindowQueries queries = QueriesFor(spec, window);
    RuleGroup& group = queries.raw ? short_group : long_group;
    group.recording_rules.push_back({kBurnRateSeries, queries.burn_rate, with_window(window)});
    if (counted_windows.contains(window)) {
      group.recording_rules.push_back(
          {kEventsCountSeries, queries.event_count, with_window(window)});
    }
  }

  if (spec.alerting.enabled) {
    for (const auto& [alert, fast] :
         {std::pair{&spec.alerting.fast_burn, true}, {&spec.alerting.slow_burn, false}}) {
      if (!alert->enabled) continue;
      for (const api::BurnTier& tier : alert->tiers) {
        RuleGroup& group = tier.long_window <= kRawWindowLimit ? short_group : long_group;
        group.alerting_rules.push_back(BurnAlertRule(spec, *alert, tier, fast, options));
      }
    }
  }

  window_group.recording_rules.push_back(
      {kObjectiveSeries, "vector(" + spec.objective.RatioText() + ")", labels});
  window_group.recording_rules.push_back(
      {kWindowSeries, "vector(" + SecondsText(spec.window) + ")", labels});
  window_group.recording_rules.push_back({kSliSeries, SliQuery(spec), labels});
  window_group.recording_rules.push_back(
      {kBudgetRemainingSeries,
       "1 - (1 - " + OwnSelector(spec, kSliSeries) + ") / " + BudgetText(spec), labels});
  if (spec.alerting.enabled && spec.alerting.budget_exhausted_enabled) {
    window_group.alerting_rules.push_back(BudgetExhaustedRule(spec, options));
  }

  groups.push_back(std::move(short_group));
  if (!long_group.recording_rules.empty() || !long_group.alerting_rules.empty()) {
    groups.push_back(std::move(long_group));
  }
  groups.push_back(std::move(window_group));
  return groups;
}

Json RuleGroupsToJson(const std::vector<RuleGroup>& groups) {
  Json out = Json::array();
  for (const RuleGroup& group : groups) {
    Json rules = Json::array();
    for (const RecordingRule& rule : group.recording_rules) {
      rules.push_back(
          {{"record", rule.record}, {"expr", rule.expr}, {"labels", LabelsToJson(rule.labels)}});
    }
    for (const AlertingRule& rule : group.alerting_rules) {
      rules.push_back({{"alert", rule.alert},
                       {"expr", rule.expr},
                       {"labels", LabelsToJson(rule.labels)},
                       {"annotations", LabelsToJson(rule.annotations)}});
    }
    out.push_back({{"name", group.name},
                   {"interval", FormatDuration(group.interval)},
                   {"rules", std::move(rules)}});
  }
  return out;
}

Json GeneratePrometheusRule(const api::SloSpec& spec, const GenerateOptions& options) {
  auto labels = options.rule_labels;
  labels["app.kubernetes.io/managed-by"] = "nines";
  labels["nines.dev/slo"] = spec.name;
  Json metadata = {
      {"name", spec.name}, {"namespace", spec.namespace_name}, {"labels", LabelsToJson(labels)}};
  return {{"apiVersion", "monitoring.coreos.com/v1"},
          {"kind", "PrometheusRule"},
          {"metadata", std::move(metadata)},
          {"spec", {{"groups", RuleGroupsToJson(GenerateRuleGroups(spec, options))}}}};
}

std::string DashboardUid(const api::SloSpec& spec) {
  // FNV-1a, 64 bits: stable across runs, platforms and versions, unlike std::hash.
  uint64_t hash = 14695981039346656037ULL;
  for (char c : spec.namespace_name + "/" + spec.name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(hash));
  return std::string("slo-") + buffer;
}

}  // namespace nines::slo
