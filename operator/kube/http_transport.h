// The HTTP layer under the Kubernetes client: an interface small enough that the client (and the
// controller above it) is tested against a fake, and its implementation on cpp-httplib with the
// cluster's TLS settings and credentials.
//
// Thread-safety: HttpTransport implementations are thread-safe: Send and Stream may be called
// from many threads at once. Cancellation is thread-safe. The httplib transport blocks SIGPIPE in
// the calling thread while a request runs (OpenSSL writes to closed sockets raise it), so callers
// need not ignore SIGPIPE process-wide.
#ifndef NINES_KUBE_HTTP_TRANSPORT_H_
#define NINES_KUBE_HTTP_TRANSPORT_H_

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "operator/base/status.h"
#include "operator/kube/config.h"

namespace nines::kube {

struct HttpRequest {
  std::string method;          // GET, POST, PUT, PATCH, DELETE
  std::string path_and_query;  // "/api/v1/namespaces?limit=10", already escaped
  std::string content_type;    // of the body; empty when there is none
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string retry_after;  // the Retry-After header, or empty
  std::string body;         // for Stream: only when the status is not 2xx
};

// Lets another thread stop a Stream. A cancelled Stream returns OK promptly: at once when
// it is blocked reading, otherwise at the latest when the next chunk arrives.
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const;

  // For transports: `hook` is called by Cancel() (at once if already cancelled) until
  // ClearHook(). It must be cheap and thread-safe.
  void SetHook(std::function<void()> hook);
  void ClearHook();

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;      // guarded by mu_
  std::function<void()> hook_;  // guarded by mu_
};

class HttpTransport {
 public:
  // Receives the body of a streaming response as it arrives; return false to stop reading.
  using ChunkHandler = std::function<bool(std::string_view chunk)>;

  virtual ~HttpTransport() = default;

  // One request; the whole body is read. Any HTTP status is a successful Result: mapping statuses
  // to errors is the client's job. Transport failures (connect, TLS, timeout, credentials) are
  // Unavailable, or the credential source's error.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;

  // Like Send, but a 2xx body goes to `on_chunk` piece by piece (a watch). Returns when the
  // server ends the response, `on_chunk` returns false, or `cancel` (may be null) is cancelled.
  virtual Result<HttpResponse> Stream(const HttpRequest& request, const ChunkHandler& on_chunk,
                                      Cancellation* cancel) = 0;
};

struct HttpTransportOptions {
  std::chrono::seconds connect_timeout{10};
  // For Send; a Stream waits up to `stream_read_timeout` between chunks (a watch's
  // timeoutSeconds plus a margin: the server ends a watch by then).
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds stream_read_timeout{660};
  std::chrono::seconds write_timeout{30};
  std::string user_agent = "nines";
};

// A transport to `config.server`: the server's certificate checked against `config.ca_pem` only
// (or the system's roots when there is none; nothing at all only with insecure_skip_tls_verify),
// and against tls_server_name when set; the client certificate and bearer token taken from
// `config.credentials` for every request. After a 401 the credentials are invalidated and a
// Send is tried once more if they changed. InvalidArgument when the server URL, CA or client
// certificate cannot be used.
Result<std::unique_ptr<HttpTransport>> NewHttpTransport(const ClusterConfig& config,
                                                        const HttpTransportOptions& options = {});

}  // namespace nines::kube

#endif  // NINES_KUBE_HTTP_TRANSPORT_H_
