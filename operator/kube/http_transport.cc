#include "operator/kube/http_transport.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "operator/base/http_url.h"
#include "operator/base/sigpipe.h"
#include "operator/base/tls_client.h"

// Debian's libcpp-httplib is built with OpenSSL support; the define changes httplib's types, so
// it must match here (see CMakeLists.txt).
#include <httplib.h>

namespace nines::kube {

void Cancellation::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (hook_) hook_();
}

bool Cancellation::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

void Cancellation::SetHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  hook_ = std::move(hook);
  if (cancelled_ && hook_) hook_();
}

void Cancellation::ClearHook() {
  std::lock_guard<std::mutex> lock(mu_);
  hook_ = nullptr;
}

namespace {

// The numeric address of `host`: httplib's host-to-address map takes only addresses.
Result<std::string> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.c_str(), nullptr, &hints, &found); error != 0) {
    return UnavailableError("cannot resolve " + host + ": " + gai_strerror(error));
  }
  char text[NI_MAXHOST];
  const int error =
      getnameinfo(found->ai_addr, found->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
  freeaddrinfo(found);
  if (error != 0) return UnavailableError("cannot resolve " + host + ": " + gai_strerror(error));
  return std::string(text);
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

std::string Header(const httplib::Headers& headers, const char* name) {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

class HttplibTransport : public HttpTransport {
 public:
  HttplibTransport(HttpUrl address, ClusterConfig config, HttpTransportOptions options,
                   std::unique_ptr<TrustedCas> cas)
      : address_(std::move(address)),
        config_(std::move(config)),
        options_(std::move(options)),
        cas_(std::move(cas)) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    return WithCredentials([&](const Credentials& credentials) {
      return Exchange(request, credentials, nullptr, nullptr);
    });
  }

  Result<HttpResponse> Stream(const HttpRequest& request, const ChunkHandler& on_chunk,
                              Cancellation* cancel) override {
    return WithCredentials([&](const Credentials& credentials) {
      return Exchange(request, credentials, &on_chunk, cancel);
    });
  }

 private:
  // Runs `exchange` with the current credentials; after a 401, once more if fresh ones differ
  // (a rotated token, a re-run plugin). A 401 has no effect on the server, so repeating is safe.
  template <typename Exchange>
  Result<HttpResponse> WithCredentials(const Exchange& exchange) {
    auto credentials = config_.credentials->Get();
    if (!credentials.ok()) return credentials.status();
    Result<HttpResponse> response = exchange(*credentials);
    if (!response.ok() || response->status != 401) return response;
    config_.credentials->Invalidate(*credentials);
    auto fresh = config_.credentials->Get();
    if (!fresh.ok() || *fresh == *credentials) return response;
    return exchange(*fresh);
  }

  Result<std::unique_ptr<httplib::ClientImpl>> NewClient(const Credentials& credentials,
                                                         bool streaming) const {
    std::unique_ptr<httplib::ClientImpl> client;
    if (!address_.https) {
      client = std::make_unique<httplib::ClientImpl>(address_.host, address_.port);
    } else {
      // With a tls-server-name, the client believes it talks to that name (SNI and the
      // certificate check use it) and the name is mapped to the server's real address.
      const std::string& name =
          config_.tls_server_name.empty() ? address_.host : config_.tls_server_name;
      TlsClientOptions tls{.host = name,
                           .port = address_.port,
                           .cas = cas_.get(),
                           .insecure_skip_tls_verify = config_.insecure_skip_tls_verify};
      std::vector<X509Ptr> chain;
      KeyPtr key;
      if (!credentials.client_cert_pem.empty()) {
        auto certs = ParseCertificates(credentials.client_cert_pem, "client certificate");
        if (!certs.ok()) return certs.status();
        auto parsed_key = ParsePrivateKey(credentials.client_key_pem, "client key");
        if (!parsed_key.ok()) return parsed_key.status();
        chain = std::move(*certs);
        key = std::move(*parsed_key);
        tls.client_chain = &chain;
        tls.client_key = key.get();
      }
      auto tls_client = NewTlsClient(tls);
      if (!tls_client.ok()) return tls_client.status();
      std::unique_ptr<httplib::SSLClient> ssl = std::move(*tls_client);
      if (name != address_.host) {
        auto address = ResolveHost(address_.host);
        if (!address.ok()) return address.status();
        ssl->set_hostname_addr_map({{name, *address}});
      }
      client = std::move(ssl);
    }
    client->set_connection_timeout(options_.connect_timeout);
    client->set_read_timeout(streaming ? options_.stream_read_timeout : options_.read_timeout);
    client->set_write_timeout(options_.write_timeout);
    // httplib writes a request's headers and its body separately: with Nagle's algorithm the body
    // waits for the ACK of the headers, which the server delays (~40 ms) while it waits for the
    // body. Every write to the API server took 40 ms longer than its work.
    client->set_tcp_nodelay(true);
    client->set_url_encode(false);  // the client escapes paths and queries itself
    client->set_keep_alive(!streaming);
    return client;
  }

  // A pooled client for `credentials`, or a new one. Clients are not shared while in use
  // (httplib serializes requests on one client); a change of client certificate empties the pool.
  Result<std::unique_ptr<httplib::ClientImpl>> Acquire(const Credentials& credentials) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (CertificateOf(credentials) != pool_certificate_) {
        idle_.clear();
        pool_certificate_ = CertificateOf(credentials);
      }
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return client;
      }
    }
    return NewClient(credentials, /*streaming=*/false);
  }

  void Release(std::unique_ptr<httplib::ClientImpl> client, const Credentials& credentials) {
    constexpr size_t kMaxIdle = 4;
    std::lock_guard<std::mutex> lock(mu_);
    if (CertificateOf(credentials) == pool_certificate_ && idle_.size() < kMaxIdle) {
      idle_.push_back(std::move(client));
    }
  }

  static std::string CertificateOf(const Credentials& credentials) {
    return credentials.client_cert_pem + credentials.client_key_pem;
  }

  Result<HttpResponse> Exchange(const HttpRequest& request, const Credentials& credentials,
                                const ChunkHandler* on_chunk, Cancellation* cancel) {
    const bool streaming = on_chunk != nullptr;
    if (cancel != nullptr && cancel->cancelled()) return HttpResponse{};
    const ScopedSigpipeBlock no_sigpipe;
    auto client = streaming ? NewClient(credentials, true) : Acquire(credentials);
    if (!client.ok()) return client.status();

    httplib::Request req;
    req.method = request.method;
    req.path = address_.path_prefix + request.path_and_query;
    req.headers = {{"Accept", "application/json"}, {"User-Agent", options_.user_agent}};
    if (!credentials.bearer_token.empty()) {
      req.headers.emplace("Authorization", "Bearer " + credentials.bearer_token);
    }
    if (!request.content_type.empty()) req.headers.emplace("Content-Type", request.content_type);
    req.body = request.body;

    HttpResponse response;
    bool stopped_by_handler = false;
    if (streaming) {
      req.response_handler = [&response](const httplib::Response& head) {
        response.status = head.status;
        response.content_type = Header(head.headers, "Content-Type");
        response.retry_after = Header(head.headers, "Retry-After");
        return true;
      };
      req.content_receiver = [&](const char* data, size_t size, uint64_t /*offset*/,
                                 uint64_t /*total*/) {
        if (!IsSuccess(response.status)) {
          constexpr size_t kMaxErrorBody = size_t{64} * 1024;
          if (response.body.size() < kMaxErrorBody) response.body.append(data, size);
          return true;
        }
        if (cancel != nullptr && cancel->cancelled()) return false;
        if (!(*on_chunk)(std::string_view(data, size))) {
          stopped_by_handler = true;
          return false;
        }
        return true;
      };
      if (cancel != nullptr) {
        httplib::ClientImpl* raw = client->get();
        cancel->SetHook([raw] { raw->stop(); });
      }
    }
    httplib::Result result = (*client)->send(req);
    if (cancel != nullptr && streaming) cancel->ClearHook();

    if (streaming && (stopped_by_handler || (cancel != nullptr && cancel->cancelled()))) {
      return response;
    }
    if (!result) {
      std::string message = "HTTP " + request.method + " " + config_.server + ": " +
                            httplib::to_string(result.error());
      if (result.error() == httplib::Error::SSLServerVerification && address_.https) {
        const int64_t verify =
            static_cast<httplib::SSLClient*>(client->get())->get_openssl_verify_result();
        if (verify != X509_V_OK)
          message += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      }
      ERR_clear_error();
      return UnavailableError(std::move(message));
    }
    if (!streaming) {
      response.status = result->status;
      response.content_type = Header(result->headers, "Content-Type");
      response.retry_after = Header(result->headers, "Retry-After");
      response.body = std::move(result->body);
      Release(std::move(*client), credentials);
    }
    return response;
  }

  const HttpUrl address_;
  const ClusterConfig config_;
  const HttpTransportOptions options_;
  const std::unique_ptr<TrustedCas> cas_;  // null: the system's roots

  std::mutex mu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle_;  // guarded by mu_
  std::string pool_certificate_;                            // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> NewHttpTransport(const ClusterConfig& config,
                                                        const HttpTransportOptions& options) {
  auto address = ParseHttpUrl(config.server, "server");
  if (!address.ok()) return address.status();
  if (!config.credentials) return InvalidArgumentError(config.source + ": no credential source");
  std::unique_ptr<TrustedCas> cas;
  if (!config.ca_pem.empty() && !config.insecure_skip_tls_verify) {
    auto certs = ParseCertificates(config.ca_pem, config.source + ": certificate authority");
    if (!certs.ok()) return certs.status();
    cas = std::make_unique<TrustedCas>(std::move(*certs));
  }
  return std::unique_ptr<HttpTransport>(
      std::make_unique<HttplibTransport>(std::move(*address), config, options, std::move(cas)));
}

}  // namespace nines::kube
