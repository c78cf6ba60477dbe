#include "operator/kube/request_counter.h"

#include <gtest/gtest.h>

#include "operator/kube/client.h"

namespace nines::kube {
namespace {

// Answers every request with a fixed status; a Stream sends no chunks.
class FixedTransport : public HttpTransport {
 public:
  Result<HttpResponse> Send(const HttpRequest&) override {
    if (fail) return UnavailableError("connection refused");
    return HttpResponse{.status = status, .body = "{}"};
  }
  Result<HttpResponse> Stream(const HttpRequest&, const ChunkHandler&, Cancellation*) override {
    return HttpResponse{.status = 200};
  }
  int status = 200;
  bool fail = false;
};

RequestKind Classify(const std::string& method, const std::string& path,
                     const std::string& content_type = "", bool stream = false) {
  return ClassifyRequest({method, path, content_type, ""}, stream);
}

TEST(ClassifyRequestTest, VerbsAsTheApiServerNamesThem) {
  const std::string slos = "/apis/nines.dev/v1alpha1/namespaces/shop/servicelevelobjectives";
  EXPECT_EQ(Classify("GET", slos + "/checkout").verb, "GET");
  EXPECT_EQ(Classify("GET", slos + "?limit=500").verb, "LIST");
  EXPECT_EQ(Classify("GET", "/apis/nines.dev/v1alpha1/servicelevelobjectives?limit=500").verb,
            "LIST");
  EXPECT_EQ(Classify("GET", slos + "?watch=1&resourceVersion=5").verb, "WATCH");
  EXPECT_EQ(Classify("GET", slos, "", /*stream=*/true).verb, "WATCH");
  EXPECT_EQ(
      Classify("PATCH", slos + "/x?fieldManager=nines&force=true", "application/apply-patch+yaml")
          .verb,
      "APPLY");
  EXPECT_EQ(Classify("PATCH", slos + "/x", "application/merge-patch+json").verb, "PATCH");
  EXPECT_EQ(Classify("PUT", slos + "/x/status").verb, "PUT");
  EXPECT_EQ(Classify("POST", "/apis/events.k8s.io/v1/namespaces/shop/events").verb, "POST");
  EXPECT_EQ(Classify("DELETE", "/api/v1/namespaces/shop/configmaps/x").verb, "DELETE");
}

TEST(ClassifyRequestTest, ResourcesWithSubresourcesAndScopes) {
  EXPECT_EQ(Classify("PUT",
                     "/apis/nines.dev/v1alpha1/namespaces/shop/servicelevelobjectives/"
                     "checkout/status")
                .resource,
            "servicelevelobjectives/status");
  EXPECT_EQ(Classify("GET", "/api/v1/namespaces/shop/configmaps/x-slo-dashboard").resource,
            "configmaps");
  EXPECT_EQ(Classify("GET", "/apis/monitoring.coreos.com/v1/prometheusrules?labelSelector=a%3Db")
                .resource,
            "prometheusrules");
  // Namespaces themselves, one and all.
  RequestKind one = Classify("GET", "/api/v1/namespaces/shop");
  EXPECT_EQ(one.verb, "GET");
  EXPECT_EQ(one.resource, "namespaces");
  EXPECT_EQ(Classify("GET", "/api/v1/namespaces").verb, "LIST");
  // Not a resource: discovery, /version.
  RequestKind version = Classify("GET", "/version");
  EXPECT_EQ(version.verb, "GET");
  EXPECT_EQ(version.resource, "");
  EXPECT_EQ(Classify("GET", "/apis").resource, "");
}

TEST(CountingTransportTest, CountsThroughTheClientByVerbResourceAndCode) {
  auto inner = std::make_shared<FixedTransport>();
  auto counting = std::make_shared<CountingTransport>(inner);
  Client client(counting);
  const ResourceType rules{"monitoring.coreos.com", "v1", "prometheusrules"};

  (void)client.Get(rules, "shop", "a");
  (void)client.Get(rules, "shop", "b");
  (void)client.Apply(rules, "shop",
                     {{"apiVersion", "monitoring.coreos.com/v1"},
                      {"kind", "PrometheusRule"},
                      {"metadata", {{"name", "a"}}}});
  inner->status = 404;
  (void)client.Get(rules, "shop", "c");
  inner->fail = true;
  (void)client.Get(rules, "shop", "d");
  (void)client.Watch(rules, "", {}, [](WatchEvent) { return true; });

  using Key = CountingTransport::Key;
  const std::map<Key, int64_t> expected = {
      {Key{"GET", "prometheusrules", "200"}, 2},   {Key{"GET", "prometheusrules", "404"}, 1},
      {Key{"GET", "prometheusrules", "error"}, 1}, {Key{"APPLY", "prometheusrules", "200"}, 1},
      {Key{"WATCH", "prometheusrules", "200"}, 1},
  };
  EXPECT_EQ(counting->Counts(), expected);

  const std::string metrics = counting->RenderMetrics();
  EXPECT_NE(metrics.find("# TYPE nines_api_requests_total counter\n"), std::string::npos);
  EXPECT_NE(
      metrics.find(
          "nines_api_requests_total{verb=\"GET\",resource=\"prometheusrules\",code=\"200\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      metrics.find(
          "nines_api_requests_total{verb=\"APPLY\",resource=\"prometheusrules\",code=\"200\"} 1\n"),
      std::string::npos);
}

}  // namespace
}  // namespace nines::kube
