// Instant queries against the Prometheus HTTP API (/api/v1/query), or anything that speaks it
// (Thanos Query, Mimir, Cortex, VictoriaMetrics). The status loop reads the public series through
// the QueryClient interface, so it is tested on recorded responses; NewHttpQueryClient is the
// implementation on cpp-httplib and OpenSSL.
//
// Thread-safety: QueryClient implementations are thread-safe; Query may be called from many
// threads at once. The bearer token and the basic-auth password are re-read from their files (so
// that a rotated secret is picked up) and never logged or put into an error message.
#ifndef NINES_PROMETHEUS_QUERY_CLIENT_H_
#define NINES_PROMETHEUS_QUERY_CLIENT_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "operator/base/clock.h"
#include "operator/base/status.h"

namespace nines::prometheus {

// One element of an instant vector. `value` may be NaN or +-Inf (Prometheus writes "NaN",
// "+Inf", "-Inf"); callers decide what those mean.
struct Sample {
  std::map<std::string, std::string> labels;  // including __name__ when the result has one
  double value = 0;
  std::chrono::system_clock::time_point timestamp;
};

struct QueryResult {
  std::vector<Sample> samples;
  // The response's "warnings" (and "infos"), verbatim. A Thanos or Mimir partial response (a store
  // or querier that did not answer) arrives as a success with warnings: the caller decides whether
  // an incomplete answer may be used.
  std::vector<std::string> warnings;
};

class QueryClient {
 public:
  virtual ~QueryClient() = default;

  // Evaluates `promql` at `at`, or at the server's now. Only instant vectors are accepted (a
  // scalar or string result is InvalidArgument naming the result type).
  // Errors: Unavailable for transport failures, timeouts, 5xx, 429 and 503 ("unavailable",
  // "timeout", "canceled" errorTypes); InvalidArgument for a 400/422 ("bad_data", "execution"),
  // with Prometheus's error message; Forbidden for 401/403; Internal for a body that is not the
  // API's JSON.
  // The default argument belongs to the interface alone: implementations declare none, since a
  // default of their own could differ, and which one applied would depend on the pointer's type.
  virtual Result<QueryResult> Query(  // NOLINT(google-default-arguments)
      std::string_view promql,
      std::optional<std::chrono::system_clock::time_point> at = std::nullopt) = 0;
};

struct QueryClientOptions {
  // Base URL, e.g. "http://prometheus-operated.monitoring:9090" or "https://thanos/prefix": the
  // client requests `<url>/api/v1/query`. http and https only.
  std::string url;
  // "Authorization: Bearer <file contents, trimmed>", re-read at most every minute and after a 401.
  std::string bearer_token_file;
  // Basic auth; the password is read from a file (re-read like the token). Not together with a
  // bearer token.
  std::string basic_auth_username;
  std::string basic_auth_password_file;
  // PEM bundle to verify the server with instead of the system's roots.
  std::string ca_file;
  // Client certificate and key (PEM files) for mutual TLS; both or neither. Read once, by
  // NewHttpQueryClient.
  std::string cert_file;
  std::string key_file;
  // Never verify the server (an explicit opt-in, logged by the caller).
  bool insecure_skip_tls_verify = false;
  // Extra request headers, e.g. {"X-Scope-OrgID", "team-a"} for a Mimir or Cortex tenant.
  std::vector<std::pair<std::string, std::string>> headers;
  // Connect plus response; the query is also sent with `timeout=` so the server gives up too.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::string user_agent = "nines";
  // Decides when the token and password files are due for a re-read; tests pass a FakeClock.
  Clock* clock = RealClock();
};

// InvalidArgument when the options cannot work (bad URL, unreadable CA, token and basic auth
// together, a cert without a key); the message names the option.
Result<std::unique_ptr<QueryClient>> NewHttpQueryClient(const QueryClientOptions& options);

}  // namespace nines::prometheus

#endif  // NINES_PROMETHEUS_QUERY_CLIENT_H_
