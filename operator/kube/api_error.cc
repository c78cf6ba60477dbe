#include "operator/kube/api_error.h"

#include <charconv>
#include <cstdint>
#include <string>

namespace nines::kube {
namespace {

constexpr std::string_view kRetryAfterMarker = "; retry after ";

StatusCode CodeForHttp(int http_status, std::string_view reason) {
  switch (http_status) {
    case 400:
    case 422:
      return StatusCode::kInvalidArgument;
    case 401:
    case 403:
      return StatusCode::kForbidden;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? StatusCode::kAlreadyExists : StatusCode::kConflict;
    case 410:
      return StatusCode::kGone;
    default:
      // 429, 5xx and anything unexpected: the server may answer differently later.
      return StatusCode::kUnavailable;
  }
}

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// Seconds from a Retry-After value; the HTTP-date form is not used by the API server.
std::optional<int64_t> ParseSeconds(std::string_view text) {
  int64_t seconds = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (ec != std::errc() || ptr != end || seconds < 0) return std::nullopt;
  return seconds;
}

Status Build(int http_status, const std::string& reason, std::string_view message,
             std::string_view retry_after) {
  std::string text = "HTTP " + std::to_string(http_status);
  if (!reason.empty()) text += " " + reason;
  if (!message.empty()) {
    text += ": ";
    text += message;
  }
  if (auto seconds = ParseSeconds(retry_after)) {
    text += kRetryAfterMarker;
    text += std::to_string(*seconds) + "s";
  }
  return Status(CodeForHttp(http_status, reason), std::move(text));
}

}  // namespace

Status StatusFromHttp(int http_status, std::string_view body, std::string_view retry_after) {
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && StringField(parsed, "kind") == "Status") {
    return Build(http_status, StringField(parsed, "reason"), StringField(parsed, "message"),
                 retry_after);
  }
  // Not a Status (a proxy's HTML page, plain text): keep its start, which is often the answer.
  constexpr size_t kMaxBody = 200;
  std::string excerpt(body.substr(0, kMaxBody));
  for (char& c : excerpt) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return Build(http_status, "", excerpt, retry_after);
}

Status StatusFromKubeStatus(const nlohmann::json& status) {
  int code = 500;
  if (status.is_object()) {
    auto it = status.find("code");
    if (it != status.end() && it->is_number_integer()) code = it->get<int>();
  }
  if (!status.is_object()) return Build(code, "", "malformed Status object", "");
  return Build(code, StringField(status, "reason"), StringField(status, "message"), "");
}

std::optional<std::chrono::seconds> RetryAfter(const Status& status) {
  const std::string& message = status.message();
  const size_t at = message.rfind(kRetryAfterMarker);
  if (at == std::string::npos) return std::nullopt;
  const std::string_view whole = message;
  std::string_view rest = whole.substr(at + kRetryAfterMarker.size());
  if (rest.empty() || rest.back() != 's') return std::nullopt;
  rest.remove_suffix(1);
  auto seconds = ParseSeconds(rest);
  if (!seconds) return std::nullopt;
  return std::chrono::seconds(*seconds);
}

}  // namespace nines::kube
