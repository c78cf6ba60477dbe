// The checked form of a ServiceLevelObjective: what validation produces and generation consumes.
// Every value here has passed validation, with defaults applied, so generation never has to check
// or guess. The resource's YAML/JSON shape is documented in docs/api.md.
//
// Thread-safety: plain values.
#ifndef NINES_API_SLO_SPEC_H_
#define NINES_API_SLO_SPEC_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "operator/api/duration.h"
#include "operator/api/selector.h"

namespace nines::api {

inline constexpr char kApiGroup[] = "nines.dev";
inline constexpr char kApiVersion[] = "nines.dev/v1alpha1";
inline constexpr char kKind[] = "ServiceLevelObjective";

// Good events / all events, with either the bad or the good events counted.
struct RatioIndicator {
  Selector total;
  Selector events;  // the bad events, or the good ones when events_are_good
  bool events_are_good = false;
};

// Requests no slower than a threshold, from a histogram.
struct LatencyIndicator {
  Selector histogram;  // the histogram's base name: classic `_bucket`/`_count` are appended
  Duration threshold;
  bool native = false;  // a Prometheus native histogram rather than classic buckets
};

// Windows-based budgeting: each slice of time is good when `good` evaluates to a non-zero value.
struct TimesliceIndicator {
  std::string good;  // PromQL as written; always wrapped in parentheses when used
  Duration slice;
  int good_line = 0;  // where `good` was written, for errors found by Prometheus's parser
};

using Indicator = std::variant<RatioIndicator, LatencyIndicator, TimesliceIndicator>;

// One multiwindow burn-rate tier: fires when the error budget burns faster than `burn_rate` times
// the sustainable rate over both windows.
struct BurnTier {
  double burn_rate = 0;
  Duration long_window;
  Duration short_window;

  bool operator==(const BurnTier&) const = default;
};

struct BurnAlert {
  bool enabled = true;
  std::string severity;
  std::vector<BurnTier> tiers;  // the resource's thresholds, or the scaled defaults
};

struct Alerting {
  bool enabled = true;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  BurnAlert fast_burn;  // the page tiers
  BurnAlert slow_burn;  // the ticket tiers
  int64_t min_events = 0;
  bool budget_exhausted_enabled = false;
  std::string budget_exhausted_severity = "ticket";
};

// The objective as a fixed-point number, so that 99.9 is exactly 99.9 in every rendering.
struct Objective {
  int64_t hundred_thousandths = 0;  // percent x 100000: "99.9" -> 9990000
  std::string text;                 // as written in the resource, e.g. "99.9"

  // The objective as a ratio, e.g. "0.999", and the error budget as a ratio, e.g. "0.001":
  // exact decimal strings, never a rounded double.
  std::string RatioText() const;
  std::string BudgetRatioText() const;
  double Ratio() const { return static_cast<double>(hundred_thousandths) / 1e7; }
  double BudgetRatio() const { return 1.0 - Ratio(); }
};

struct SloSpec {
  // Where the resource came from, for messages.
  std::string source_file;
  int source_line = 0;

  std::string name;
  std::string namespace_name;
  std::string service;
  std::string description;
  Objective objective;
  Duration window;
  std::map<std::string, std::string> labels;
  Indicator indicator;
  Alerting alerting;
};

}  // namespace nines::api

#endif  // NINES_API_SLO_SPEC_H_
