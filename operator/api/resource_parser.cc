#include "operator/api/resource_parser.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>

namespace nines::api {
namespace {

// Label names that generation sets itself; a resource may not set them.
const std::set<std::string, std::less<>> kReservedLabels = {
    "slo", "slo_namespace", "service", "window", "severity", "long", "short", "alertname", "le"};

// "a" then "a.b"; "a" then "[3]" gives "a[3]".
std::string Join(std::string_view path, std::string_view field) {
  if (path.empty()) return std::string(field);
  if (!field.empty() && field.front() == '[') return std::string(path) + std::string(field);
  return std::string(path) + "." + std::string(field);
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// Quoted and escaped, so that a message stays one printable line whatever the input held.
std::string Quote(std::string_view s) { return QuotePromQLString(s); }

// Checks that an expression taken as written cannot reach outside the parentheses it will be
// wrapped in: brackets balance and strings close. Prometheus's own parser checks the rest.
std::optional<std::string> CheckExpressionStructure(std::string_view expr) {
  std::vector<char> open;
  for (size_t i = 0; i < expr.size(); ++i) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      size_t j = i + 1;
      while (j < expr.size() && expr[j] != c) {
        if (expr[j] == '\\' && c != '`') ++j;
        ++j;
      }
      if (j >= expr.size()) return "unbalanced quote at column " + std::to_string(i + 1);
      i = j;
    } else if (c == '#') {
      return "comments are not allowed (column " + std::to_string(i + 1) + ")";
    } else if (c == '(' || c == '[' || c == '{') {
      open.push_back(c);
    } else if (c == ')' || c == ']' || c == '}') {
      const char want = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (open.empty() || open.back() != want) {
        return std::string("unbalanced \"") + c + "\" at column " + std::to_string(i + 1);
      }
      open.pop_back();
    }
  }
  if (!open.empty()) return std::string("unclosed \"") + open.back() + "\"";
  return std::nullopt;
}

std::vector<BurnTier> ScaleTiers(const std::vector<BurnTier>& base, Duration window,
                                 Duration min_rate_window) {
  std::vector<BurnTier> tiers;
  for (const BurnTier& tier : base) {
    auto scale = [&](Duration d) {
      // Exact in integer milliseconds, rounded to whole seconds.
      const __int128 scaled = static_cast<__int128>(d.ms) * window.ms / Duration::Days(30).ms;
      const auto seconds = static_cast<int64_t>((scaled + 500) / 1000);
      return std::max(Duration::Seconds(seconds), min_rate_window);
    };
    tiers.push_back({tier.burn_rate, scale(tier.long_window), scale(tier.short_window)});
  }
  return tiers;
}

// Walks one document, collecting errors. Each Read* method reports what is wrong with the node at
// `path` and returns nullopt; callers go on, so that one run reports every problem.
class Decoder {
 public:
  Decoder(std::string_view file, const ParseOptions& options, int document_line)
      : file_(file), options_(options), document_line_(document_line) {}

  std::vector<FieldError>& errors() { return errors_; }

  void Error(const YAML::Node& at, std::string_view path, std::string message) {
    int line = document_line_;
    if (at.IsDefined() && at.Mark().line >= 0) line = at.Mark().line + 1;
    errors_.push_back({std::string(file_), line, std::string(path), std::move(message)});
  }

  // Reports every key of `map` not in `known` and every key given twice. False if `map` is not a
  // map (reported).
  bool CheckMap(const YAML::Node& map, std::string_view path,
                std::initializer_list<std::string_view> known) {
    if (!map.IsMap()) {
      Error(map, path, "must be an object");
      return false;
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : map) {
      const std::string key = entry.first.Scalar();
      if (!seen.insert(key).second) {
        Error(entry.first, Join(path, key), "field given twice");
        continue;
      }
      if (known.size() > 0 && std::find(known.begin(), known.end(), key) == known.end()) {
        Error(entry.first, Join(path, key), "unknown field " + Quote(key) + SuggestionFor(known));
      }
    }
    return true;
  }

  std::optional<std::string> ReadString(const YAML::Node& node, std::string_view path,
                                        size_t max_length, bool allow_empty = false) {
    if (!node.IsScalar()) {
      Error(node, path, "must be a string");
      return std::nullopt;
    }
    const std::string& value = node.Scalar();
    if (!IsValidUtf8(value)) {
      Error(node, path, "must be valid UTF-8");
      return std::nullopt;
    }
    if (value.empty() && !allow_empty) {
      Error(node, path, "must not be empty");
      return std::nullopt;
    }
    if (value.size() > max_length) {
      Error(node, path,
            "must be at most " + std::to_string(max_length) + " characters, not " +
                std::to_string(value.size()));
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> ReadBool(const YAML::Node& node, std::string_view path) {
    if (node.IsScalar() && node.Tag() != "!") {
      const std::string& v = node.Scalar();
      if (v == "true" || v == "True" || v == "TRUE") return true;
      if (v == "false" || v == "False" || v == "FALSE") return false;
    }
    Error(node, path, "must be true or false");
    return std::nullopt;
  }

  std::optional<double> ReadNumber(const YAML::Node& node, std::string_view path) {
    if (node.IsScalar() && node.Tag() != "!") {
      const std::string& v = node.Scalar();
      double value = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
      if (ec == std::errc() && end == v.data() + v.size() && std::isfinite(value)) return value;
    }
    Error(node, path, "must be a number");
    return std::nullopt;
  }

  std::optional<int64_t> ReadInteger(const YAML::Node& node, std::string_view path) {
    if (node.IsScalar() && node.Tag() != "!") {
      const std::string& v = node.Scalar();
      int64_t value = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
      if (ec == std::errc() && end == v.data() + v.size()) return value;
    }
    Error(node, path, "must be a whole number");
    return std::nullopt;
  }

  std::optional<Duration> ReadDuration(const YAML::Node& node, std::string_view path) {
    auto text = ReadString(node, path, 32);
    if (!text) return std::nullopt;
    auto parsed = ParseDuration(*text);
    if (!parsed.ok()) {
      Error(node, path, parsed.status().message());
      return std::nullopt;
    }
    return *parsed;
  }

  std::optional<Selector> ReadSelector(const YAML::Node& node, std::string_view path) {
    auto text = ReadString(node, path, kMaxSelectorLength);
    if (!text) return std::nullopt;
    auto parsed = ParseSelector(*text);
    if (!parsed.ok()) {
      Error(node, path, parsed.status().message());
      return std::nullopt;
    }
    if (parsed->matchers.size() > kMaxMatchers) {
      Error(node, path, "must have at most " + std::to_string(kMaxMatchers) + " label matchers");
      return std::nullopt;
    }
    return *parsed;
  }

  // A label value in generated series: non-empty (an empty value is no label at all in
  // Prometheus), valid UTF-8, bounded.
  std::optional<std::string> ReadLabelValue(const YAML::Node& node, std::string_view path,
                                            size_t max_length = kMaxLabelValueLength) {
    return ReadString(node, path, max_length);
  }

  // A map of label names to values (spec.labels, alerting.labels) or to annotation texts.
  std::optional<std::map<std::string, std::string>> ReadLabelMap(const YAML::Node& node,
                                                                 std::string_view path,
                                                                 bool annotations) {
    if (!CheckMap(node, path, {})) return std::nullopt;
    const size_t max_entries = annotations ? kMaxAnnotations : kMaxLabels;
    if (node.size() > max_entries) {
      Error(node, path, "must have at most " + std::to_string(max_entries) + " entries");
      return std::nullopt;
    }
    std::map<std::string, std::string> out;
    bool ok = true;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const std::string field = Join(path, key);
      if (!IsValidLabelName(key) || key.size() > kMaxLabelNameLength || key.rfind("__", 0) == 0) {
        Error(entry.first, field,
              Quote(key) + " is not a valid " + (annotations ? "annotation" : "label") +
                  " name: use letters, digits and underscores, not starting with a digit or "
                  "\"__\", at most " +
                  std::to_string(kMaxLabelNameLength) + " characters");
        ok = false;
        continue;
      }
      if (!annotations && kReservedLabels.contains(key)) {
        Error(entry.first, field, Quote(key) + " is set by nines and cannot be overridden");
        ok = false;
        continue;
      }
      auto value = annotations ? ReadString(entry.second, field, kMaxAnnotationValueLength)
                               : ReadLabelValue(entry.second, field);
      if (!value) {
        ok = false;
        continue;
      }
      out[key] = *value;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // The optional fields of `parent`: when `key` is there, it is read into `out`; when it is not,
  // `out` keeps its default. False when the field is there but invalid (reported).
  bool OptionalBool(const YAML::Node& parent, const char* key, std::string_view path, bool& out) {
    if (!parent[key]) return true;
    auto value = ReadBool(parent[key], Join(path, key));
    if (value) out = *value;
    return value.has_value();
  }
  bool OptionalLabelValue(const YAML::Node& parent, const char* key, std::string_view path,
                          size_t max_length, std::string& out) {
    if (!parent[key]) return true;
    auto value = ReadLabelValue(parent[key], Join(path, key), max_length);
    if (value) out = *value;
    return value.has_value();
  }
  bool OptionalLabelMap(const YAML::Node& parent, const char* key, std::string_view path,
                        bool annotations, std::map<std::string, std::string>& out) {
    if (!parent[key]) return true;
    auto value = ReadLabelMap(parent[key], Join(path, key), annotations);
    if (value) out = *value;
    return value.has_value();
  }

  const ParseOptions& options() const { return options_; }
  int document_line() const { return document_line_; }

 private:
  static std::string SuggestionFor(std::initializer_list<std::string_view> known) {
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    return " (known fields: " + list + ")";
  }

  std::string_view file_;
  const ParseOptions& options_;
  int document_line_;
  std::vector<FieldError> errors_;
};

std::optional<Indicator> DecodeIndicator(Decoder& d, const YAML::Node& node) {
  const std::string path = "spec.indicator";
  if (!d.CheckMap(node, path, {"ratio", "latency", "timeslice"})) return std::nullopt;
  int kinds = 0;
  for (const char* kind : {"ratio", "latency", "timeslice"}) kinds += node[kind] ? 1 : 0;
  if (kinds != 1) {
    d.Error(node, path,
            kinds == 0 ? "must have one of ratio, latency or timeslice"
                       : "must have exactly one of ratio, latency or timeslice, not " +
                             std::to_string(kinds));
    return std::nullopt;
  }

  if (const YAML::Node ratio = node["ratio"]) {
    const std::string rpath = path + ".ratio";
    if (!d.CheckMap(ratio, rpath, {"total", "bad", "good"})) return std::nullopt;
    RatioIndicator out;
    bool ok = true;
    if (!ratio["total"]) {
      d.Error(ratio, rpath + ".total", "is required: the selector of all events");
      ok = false;
    } else if (auto total = d.ReadSelector(ratio["total"], rpath + ".total")) {
      out.total = *total;
    } else {
      ok = false;
    }
    const bool has_bad = static_cast<bool>(ratio["bad"]);
    const bool has_good = static_cast<bool>(ratio["good"]);
    if (has_bad == has_good) {
      d.Error(ratio, rpath,
              has_bad ? "must have exactly one of bad or good, not both"
                      : "must have one of bad or good");
      return std::nullopt;
    }
    out.events_are_good = has_good;
    const std::string epath = rpath + (has_good ? ".good" : ".bad");
    if (auto events = d.ReadSelector(ratio[has_good ? "good" : "bad"], epath)) {
      out.events = *events;
    } else {
      ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  if (const YAML::Node latency = node["latency"]) {
    const std::string lpath = path + ".latency";
    if (!d.CheckMap(latency, lpath, {"histogram", "threshold", "native"})) return std::nullopt;
    LatencyIndicator out;
    bool ok = d.OptionalBool(latency, "native", lpath, out.native);
    if (!latency["histogram"]) {
      d.Error(latency, lpath + ".histogram", "is required: the histogram's selector");
      ok = false;
    } else if (auto histogram = d.ReadSelector(latency["histogram"], lpath + ".histogram")) {
      const std::string& metric = histogram->metric;
      auto ends_with = [&](std::string_view suffix) {
        return metric.size() > suffix.size() &&
               metric.compare(metric.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      const bool has_le = std::any_of(histogram->matchers.begin(), histogram->matchers.end(),
                                      [](const LabelMatcher& m) { return m.name == "le"; });
      if (!out.native && (ends_with("_bucket") || ends_with("_count") || ends_with("_sum"))) {
        d.Error(latency["histogram"], lpath + ".histogram",
                "name the histogram without its _bucket, _count or _sum suffix");
        ok = false;
      } else if (has_le) {
        d.Error(latency["histogram"], lpath + ".histogram",
                "must not match on \"le\": the bucket comes from threshold");
        ok = false;
      } else {
        out.histogram = *histogram;
      }
    } else {
      ok = false;
    }
    if (!latency["threshold"]) {
      d.Error(latency, lpath + ".threshold", "is required, e.g. 300ms");
      ok = false;
    } else if (auto threshold = d.ReadDuration(latency["threshold"], lpath + ".threshold")) {
      if (threshold->ms <= 0 || *threshold > kMaxLatencyThreshold) {
        d.Error(latency["threshold"], lpath + ".threshold", "must be more than 0 and at most 1h");
        ok = false;
      }
      out.threshold = *threshold;
    } else {
      ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  const YAML::Node timeslice = node["timeslice"];
  const std::string tpath = path + ".timeslice";
  if (!d.CheckMap(timeslice, tpath, {"good", "slice"})) return std::nullopt;
  TimesliceIndicator out;
  bool ok = true;
  if (!timeslice["good"]) {
    d.Error(timeslice, tpath + ".good", "is required: PromQL that is 1 in a good slice");
    ok = false;
  } else if (auto good = d.ReadString(timeslice["good"], tpath + ".good", kMaxExpressionLength)) {
    if (auto problem = CheckExpressionStructure(*good)) {
      d.Error(timeslice["good"], tpath + ".good", *problem);
      ok = false;
    }
    out.good = *good;
    out.good_line = timeslice["good"].Mark().line + 1;
  } else {
    ok = false;
  }
  if (!timeslice["slice"]) {
    out.slice = Duration::Minutes(1);
  } else if (auto slice = d.ReadDuration(timeslice["slice"], tpath + ".slice")) {
    if (*slice < kMinSlice || *slice > kMaxSlice) {
      d.Error(timeslice["slice"], tpath + ".slice", "must be from 10s to 1h");
      ok = false;
    }
    out.slice = *slice;
  } else {
    ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

// Reads fastBurn or slowBurn. `defaults` are the scaled Workbook tiers.
std::optional<BurnAlert> DecodeBurnAlert(Decoder& d, const YAML::Node& node,
                                         const std::string& path, BurnAlert defaults,
                                         Duration window,
                                         const std::optional<Objective>& objective) {
  if (!node) return defaults;
  if (!d.CheckMap(node, path, {"enabled", "severity", "thresholds"})) return std::nullopt;
  BurnAlert out = std::move(defaults);
  bool ok = d.OptionalBool(node, "enabled", path, out.enabled);
  ok &= d.OptionalLabelValue(node, "severity", path, 63, out.severity);
  if (const YAML::Node thresholds = node["thresholds"]) {
    const std::string tpath = path + ".thresholds";
    if (!thresholds.IsSequence()) {
      d.Error(thresholds, tpath, "must be a list of {burnRate, long, short}");
      return std::nullopt;
    }
    if (thresholds.size() == 0 || thresholds.size() > kMaxTiers) {
      d.Error(thresholds, tpath,
              "must have from 1 to " + std::to_string(kMaxTiers) +
                  " entries (to turn these alerts off, set enabled: false)");
      return std::nullopt;
    }
    out.tiers.clear();
    for (size_t i = 0; i < thresholds.size(); ++i) {
      const YAML::Node t = thresholds[i];
      const std::string ipath = tpath + "[" + std::to_string(i) + "]";
      if (!d.CheckMap(t, ipath, {"burnRate", "long", "short"})) {
        ok = false;
        continue;
      }
      BurnTier tier;
      bool tier_ok = true;
      for (const char* field : {"burnRate", "long", "short"}) {
        if (!t[field]) {
          d.Error(t, ipath + "." + field, "is required");
          tier_ok = false;
        }
      }
      if (!tier_ok) {
        ok = false;
        continue;
      }
      auto rate = d.ReadNumber(t["burnRate"], ipath + ".burnRate");
      auto long_window = d.ReadDuration(t["long"], ipath + ".long");
      auto short_window = d.ReadDuration(t["short"], ipath + ".short");
      if (!rate || !long_window || !short_window) {
        ok = false;
        continue;
      }
      if (*rate <= 0) {
        d.Error(t["burnRate"], ipath + ".burnRate", "must be more than 0");
        ok = false;
      } else if (objective && *rate > 1.0 / objective->BudgetRatio() + 1e-9) {
        d.Error(
            t["burnRate"], ipath + ".burnRate",
            "can never fire: at 100% errors an objective of " + objective->text +
                " burns at most " +
                std::to_string(static_cast<int64_t>(std::llround(1.0 / objective->BudgetRatio()))) +
                "x");
        ok = false;
      }
      if (*long_window > window) {
        d.Error(t["long"], ipath + ".long",
                "must be at most the SLO window (" + FormatDuration(window) + ")");
        ok = false;
      }
      if (*short_window >= *long_window) {
        d.Error(t["short"], ipath + ".short",
                "must be shorter than long (" + FormatDuration(*long_window) + ")");
        ok = false;
      }
      for (auto [window, field] : {std::pair{*long_window, "long"}, {*short_window, "short"}}) {
        if (window < d.options().min_rate_window) {
          d.Error(t[field], ipath + "." + field,
                  "must be at least the minimum rate window (" +
                      FormatDuration(d.options().min_rate_window) + ")");
          ok = false;
        }
      }
      tier.burn_rate = *rate;
      tier.long_window = *long_window;
      tier.short_window = *short_window;
      for (size_t j = 0; j < out.tiers.size(); ++j) {
        if (out.tiers[j].long_window == tier.long_window &&
            out.tiers[j].short_window == tier.short_window) {
          d.Error(t, ipath,
                  "has the same long and short windows as thresholds[" + std::to_string(j) +
                      "]: give each tier windows of its own");
          ok = false;
        }
      }
      out.tiers.push_back(tier);
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Alerting> DecodeAlerting(Decoder& d, const YAML::Node& node, Duration window,
                                       bool latency, const std::optional<Objective>& objective) {
  const std::string path = "spec.alerting";
  const Duration min_rate = d.options().min_rate_window;
  Alerting out;
  out.fast_burn = {!latency, "page", DefaultFastBurnTiers(window, min_rate)};
  out.slow_burn = {true, "ticket", DefaultSlowBurnTiers(window, min_rate)};
  if (!node) return out;
  if (!d.CheckMap(node, path,
                  {"enabled", "labels", "annotations", "fastBurn", "slowBurn", "minEvents",
                   "budgetExhausted"})) {
    return std::nullopt;
  }
  bool ok = d.OptionalBool(node, "enabled", path, out.enabled);
  ok &= d.OptionalLabelMap(node, "labels", path, false, out.labels);
  ok &= d.OptionalLabelMap(node, "annotations", path, true, out.annotations);
  if (auto fast = DecodeBurnAlert(d, node["fastBurn"], path + ".fastBurn", out.fast_burn, window,
                                  objective)) {
    out.fast_burn = *fast;
  } else {
    ok = false;
  }
  if (auto slow = DecodeBurnAlert(d, node["slowBurn"], path + ".slowBurn", out.slow_burn, window,
                                  objective)) {
    out.slow_burn = *slow;
  } else {
    ok = false;
  }
  if (node["minEvents"]) {
    if (auto min_events = d.ReadInteger(node["minEvents"], path + ".minEvents")) {
      if (*min_events < 0 || *min_events > kMaxMinEvents) {
        d.Error(node["minEvents"], path + ".minEvents",
                "must be from 0 to " + std::to_string(kMaxMinEvents));
        ok = false;
      }
      out.min_events = *min_events;
    } else {
      ok = false;
    }
  }
  if (const YAML::Node exhausted = node["budgetExhausted"]) {
    const std::string epath = path + ".budgetExhausted";
    if (d.CheckMap(exhausted, epath, {"enabled", "severity"})) {
      ok &= d.OptionalBool(exhausted, "enabled", epath, out.budget_exhausted_enabled);
      ok &= d.OptionalLabelValue(exhausted, "severity", epath, 63, out.budget_exhausted_severity);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<SloSpec> DecodeSlo(Decoder& d, const YAML::Node& doc, std::string_view file) {
  SloSpec spec;
  spec.source_file = std::string(file);
  spec.source_line = d.document_line();

  // The resource envelope: other top-level fields (status) are the server's, not ours to judge.
  const YAML::Node metadata = doc["metadata"];
  bool ok = true;
  if (!metadata) {
    d.Error(doc, "metadata", "is required, with a name");
    ok = false;
  } else if (d.CheckMap(metadata, "metadata", {})) {
    if (!metadata["name"]) {
      d.Error(metadata, "metadata.name", "is required");
      ok = false;
    } else if (auto name = d.ReadString(metadata["name"], "metadata.name", 253)) {
      if (!IsDnsLabel(*name)) {
        d.Error(metadata["name"], "metadata.name",
                "must be at most 63 lower-case letters, digits and \"-\", starting and ending "
                "with a letter or digit (it is also a label value)");
        ok = false;
      }
      spec.name = *name;
    } else {
      ok = false;
    }
    spec.namespace_name = d.options().default_namespace;
    if (metadata["namespace"]) {
      if (auto ns = d.ReadString(metadata["namespace"], "metadata.namespace", 253)) {
        if (!IsDnsLabel(*ns)) {
          d.Error(metadata["namespace"], "metadata.namespace", "is not a valid namespace name");
          ok = false;
        }
        spec.namespace_name = *ns;
      } else {
        ok = false;
      }
    }
  } else {
    ok = false;
  }

  const YAML::Node s = doc["spec"];
  if (!s) {
    d.Error(doc, "spec", "is required");
    return std::nullopt;
  }
  if (!d.CheckMap(
          s, "spec",
          {"service", "description", "objective", "window", "labels", "indicator", "alerting"})) {
    return std::nullopt;
  }

  if (!s["service"]) {
    d.Error(s, "spec.service", "is required");
    ok = false;
  } else if (auto service = d.ReadLabelValue(s["service"], "spec.service", kMaxServiceLength)) {
    spec.service = *service;
  } else {
    ok = false;
  }

  if (s["description"]) {
    if (auto description =
            d.ReadString(s["description"], "spec.description", kMaxDescriptionLength, true)) {
      spec.description = *description;
    } else {
      ok = false;
    }
  }

  std::optional<Objective> objective;
  if (!s["objective"]) {
    d.Error(s, "spec.objective", "is required, e.g. \"99.9\"");
    ok = false;
  } else if (!s["objective"].IsScalar() || s["objective"].Tag() != "!") {
    d.Error(s["objective"], "spec.objective",
            "must be a string, e.g. \"99.9\" in quotes, so that no digit is lost to floating "
            "point");
    ok = false;
  } else if (auto parsed = ParseObjective(s["objective"].Scalar()); parsed.ok()) {
    objective = *parsed;
    spec.objective = *parsed;
  } else {
    d.Error(s["objective"], "spec.objective", parsed.status().message());
    ok = false;
  }

  spec.window = Duration::Days(30);
  if (s["window"]) {
    if (auto window = d.ReadDuration(s["window"], "spec.window")) {
      if (*window < kMinWindow || *window > kMaxWindow) {
        d.Error(s["window"], "spec.window",
                "must be from 1d to 90d, not " + FormatDuration(*window));
        ok = false;
      } else {
        spec.window = *window;
      }
    } else {
      ok = false;
    }
  }

  ok &= d.OptionalLabelMap(s, "labels", "spec", false, spec.labels);

  bool latency = false;
  std::optional<Duration> slice;
  if (!s["indicator"]) {
    d.Error(s, "spec.indicator", "is required: one of ratio, latency or timeslice");
    ok = false;
  } else if (auto indicator = DecodeIndicator(d, s["indicator"])) {
    spec.indicator = *indicator;
    latency = std::holds_alternative<LatencyIndicator>(*indicator);
    if (auto* t = std::get_if<TimesliceIndicator>(&*indicator)) slice = t->slice;
  } else {
    ok = false;
  }

  if (auto alerting = DecodeAlerting(d, s["alerting"], spec.window, latency, objective)) {
    spec.alerting = *alerting;
    // A timeslice series has one sample per slice: shorter windows would hold none.
    if (slice) {
      for (auto [alert, name] :
           {std::pair{&alerting->fast_burn, "fastBurn"}, {&alerting->slow_burn, "slowBurn"}}) {
        if (!alert->enabled || !alerting->enabled) continue;
        for (size_t i = 0; i < alert->tiers.size(); ++i) {
          if (alert->tiers[i].short_window < Duration{slice->ms * 2}) {
            d.Error(
                s["alerting"] ? s["alerting"] : s,
                std::string("spec.alerting.") + name + ".thresholds[" + std::to_string(i) +
                    "].short",
                "must be at least two slices (" + FormatDuration(Duration{slice->ms * 2}) + ")");
            ok = false;
          }
        }
      }
    }
  } else {
    ok = false;
  }

  if (!ok) return std::nullopt;
  return spec;
}

// Walks a stream's documents without building them, noting where each starts.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last_start_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnAlias(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnScalar(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {}
  void OnSequenceStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {}
  void OnMapEnd() override {}

  const YAML::Mark& last_start() const { return last_start_; }

 private:
  YAML::Mark last_start_ = YAML::Mark::null_mark();
};

// yaml-cpp 0.7's LoadAll never returns on a stream whose next token starts no document (a stray
// "," at the top level): it yields empty documents forever without consuming input. A stream has
// at most one document more than it has lines starting with `---` or `...`, so the documents are
// counted first, under that bound; LoadAll runs the same loop and so ends too once this passes.
// Throws YAML::Exception for a syntax error, as LoadAll would.
std::optional<FieldError> CheckStreamEnds(std::string_view text, std::string_view file) {
  size_t bound = 1;
  for (size_t at = 0; at < text.size();) {
    if (text.compare(at, 3, "---") == 0 || text.compare(at, 3, "...") == 0) ++bound;
    const size_t newline = text.find('\n', at);
    at = newline == std::string_view::npos ? text.size() : newline + 1;
  }
  std::istringstream stream{std::string(text)};
  YAML::Parser parser(stream);
  DocumentCounter counter;
  for (size_t documents = 0; parser.HandleNextDocument(counter);) {
    if (++documents > bound) {
      const int line = counter.last_start().line >= 0 ? counter.last_start().line + 1 : 0;
      return FieldError{std::string(file), line, "",
                        "not valid YAML or JSON: content that starts no document (a stray "
                        "\",\", \"]\" or \"}\"?)"};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string Objective::RatioText() const {
  // hundred_thousandths / 10^7, e.g. 9990000 -> "0.999".
  std::string digits = std::to_string(hundred_thousandths);
  digits.insert(0, 7 - std::min<size_t>(7, digits.size()), '0');
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  return digits.empty() ? "0" : "0." + digits;
}

std::string Objective::BudgetRatioText() const {
  Objective budget;
  budget.hundred_thousandths = 10'000'000 - hundred_thousandths;
  return budget.RatioText();
}

Result<Objective> ParseObjective(std::string_view text) {
  const std::string quoted = Quote(text);
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  auto all_digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction) ||
      (dot != std::string_view::npos && fraction.empty())) {
    return InvalidArgumentError(quoted + " is not a percentage: write it like \"99.9\"");
  }
  if (fraction.size() > 5) {
    return InvalidArgumentError(quoted + " has more than 5 decimals");
  }
  if (whole.size() > 3) return InvalidArgumentError("must be less than 100, not " + quoted);
  int64_t value = std::stoll(std::string(whole)) * 100000;
  std::string padded(fraction);
  padded.resize(5, '0');
  value += std::stoll(padded);
  if (value <= 0 || value >= int64_t{100} * 100000) {
    return InvalidArgumentError("must be more than 0 and less than 100, not " + quoted);
  }
  return Objective{value, std::string(text)};
}

std::vector<BurnTier> DefaultFastBurnTiers(Duration window, Duration min_rate_window) {
  return ScaleTiers({{14.4, Duration::Hours(1), Duration::Minutes(5)},
                     {6, Duration::Hours(6), Duration::Minutes(30)}},
                    window, min_rate_window);
}

std::vector<BurnTier> DefaultSlowBurnTiers(Duration window, Duration min_rate_window) {
  return ScaleTiers(
      {{3, Duration::Days(1), Duration::Hours(2)}, {1, Duration::Days(3), Duration::Hours(6)}},
      window, min_rate_window);
}

std::string FieldError::ToString() const {
  std::string out = file + ":" + std::to_string(line) + ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

ParsedResources ParseResources(std::string_view text, std::string_view file,
                               const ParseOptions& options) {
  ParsedResources out;
  std::vector<YAML::Node> documents;
  try {
    if (auto error = CheckStreamEnds(text, file)) {
      out.errors.push_back(*error);
      return out;
    }
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    out.errors.push_back({std::string(file), e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
                          "not valid YAML or JSON: " + e.msg});
    return out;
  }
  for (const YAML::Node& doc : documents) {
    if (doc.IsNull()) continue;  // an empty document, as between two `---`
    const int line = doc.Mark().line >= 0 ? doc.Mark().line + 1 : 1;
    Decoder d(file, options, line);
    try {
      if (!doc.IsMap()) {
        d.Error(doc, "", "a resource must be an object with apiVersion, kind, metadata and spec");
      } else if (!doc["kind"] || !doc["kind"].IsScalar() || doc["kind"].Scalar() != kKind) {
        ++out.other_documents;
        continue;
      } else if (!doc["apiVersion"] || !doc["apiVersion"].IsScalar() ||
                 doc["apiVersion"].Scalar() != kApiVersion) {
        d.Error(doc["apiVersion"] ? doc["apiVersion"] : doc, "apiVersion",
                std::string("must be ") + kApiVersion);
      } else if (auto spec = DecodeSlo(d, doc, file); spec && d.errors().empty()) {
        out.slos.push_back(std::move(*spec));
      }
    } catch (const YAML::Exception& e) {
      d.Error(doc, "", std::string("cannot read this resource: ") + e.what());
    }
    if (d.errors().empty()) continue;
    out.errors.insert(out.errors.end(), d.errors().begin(), d.errors().end());
  }
  return out;
}

}  // namespace nines::api
