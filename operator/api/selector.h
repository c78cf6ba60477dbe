// Prometheus series selectors, parsed rather than pasted: a metric name followed by optional label
// matchers, `http_requests_total{job="checkout",code=~"5.."}`. Anything else (a function, an
// operator, a range, an offset, a bad regex, an unbalanced quote) is rejected, so a value from a
// resource can never change the structure of a generated rule.
//
// Thread-safety: pure functions over values; safe to call from any thread.
#ifndef NINES_API_SELECTOR_H_
#define NINES_API_SELECTOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "operator/base/status.h"

namespace nines::api {

enum class MatchOp { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// "=", "!=", "=~", "!~".
const char* MatchOpText(MatchOp op);

struct LabelMatcher {
  std::string name;
  MatchOp op = MatchOp::kEqual;
  std::string value;  // unescaped

  bool operator==(const LabelMatcher&) const = default;
};

struct Selector {
  std::string metric;                  // never empty
  std::vector<LabelMatcher> matchers;  // in the order written

  bool operator==(const Selector&) const = default;
};

// Parses one selector. Accepts the PromQL lexical forms for values (double, single and back-quoted
// strings with Go escapes), white space between tokens, an empty `{}`, and a trailing comma. The
// metric name must be written before the braces; `__name__` matchers are rejected. On error the
// Status is InvalidArgument with a message that says what is wrong and where, e.g.
// `unbalanced quote in the value of label "code" at column 32`.
Result<Selector> ParseSelector(std::string_view text);

// Renders a selector back to PromQL with every value double-quoted and escaped:
// `name{a="b",c=~"d"}`, or just `name` without matchers. `metric_suffix` is appended to the metric
// name (`_bucket`, `_count`) and `extra` matchers follow the selector's own.
std::string RenderSelector(const Selector& selector, std::string_view metric_suffix = "",
                           const std::vector<LabelMatcher>& extra = {});

// A PromQL double-quoted string literal for `value`: `"a\"b\\c\n"`.
std::string QuotePromQLString(std::string_view value);

// Checks that `pattern` is a regular expression that Prometheus (Go's RE2 syntax) accepts: balanced
// groups and classes, known group flags, valid escapes and repetitions. InvalidArgument otherwise.
Status CheckRegex(std::string_view pattern);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*
bool IsValidLabelName(std::string_view name);
// Well-formed UTF-8.
bool IsValidUtf8(std::string_view text);

}  // namespace nines::api

#endif  // NINES_API_SELECTOR_H_
