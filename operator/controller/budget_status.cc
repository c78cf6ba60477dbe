#include "operator/controller/budget_status.h"

#include <algorithm>
#include <cmath>

#include "operator/api/duration.h"
#include "operator/slo/number_format.h"
#include "operator/slo/rule_generator.h"

namespace nines::controller {
namespace {

using Json = nlohmann::json;
using TimePoint = std::chrono::system_clock::time_point;

// The series of one cycle, in the order StatusQueries asks for them.
enum SeriesIndex {
  kObjective,
  kSli,
  kRemaining,
  kBurnRate,
  kEventsRate,
  kEventCount,
  kSeriesCount
};
constexpr const char* kSeries[kSeriesCount] = {
    slo::kObjectiveSeries, slo::kSliSeries,        slo::kBudgetRemainingSeries,
    slo::kBurnRateSeries,  slo::kEventsRateSeries, slo::kEventsCountSeries};

double RoundTo(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  const double rounded = std::round(value * scale) / scale;
  return rounded == 0 ? 0 : rounded;  // never -0
}

// Two more decimals than the objective has: 99.9 -> 99.953, 99 -> 99.53, 99.95 -> 99.9953.
int SliDecimals(const api::Objective& objective) {
  const size_t dot = objective.text.find('.');
  const int written =
      dot == std::string::npos ? 0 : static_cast<int>(objective.text.size() - dot - 1);
  return std::min(written + 2, 7);
}

double RoundBurnRate(double rate) { return RoundTo(rate, std::abs(rate) < 1 ? 2 : 1); }

TimePoint RoundExhaustsAt(TimePoint at, TimePoint now) {
  const std::chrono::seconds step =
      at - now <= std::chrono::hours(24) ? std::chrono::minutes(1) : std::chrono::hours(1);
  const auto since_epoch = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch());
  return TimePoint((since_epoch + step / 2) / step * step);
}

std::string Percent(double value) { return slo::FormatNumber(value) + "%"; }

std::optional<double> Find(const std::map<std::string, double>& values, const std::string& key) {
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

// The burn rate that projects when the budget runs out: over one day, as the contract says, or
// over the longest window below a day when the tiers have no 1d window.
std::optional<double> ProjectionBurnRate(const api::SloSpec& spec,
                                         const std::map<std::string, double>& burn_rates) {
  std::optional<double> best;
  api::Duration best_window;
  for (api::Duration window : slo::BurnRateWindows(spec)) {
    if (window > api::Duration::Days(1)) continue;
    auto rate = Find(burn_rates, api::FormatDuration(window));
    if (rate && (!best || window > best_window)) {
      best = rate;
      best_window = window;
    }
  }
  return best;
}

// Whether one of `alert`'s tiers holds right now, as its alerting rule would say, and why.
Condition BurnCondition(const api::SloSpec& spec, const api::BurnAlert& alert, const char* type,
                        const char* tier_kind, const ObjectiveSeries& series) {
  Condition condition{.type = type};
  std::string below;
  for (const api::BurnTier& tier : alert.tiers) {
    const std::string long_name = api::FormatDuration(tier.long_window);
    const std::string short_name = api::FormatDuration(tier.short_window);
    const auto long_rate = Find(series.burn_rates, long_name);
    const auto short_rate = Find(series.burn_rates, short_name);
    const auto count = Find(series.event_counts, long_name);
    const bool enough_events = spec.alerting.min_events <= 0 ||
                               (count && *count >= static_cast<double>(spec.alerting.min_events));
    const std::string threshold = slo::FormatNumber(tier.burn_rate);
    if (long_rate && short_rate && *long_rate > tier.burn_rate && *short_rate > tier.burn_rate &&
        enough_events) {
      condition.status = ConditionStatus::kTrue;
      condition.reason = "BurnRateAboveThreshold";
      std::string& message = condition.message;
      message = std::string("a ") + tier_kind;
      message += " tier holds: burn rate ";
      message += slo::FormatNumber(RoundBurnRate(*long_rate));
      message += " over " + long_name;
      message += " and " + slo::FormatNumber(RoundBurnRate(*short_rate));
      message += " over " + short_name;
      message += ", above " + threshold;
      return condition;
    }
    if (!below.empty()) below += ", ";
    below += long_rate ? slo::FormatNumber(RoundBurnRate(*long_rate)) : std::string("no data");
    below += " over " + long_name;
    below += std::string(" (") + tier_kind;
    below += " above " + threshold + ")";
    if (long_rate && short_rate && *long_rate > tier.burn_rate && *short_rate > tier.burn_rate) {
      below += " with fewer than " + std::to_string(spec.alerting.min_events) + " events";
    }
  }
  condition.status = ConditionStatus::kFalse;
  condition.reason = "BurnRateBelowThreshold";
  condition.message = alert.tiers.empty()
                          ? std::string("no ") + tier_kind + " tiers"
                          : std::string("no ") + tier_kind + " tier holds: " + below;
  return condition;
}

void SetUnknown(BudgetStatus& out, const std::string& reason, const std::string& message) {
  for (Condition* c : {&out.budget_exhausted, &out.fast_burn, &out.slow_burn}) {
    c->status = ConditionStatus::kUnknown;
    c->reason = reason;
    c->message = message;
  }
}

// The status's value at `key` as a number, if it is one.
std::optional<double> NumberAt(const Json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

void SetOrErase(Json& object, const char* key, const std::optional<Json>& value) {
  if (value) {
    object[key] = *value;
  } else {
    object.erase(key);
  }
}

}  // namespace

std::vector<std::string> StatusQueries(const std::vector<std::string>& namespaces) {
  std::string matcher;
  if (!namespaces.empty()) {
    std::string alternatives;
    for (const std::string& ns : namespaces) {
      if (!alternatives.empty()) alternatives += "|";
      alternatives += ns;  // a namespace is a DNS label: nothing in it needs escaping
    }
    matcher = "{slo_namespace=~\"" + alternatives + "\"}";
  }
  // Only the labels the loop reads: every other label of the series (service, spec.labels)
  // would be sent, parsed and held for every sample, 70,000 burn rates at 10,000 objectives.
  // An objective has one series per window, so `max` changes no value.
  std::vector<std::string> queries;
  for (size_t i = 0; i < kSeriesCount; ++i) {
    const bool windowed = i == kBurnRate || i == kEventCount;
    queries.push_back(std::string("max by (slo_namespace, slo") + (windowed ? ", window" : "") +
                      ") (" + kSeries[i] + matcher + ")");
  }
  return queries;
}

std::map<ObjectiveKey, ObjectiveSeries> GroupSeries(
    const std::vector<prometheus::QueryResult>& answers) {
  std::map<ObjectiveKey, ObjectiveSeries> out;
  for (size_t i = 0; i < answers.size(); ++i) GroupAnswer(i, answers[i], out);
  return out;
}

void GroupAnswer(size_t index, const prometheus::QueryResult& answer,
                 std::map<ObjectiveKey, ObjectiveSeries>& out) {
  if (index >= kSeriesCount) return;
  const size_t i = index;
  {
    for (const prometheus::Sample& sample : answer.samples) {
      auto ns = sample.labels.find("slo_namespace");
      auto name = sample.labels.find("slo");
      if (ns == sample.labels.end() || name == sample.labels.end()) continue;
      if (!std::isfinite(sample.value)) continue;
      ObjectiveSeries& series = out[{ns->second, name->second}];
      auto window = sample.labels.find("window");
      const std::string window_name = window == sample.labels.end() ? "" : window->second;
      switch (static_cast<SeriesIndex>(i)) {
        case kObjective:
          series.rules_loaded = true;
          break;
        case kSli:
          series.sli = sample.value;
          break;
        case kRemaining:
          series.budget_remaining = sample.value;
          break;
        case kBurnRate:
          if (!window_name.empty()) series.burn_rates[window_name] = sample.value;
          break;
        case kEventsRate:
          series.events_rate = sample.value;
          break;
        case kEventCount:
          if (!window_name.empty()) series.event_counts[window_name] = sample.value;
          break;
        case kSeriesCount:
          break;
      }
    }
  }
}

BudgetStatus ComputeBudgetStatus(const api::SloSpec& spec, const ObjectiveSeries* series,
                                 const Status& query_error, TimePoint now) {
  BudgetStatus out;
  out.budget_exhausted.type = "BudgetExhausted";
  out.fast_burn.type = "FastBurn";
  out.slow_burn.type = "SlowBurn";
  const std::string window = api::FormatDuration(spec.window);

  if (!query_error.ok()) {
    out.state = kStateNoData;
    out.values_known = false;
    SetUnknown(out, "PrometheusUnavailable",
               "cannot read the objective's series from Prometheus: " + query_error.message());
    return out;
  }
  if (series == nullptr || !series->rules_loaded) {
    out.state = kStatePending;
    out.values_known = false;
    SetUnknown(out, "RulesNotLoaded",
               std::string("Prometheus has no ") + slo::kObjectiveSeries + "{slo_namespace=\"" +
                   spec.namespace_name + "\",slo=\"" + spec.name +
                   "\"} yet: it has not loaded this objective's PrometheusRule (is the rule "
                   "selected by Prometheus's ruleSelector? see the operator's --rule-label)");
    return out;
  }

  for (const auto& [name, rate] : series->burn_rates) out.burn_rates[name] = RoundBurnRate(rate);
  if (!spec.alerting.fast_burn.tiers.empty()) {
    auto rate = Find(series->burn_rates,
                     api::FormatDuration(spec.alerting.fast_burn.tiers.front().long_window));
    if (rate) out.fast_burn_rate = RoundBurnRate(*rate);
  }
  if (!spec.alerting.slow_burn.tiers.empty()) {
    auto rate = Find(series->burn_rates,
                     api::FormatDuration(spec.alerting.slow_burn.tiers.front().long_window));
    if (rate) out.slow_burn_rate = RoundBurnRate(*rate);
  }

  if (!series->sli) {
    out.state = kStateNoData;
    SetUnknown(out, "NoEvents",
               "no events in the last " + window +
                   ": is the service scraped, and does the indicator select its series?");
    return out;
  }

  const double sli = *series->sli;
  const double remaining =
      series->budget_remaining.value_or(1 - (1 - sli) / spec.objective.BudgetRatio());
  out.sli_percent = RoundTo(sli * 100, SliDecimals(spec.objective));
  out.remaining_percent = RoundTo(remaining * 100, 1);

  if (remaining <= 0) {
    out.budget_exhausted.status = ConditionStatus::kTrue;
    out.budget_exhausted.reason = "BudgetSpent";
    out.budget_exhausted.message = "the error budget is spent: " + Percent(*out.remaining_percent) +
                                   " left over " + window + " (SLI " + Percent(*out.sli_percent) +
                                   ", objective " + spec.objective.text + "%)";
  } else {
    out.budget_exhausted.status = ConditionStatus::kFalse;
    out.budget_exhausted.reason = "BudgetRemaining";
    out.budget_exhausted.message =
        Percent(*out.remaining_percent) + " of the error budget left over " + window;
    // Projected from the burn rate over a day: at a rate of b the budget lasts window / b, so
    // what is left lasts remaining x window / b. At b <= 1 it lasts: old errors leave the window
    // as fast as new ones enter it.
    if (auto rate = ProjectionBurnRate(spec, series->burn_rates); rate && *rate > 1) {
      const double seconds = remaining * static_cast<double>(spec.window.seconds()) / *rate;
      out.exhausts_at = RoundExhaustsAt(now + std::chrono::duration_cast<TimePoint::duration>(
                                                  std::chrono::duration<double>(seconds)),
                                        now);
    }
  }
  out.fast_burn = BurnCondition(spec, spec.alerting.fast_burn, "FastBurn", "page", *series);
  out.slow_burn = BurnCondition(spec, spec.alerting.slow_burn, "SlowBurn", "ticket", *series);

  if (remaining <= 0) {
    out.state = kStateExhausted;
  } else if (out.fast_burn.status == ConditionStatus::kTrue ||
             out.slow_burn.status == ConditionStatus::kTrue) {
    out.state = kStateBurning;
  } else {
    out.state = kStateHealthy;
  }
  return out;
}

bool MergeBudgetStatus(Json& status, const BudgetStatus& budget, int64_t generation, TimePoint now,
                       std::vector<BudgetTransition>* transitions) {
  if (!status.is_object()) status = Json::object();
  const Json before = status;
  status["state"] = budget.state;
  if (budget.values_known) {
    SetOrErase(status, "sli",
               budget.sli_percent ? std::optional<Json>(*budget.sli_percent) : std::nullopt);
    Json error_budget = Json::object();
    if (budget.remaining_percent) error_budget["remaining"] = *budget.remaining_percent;
    if (budget.exhausts_at) error_budget["exhaustsAt"] = FormatTime(*budget.exhausts_at);
    SetOrErase(status, "errorBudget",
               error_budget.empty() ? std::nullopt : std::optional<Json>(error_budget));
    Json burn_rates = Json::object();
    for (const auto& [window, rate] : budget.burn_rates) burn_rates[window] = rate;
    SetOrErase(status, "burnRates",
               burn_rates.empty() ? std::nullopt : std::optional<Json>(burn_rates));
    SetOrErase(status, "fastBurnRate",
               budget.fast_burn_rate ? std::optional<Json>(*budget.fast_burn_rate) : std::nullopt);
    SetOrErase(status, "slowBurnRate",
               budget.slow_burn_rate ? std::optional<Json>(*budget.slow_burn_rate) : std::nullopt);
  }
  Json conditions = status.value("conditions", Json::array());
  for (const Condition* condition :
       {&budget.budget_exhausted, &budget.fast_burn, &budget.slow_burn}) {
    const Json* previous = FindCondition(conditions, condition->type);
    const std::string was = previous != nullptr ? previous->value("status", "") : "";
    Condition with_generation = *condition;
    with_generation.observed_generation = generation;
    SetCondition(conditions, with_generation, now);
    if (transitions == nullptr) continue;
    const bool is_true = condition->status == ConditionStatus::kTrue;
    const bool is_false = condition->status == ConditionStatus::kFalse;
    if (is_true && was != "True") {
      transitions->push_back({EventType::kWarning, condition->type, condition->message});
    } else if (is_false && was == "True") {
      const std::string reason =
          condition->type == "BudgetExhausted" ? "BudgetRecovered" : condition->type + "Resolved";
      transitions->push_back({EventType::kNormal, reason, condition->message});
    }
  }
  status["conditions"] = std::move(conditions);
  // Numbers compare as numbers: 53 written by the server reads back as an integer.
  Json a = before;
  Json b = status;
  for (Json* s : {&a, &b}) {
    if (!s->is_object()) continue;
    s->erase("lastEvaluated");
    for (const char* key : {"sli", "fastBurnRate", "slowBurnRate"}) {
      if (auto n = NumberAt(*s, key)) (*s)[key] = *n;
    }
    if (s->contains("errorBudget")) {
      if (auto n = NumberAt((*s)["errorBudget"], "remaining"))
        (*s)["errorBudget"]["remaining"] = *n;
    }
    if (s->contains("burnRates") && (*s)["burnRates"].is_object()) {
      for (auto& rate : (*s)["burnRates"]) {
        if (rate.is_number()) rate = rate.get<double>();
      }
    }
  }
  if (a == b) {
    status = before;
    return false;
  }
  status["lastEvaluated"] = FormatTime(now);
  return true;
}

}  // namespace nines::controller
