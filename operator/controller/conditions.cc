#include "operator/controller/conditions.h"

#include <ctime>

namespace nines::controller {

const char* ConditionStatusName(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

const nlohmann::json* FindCondition(const nlohmann::json& conditions, const std::string& type) {
  if (!conditions.is_array()) return nullptr;
  for (const nlohmann::json& condition : conditions) {
    if (condition.is_object() && condition.value("type", "") == type) return &condition;
  }
  return nullptr;
}

bool SetCondition(nlohmann::json& conditions, const Condition& condition,
                  std::chrono::system_clock::time_point now) {
  if (!conditions.is_array()) conditions = nlohmann::json::array();
  const std::string status = ConditionStatusName(condition.status);
  nlohmann::json* existing = nullptr;
  for (nlohmann::json& c : conditions) {
    if (c.is_object() && c.value("type", "") == condition.type) existing = &c;
  }
  if (existing == nullptr) {
    conditions.push_back({{"type", condition.type},
                          {"status", status},
                          {"observedGeneration", condition.observed_generation},
                          {"lastTransitionTime", FormatTime(now)},
                          {"reason", condition.reason},
                          {"message", condition.message}});
    return true;
  }
  nlohmann::json updated = *existing;
  if (updated.value("status", "") != status || !updated.contains("lastTransitionTime")) {
    updated["lastTransitionTime"] = FormatTime(now);
  }
  updated["status"] = status;
  updated["observedGeneration"] = condition.observed_generation;
  updated["reason"] = condition.reason;
  updated["message"] = condition.message;
  if (updated == *existing) return false;
  *existing = std::move(updated);
  return true;
}

std::string FormatTime(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string FormatMicroTime(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count() % 1000000;
  std::string text = FormatTime(time);
  char fraction[16];
  std::snprintf(fraction, sizeof(fraction), ".%06lld",
                static_cast<long long>(micros < 0 ? micros + 1000000 : micros));
  text.insert(text.size() - 1, fraction);
  return text;
}

}  // namespace nines::controller
