// The query client against a real Prometheus: skipped unless NINES_E2E_PROMETHEUS_URL names one
// that scrapes itself (job "prometheus"). With the config beside this file, from the repository:
//
//   dir=$(mktemp -d)
//   prometheus --config.file=tests/prometheus/e2e_prometheus.yml --storage.tsdb.path=$dir
//       --web.listen-address=127.0.0.1:19090 --web.route-prefix=/prom
//       --web.external-url=http://127.0.0.1:19090/prom &
//   NINES_E2E_PROMETHEUS_URL=http://127.0.0.1:19090/prom build/nines_tests
//       --gtest_filter='QueryClientE2e*'
//
// (each command on one line). The first scrape is waited for, up to a bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "operator/prometheus/query_client.h"

namespace nines::prometheus {
namespace {

using std::chrono::seconds;

class QueryClientE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("NINES_E2E_PROMETHEUS_URL");  // NOLINT(concurrency-mt-unsafe)
    if (url == nullptr || *url == '\0') GTEST_SKIP() << "NINES_E2E_PROMETHEUS_URL is not set";
    auto client = NewHttpQueryClient({.url = url, .timeout = seconds(10)});
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
  }

  // The samples of `promql` once it has any: the server may not have scraped itself yet.
  QueryResult WaitForSamples(const std::string& promql) {
    const auto give_up = std::chrono::steady_clock::now() + seconds(60);
    while (true) {
      auto result = client_->Query(promql);
      EXPECT_TRUE(result.ok()) << result.status().ToString();
      if (!result.ok() || !result->samples.empty() || std::chrono::steady_clock::now() > give_up) {
        return result.ok() ? std::move(*result) : QueryResult{};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

  std::unique_ptr<QueryClient> client_;
};

TEST_F(QueryClientE2eTest, UpOfItself) {
  const QueryResult result = WaitForSamples(R"(up{job="prometheus"})");
  ASSERT_EQ(result.samples.size(), 1u);
  const Sample& up = result.samples[0];
  EXPECT_EQ(up.labels.at("__name__"), "up");
  EXPECT_EQ(up.labels.at("job"), "prometheus");
  EXPECT_TRUE(up.labels.contains("instance"));
  EXPECT_EQ(up.value, 1);
  // Evaluated at the server's now: within a generous margin of ours.
  EXPECT_LT(std::chrono::abs(up.timestamp - std::chrono::system_clock::now()),
            std::chrono::hours(1));
  EXPECT_TRUE(result.warnings.empty());
}

TEST_F(QueryClientE2eTest, BuildInfo) {
  const QueryResult result = WaitForSamples("prometheus_build_info");
  ASSERT_EQ(result.samples.size(), 1u);
  const Sample& info = result.samples[0];
  EXPECT_EQ(info.value, 1);
  for (const char* label : {"version", "revision", "goversion", "job", "instance"}) {
    EXPECT_TRUE(info.labels.contains(label)) << label;
  }
  std::cout << "prometheus_build_info:";
  for (const auto& [name, value] : info.labels) std::cout << " " << name << "=" << value;
  std::cout << "\n";
}

TEST_F(QueryClientE2eTest, SpecialValuesAndTheEvaluationTime) {
  auto result = client_->Query(
      "vector(0/0) or label_replace(vector(1/0), \"v\", \"inf\", \"\", \"\")"
      " or label_replace(vector(-1/0), \"v\", \"-inf\", \"\", \"\")");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->samples.size(), 3u);
  for (const Sample& sample : result->samples) {
    const auto v = sample.labels.find("v");
    if (v == sample.labels.end()) {
      EXPECT_TRUE(std::isnan(sample.value));
    } else if (v->second == "inf") {
      EXPECT_EQ(sample.value, INFINITY);
    } else {
      EXPECT_EQ(sample.value, -INFINITY);
    }
  }

  const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000250));
  result = client_->Query("vector(time())", at);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->samples.size(), 1u);
  EXPECT_EQ(result->samples[0].value, 1700000000.25);
  EXPECT_EQ(result->samples[0].timestamp, at);
}

TEST_F(QueryClientE2eTest, ErrorsAreMapped) {
  auto scalar = client_->Query("1");
  EXPECT_EQ(scalar.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(scalar.status().message().find("scalar"), std::string::npos);
  auto parse = client_->Query("sum(");
  EXPECT_EQ(parse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parse.status().message().find("bad_data"), std::string::npos);
  std::cout << "parse error: " << parse.status().ToString() << "\n";
}

}  // namespace
}  // namespace nines::prometheus
