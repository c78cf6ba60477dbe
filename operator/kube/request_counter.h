// Counts the requests the operator sends to the API server, by verb, resource and HTTP status, for
// its /metrics: the API server's own apiserver_request_total has no user-agent label, so it cannot
// tell the operator's requests from kubectl's or the controller manager's.
//
// Verbs are named as the API server names them in apiserver_request_total: GET (one object), LIST,
// WATCH, POST, PUT, PATCH, APPLY (a server-side apply patch), DELETE. The resource is the plural,
// with the subresource after a slash ("servicelevelobjectives/status"); "" for paths that are not
// resources (/version, discovery).
//
// Thread-safety: CountingTransport is as thread-safe as the transport it wraps (HttpTransport
// implementations are); the counts are guarded by a mutex.
#ifndef NINES_KUBE_REQUEST_COUNTER_H_
#define NINES_KUBE_REQUEST_COUNTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "operator/kube/http_transport.h"

namespace nines::kube {

struct RequestKind {
  std::string verb;      // GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE
  std::string resource;  // "prometheusrules", "servicelevelobjectives/status", or ""
};

// What a request is, from its method, path and content type; `stream` is true for a Stream (a
// watch), which is a WATCH even without ?watch=1.
RequestKind ClassifyRequest(const HttpRequest& request, bool stream);

class CountingTransport : public HttpTransport {
 public:
  // verb, resource, code ("200", "404", ..., or "error" when no HTTP answer came back)
  using Key = std::tuple<std::string, std::string, std::string>;

  explicit CountingTransport(std::shared_ptr<HttpTransport> inner);

  Result<HttpResponse> Send(const HttpRequest& request) override;
  Result<HttpResponse> Stream(const HttpRequest& request, const ChunkHandler& on_chunk,
                              Cancellation* cancel) override;

  std::map<Key, int64_t> Counts() const;
  // The counts as nines_api_requests_total, in Prometheus's text format.
  std::string RenderMetrics() const;

 private:
  void Count(const HttpRequest& request, bool stream, const Result<HttpResponse>& response);

  const std::shared_ptr<HttpTransport> inner_;
  mutable std::mutex mu_;
  std::map<Key, int64_t> counts_;  // guarded by mu_
};

}  // namespace nines::kube

#endif  // NINES_KUBE_REQUEST_COUNTER_H_
