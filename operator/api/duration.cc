#include "operator/api/duration.h"

#include <array>
#include <limits>

#include "operator/api/selector.h"

namespace nines::api {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t ms;
};

// In the order Prometheus requires them to be written.
constexpr std::array<Unit, 7> kUnits = {{
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
}};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return InvalidArgumentError("empty duration");
  const std::string quoted = QuotePromQLString(text);
  int64_t total = 0;
  size_t pos = 0;
  size_t next_unit = 0;  // units must come in kUnits order, each at most once
  while (pos < text.size()) {
    if (!IsDigit(text[pos])) {
      return InvalidArgumentError("invalid duration " + quoted +
                                  ": expected a number followed by a unit (ms, s, m, h, d, w, y)");
    }
    int64_t number = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (number > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        return InvalidArgumentError("duration " + quoted + " is too long");
      }
      number = number * 10 + (text[pos] - '0');
      ++pos;
    }
    size_t unit_end = pos;
    while (unit_end < text.size() && !IsDigit(text[unit_end])) ++unit_end;
    const std::string_view suffix = text.substr(pos, unit_end - pos);
    if (suffix.empty()) {
      return InvalidArgumentError("invalid duration " + quoted + ": the number " +
                                  std::to_string(number) + " needs a unit (ms, s, m, h, d, w, y)");
    }
    size_t unit = next_unit;
    while (unit < kUnits.size() && kUnits[unit].suffix != suffix) ++unit;
    if (unit == kUnits.size()) {
      return InvalidArgumentError("invalid duration " + quoted + ": unknown or misplaced unit \"" +
                                  std::string(suffix) +
                                  "\" (units are ms, s, m, h, d, w, y, largest first)");
    }
    if (number > std::numeric_limits<int64_t>::max() / kUnits[unit].ms ||
        total > std::numeric_limits<int64_t>::max() - number * kUnits[unit].ms) {
      return InvalidArgumentError("duration " + quoted + " is too long");
    }
    total += number * kUnits[unit].ms;
    next_unit = unit + 1;
    pos = unit_end;
  }
  return Duration{total};
}

std::string FormatDuration(Duration d) {
  if (d.ms == 0) return "0s";
  std::string out;
  int64_t rest = d.ms;
  for (const Unit& unit : kUnits) {
    if (unit.suffix == "y" || unit.suffix == "w") continue;
    const int64_t count = rest / unit.ms;
    if (count > 0) {
      out += std::to_string(count);
      out += unit.suffix;
      rest -= count * unit.ms;
    }
  }
  return out;
}

std::string FormatSecondsDecimal(Duration d) {
  std::string out = std::to_string(d.ms / 1000);
  int64_t fraction = d.ms % 1000;
  if (fraction != 0) {
    std::string digits = std::to_string(1000 + fraction).substr(1);  // zero-padded to 3
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

}  // namespace nines::api
