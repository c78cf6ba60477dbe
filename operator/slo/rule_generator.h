// Pure generation of Prometheus rules from a checked SloSpec: recording rules for the public series
// (docs/series.md), the multiwindow, multi-burn-rate alerts, and the PrometheusRule that carries
// them. No I/O, no clock: the same spec and options always give byte-identical output.
//
// Cost and accuracy: windows of one hour or less read the raw series; every longer window, up to
// the SLO window, sums recorded 5-minute event counts, so no rule reads raw series over more than
// an hour, and every ratio is events over events, never an average of ratios. No traffic gives no
// ratio at all, never NaN or Inf.
//
// Thread-safety: pure functions over values.
#ifndef NINES_SLO_RULE_GENERATOR_H_
#define NINES_SLO_RULE_GENERATOR_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operator/api/slo_spec.h"

namespace nines::slo {

// Recording rule names, public and internal.
inline constexpr char kObjectiveSeries[] = "slo:objective:ratio";
inline constexpr char kWindowSeries[] = "slo:window:seconds";
inline constexpr char kSliSeries[] = "slo:sli:ratio";
inline constexpr char kBudgetRemainingSeries[] = "slo:error_budget_remaining:ratio";
inline constexpr char kBurnRateSeries[] = "slo:burn_rate:ratio";
inline constexpr char kEventsRateSeries[] = "slo:events:rate5m";
inline constexpr char kEventsIncreaseSeries[] = "nines:slo_events:increase5m";
inline constexpr char kBadEventsIncreaseSeries[] = "nines:slo_bad_events:increase5m";
inline constexpr char kEventsCountSeries[] = "nines:slo_events:count";
inline constexpr char kSliceGoodSeries[] = "nines:slo_slice:good";

// Alert names.
inline constexpr char kFastBurnAlert[] = "SLOFastBurn";
inline constexpr char kSlowBurnAlert[] = "SLOSlowBurn";
inline constexpr char kBudgetExhaustedAlert[] = "SLOBudgetExhausted";

// Evaluation intervals. The 5-minute counts are recorded every minute, so a window's sum counts
// each event kLongInterval-per-5m times: ratios cancel that out and event counts divide it away.
inline constexpr api::Duration kShortInterval = api::Duration::Seconds(30);
inline constexpr api::Duration kLongInterval = api::Duration::Minutes(1);
inline constexpr api::Duration kRawWindowLimit = api::Duration::Hours(1);

struct GenerateOptions {
  // Labels on every generated PrometheusRule, for Prometheus's ruleSelector (`release: ...`).
  std::map<std::string, std::string> rule_labels;
  // Grafana's base URL; when set, alerts carry a `dashboard_url` annotation.
  std::string grafana_url;
};

struct RecordingRule {
  std::string record;
  std::string expr;
  std::map<std::string, std::string> labels;
};

struct AlertingRule {
  std::string alert;
  std::string expr;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct RuleGroup {
  std::string name;
  api::Duration interval;
  std::vector<RecordingRule> recording_rules;  // evaluated first, in order
  std::vector<AlertingRule> alerting_rules;    // then these, reading fresh values
};

// The label set of every series generated for `spec`: slo, slo_namespace, service and spec.labels.
std::map<std::string, std::string> SeriesLabels(const api::SloSpec& spec);

// Every burn-rate window of the spec's tiers, fast and slow, enabled or not, shortest first.
std::vector<api::Duration> BurnRateWindows(const api::SloSpec& spec);

// The rule groups for one objective.
std::vector<RuleGroup> GenerateRuleGroups(const api::SloSpec& spec,
                                          const GenerateOptions& options = {});

// Prometheus rule-file `groups` entries for `groups`.
nlohmann::ordered_json RuleGroupsToJson(const std::vector<RuleGroup>& groups);

// The PrometheusRule (monitoring.coreos.com/v1) for one objective, without owner references,
// which the operator adds when it applies it.
nlohmann::ordered_json GeneratePrometheusRule(const api::SloSpec& spec,
                                              const GenerateOptions& options = {});

// A stable Grafana dashboard uid for the objective, derived from its namespace and name.
std::string DashboardUid(const api::SloSpec& spec);

}  // namespace nines::slo

#endif  // NINES_SLO_RULE_GENERATOR_H_
