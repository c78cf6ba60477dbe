// The HTTP query client against an in-process server on 127.0.0.1: what it sends (form fields,
// headers, credentials, the path prefix), how it maps answers and failures, token rotation, and
// TLS with certificates made here with the OpenSSL API (a CA, servers, a client).
#include "operator/prometheus/query_client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "operator/base/clock.h"

// Debian's libcpp-httplib is built with OpenSSL support (see CMakeLists.txt).
#include <httplib.h>

namespace nines::prometheus {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kUpVector[] = R"({"status":"success","data":{"resultType":"vector","result":[
  {"metric":{"__name__":"up","job":"prometheus"},"value":[1700000000.5,"1"]}]}})";

// ---- certificates

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

struct Identity {
  KeyPtr key;
  X509Ptr cert;
};

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  ASSERT_NE(extension, nullptr) << value;
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

// A P-256 key and a certificate for it, valid from an hour ago for a day, signed by `issuer`
// (self-signed when null). `alt_names` makes it a server or client certificate; without it is a CA.
Identity MakeIdentity(const std::string& common_name, const Identity* issuer,
                      const char* alt_names = nullptr, const char* usage = "serverAuth") {
  Identity identity;
  identity.key.reset(EVP_EC_gen("P-256"));
  identity.cert.reset(X509_new());
  X509* cert = identity.cert.get();
  X509_set_version(cert, 2);
  static std::atomic<long> serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  X509_set_pubkey(cert, identity.key.get());
  if (alt_names == nullptr) {
    AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert, issuer_cert, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert, issuer_cert, NID_ext_key_usage, usage);
    AddExtension(cert, issuer_cert, NID_subject_alt_name, alt_names);
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : identity.key.get();
  EXPECT_GT(X509_sign(cert, signer, EVP_sha256()), 0);
  return identity;
}

std::string Pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, size);
  BIO_free(bio);
  return pem;
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, size);
  BIO_free(bio);
  return pem;
}

// ---- servers

// A server on 127.0.0.1 and an ephemeral port, serving on its own thread until destroyed.
class TestServer {
 public:
  explicit TestServer(std::unique_ptr<httplib::Server> server) : server_(std::move(server)) {}
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  ~TestServer() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }

  httplib::Server& operator*() { return *server_; }
  httplib::Server* operator->() { return server_.get(); }

  void Start() {
    server_->set_tcp_nodelay(true);  // as Prometheus (Go) does; a kept-alive answer waits otherwise
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(milliseconds(1));
  }

  std::string Url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

// What the server saw of one request.
struct Seen {
  std::string method;
  std::string path;
  std::string content_type;
  std::string body;
  httplib::Params params;
  httplib::Headers headers;
};

class QueryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nines-prom-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }

  void TearDown() override {
    release_ = true;
    servers_.clear();  // before the members their handlers use
    fs::remove_all(dir_);
  }

  std::string WriteFile(const std::string& name, const std::string& text) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::trunc) << text;
    return path.string();
  }

  // A plain HTTP server that answers the query endpoint under `prefix` with `handler`, recording
  // every request.
  TestServer& Serve(std::function<void(const httplib::Request&, httplib::Response&)> handler,
                    const std::string& prefix = "") {
    return Serve(std::make_unique<httplib::Server>(), std::move(handler), prefix);
  }

  TestServer& Serve(std::unique_ptr<httplib::Server> server,
                    std::function<void(const httplib::Request&, httplib::Response&)> handler,
                    const std::string& prefix = "") {
    servers_.push_back(std::make_unique<TestServer>(std::move(server)));
    TestServer& test_server = *servers_.back();
    test_server->Post(prefix + "/api/v1/query", [this, handler](const httplib::Request& request,
                                                                httplib::Response& response) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back({request.method, request.path, request.get_header_value("Content-Type"),
                         request.body, request.params, request.headers});
      }
      handler(request, response);
    });
    test_server.Start();
    return test_server;
  }

  static void Answer(httplib::Response& response, int status, const std::string& body) {
    response.status = status;
    response.set_content(body, "application/json");
  }

  std::unique_ptr<QueryClient> Client(const QueryClientOptions& options) {
    auto client = NewHttpQueryClient(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  // Lets a handler that holds its response back finish; waits are bounded in any case.
  std::atomic<bool> release_ = false;
  fs::path dir_;
  FakeClock clock_;
  std::mutex mu_;
  std::vector<Seen> seen_;  // guarded by mu_
  std::vector<std::unique_ptr<TestServer>> servers_;
};

std::string HeaderOf(const Seen& seen, const std::string& name) {
  const auto it = seen.headers.find(name);
  return it == seen.headers.end() ? "(none)" : it->second;
}

std::string ParamOf(const Seen& seen, const std::string& name) {
  const auto it = seen.params.find(name);
  return it == seen.params.end() ? "(none)" : it->second;
}

// ---- requests and answers

TEST_F(QueryClientTest, ReturnsTheVectorWithLabels) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  auto result = Client({.url = server.Url()})->Query("up");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->samples.size(), 1u);
  EXPECT_EQ(result->samples[0].labels,
            (std::map<std::string, std::string>{{"__name__", "up"}, {"job", "prometheus"}}));
  EXPECT_EQ(result->samples[0].value, 1);
  EXPECT_EQ(result->samples[0].timestamp,
            std::chrono::system_clock::time_point(milliseconds(1700000000500)));
}

TEST_F(QueryClientTest, PostsQueryTimeAndTimeoutAsFormFields) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  auto client = Client({.url = server.Url(), .timeout = milliseconds(2000)});
  // Characters that a careless encoder breaks: spaces, quotes, braces, '&', '+', '=', '%', UTF-8.
  const std::string promql =
      R"(sum(rate(http_requests_total{code=~"5..",path="/a&b=c+d%"}[5m])) / 2 > 0 # é)";
  const auto at = std::chrono::system_clock::time_point(milliseconds(1700000000250));
  ASSERT_TRUE(client->Query(promql, at).ok());
  ASSERT_TRUE(client->Query("up").ok());

  const std::vector<Seen> requests = seen();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/api/v1/query");
  EXPECT_EQ(requests[0].content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(ParamOf(requests[0], "query"), promql);
  EXPECT_EQ(ParamOf(requests[0], "time"), "1700000000.250");
  // A tenth less than the client's own timeout, so that the server's timeout error comes first.
  EXPECT_EQ(ParamOf(requests[0], "timeout"), "1.800");
  EXPECT_EQ(requests[0].params.size(), 3u);
  EXPECT_EQ(ParamOf(requests[1], "query"), "up");
  EXPECT_EQ(ParamOf(requests[1], "time"), "(none)");  // the server's now
  EXPECT_EQ(HeaderOf(requests[1], "Accept"), "application/json");
  EXPECT_EQ(HeaderOf(requests[1], "User-Agent"), "nines");
  EXPECT_EQ(HeaderOf(requests[1], "Authorization"), "(none)");
}

TEST_F(QueryClientTest, AUrlWithAPathPrefixQueriesUnderIt) {
  TestServer& server =
      Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); }, "/prometheus");
  for (const char* suffix : {"/prometheus", "/prometheus/"}) {
    auto result = Client({.url = server.Url() + suffix})->Query("up");
    EXPECT_TRUE(result.ok()) << suffix << ": " << result.status().ToString();
  }
  ASSERT_EQ(seen().size(), 2u);
  EXPECT_EQ(seen()[0].path, "/prometheus/api/v1/query");
  // Without the prefix the server answers 404 with text: the message says where it asked.
  auto wrong = Client({.url = server.Url()})->Query("up");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInternal);
  EXPECT_EQ(wrong.status().message().rfind(server.Url() + "/api/v1/query: HTTP 404", 0), 0u)
      << wrong.status().message();
}

TEST_F(QueryClientTest, SendsCustomHeadersForTenants) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  auto client = Client({.url = server.Url(),
                        .headers = {{"X-Scope-OrgID", "team-a|team-b"}, {"X-Extra", "1"}},
                        .user_agent = "nines/test"});
  ASSERT_TRUE(client->Query("up").ok());
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_EQ(HeaderOf(seen()[0], "X-Scope-OrgID"), "team-a|team-b");
  EXPECT_EQ(HeaderOf(seen()[0], "X-Extra"), "1");
  EXPECT_EQ(HeaderOf(seen()[0], "User-Agent"), "nines/test");
}

TEST_F(QueryClientTest, EmptyAndScalarResults) {
  std::atomic<int> calls = 0;
  TestServer& server = Serve([&](const auto&, auto& response) {
    Answer(
        response, 200,
        ++calls == 1
            ? R"({"status":"success","data":{"resultType":"vector","result":[]}})"
            : R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}})");
  });
  auto client = Client({.url = server.Url()});
  auto empty = client->Query("absent_metric");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->samples.empty());
  auto scalar = client->Query("1");
  EXPECT_EQ(scalar.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(scalar.status().message().find("scalar"), std::string::npos)
      << scalar.status().message();
}

TEST_F(QueryClientTest, KeepsWarningsOfAPartialResponse) {
  TestServer& server = Serve([](const auto&, auto& response) {
    Answer(response, 200, R"({"status":"success","data":{"resultType":"vector","result":[]},
      "warnings":["partial response: store gateway-1 unavailable"]})");
  });
  auto result = Client({.url = server.Url()})->Query("up");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->warnings,
            std::vector<std::string>{"partial response: store gateway-1 unavailable"});
}

TEST_F(QueryClientTest, BadDataIsInvalidArgumentWithPrometheusMessage) {
  TestServer& server = Serve([](const auto&, auto& response) {
    Answer(
        response, 400,
        R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:4: parse error: unclosed left parenthesis"})");
  });
  auto result = Client({.url = server.Url()})->Query("sum(");
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            server.Url() +
                "/api/v1/query: HTTP 400 bad_data: invalid parameter \"query\": 1:4: parse error: "
                "unclosed left parenthesis");
}

TEST_F(QueryClientTest, UnavailableServersAreUnavailable) {
  TestServer& server = Serve([](const auto&, auto& response) {
    Answer(
        response, 503,
        R"({"status":"error","errorType":"timeout","error":"query timed out in query execution"})");
  });
  auto result = Client({.url = server.Url()})->Query("up");
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("query timed out"), std::string::npos);

  // Nothing listens on port 1.
  auto refused = Client({.url = "http://127.0.0.1:1"})->Query("up");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message(), "http://127.0.0.1:1/api/v1/query: cannot connect");
}

TEST_F(QueryClientTest, ASilentServerTimesOutAsUnavailable) {
  std::atomic<bool> entered = false;
  TestServer& server = Serve([&](const auto&, auto& response) {
    entered = true;
    // Holds the answer back until the test ends (bounded, should TearDown never come).
    for (int i = 0; i < 1000 && !release_; ++i) std::this_thread::sleep_for(milliseconds(10));
    Answer(response, 200, kUpVector);
  });
  auto result = Client({.url = server.Url(), .timeout = milliseconds(200)})->Query("up");
  EXPECT_TRUE(entered);
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("timed out"), std::string::npos)
      << result.status().message();
}

TEST_F(QueryClientTest, ATricklingServerIsCutOffAtTheTimeout) {
  // Every byte comes well within the read timeout, but the body as a whole never ends.
  TestServer& server = Serve([&](const auto&, auto& response) {
    response.set_chunked_content_provider("application/json",
                                          [&](size_t /*offset*/, httplib::DataSink& sink) {
                                            for (int i = 0; i < 1000 && !release_; ++i) {
                                              if (!sink.write(" ", 1)) return false;
                                              std::this_thread::sleep_for(milliseconds(20));
                                            }
                                            sink.done();
                                            return true;
                                          });
  });
  auto result = Client({.url = server.Url(), .timeout = milliseconds(300)})->Query("up");
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(result.status().message(),
            server.Url() + "/api/v1/query: no complete response within the timeout");
}

TEST_F(QueryClientTest, ManyThreadsQueryAtOnce) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  auto client = Client({.url = server.Url()});
  std::atomic<int> ok = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) ok += client->Query("up").ok() ? 1 : 0;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok, 40);
}

// ---- credentials

TEST_F(QueryClientTest, SendsTheBearerTokenTrimmed) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  const std::string token = WriteFile("token", "tok-1\n");
  ASSERT_TRUE(Client({.url = server.Url(), .bearer_token_file = token})->Query("up").ok());
  EXPECT_EQ(HeaderOf(seen()[0], "Authorization"), "Bearer tok-1");
}

TEST_F(QueryClientTest, SendsBasicAuthWithThePasswordFromTheFile) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  const std::string password = WriteFile("password", "s3cret\n");
  ASSERT_TRUE(Client({.url = server.Url(),
                      .basic_auth_username = "alice",
                      .basic_auth_password_file = password})
                  ->Query("up")
                  .ok());
  EXPECT_EQ(HeaderOf(seen()[0], "Authorization"), "Basic YWxpY2U6czNjcmV0");  // alice:s3cret
}

TEST_F(QueryClientTest, A401RereadsARotatedTokenAndTriesOnceMore) {
  TestServer& server = Serve([](const httplib::Request& request, auto& response) {
    if (request.get_header_value("Authorization") == "Bearer new") {
      Answer(response, 200, kUpVector);
    } else {
      Answer(response, 401, "Unauthorized");
    }
  });
  const std::string token = WriteFile("token", "old");
  auto client = Client({.url = server.Url(), .bearer_token_file = token, .clock = &clock_});
  WriteFile("token", "new\n");  // rotated; not a minute later, but the 401 forces a re-read
  auto result = client->Query("up");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(seen().size(), 2u);
  EXPECT_EQ(HeaderOf(seen()[0], "Authorization"), "Bearer old");
  EXPECT_EQ(HeaderOf(seen()[1], "Authorization"), "Bearer new");
}

TEST_F(QueryClientTest, A401WithAnUnchangedTokenIsForbiddenAfterOneRequest) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 401, "no"); });
  const std::string token = WriteFile("token", "old");
  auto client = Client({.url = server.Url(), .bearer_token_file = token, .clock = &clock_});
  auto result = client->Query("up");
  EXPECT_EQ(result.status().code(), StatusCode::kForbidden);
  EXPECT_EQ(seen().size(), 1u);
  // Rotated, and the new one is refused too: one more request, not a loop.
  WriteFile("token", "newer");
  EXPECT_EQ(client->Query("up").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(seen().size(), 3u);
}

TEST_F(QueryClientTest, A403IsForbiddenWithoutARetry) {
  TestServer& server = Serve([](const auto&, auto& response) {
    Answer(response, 403, R"({"status":"error","errorType":"forbidden","error":"no tenant"})");
  });
  const std::string token = WriteFile("token", "tok");
  auto result = Client({.url = server.Url(), .bearer_token_file = token})->Query("up");
  EXPECT_EQ(result.status().code(), StatusCode::kForbidden);
  EXPECT_NE(result.status().message().find("no tenant"), std::string::npos);
  EXPECT_EQ(seen().size(), 1u);
}

TEST_F(QueryClientTest, ATokenRotatedWithoutA401IsPickedUpAfterAMinute) {
  TestServer& server = Serve([](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  const std::string token = WriteFile("token", "old");
  auto client = Client({.url = server.Url(), .bearer_token_file = token, .clock = &clock_});
  WriteFile("token", "new");
  ASSERT_TRUE(client->Query("up").ok());
  clock_.Advance(seconds(61));
  ASSERT_TRUE(client->Query("up").ok());
  ASSERT_EQ(seen().size(), 2u);
  EXPECT_EQ(HeaderOf(seen()[0], "Authorization"), "Bearer old");
  EXPECT_EQ(HeaderOf(seen()[1], "Authorization"), "Bearer new");
}

TEST_F(QueryClientTest, SecretsNeverAppearInErrorMessages) {
  // A careless proxy that echoes the request's credentials in its error page.
  std::atomic<int> status = 401;
  TestServer& server = Serve([&](const httplib::Request& request, auto& response) {
    response.status = status;
    response.set_content("denied for " + request.get_header_value("Authorization"), "text/plain");
  });
  const std::string token = WriteFile("token", "very-secret-token\n");
  const std::string password = WriteFile("password", "hunter2-password\n");
  auto bearer = Client({.url = server.Url(), .bearer_token_file = token});
  auto basic = Client(
      {.url = server.Url(), .basic_auth_username = "alice", .basic_auth_password_file = password});
  for (const int code : {401, 500}) {
    status = code;
    auto result = bearer->Query("up");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().message().find("very-secret-token"), std::string::npos)
        << result.status().message();
    EXPECT_NE(result.status().message().find("denied for Bearer <redacted>"), std::string::npos)
        << result.status().message();
    result = basic->Query("up");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().message().find("hunter2"), std::string::npos);
    EXPECT_EQ(result.status().message().find("YWxpY2U6aHVudGVyMi1wYXNzd29yZA=="), std::string::npos)
        << result.status().message();
  }
  // A secret that is part of the word replacing it is replaced once, not for ever.
  const std::string short_token = WriteFile("short-token", "dact");
  auto result = Client({.url = server.Url(), .bearer_token_file = short_token})->Query("up");
  EXPECT_NE(result.status().message().find("denied for Bearer <redacted>"), std::string::npos)
      << result.status().message();
}

// ---- options

TEST(NewHttpQueryClientTest, BadOptionsAreInvalidArgumentNamingTheOption) {
  const fs::path dir =
      fs::temp_directory_path() / ("nines-prom-options-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string token = (dir / "token").string();
  std::ofstream(token) << "tok";
  const std::string empty = (dir / "empty").string();
  std::ofstream(empty) << "\n";
  const std::string not_pem = (dir / "not-pem").string();
  std::ofstream(not_pem) << "not a certificate";
  const std::string missing = (dir / "missing").string();

  struct Case {
    QueryClientOptions options;
    const char* option;
  };
  const std::string https = "https://prometheus:9090";
  const std::vector<Case> cases = {
      {{.url = ""}, "url"},
      {{.url = "prometheus:9090"}, "url"},
      {{.url = "https://u:p@prometheus"}, "url"},
      {{.url = https, .timeout = milliseconds(0)}, "timeout"},
      {{.url = https, .clock = nullptr}, "clock"},
      {{.url = https, .bearer_token_file = missing}, "bearer_token_file"},
      {{.url = https, .bearer_token_file = empty}, "bearer_token_file"},
      {{.url = https,
        .bearer_token_file = token,
        .basic_auth_username = "a",
        .basic_auth_password_file = token},
       "bearer_token_file"},
      {{.url = https, .basic_auth_username = "a"}, "basic_auth_password_file"},
      {{.url = https, .basic_auth_password_file = token}, "basic_auth_username"},
      {{.url = https, .basic_auth_username = "a:b", .basic_auth_password_file = token},
       "basic_auth_username"},
      {{.url = https, .basic_auth_username = "a", .basic_auth_password_file = missing},
       "basic_auth_password_file"},
      {{.url = https, .ca_file = missing}, "ca_file"},
      {{.url = https, .ca_file = not_pem}, "ca_file"},
      {{.url = https, .cert_file = not_pem}, "key_file"},
      {{.url = https, .key_file = not_pem}, "cert_file"},
      {{.url = https, .cert_file = not_pem, .key_file = not_pem}, "cert_file"},
      {{.url = https, .ca_file = not_pem, .insecure_skip_tls_verify = true},
       "insecure_skip_tls_verify"},
      {{.url = "http://prometheus", .ca_file = token}, "ca_file"},
      {{.url = "http://prometheus", .insecure_skip_tls_verify = true}, "insecure_skip_tls_verify"},
      {{.url = https, .headers = {{"X Bad", "1"}}}, "headers[\"X Bad\"]"},
      {{.url = https, .headers = {{"X-Scope-OrgID", "a\r\nInjected: 1"}}},
       "headers[\"X-Scope-OrgID\"]"},
      {{.url = https, .headers = {{"content-type", "text/plain"}}}, "headers[\"content-type\"]"},
      {{.url = https, .bearer_token_file = token, .headers = {{"Authorization", "Bearer x"}}},
       "headers[\"Authorization\"]"},
      {{.url = https, .user_agent = "a\nb"}, "user_agent"},
  };
  for (const Case& c : cases) {
    auto client = NewHttpQueryClient(c.options);
    EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << c.option;
    EXPECT_TRUE(client.status().message().starts_with(c.option))
        << c.option << ": " << client.status().message();
  }
  // What is allowed: an Authorization header when the client sends none itself, no credentials.
  EXPECT_TRUE(NewHttpQueryClient({.url = https, .headers = {{"Authorization", "Bearer x"}}}).ok());
  fs::remove_all(dir);
}

// ---- TLS

class QueryClientTlsTest : public QueryClientTest {
 protected:
  void SetUp() override {
    QueryClientTest::SetUp();
    ca_ = MakeIdentity("nines test CA", nullptr);
    other_ca_ = MakeIdentity("another CA", nullptr);
    server_ = MakeIdentity("127.0.0.1", &ca_, "IP:127.0.0.1,DNS:localhost");
    client_ = MakeIdentity("nines", &ca_, "DNS:nines", "clientAuth");
    ca_file_ = WriteFile("ca.pem", Pem(ca_.cert.get()));
    other_ca_file_ = WriteFile("other-ca.pem", Pem(other_ca_.cert.get()));
  }

  // An HTTPS server with `identity`'s certificate; requiring a client certificate from ca_ when
  // `mutual`.
  TestServer& ServeTls(const Identity& identity, bool mutual = false) {
    X509_STORE* client_cas = nullptr;
    if (mutual) {
      client_cas = X509_STORE_new();  // the server takes it over
      X509_STORE_add_cert(client_cas, ca_.cert.get());
    }
    auto server =
        std::make_unique<httplib::SSLServer>(identity.cert.get(), identity.key.get(), client_cas);
    EXPECT_TRUE(server->is_valid());
    return Serve(std::move(server),
                 [](const auto&, auto& response) { Answer(response, 200, kUpVector); });
  }

  Identity ca_, other_ca_, server_, client_;
  std::string ca_file_, other_ca_file_;
};

TEST_F(QueryClientTlsTest, TrustsAServerSignedByTheGivenCa) {
  TestServer& server = ServeTls(server_);
  auto result = Client({.url = server.Url("https"), .ca_file = ca_file_})->Query("up");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->samples.size(), 1u);
  // In a bundle, after an unrelated CA.
  const std::string bundle =
      WriteFile("bundle.pem", Pem(other_ca_.cert.get()) + Pem(ca_.cert.get()));
  result = Client({.url = server.Url("https"), .ca_file = bundle})->Query("up");
  EXPECT_TRUE(result.ok()) << result.status().ToString();
}

TEST_F(QueryClientTlsTest, RejectsAServerSignedByAnotherCa) {
  TestServer& server = ServeTls(server_);
  auto result = Client({.url = server.Url("https"), .ca_file = other_ca_file_})->Query("up");
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("not trusted"), std::string::npos)
      << result.status().message();
  EXPECT_TRUE(seen().empty());
}

TEST_F(QueryClientTlsTest, WithoutACaOnlyTheSystemRootsAreTrusted) {
  TestServer& server = ServeTls(server_);
  auto result = Client({.url = server.Url("https")})->Query("up");
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(seen().empty());
}

TEST_F(QueryClientTlsTest, RejectsACertificateForAnotherName) {
  const Identity elsewhere = MakeIdentity("example.org", &ca_, "DNS:example.org");
  TestServer& server = ServeTls(elsewhere);
  auto result = Client({.url = server.Url("https"), .ca_file = ca_file_})->Query("up");
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("not trusted (it is not issued for 127.0.0.1)"),
            std::string::npos)
      << result.status().message();
  EXPECT_TRUE(seen().empty());
}

TEST_F(QueryClientTlsTest, InsecureSkipVerifyIsAnExplicitOptIn) {
  TestServer& server = ServeTls(server_);
  auto result = Client({.url = server.Url("https"), .insecure_skip_tls_verify = true})->Query("up");
  EXPECT_TRUE(result.ok()) << result.status().ToString();
}

TEST_F(QueryClientTlsTest, MutualTlsSendsTheClientCertificate) {
  TestServer& server = ServeTls(server_, /*mutual=*/true);
  const std::string cert = WriteFile("client.pem", Pem(client_.cert.get()));
  const std::string key = WriteFile("client-key.pem", Pem(client_.key.get()));
  auto result =
      Client({.url = server.Url("https"), .ca_file = ca_file_, .cert_file = cert, .key_file = key})
          ->Query("up");
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  auto without = Client({.url = server.Url("https"), .ca_file = ca_file_})->Query("up");
  EXPECT_EQ(without.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(seen().size(), 1u);
}

TEST_F(QueryClientTlsTest, AKeyThatIsNotTheCertificatesIsRefused) {
  const std::string cert = WriteFile("client.pem", Pem(client_.cert.get()));
  const std::string key = WriteFile("other-key.pem", Pem(other_ca_.key.get()));
  auto client =
      NewHttpQueryClient({.url = "https://127.0.0.1:1", .cert_file = cert, .key_file = key});
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(client.status().message().starts_with("key_file:")) << client.status().message();
}

}  // namespace
}  // namespace nines::prometheus
