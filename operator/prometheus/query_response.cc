#include "operator/prometheus/query_response.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace nines::prometheus {
namespace {

using nlohmann::json;

// A body that is not the API's answer (a proxy's HTML page, a load balancer's text) is quoted this
// far: enough to recognize it, not enough to flood a condition message.
constexpr size_t kMaxQuoted = 200;

std::string Quote(std::string_view body) {
  std::string quoted;
  for (const char c : body.substr(0, kMaxQuoted)) {
    quoted.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  if (body.size() > kMaxQuoted) quoted += "...";
  return "\"" + quoted + "\"";
}

// The string member `key` of `object`, or empty. Never operator[] on a const json: a missing key
// is undefined behaviour there.
std::string StringMember(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A sample value as Prometheus writes it: Go's strconv.FormatFloat, so "NaN", "+Inf", "-Inf" or a
// decimal number.
bool ParseSampleValue(std::string_view text, double* value) {
  if (text == "NaN") {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "+Inf" || text == "Inf") {
    *value = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Inf") {
    *value = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (text.starts_with('+')) {
    text.remove_prefix(1);  // from_chars takes no '+'
    if (text.starts_with('+') || text.starts_with('-')) return false;
  }
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end;
}

// Seconds since the epoch as the API writes them (a JSON number with up to millisecond precision).
bool ParseTimestamp(const json& number, std::chrono::system_clock::time_point* at) {
  if (!number.is_number()) return false;
  const double seconds = number.get<double>();
  // system_clock counts nanoseconds in 64 bits: about 292 years either side of 1970.
  constexpr double kLimit = 9e9;
  if (!std::isfinite(seconds) || std::fabs(seconds) > kLimit) return false;
  *at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(std::llround(seconds * 1e3)));
  return true;
}

Result<Sample> ParseSample(const json& element, size_t index) {
  const std::string where = "data.result[" + std::to_string(index) + "]";
  if (!element.is_object()) return InternalError(where + ": not an object");
  Sample sample;
  if (const auto metric = element.find("metric"); metric != element.end()) {
    if (!metric->is_object()) return InternalError(where + ".metric: not an object");
    for (const auto& [name, value] : metric->items()) {
      if (!value.is_string()) {
        std::string message = where;
        message += ".metric[\"" + name + "\"]: not a string";
        return InternalError(std::move(message));
      }
      sample.labels.emplace(name, value.get<std::string>());
    }
  }
  const auto value = element.find("value");
  if (value == element.end()) {
    if (element.contains("histogram")) {
      return InvalidArgumentError(where +
                                  ": a native histogram, not a float sample (query a float of "
                                  "it, e.g. with histogram_count or histogram_fraction)");
    }
    return InternalError(where + ": no value");
  }
  if (!value->is_array() || value->size() != 2 || !(*value)[1].is_string() ||
      !ParseTimestamp((*value)[0], &sample.timestamp) ||
      !ParseSampleValue((*value)[1].get_ref<const std::string&>(), &sample.value)) {
    return InternalError(where + ".value: not [<time>, \"<number>\"]: " + Quote(value->dump()));
  }
  return sample;
}

void AppendStrings(const json& response, const char* key, std::vector<std::string>* out) {
  const auto list = response.find(key);
  if (list == response.end() || !list->is_array()) return;
  for (const json& entry : *list) {
    out->push_back(entry.is_string() ? entry.get<std::string>() : entry.dump());
  }
}

Result<QueryResult> ParseSuccess(const json& response) {
  const auto data = response.find("data");
  if (data == response.end() || !data->is_object()) {
    return InternalError("data: missing or not an object");
  }
  const std::string type = StringMember(*data, "resultType");
  if (type != "vector") {
    return InvalidArgumentError("the result is " +
                                (type.empty() ? std::string("of no type") : "a " + type) +
                                ", not an instant vector");
  }
  const auto result = data->find("result");
  if (result == data->end() || !result->is_array()) {
    return InternalError("data.result: missing or not a list");
  }
  QueryResult parsed;
  parsed.samples.reserve(result->size());
  for (size_t i = 0; i < result->size(); ++i) {
    auto sample = ParseSample((*result)[i], i);
    if (!sample.ok()) return sample.status();
    parsed.samples.push_back(std::move(*sample));
  }
  AppendStrings(response, "warnings", &parsed.warnings);
  AppendStrings(response, "infos", &parsed.warnings);
  return parsed;
}

bool IsSuccess(int http_status) { return http_status >= 200 && http_status < 300; }

Result<QueryResult> Parse(int http_status, std::string_view body) {
  const std::string http = "HTTP " + std::to_string(http_status);
  const json response = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const std::string status = response.is_object() ? StringMember(response, "status") : "";
  const bool api = status == "success" || status == "error";

  std::string message = http;
  std::string error_type;
  if (status == "error") {
    error_type = StringMember(response, "errorType");
    if (!error_type.empty()) message += " " + error_type;
    message += ": " + StringMember(response, "error");
  } else if (!api && !IsSuccess(http_status)) {
    message += ": " + Quote(body);
  }

  if (http_status == 401 || http_status == 403) return Status(StatusCode::kForbidden, message);
  if (error_type == "bad_data" || error_type == "execution") return InvalidArgumentError(message);
  if (error_type == "timeout" || error_type == "canceled" || error_type == "unavailable") {
    return UnavailableError(message);
  }
  if (http_status == 429 || http_status >= 500) return UnavailableError(message);
  if (http_status == 400 || http_status == 422) return InvalidArgumentError(message);
  if (!api) {
    return InternalError(http + ": not a Prometheus API response: " + Quote(body));
  }
  if (status == "error" || !IsSuccess(http_status)) return InternalError(message);

  auto parsed = ParseSuccess(response);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), http + ": " + parsed.status().message());
  }
  return parsed;
}

}  // namespace

Result<QueryResult> ParseQueryResponse(int http_status, std::string_view body) {
  // The parser runs without exceptions; get<> is only called after a type check. Should a
  // library exception escape anyway, it stops here.
  try {
    return Parse(http_status, body);
  } catch (const json::exception& e) {
    return InternalError("HTTP " + std::to_string(http_status) +
                         ": cannot read the response: " + e.what());
  }
}

}  // namespace nines::prometheus
