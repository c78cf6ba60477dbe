#include "operator/kube/api_error.h"

#include <gtest/gtest.h>

namespace nines::kube {
namespace {

std::string KubeStatus(int code, const std::string& reason, const std::string& message) {
  return nlohmann::json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                        {"code", code},     {"reason", reason},   {"message", message}}
      .dump();
}

TEST(StatusFromHttpTest, MapsEveryStatusTheReconcilerActsOn) {
  const struct {
    std::string reason;
    int http;
    StatusCode want;
  } cases[] = {
      {"BadRequest", 400, StatusCode::kInvalidArgument},
      {"Invalid", 422, StatusCode::kInvalidArgument},
      {"Unauthorized", 401, StatusCode::kForbidden},
      {"Forbidden", 403, StatusCode::kForbidden},
      {"NotFound", 404, StatusCode::kNotFound},
      {"Conflict", 409, StatusCode::kConflict},
      {"AlreadyExists", 409, StatusCode::kAlreadyExists},
      {"Expired", 410, StatusCode::kGone},
      {"TooManyRequests", 429, StatusCode::kUnavailable},
      {"InternalError", 500, StatusCode::kUnavailable},
      {"ServiceUnavailable", 503, StatusCode::kUnavailable},
      {"Timeout", 504, StatusCode::kUnavailable},
  };
  for (const auto& c : cases) {
    const Status status = StatusFromHttp(c.http, KubeStatus(c.http, c.reason, "the message"));
    EXPECT_EQ(status.code(), c.want) << c.http << " " << c.reason;
    EXPECT_EQ(status.message(),
              "HTTP " + std::to_string(c.http) + " " + c.reason + ": the message");
  }
}

TEST(StatusFromHttpTest, KeepsTheStartOfABodyThatIsNotAStatus) {
  const Status status = StatusFromHttp(502, "<html>\nBad gateway</html>");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "HTTP 502: <html> Bad gateway</html>");
}

TEST(StatusFromHttpTest, KeepsRetryAfter) {
  const Status status = StatusFromHttp(429, KubeStatus(429, "TooManyRequests", "slow down"), "7");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "HTTP 429 TooManyRequests: slow down; retry after 7s");
  ASSERT_TRUE(RetryAfter(status).has_value());
  EXPECT_EQ(*RetryAfter(status), std::chrono::seconds(7));
  EXPECT_FALSE(RetryAfter(StatusFromHttp(503, "", "")).has_value());
  // An HTTP date is not a number of seconds: left out rather than misread.
  EXPECT_FALSE(RetryAfter(StatusFromHttp(503, "", "Wed, 21 Oct 2015 07:28:00 GMT")).has_value());
}

TEST(StatusFromKubeStatusTest, MapsAWatchErrorByItsCode) {
  const Status gone = StatusFromKubeStatus(
      nlohmann::json::parse(KubeStatus(410, "Expired", "too old resource version: 1 (200)")));
  EXPECT_EQ(gone.code(), StatusCode::kGone);
  EXPECT_EQ(gone.message(), "HTTP 410 Expired: too old resource version: 1 (200)");
  EXPECT_EQ(
      StatusFromKubeStatus(nlohmann::json::parse(KubeStatus(500, "InternalError", "x"))).code(),
      StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromKubeStatus(nlohmann::json("nonsense")).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace nines::kube
