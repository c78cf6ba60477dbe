// The answer of /api/v1/query, turned into a QueryResult or into the Status that QueryClient
// promises. Kept apart from the HTTP client so that it is tested (and fuzzable) on bodies alone,
// and so that the status loop's tests can replay recorded answers through the same code.
//
// Thread-safety: a pure function over values.
#ifndef NINES_PROMETHEUS_QUERY_RESPONSE_H_
#define NINES_PROMETHEUS_QUERY_RESPONSE_H_

#include <string_view>

#include "operator/base/status.h"
#include "operator/prometheus/query_client.h"

namespace nines::prometheus {

// `http_status` and `body` of one response. Messages start with "HTTP <status>" and carry the
// API's errorType and error verbatim; a body that is not the API's JSON is quoted, shortened.
// The mapping is the one QueryClient::Query documents; 401 and 403 are Forbidden whatever the body
// says (a proxy in front of Prometheus answers them), and a known errorType decides over the
// status code (Prometheus answers a canceled query with 499, which is no client error).
Result<QueryResult> ParseQueryResponse(int http_status, std::string_view body);

}  // namespace nines::prometheus

#endif  // NINES_PROMETHEUS_QUERY_RESPONSE_H_
