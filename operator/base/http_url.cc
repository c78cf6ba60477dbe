#include "operator/base/http_url.h"

#include <charconv>

namespace nines {

Result<HttpUrl> ParseHttpUrl(std::string_view url, std::string_view setting) {
  const std::string where = std::string(setting) + " \"" + std::string(url) + "\": ";
  HttpUrl parsed;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    parsed.https = false;
    parsed.port = 80;
    rest.remove_prefix(7);
  } else {
    return InvalidArgumentError(where + "not an http:// or https:// URL");
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgumentError(std::string(setting) +
                                ": user information in the URL is not supported");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgumentError(where + "a query or fragment is not allowed");
  }
  if (slash != std::string_view::npos) {
    parsed.path_prefix = std::string(rest.substr(slash));
    while (!parsed.path_prefix.empty() && parsed.path_prefix.back() == '/') {
      parsed.path_prefix.pop_back();
    }
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgumentError(where + "unclosed [");
    parsed.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgumentError(where + "bad port");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (parsed.host.empty()) return InvalidArgumentError(where + "no host");
  if (!port_text.empty()) {
    const char* end = port_text.data() + port_text.size();
    auto [ptr, ec] = std::from_chars(port_text.data(), end, parsed.port);
    if (ec != std::errc() || ptr != end || parsed.port <= 0 || parsed.port > 65535) {
      return InvalidArgumentError(where + "bad port");
    }
  }
  return parsed;
}

}  // namespace nines
