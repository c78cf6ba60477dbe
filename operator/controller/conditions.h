// metav1.Condition lists, keyed by type, as the status of a ServiceLevelObjective carries them.
// Pure: the reconciler and the status loop both build their part of the status with these, and
// write only when something changed.
//
// Thread-safety: pure functions over values.
#ifndef NINES_CONTROLLER_CONDITIONS_H_
#define NINES_CONTROLLER_CONDITIONS_H_

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace nines::controller {

enum class ConditionStatus { kFalse, kTrue, kUnknown };

// "True", "False" or "Unknown", as metav1.Condition spells them.
const char* ConditionStatusName(ConditionStatus status);

struct Condition {
  std::string type;  // Ready, BudgetExhausted, FastBurn, SlowBurn
  ConditionStatus status = ConditionStatus::kFalse;
  std::string reason;  // CamelCase, e.g. Reconciled, InvalidSpec, OwnershipConflict
  std::string message;
  int64_t observed_generation = 0;
};

// Sets `condition` in the list `conditions` (a JSON array, created when null). lastTransitionTime
// becomes `now` only when the status flips or the condition is new, as Kubernetes API conventions
// ask. Returns whether the list changed at all.
bool SetCondition(nlohmann::json& conditions, const Condition& condition,
                  std::chrono::system_clock::time_point now);

// The condition of `type` in the list, or null.
const nlohmann::json* FindCondition(const nlohmann::json& conditions, const std::string& type);

// RFC 3339 in UTC with seconds, as metav1.Time: "2026-11-23T19:00:00Z".
std::string FormatTime(std::chrono::system_clock::time_point time);
// With microseconds, as metav1.MicroTime (an Event's eventTime).
std::string FormatMicroTime(std::chrono::system_clock::time_point time);

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_CONDITIONS_H_
