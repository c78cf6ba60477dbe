// The error-budget part of a ServiceLevelObjective's status, computed from what Prometheus says
// about the objective's public series: the SLI, the budget left, the burn rates, when the budget
// would run out, the state, and the BudgetExhausted, FastBurn and SlowBurn conditions.
//
// Pure: no clock (the time comes in as a value), no I/O. The status loop queries Prometheus, groups
// the answers with GroupSeries, computes with ComputeBudgetStatus and writes what MergeBudgetStatus
// says changed, so the whole computation is tested on recorded query responses.
//
// Rounding, so that a status is written when something changed that a reader can see, not on every
// wobble of a ratio: the SLI to two decimals more than the objective has (99.9 -> 99.953), the
// budget to 0.1 percent, burn rates to 0.1 (0.01 below 1), exhaustsAt to the minute within a day
// and to the hour beyond.
//
// Thread-safety: pure functions over values.
#ifndef NINES_CONTROLLER_BUDGET_STATUS_H_
#define NINES_CONTROLLER_BUDGET_STATUS_H_

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "operator/api/slo_spec.h"
#include "operator/base/status.h"
#include "operator/controller/conditions.h"
#include "operator/controller/event_recorder.h"
#include "operator/prometheus/query_client.h"

namespace nines::controller {

// The states of the contract, in `status.state`.
inline constexpr char kStatePending[] = "Pending";
inline constexpr char kStateHealthy[] = "Healthy";
inline constexpr char kStateBurning[] = "Burning";
inline constexpr char kStateExhausted[] = "Exhausted";
inline constexpr char kStateNoData[] = "NoData";
inline constexpr char kStateInvalid[] = "Invalid";

// What Prometheus said about one objective in one cycle. Absent series stay empty.
struct ObjectiveSeries {
  bool rules_loaded = false;  // slo:objective:ratio is there: Prometheus evaluates the rules
  std::optional<double> sli;  // ratios, as the series carry them
  std::optional<double> budget_remaining;
  std::optional<double> events_rate;
  std::map<std::string, double> burn_rates;    // by the `window` label: "5m", "1h", "3d"
  std::map<std::string, double> event_counts;  // nines:slo_events:count, by window
};

using ObjectiveKey = std::pair<std::string, std::string>;  // namespace, name

// The queries of one cycle: one per series, whatever the number of objectives, restricted to
// `namespaces` when that is not empty, asking only for the labels that name an objective (and
// `window`). GroupSeries takes the answers in this order.
std::vector<std::string> StatusQueries(const std::vector<std::string>& namespaces);

// The answers to StatusQueries, by objective (the `slo_namespace` and `slo` labels). Samples that
// are not finite numbers are left out, as if absent.
std::map<ObjectiveKey, ObjectiveSeries> GroupSeries(
    const std::vector<prometheus::QueryResult>& answers);
// The same, one answer at a time (the `index`th of StatusQueries), into `out`: so that a cycle
// holds one answer at a time.
void GroupAnswer(size_t index, const prometheus::QueryResult& answer,
                 std::map<ObjectiveKey, ObjectiveSeries>& out);

struct BudgetStatus {
  std::string state;
  // When false the values below are not known this cycle (Prometheus could not be asked): the
  // status keeps the ones it has, and only the state and conditions change.
  bool values_known = true;
  std::optional<double> sli_percent;
  std::optional<double> remaining_percent;
  std::optional<std::chrono::system_clock::time_point> exhausts_at;
  std::map<std::string, double> burn_rates;
  std::optional<double> fast_burn_rate;  // over the first page tier's long window
  std::optional<double> slow_burn_rate;  // over the first ticket tier's long window
  Condition budget_exhausted;
  Condition fast_burn;
  Condition slow_burn;
};

// The budget status of `spec`. `series` is null when Prometheus returned nothing for the objective;
// `query_error` is not OK when Prometheus could not be asked (the state is then NoData, with the
// reason in the conditions).
BudgetStatus ComputeBudgetStatus(const api::SloSpec& spec, const ObjectiveSeries* series,
                                 const Status& query_error,
                                 std::chrono::system_clock::time_point now);

// A change of a burn or budget condition, worth an Event.
struct BudgetTransition {
  EventType type;
  std::string
      reason;  // FastBurn, FastBurnResolved, SlowBurn, ..., BudgetExhausted, BudgetRecovered
  std::string note;
};

// Merges `budget` into `status` (the object's `.status`, or null), leaving what the reconciler owns
// (Ready, observedGeneration) alone, and sets lastEvaluated to `now` when anything else changed.
// Returns whether the status changed; `transitions` gets the condition changes to or from True.
bool MergeBudgetStatus(nlohmann::json& status, const BudgetStatus& budget, int64_t generation,
                       std::chrono::system_clock::time_point now,
                       std::vector<BudgetTransition>* transitions);

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_BUDGET_STATUS_H_
