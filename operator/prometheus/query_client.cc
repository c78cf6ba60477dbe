#include "operator/prometheus/query_client.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <mutex>

#include "operator/base/http_url.h"
#include "operator/base/sigpipe.h"
#include "operator/base/tls_client.h"
#include "operator/prometheus/query_response.h"
#include "operator/prometheus/secret_file.h"

// Debian's libcpp-httplib is built with OpenSSL support; the define changes httplib's types, so
// it must match here (see CMakeLists.txt).
#include <httplib.h>

namespace nines::prometheus {
namespace {

// A query result that no status loop needs; a larger body is a wrong query (a whole TSDB's worth
// of series), and reading it would only cost memory.
constexpr size_t kMaxResponseBytes = size_t{64} * 1024 * 1024;
// Idle keep-alive connections kept for the next queries; a status loop runs a handful at a time.
constexpr size_t kMaxIdleConnections = 4;

Result<std::string> ReadFile(const std::string& path, const std::string& setting) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return InvalidArgumentError(setting + ": cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  if (stream.bad()) return InvalidArgumentError(setting + ": error reading " + path);
  return text;
}

// Every certificate in the PEM file at `path`, in order.
Result<std::vector<X509Ptr>> ReadCertificates(const std::string& path, const std::string& setting) {
  auto pem = ReadFile(path, setting);
  if (!pem.ok()) return pem.status();
  return ParseCertificates(*pem, setting + " " + path);
}

Result<KeyPtr> ReadPrivateKey(const std::string& path, const std::string& setting) {
  auto pem = ReadFile(path, setting);
  if (!pem.ok()) return pem.status();
  return ParsePrivateKey(*pem, setting + " " + path);
}

// application/x-www-form-urlencoded, escaping all but RFC 3986's unreserved characters.
std::string FormEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      escaped.push_back(c);
    } else {
      escaped.push_back('%');
      escaped.push_back(kHex[byte >> 4]);
      escaped.push_back(kHex[byte & 0xf]);
    }
  }
  return escaped;
}

// Milliseconds as decimal seconds ("1700000000.123"), which every Prometheus-compatible API reads
// for both `time` and `timeout`.
std::string DecimalSeconds(int64_t milliseconds) {
  const char* sign = milliseconds < 0 ? "-" : "";
  const uint64_t magnitude =
      milliseconds < 0 ? uint64_t{0} - static_cast<uint64_t>(milliseconds) : milliseconds;
  std::string fraction = std::to_string(magnitude % 1000);
  fraction.insert(0, 3 - fraction.size(), '0');
  return sign + std::to_string(magnitude / 1000) + "." + fraction;
}

std::string Base64(std::string_view text) {
  std::string encoded(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  encoded.resize(length);
  return encoded;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110's token: what a header name may be made of.
bool IsHeaderName(std::string_view name) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

// A value that cannot end the header early or smuggle in another one.
bool IsHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// `message` with every secret replaced (a server may echo a request header in its error page).
// One pass, longest match first, so that a secret is never looked for inside a replacement.
std::string Redact(std::string_view message, const std::vector<std::string>& secrets) {
  std::string redacted;
  redacted.reserve(message.size());
  size_t at = 0;
  while (at < message.size()) {
    size_t longest = 0;
    for (const std::string& secret : secrets) {
      if (secret.size() > longest && message.substr(at).starts_with(secret)) {
        longest = secret.size();
      }
    }
    if (longest > 0) {
      redacted += "<redacted>";
      at += longest;
    } else {
      redacted.push_back(message[at++]);
    }
  }
  return redacted;
}

std::string TransportError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connecting timed out";
    case httplib::Error::Read:
      return "reading the response failed or timed out";
    case httplib::Error::Write:
      return "sending the request failed or timed out";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's certificate is not trusted";
    default:
      return "HTTP client error " + httplib::to_string(error);
  }
}

// Everything NewHttpQueryClient checked and read.
struct ClientConfig {
  HttpUrl url;
  std::string endpoint;  // the URL queried, for messages
  std::chrono::milliseconds timeout{};
  std::string user_agent;
  std::vector<std::pair<std::string, std::string>> headers;
  std::unique_ptr<SecretFile> bearer_token;
  std::string basic_auth_username;
  std::unique_ptr<SecretFile> basic_auth_password;
  bool insecure_skip_tls_verify = false;
  std::unique_ptr<TrustedCas> cas;  // null: the system's roots
  std::vector<X509Ptr> client_chain;
  KeyPtr client_key;
};

class HttpQueryClient final : public QueryClient {
 public:
  explicit HttpQueryClient(ClientConfig config) : config_(std::move(config)) {}

  Result<QueryResult> Query(std::string_view promql,
                            std::optional<std::chrono::system_clock::time_point> at) override {
    if (promql.empty()) return InvalidArgumentError("query: empty");
    std::string form = "query=" + FormEscape(promql);
    if (at) {
      form += "&time=" + DecimalSeconds(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            at->time_since_epoch())
                                            .count());
    }
    // The server is asked to stop a tenth earlier than the client would, so that a slow query
    // comes back as the server's own timeout error, which says which step took the time.
    form += "&timeout=" + DecimalSeconds(std::max<int64_t>(config_.timeout.count() * 9 / 10, 1));

    SecretFile* secret_file =
        config_.bearer_token ? config_.bearer_token.get() : config_.basic_auth_password.get();
    std::vector<std::string> secrets;  // every secret sent, to keep them out of messages
    std::string secret = secret_file != nullptr ? secret_file->Get() : "";
    auto response = Post(form, secret, &secrets);
    // A 401 has no effect on the server, so repeating it with a rotated secret is safe.
    if (response.ok() && response->status == 401 && secret_file != nullptr &&
        secret_file->RereadAfterRejection(secret)) {
      secret = secret_file->Get();
      response = Post(form, secret, &secrets);
    }
    if (!response.ok()) return response.status();
    auto result = ParseQueryResponse(response->status, response->body);
    if (!result.ok()) {
      return Status(result.status().code(),
                    Redact(config_.endpoint + ": " + result.status().message(), secrets));
    }
    return result;
  }

 private:
  struct RawResponse {
    int status = 0;
    std::string body;
  };

  std::string Authorization(const std::string& secret) const {
    if (config_.bearer_token) return "Bearer " + secret;
    if (config_.basic_auth_password) {
      return "Basic " + Base64(config_.basic_auth_username + ":" + secret);
    }
    return "";
  }

  Result<RawResponse> Post(const std::string& form, const std::string& secret,
                           std::vector<std::string>* secrets) {
    const std::string authorization = Authorization(secret);
    if (!authorization.empty()) {
      secrets->push_back(secret);
      // The header's value too: a basic-auth one is the password, merely encoded.
      secrets->push_back(authorization.substr(authorization.find(' ') + 1));
    }
    const ScopedSigpipeBlock no_sigpipe;
    auto client = Acquire();
    if (!client.ok()) return client.status();

    httplib::Request request;
    request.method = "POST";
    request.path = config_.url.path_prefix + "/api/v1/query";
    request.headers = {{"Accept", "application/json"},
                       {"User-Agent", config_.user_agent},
                       {"Content-Type", "application/x-www-form-urlencoded"}};
    for (const auto& [name, value] : config_.headers) request.headers.emplace(name, value);
    if (!authorization.empty()) request.headers.emplace("Authorization", authorization);
    request.body = form;

    // httplib's timeouts bound each connect, read and write; this bounds the whole body, which a
    // server trickling bytes could otherwise stretch without end.
    const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
    std::string body;
    bool too_large = false;
    bool too_slow = false;
    request.content_receiver = [&](const char* data, size_t size, uint64_t /*offset*/,
                                   uint64_t /*total*/) {
      if (body.size() + size > kMaxResponseBytes) {
        too_large = true;
        return false;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        too_slow = true;
        return false;
      }
      body.append(data, size);
      return true;
    };

    ERR_clear_error();  // so that a failed handshake's reason, below, is this request's
    httplib::Result result = (*client)->send(request);
    if (!result) {
      std::string message;
      if (too_large) {
        message = "the response is larger than " + std::to_string(kMaxResponseBytes >> 20) + " MiB";
      } else if (too_slow) {
        message = "no complete response within the timeout";
      } else {
        message = TransportError(result.error());
        if (result.error() == httplib::Error::SSLServerVerification && config_.url.https) {
          const int64_t verify =
              static_cast<httplib::SSLClient*>(client->get())->get_openssl_verify_result();
          // httplib checks the name itself, after a chain that OpenSSL found good.
          message += verify != X509_V_OK
                         ? std::string(" (") + X509_verify_cert_error_string(verify) + ")"
                         : " (it is not issued for " + config_.url.host + ")";
        } else if (const char* reason = ERR_reason_error_string(ERR_peek_error())) {
          // What TLS said, e.g. the server's alert when it wanted a client certificate.
          message += std::string(" (") + reason + ")";
        }
      }
      ERR_clear_error();
      const StatusCode code = too_large ? StatusCode::kInternal : StatusCode::kUnavailable;
      return Status(code, Redact(config_.endpoint + ": " + message, *secrets));
    }
    Release(std::move(*client));
    return RawResponse{result->status, std::move(body)};
  }

  Result<std::unique_ptr<httplib::ClientImpl>> NewClient() const {
    std::unique_ptr<httplib::ClientImpl> client;
    if (!config_.url.https) {
      client = std::make_unique<httplib::ClientImpl>(config_.url.host, config_.url.port);
    } else {
      auto ssl = NewTlsClient({.host = config_.url.host,
                               .port = config_.url.port,
                               .client_chain = &config_.client_chain,
                               .client_key = config_.client_key.get(),
                               .client_what = "cert_file and key_file",
                               .cas = config_.cas.get(),
                               .insecure_skip_tls_verify = config_.insecure_skip_tls_verify});
      if (!ssl.ok()) return ssl.status();
      client = std::move(*ssl);
    }
    client->set_connection_timeout(config_.timeout);
    client->set_read_timeout(config_.timeout);
    client->set_write_timeout(config_.timeout);
    client->set_url_encode(false);  // the path is ours and already plain
    client->set_keep_alive(true);
    // httplib writes the headers and the form in two sends; on a kept-alive connection Nagle's
    // algorithm would hold the second back until the server's delayed ACK, some 40 ms a query.
    client->set_tcp_nodelay(true);
    return client;
  }

  // An idle client, or a new one. A client is used by one request at a time: httplib serializes
  // requests on one client, and queries from several threads should not wait for each other.
  Result<std::unique_ptr<httplib::ClientImpl>> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return client;
      }
    }
    return NewClient();
  }

  void Release(std::unique_ptr<httplib::ClientImpl> client) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(client));
  }

  const ClientConfig config_;  // before idle_: the clients point at its CAs

  std::mutex mu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle_;  // guarded by mu_
};

Status CheckHeaders(const QueryClientOptions& options) {
  const bool has_auth = !options.bearer_token_file.empty() || !options.basic_auth_username.empty();
  for (const auto& [name, value] : options.headers) {
    const std::string where = "headers[\"" + name + "\"]";
    if (!IsHeaderName(name)) return InvalidArgumentError(where + ": not a header name");
    if (!IsHeaderValue(value)) {
      return InvalidArgumentError(where + ": the value holds a line break or NUL");
    }
    for (const char* reserved :
         {"Content-Type", "Content-Length", "Transfer-Encoding", "Connection"}) {
      if (EqualsIgnoringCase(name, reserved)) {
        return InvalidArgumentError(where + ": set by the client itself");
      }
    }
    if (has_auth && EqualsIgnoringCase(name, "Authorization")) {
      return InvalidArgumentError(where +
                                  ": not together with bearer_token_file or basic_auth_username");
    }
  }
  if (!IsHeaderValue(options.user_agent)) {
    return InvalidArgumentError("user_agent: holds a line break or NUL");
  }
  return Status::Ok();
}

Status CheckAuth(const QueryClientOptions& options) {
  if (!options.bearer_token_file.empty() &&
      (!options.basic_auth_username.empty() || !options.basic_auth_password_file.empty())) {
    return InvalidArgumentError(
        "bearer_token_file: not together with basic_auth_username and basic_auth_password_file");
  }
  if (options.basic_auth_username.empty() && !options.basic_auth_password_file.empty()) {
    return InvalidArgumentError("basic_auth_username: missing (basic_auth_password_file is set)");
  }
  if (!options.basic_auth_username.empty() && options.basic_auth_password_file.empty()) {
    return InvalidArgumentError("basic_auth_password_file: missing (basic_auth_username is set)");
  }
  if (options.basic_auth_username.find(':') != std::string::npos) {
    return InvalidArgumentError("basic_auth_username: must not contain ':'");
  }
  return Status::Ok();
}

Status CheckTls(const QueryClientOptions& options, bool https) {
  if (!https) {
    // Most likely a URL that lost its "s": say so rather than send a token in the clear.
    for (const auto& [setting, set] :
         {std::pair{"ca_file", !options.ca_file.empty()},
          std::pair{"cert_file", !options.cert_file.empty()},
          std::pair{"key_file", !options.key_file.empty()},
          std::pair{"insecure_skip_tls_verify", options.insecure_skip_tls_verify}}) {
      if (set) return InvalidArgumentError(std::string(setting) + ": set, but url is not https://");
    }
  }
  if (options.insecure_skip_tls_verify && !options.ca_file.empty()) {
    // As kubectl: trusting a CA and trusting anyone at once is a mistake worth stopping for.
    return InvalidArgumentError("insecure_skip_tls_verify: not together with ca_file");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return InvalidArgumentError(std::string(options.cert_file.empty() ? "cert_file" : "key_file") +
                                ": missing (cert_file and key_file go together)");
  }
  return Status::Ok();
}

Status ReadTlsFiles(const QueryClientOptions& options, ClientConfig* config) {
  if (!options.ca_file.empty()) {
    auto cas = ReadCertificates(options.ca_file, "ca_file");
    if (!cas.ok()) return cas.status();
    config->cas = std::make_unique<TrustedCas>(std::move(*cas));
  }
  if (!options.cert_file.empty()) {
    auto chain = ReadCertificates(options.cert_file, "cert_file");
    if (!chain.ok()) return chain.status();
    auto key = ReadPrivateKey(options.key_file, "key_file");
    if (!key.ok()) return key.status();
    if (X509_check_private_key(chain->front().get(), key->get()) != 1) {
      ERR_clear_error();
      return InvalidArgumentError("key_file: " + options.key_file +
                                  " is not the key of the certificate in cert_file");
    }
    config->client_chain = std::move(*chain);
    config->client_key = std::move(*key);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<QueryClient>> NewHttpQueryClient(const QueryClientOptions& options) {
  if (options.url.empty()) return InvalidArgumentError("url: missing");
  auto url = ParseHttpUrl(options.url, "url");
  if (!url.ok()) return url.status();
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return InvalidArgumentError("timeout: must be positive");
  }
  if (options.clock == nullptr) return InvalidArgumentError("clock: missing");
  if (Status status = CheckAuth(options); !status.ok()) return status;
  if (Status status = CheckTls(options, url->https); !status.ok()) return status;
  if (Status status = CheckHeaders(options); !status.ok()) return status;

  ClientConfig config;
  config.url = std::move(*url);
  std::string base = options.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  config.endpoint = base + "/api/v1/query";
  config.timeout = options.timeout;
  config.user_agent = options.user_agent;
  config.headers = options.headers;
  config.insecure_skip_tls_verify = options.insecure_skip_tls_verify;
  if (Status status = ReadTlsFiles(options, &config); !status.ok()) return status;
  if (!options.bearer_token_file.empty()) {
    auto token = SecretFile::Open(options.bearer_token_file, "bearer_token_file", options.clock);
    if (!token.ok()) return token.status();
    config.bearer_token = std::move(*token);
  }
  if (!options.basic_auth_password_file.empty()) {
    auto password = SecretFile::Open(options.basic_auth_password_file, "basic_auth_password_file",
                                     options.clock);
    if (!password.ok()) return password.status();
    config.basic_auth_username = options.basic_auth_username;
    config.basic_auth_password = std::move(*password);
  }
  return std::unique_ptr<QueryClient>(std::make_unique<HttpQueryClient>(std::move(config)));
}

}  // namespace nines::prometheus
