// Prometheus-style durations: `30d`, `1h30m`, `300ms`. Held as whole milliseconds.
//
// Thread-safety: pure functions over values.
#ifndef NINES_API_DURATION_H_
#define NINES_API_DURATION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "operator/base/status.h"

namespace nines::api {

struct Duration {
  int64_t ms = 0;

  static constexpr Duration Seconds(int64_t s) { return Duration{s * 1000}; }
  static constexpr Duration Minutes(int64_t m) { return Seconds(m * 60); }
  static constexpr Duration Hours(int64_t h) { return Minutes(h * 60); }
  static constexpr Duration Days(int64_t d) { return Hours(d * 24); }

  int64_t seconds() const { return ms / 1000; }
  // clang-tidy 14 misreads a defaulted <=> as comparing with a literal 0.
  auto operator<=>(const Duration&) const = default;  // NOLINT(modernize-use-nullptr)
};

// Parses `[Ny][Nw][Nd][Nh][Nm][Ns][Nms]` with at least one unit, units in that order, as Prometheus
// does. A bare number or a fraction is an error: say what unit is meant.
Result<Duration> ParseDuration(std::string_view text);

// The canonical form that Prometheus accepts and people read: days, hours, minutes, seconds and
// milliseconds, largest first, zero units left out (`30d`, `1h24m`, `4m40s`, `300ms`). Weeks and
// years are never used, so a 7-day window reads `7d`. Zero is `0s`.
std::string FormatDuration(Duration d);

// Milliseconds as decimal seconds with no trailing zeros: 300ms -> `0.3`, 1s -> `1`, 1500ms ->
// `1.5`. For histogram bucket boundaries.
std::string FormatSecondsDecimal(Duration d);

}  // namespace nines::api

#endif  // NINES_API_DURATION_H_
