// Numbers as generated objects print them. Shared by the rule and dashboard generators so that a
// burn rate reads the same in an alert and on its dashboard.
//
// Thread-safety: pure functions.
#ifndef NINES_SLO_NUMBER_FORMAT_H_
#define NINES_SLO_NUMBER_FORMAT_H_

#include <charconv>
#include <string>

namespace nines::slo {

// Shortest text that reads back as the same double: 14.4, 6, 0.3.
inline std::string FormatNumber(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : "0";
}

}  // namespace nines::slo

#endif  // NINES_SLO_NUMBER_FORMAT_H_
