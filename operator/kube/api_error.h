// The one mapping from the API server's answers to nines's error kinds: an HTTP status and the
// Kubernetes `Status` object in the body become a nines::Status whose code the reconciler acts on
// (requeue, back off, relist, report) and whose message carries the server's own `message`.
//
// Thread-safety: pure functions over values; safe to call from any thread.
#ifndef NINES_KUBE_API_ERROR_H_
#define NINES_KUBE_API_ERROR_H_

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "operator/base/status.h"

namespace nines::kube {

// Maps a non-2xx answer to a Status:
//   400, 422            InvalidArgument
//   401, 403            Forbidden
//   404                 NotFound
//   409                 Conflict, or AlreadyExists when the body's Status has reason AlreadyExists
//   410                 Gone
//   429, 5xx, others    Unavailable
// The message is "HTTP <code> <reason>: <message>" with the body's Status `reason` and `message`
// when the body is one (else the start of the body). `retry_after` is the Retry-After header's
// value, or empty; when it holds a number of seconds the message ends with "; retry after Ns",
// which RetryAfter() reads back.
Status StatusFromHttp(int http_status, std::string_view body, std::string_view retry_after = "");

// Maps a Kubernetes `Status` object (as in a watch ERROR event) the same way, by its `code`.
Status StatusFromKubeStatus(const nlohmann::json& status);

// The delay the server asked for (Retry-After), if the Status says one; see StatusFromHttp.
std::optional<std::chrono::seconds> RetryAfter(const Status& status);

}  // namespace nines::kube

#endif  // NINES_KUBE_API_ERROR_H_
