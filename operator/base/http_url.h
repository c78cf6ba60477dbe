// The parts of an http:// or https:// base URL that an HTTP client needs: scheme, host, port and a
// path prefix (a proxy's or a multi-tenant gateway's, e.g. "https://host/prometheus"). Shared by
// the Kubernetes client and the Prometheus client, which both take one base URL from the user.
//
// Thread-safety: a pure function over values.
#ifndef NINES_BASE_HTTP_URL_H_
#define NINES_BASE_HTTP_URL_H_

#include <string>
#include <string_view>

#include "operator/base/status.h"

namespace nines {

struct HttpUrl {
  bool https = true;
  std::string host;         // without the brackets of an IPv6 literal
  int port = 443;           // the scheme's default when the URL has none
  std::string path_prefix;  // without a trailing slash, e.g. "/prometheus"; or empty
};

// InvalidArgument naming `setting` (e.g. "server", "url") when `url` is not an http:// or https://
// URL with a host, or carries a query, a fragment or user information. User information is
// refused without quoting the URL, since it may hold a password.
Result<HttpUrl> ParseHttpUrl(std::string_view url, std::string_view setting);

}  // namespace nines

#endif  // NINES_BASE_HTTP_URL_H_
