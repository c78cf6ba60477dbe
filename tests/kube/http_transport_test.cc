// The httplib transport against a local plain-HTTP server: headers, bodies, 401 handling with a
// rotating token, streaming and cancellation. TLS is exercised against the real API server
// (client_e2e_test.cc).
#include "operator/kube/http_transport.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace nines::kube {
namespace {

namespace fs = std::filesystem;

class HttpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.set_tcp_nodelay(true);  // as the API server (Go) has it
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    token_file_ = fs::temp_directory_path() /
                  ("nines-transport-" + std::to_string(getpid()) + "-" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    WriteToken("old");
  }

  void TearDown() override {
    release_ = true;
    server_.stop();
    thread_.join();
    fs::remove(token_file_);
  }

  void WriteToken(const std::string& token) { std::ofstream(token_file_) << token; }

  std::unique_ptr<HttpTransport> Transport() {
    ClusterConfig config;
    config.server = "http://127.0.0.1:" + std::to_string(port_);
    config.credentials = FileTokenCredentials(token_file_.string(), nullptr);
    auto transport = NewHttpTransport(config, {.connect_timeout = std::chrono::seconds(2),
                                               .read_timeout = std::chrono::seconds(5),
                                               .stream_read_timeout = std::chrono::seconds(5)});
    EXPECT_TRUE(transport.ok()) << transport.status().ToString();
    return std::move(*transport);
  }

  // Lets a handler that holds its response open finish. A member, not a local of the test: the
  // server's thread may look at it after the test body has returned.
  std::atomic<bool> release_ = false;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  fs::path token_file_;
};

TEST_F(HttpTransportTest, SendsMethodPathHeadersAndBody) {
  std::string seen;
  server_.Put("/api/v1/x", [&](const httplib::Request& request, httplib::Response& response) {
    seen = request.method + " " + request.target + " " + request.get_header_value("Content-Type") +
           " " + request.get_header_value("Authorization") + " " +
           request.get_header_value("Accept") + " " + request.body;
    response.set_header("Retry-After", "4");
    response.status = 429;
    response.set_content(R"({"kind":"Status"})", "application/json");
  });
  auto response = Transport()->Send(
      {"PUT", "/api/v1/x?fieldManager=nines&a=%2F", "application/json", R"({"a":1})"});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(seen,
            "PUT /api/v1/x?fieldManager=nines&a=%2F application/json Bearer old application/json "
            R"({"a":1})");
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->retry_after, "4");
  EXPECT_EQ(response->content_type, "application/json");
  EXPECT_EQ(response->body, R"({"kind":"Status"})");
}

TEST_F(HttpTransportTest, A401RereadsTheRotatedTokenAndTriesOnceMore) {
  std::atomic<int> calls = 0;
  server_.Get("/api", [&](const httplib::Request& request, httplib::Response& response) {
    ++calls;
    response.status = request.get_header_value("Authorization") == "Bearer new" ? 200 : 401;
    response.set_content("{}", "application/json");
  });
  auto transport = Transport();
  ASSERT_EQ(transport->Send({"GET", "/api", "", ""})->status, 401);  // same token: no retry
  EXPECT_EQ(calls, 1);
  WriteToken("new");  // rotated; the cached token is not a minute old, but the 401 forces a read
  auto response = transport->Send({"GET", "/api", "", ""});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(calls, 3);
}

TEST_F(HttpTransportTest, StreamsChunksAndCollectsErrorBodies) {
  server_.Get("/watch", [](const httplib::Request&, httplib::Response& response) {
    response.set_chunked_content_provider("application/json",
                                          [](size_t offset, httplib::DataSink& sink) {
                                            if (offset > 0) {
                                              sink.done();
                                              return true;
                                            }
                                            sink.write("line 1\n", 7);
                                            sink.write("line 2\n", 7);
                                            return true;
                                          });
  });
  server_.Get("/denied", [](const httplib::Request&, httplib::Response& response) {
    response.status = 403;
    response.set_content(R"({"kind":"Status","code":403})", "application/json");
  });
  auto transport = Transport();
  std::string streamed;
  auto response = transport->Stream(
      {"GET", "/watch", "", ""},
      [&](std::string_view chunk) {
        streamed += chunk;
        return true;
      },
      nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(streamed, "line 1\nline 2\n");
  EXPECT_EQ(response->body, "");

  streamed.clear();
  response = transport->Stream(
      {"GET", "/denied", "", ""},
      [&](std::string_view chunk) {
        streamed += chunk;
        return true;
      },
      nullptr);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 403);
  EXPECT_EQ(streamed, "");
  EXPECT_EQ(response->body, R"({"kind":"Status","code":403})");
}

TEST_F(HttpTransportTest, CancelStopsAStreamBlockedOnAQuietServer) {
  server_.Get("/quiet", [&](const httplib::Request&, httplib::Response& response) {
    response.set_chunked_content_provider(
        "application/json", [&](size_t offset, httplib::DataSink& sink) {
          if (offset == 0) sink.write("first\n", 6);
          // Then nothing, as a watch with no changes.
          while (!release_) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
          sink.done();
          return true;
        });
  });
  auto transport = Transport();
  Cancellation cancel;
  std::atomic<bool> got_first = false;
  Result<HttpResponse> response = InternalError("not run");
  const auto start = std::chrono::steady_clock::now();
  std::thread streamer([&] {
    response = transport->Stream(
        {"GET", "/quiet", "", ""},
        [&](std::string_view /*chunk*/) {
          got_first = true;
          return true;
        },
        &cancel);
  });
  while (!got_first) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  cancel.Cancel();
  streamer.join();
  release_ = true;
  EXPECT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(HttpTransportTest, TransportErrorsAreUnavailable) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";  // nothing listens there
  config.credentials = StaticCredentials({});
  auto transport = NewHttpTransport(config);
  ASSERT_TRUE(transport.ok());
  auto response = (*transport)->Send({"GET", "/api", "", ""});
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(), "HTTP GET http://127.0.0.1:1: Connection");
}

TEST(NewHttpTransportTest, RejectsWhatItCannotUse) {
  ClusterConfig config;
  config.credentials = StaticCredentials({});
  for (const char* server : {"ftp://h", "https://", "https://h:0", "https://h:x", "https://[::1"}) {
    config.server = server;
    EXPECT_EQ(NewHttpTransport(config).status().code(), StatusCode::kInvalidArgument) << server;
  }
  config.server = "https://h";
  config.ca_pem = "not a certificate";
  EXPECT_EQ(NewHttpTransport(config).status().code(), StatusCode::kInvalidArgument);
  config.ca_pem.clear();
  config.credentials = nullptr;
  EXPECT_EQ(NewHttpTransport(config).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nines::kube
