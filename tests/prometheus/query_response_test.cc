// The answer of /api/v1/query on bodies alone: what Prometheus, Thanos and Mimir send, and what a
// proxy in front of them sends instead.
#include "operator/prometheus/query_response.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace nines::prometheus {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST(ParseQueryResponseTest, AVectorWithLabelsTimesAndSpecialValues) {
  auto result = ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[
      {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},
       "value":[1700000000.25,"1"]},
      {"metric":{"job":"a"},"value":[1700000000,"NaN"]},
      {"metric":{"job":"b"},"value":[1700000000,"+Inf"]},
      {"metric":{"job":"c"},"value":[1700000000,"-Inf"]},
      {"metric":{},"value":[1700000000,"-1.5e-07"]},
      {"value":[1700000000,"100000000000000000000"]}]}})");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->samples.size(), 6u);
  EXPECT_TRUE(result->warnings.empty());

  const Sample& up = result->samples[0];
  EXPECT_EQ(up.labels,
            (std::map<std::string, std::string>{
                {"__name__", "up"}, {"instance", "localhost:9090"}, {"job", "prometheus"}}));
  EXPECT_EQ(up.value, 1);
  EXPECT_EQ(up.timestamp, system_clock::time_point(milliseconds(1700000000250)));

  EXPECT_TRUE(std::isnan(result->samples[1].value));
  EXPECT_EQ(result->samples[2].value, INFINITY);
  EXPECT_EQ(result->samples[3].value, -INFINITY);
  EXPECT_EQ(result->samples[4].value, -1.5e-07);
  EXPECT_TRUE(result->samples[4].labels.empty());
  EXPECT_EQ(result->samples[5].value, 1e20);
  EXPECT_TRUE(result->samples[5].labels.empty());
}

TEST(ParseQueryResponseTest, AnEmptyVectorIsAnEmptyResult) {
  auto result =
      ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->samples.empty());
}

TEST(ParseQueryResponseTest, OtherResultTypesAreInvalidArgumentNamingTheType) {
  for (const auto& [type, result] : {
           std::pair{"scalar", R"([1700000000,"1"])"},
           std::pair{"string", R"([1700000000,"a"])"},
           std::pair{"matrix", R"([{"metric":{},"values":[[1700000000,"1"]]}])"},
       }) {
    auto parsed =
        ParseQueryResponse(200, std::string(R"({"status":"success","data":{"resultType":")") +
                                    type + R"(","result":)" + result + "}}");
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << type;
    EXPECT_EQ(parsed.status().message(),
              std::string("HTTP 200: the result is a ") + type + ", not an instant vector");
  }
}

TEST(ParseQueryResponseTest, WarningsAndInfosAreKeptVerbatim) {
  // Thanos with partial responses allowed: a store that did not answer is a warning.
  auto result = ParseQueryResponse(200, R"({"status":"success",
    "data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]},
    "warnings":["No StoreAPIs matched for this query","receive-0: rpc error: code = Unavailable"],
    "infos":["PromQL info: metric might not be a counter"]})");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->samples.size(), 1u);
  EXPECT_EQ(result->warnings,
            (std::vector<std::string>{"No StoreAPIs matched for this query",
                                      "receive-0: rpc error: code = Unavailable",
                                      "PromQL info: metric might not be a counter"}));
}

TEST(ParseQueryResponseTest, ApiErrorsKeepPrometheusMessage) {
  struct Case {
    int http_status;
    const char* error_type;
    StatusCode code;
  };
  for (const Case& c : {
           Case{400, "bad_data", StatusCode::kInvalidArgument},
           Case{422, "execution", StatusCode::kInvalidArgument},
           Case{503, "timeout", StatusCode::kUnavailable},
           Case{499, "canceled", StatusCode::kUnavailable},
           Case{503, "unavailable", StatusCode::kUnavailable},
           Case{500, "internal", StatusCode::kUnavailable},
           Case{404, "not_found", StatusCode::kInternal},
           Case{401, "bad_data", StatusCode::kForbidden},
       }) {
    auto result =
        ParseQueryResponse(c.http_status, std::string(R"({"status":"error","errorType":")") +
                                              c.error_type + R"(","error":"the message"})");
    EXPECT_EQ(result.status().code(), c.code) << c.error_type;
    EXPECT_EQ(result.status().message(),
              "HTTP " + std::to_string(c.http_status) + " " + c.error_type + ": the message");
  }
  auto parse_error = ParseQueryResponse(
      400,
      R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"})");
  EXPECT_EQ(parse_error.status().ToString(),
            "InvalidArgument: HTTP 400 bad_data: invalid parameter \"query\": 1:5: parse error: "
            "unexpected end of input");
}

TEST(ParseQueryResponseTest, ProxyAnswersAreMappedByStatusAndQuoted) {
  struct Case {
    int http_status;
    StatusCode code;
  };
  for (const Case& c : {
           Case{401, StatusCode::kForbidden},
           Case{403, StatusCode::kForbidden},
           Case{429, StatusCode::kUnavailable},
           Case{502, StatusCode::kUnavailable},
           Case{503, StatusCode::kUnavailable},
           Case{400, StatusCode::kInvalidArgument},
           Case{404, StatusCode::kInternal},
           Case{302, StatusCode::kInternal},
       }) {
    auto result = ParseQueryResponse(c.http_status, "<html>\nno\n</html>");
    EXPECT_EQ(result.status().code(), c.code) << c.http_status;
    EXPECT_NE(result.status().message().find("\"<html> no </html>\""), std::string::npos)
        << result.status().message();
  }
  const std::string long_page(1000, 'x');
  auto result = ParseQueryResponse(502, long_page);
  EXPECT_EQ(result.status().message(), "HTTP 502: \"" + std::string(200, 'x') + "...\"");
}

TEST(ParseQueryResponseTest, ABodyThatIsNotTheApisIsInternal) {
  for (const char* body : {"", "not json", "[]", R"({"data":{}})", R"({"status":"success"})",
                           R"({"status":"success","data":{"resultType":"vector"}})",
                           R"({"status":"success","data":{"resultType":"vector","result":{}}})",
                           R"({"status":"success","data":"x"})", R"({"status":"maybe"})"}) {
    auto result = ParseQueryResponse(200, body);
    EXPECT_EQ(result.status().code(), StatusCode::kInternal) << body;
  }
  // A success that is no 2xx is not something to trust either.
  EXPECT_EQ(
      ParseQueryResponse(404, R"({"status":"success","data":{"resultType":"vector","result":[]}})")
          .status()
          .code(),
      StatusCode::kInternal);
}

TEST(ParseQueryResponseTest, MalformedSamplesAreInternalNamingTheSample) {
  for (const char* sample : {
           R"("x")",
           R"({"metric":{"a":1},"value":[1,"1"]})",
           R"({"metric":[],"value":[1,"1"]})",
           R"({"metric":{}})",
           R"({"value":[1]})",
           R"({"value":["1","1"]})",
           R"({"value":[1,1]})",
           R"({"value":[1,"one"]})",
           R"({"value":[1,"1x"]})",
           R"({"value":[1,""]})",
           R"({"value":[1,"++1"]})",
           R"({"value":[1,"+-1"]})",
           R"({"value":[1,"-"]})",
           R"({"value":[1e300,"1"]})",
       }) {
    auto result = ParseQueryResponse(
        200, std::string(R"({"status":"success","data":{"resultType":"vector","result":[)") +
                 R"({"metric":{},"value":[1,"1"]},)" + sample + "]}}");
    EXPECT_EQ(result.status().code(), StatusCode::kInternal) << sample;
    EXPECT_TRUE(result.status().message().starts_with("HTTP 200: data.result[1]"))
        << result.status().message();
  }
}

TEST(ParseQueryResponseTest, ANativeHistogramSampleSaysWhatToQueryInstead) {
  auto result = ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{},"histogram":[1,{"count":"3","sum":"1","buckets":[]}]}]}})");
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("histogram_count"), std::string::npos);
}

}  // namespace
}  // namespace nines::prometheus
