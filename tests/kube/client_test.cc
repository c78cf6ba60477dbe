#include "operator/kube/client.h"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

namespace nines::kube {
namespace {

using nlohmann::json;

// Records every request and answers from a queue of canned responses.
class FakeTransport : public HttpTransport {
 public:
  Result<HttpResponse> Send(const HttpRequest& request) override {
    requests.push_back(request);
    return Next();
  }

  Result<HttpResponse> Stream(const HttpRequest& request, const ChunkHandler& on_chunk,
                              Cancellation* cancel) override {
    requests.push_back(request);
    Result<HttpResponse> response = Next();
    if (!response.ok() || response->status != 200) return response;
    for (const std::string& chunk : stream_chunks) {
      if (cancel != nullptr && cancel->cancelled()) break;
      if (!on_chunk(chunk)) break;
    }
    return HttpResponse{.status = 200};
  }

  void Answer(int status, const json& body, std::string retry_after = "") {
    responses.emplace_back(HttpResponse{.status = status,
                                        .content_type = "application/json",
                                        .retry_after = std::move(retry_after),
                                        .body = body.dump()});
  }

  std::vector<HttpRequest> requests;
  std::deque<Result<HttpResponse>> responses;
  std::vector<std::string> stream_chunks;

 private:
  Result<HttpResponse> Next() {
    if (responses.empty()) return InternalError("no response queued");
    Result<HttpResponse> response = std::move(responses.front());
    responses.pop_front();
    return response;
  }
};

json KubeStatus(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"code", code}, {"reason", reason}, {"message", message}};
}

json ConfigMap(const std::string& name, const std::string& resource_version = "") {
  json object = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", name}, {"namespace", "shop"}}},
                 {"data", {{"k", "v"}}}};
  if (!resource_version.empty()) object["metadata"]["resourceVersion"] = resource_version;
  return object;
}

class ClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeTransport> transport_ = std::make_shared<FakeTransport>();
  Client client_{transport_};
};

TEST(ResourcePathTest, CoreNamedGroupsScopesAndEscaping) {
  const ResourceType slo{"nines.dev", "v1alpha1", "servicelevelobjectives"};
  EXPECT_EQ(ResourcePath(ConfigMapResource(), "shop", "a"), "/api/v1/namespaces/shop/configmaps/a");
  EXPECT_EQ(ResourcePath(ConfigMapResource(), ""), "/api/v1/configmaps");
  EXPECT_EQ(ResourcePath(NamespaceResource(), "ignored", "shop"), "/api/v1/namespaces/shop");
  EXPECT_EQ(ResourcePath(slo, "shop", "checkout", "status"),
            "/apis/nines.dev/v1alpha1/namespaces/shop/servicelevelobjectives/checkout/status");
  EXPECT_EQ(ResourcePath(slo, "shop"),
            "/apis/nines.dev/v1alpha1/namespaces/shop/servicelevelobjectives");
  EXPECT_EQ(ResourcePath(ConfigMapResource(), "shop", "a/b c"),
            "/api/v1/namespaces/shop/configmaps/a%2Fb%20c");
  EXPECT_EQ(EscapeQueryValue("app in (a,b),tier!=1"), "app%20in%20%28a%2Cb%29%2Ctier%21%3D1");
}

TEST_F(ClientTest, GetAndList) {
  transport_->Answer(200, ConfigMap("a", "5"));
  transport_->Answer(200, {{"kind", "ConfigMapList"},
                           {"metadata", {{"resourceVersion", "9"}, {"continue", "next"}}},
                           {"items", json::array({ConfigMap("a")})}});
  auto got = client_.Get(ConfigMapResource(), "shop", "a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["metadata"]["resourceVersion"], "5");
  auto list = client_.List(ConfigMapResource(), "shop",
                           {.label_selector = "app.kubernetes.io/managed-by=nines",
                            .limit = 50,
                            .continue_token = "abc=="});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ((*list)["metadata"]["continue"], "next");
  ASSERT_EQ(transport_->requests.size(), 2U);
  EXPECT_EQ(transport_->requests[0].method, "GET");
  EXPECT_EQ(transport_->requests[0].path_and_query, "/api/v1/namespaces/shop/configmaps/a");
  EXPECT_EQ(
      transport_->requests[1].path_and_query,
      "/api/v1/namespaces/shop/configmaps?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dnines"
      "&limit=50&continue=abc%3D%3D");
  EXPECT_EQ(transport_->requests[1].body, "");
}

TEST_F(ClientTest, CreateUpdateAndUpdateStatus) {
  transport_->Answer(201, ConfigMap("a", "1"));
  transport_->Answer(200, ConfigMap("a", "2"));
  transport_->Answer(200, ConfigMap("a", "3"));
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("a")).ok());
  ASSERT_TRUE(client_.Update(ConfigMapResource(), "", ConfigMap("a", "1")).ok());
  ASSERT_TRUE(client_.UpdateStatus(ConfigMapResource(), "shop", ConfigMap("a", "2")).ok());
  const auto& r = transport_->requests;
  EXPECT_EQ(r[0].method, "POST");
  EXPECT_EQ(r[0].path_and_query, "/api/v1/namespaces/shop/configmaps");
  EXPECT_EQ(r[0].content_type, "application/json");
  EXPECT_EQ(json::parse(r[0].body), ConfigMap("a"));
  EXPECT_EQ(r[1].method, "PUT");
  EXPECT_EQ(r[1].path_and_query, "/api/v1/namespaces/shop/configmaps/a");
  EXPECT_EQ(json::parse(r[1].body)["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(r[2].path_and_query, "/api/v1/namespaces/shop/configmaps/a/status");
  EXPECT_EQ(client_.Update(ConfigMapResource(), "shop", json::object()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, PatchesApplyAndDelete) {
  transport_->Answer(200, ConfigMap("a"));
  transport_->Answer(200, ConfigMap("a"));
  transport_->Answer(200, KubeStatus(200, "", ""));
  transport_->Answer(200, ConfigMap("a"));
  ASSERT_TRUE(
      client_.MergePatch(ConfigMapResource(), "shop", "a", {{"data", {{"k", nullptr}}}}).ok());
  ASSERT_TRUE(client_.Apply(ConfigMapResource(), "shop", ConfigMap("a")).ok());
  ASSERT_TRUE(client_
                  .Delete(ConfigMapResource(), "shop", "a",
                          {.precondition_uid = "u-1",
                           .precondition_resource_version = "7",
                           .propagation_policy = "Foreground"})
                  .ok());
  ASSERT_TRUE(client_.Delete(ConfigMapResource(), "shop", "a").ok());
  const auto& r = transport_->requests;
  EXPECT_EQ(r[0].method, "PATCH");
  EXPECT_EQ(r[0].content_type, "application/merge-patch+json");
  EXPECT_EQ(r[0].body, R"({"data":{"k":null}})");
  EXPECT_EQ(r[1].method, "PATCH");
  EXPECT_EQ(r[1].path_and_query,
            "/api/v1/namespaces/shop/configmaps/a?fieldManager=nines&force=true");
  EXPECT_EQ(r[1].content_type, "application/apply-patch+yaml");
  EXPECT_EQ(json::parse(r[1].body), ConfigMap("a"));
  EXPECT_EQ(r[2].method, "DELETE");
  EXPECT_EQ(r[2].content_type, "application/json");
  EXPECT_EQ(
      json::parse(r[2].body),
      json::parse(R"({"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Foreground",
                            "preconditions":{"uid":"u-1","resourceVersion":"7"}})"));
  EXPECT_EQ(r[3].body, "");
  EXPECT_EQ(r[3].content_type, "");
  EXPECT_EQ(
      client_.Apply(ConfigMapResource(), "shop", {{"metadata", {{"name", "a"}}}}).status().code(),
      StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, CreateEventUsesEventsV1) {
  transport_->Answer(201, json::object());
  const json event = {{"apiVersion", "events.k8s.io/v1"},
                      {"kind", "Event"},
                      {"metadata", {{"generateName", "checkout."}}},
                      {"reason", "BudgetExhausted"}};
  ASSERT_TRUE(client_.CreateEvent("shop", event).ok());
  EXPECT_EQ(transport_->requests[0].path_and_query,
            "/apis/events.k8s.io/v1/namespaces/shop/events");
  EXPECT_EQ(transport_->requests[0].method, "POST");
}

TEST_F(ClientTest, ErrorsCarryTheServersMessage) {
  transport_->Answer(409, KubeStatus(409, "Conflict",
                                     "Operation cannot be fulfilled on configmaps \"a\": the "
                                     "object has been modified"));
  transport_->Answer(409, KubeStatus(409, "AlreadyExists", "configmaps \"a\" already exists"));
  transport_->Answer(404, KubeStatus(404, "NotFound", "configmaps \"a\" not found"));
  transport_->Answer(429, KubeStatus(429, "TooManyRequests", "slow down"), "3");
  transport_->responses.emplace_back(UnavailableError("connection refused"));
  transport_->responses.emplace_back(HttpResponse{.status = 200, .body = "not json"});

  auto conflict = client_.Update(ConfigMapResource(), "shop", ConfigMap("a", "1"));
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_EQ(conflict.status().message(),
            "HTTP 409 Conflict: Operation cannot be fulfilled on configmaps \"a\": the object has "
            "been modified");
  EXPECT_EQ(client_.Create(ConfigMapResource(), "shop", ConfigMap("a")).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(client_.Delete(ConfigMapResource(), "shop", "a").code(), StatusCode::kNotFound);
  auto throttled = client_.Get(ConfigMapResource(), "shop", "a");
  EXPECT_EQ(throttled.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(throttled.status().message(), "HTTP 429 TooManyRequests: slow down; retry after 3s");
  EXPECT_EQ(client_.Get(ConfigMapResource(), "shop", "a").status().message(), "connection refused");
  EXPECT_EQ(client_.Get(ConfigMapResource(), "shop", "a").status().code(), StatusCode::kInternal);
}

std::string Event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

TEST_F(ClientTest, WatchDeliversEventsFromSplitChunks) {
  const std::string stream = Event("ADDED", ConfigMap("a", "11")) +
                             Event("MODIFIED", ConfigMap("a", "12")) +
                             Event("BOOKMARK", {{"metadata", {{"resourceVersion", "13"}}}}) +
                             Event("DELETED", ConfigMap("a", "14"));
  for (size_t i = 0; i < stream.size(); i += 7)
    transport_->stream_chunks.push_back(stream.substr(i, 7));
  transport_->Answer(200, json::object());
  std::vector<std::string> seen;
  const Status status = client_.Watch(
      ConfigMapResource(), "shop",
      {.resource_version = "10", .label_selector = "a=b", .timeout_seconds = 60},
      [&](const WatchEvent& event) {
        seen.push_back(std::string(WatchEventTypeName(event.type)) + " " +
                       event.object["metadata"]["resourceVersion"].get<std::string>());
        return true;
      });
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(seen,
            (std::vector<std::string>{"ADDED 11", "MODIFIED 12", "BOOKMARK 13", "DELETED 14"}));
  EXPECT_EQ(transport_->requests[0].path_and_query,
            "/api/v1/namespaces/shop/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion=10"
            "&timeoutSeconds=60&labelSelector=a%3Db");
}

TEST_F(ClientTest, WatchErrorEventWith410IsGone) {
  transport_->stream_chunks = {
      Event("ADDED", ConfigMap("a", "11")),
      Event("ERROR", KubeStatus(410, "Expired", "too old resource version")),
      Event("ADDED", ConfigMap("b", "12"))};
  transport_->Answer(200, json::object());
  int events = 0;
  const Status status = client_.Watch(ConfigMapResource(), "shop", {.resource_version = "1"},
                                      [&](const WatchEvent& /*event*/) {
                                        ++events;
                                        return true;
                                      });
  EXPECT_EQ(status.code(), StatusCode::kGone);
  EXPECT_EQ(status.message(), "HTTP 410 Expired: too old resource version");
  EXPECT_EQ(events, 1);
}

TEST_F(ClientTest, WatchHttpErrorsMalformedStreamsAndStopping) {
  transport_->Answer(410, KubeStatus(410, "Gone", "too old"));
  EXPECT_EQ(
      client_.Watch(ConfigMapResource(), "", {}, [](const WatchEvent&) { return true; }).code(),
      StatusCode::kGone);

  transport_->stream_chunks = {"{not json}\n"};
  transport_->Answer(200, json::object());
  EXPECT_EQ(
      client_.Watch(ConfigMapResource(), "", {}, [](const WatchEvent&) { return true; }).code(),
      StatusCode::kInvalidArgument);

  transport_->stream_chunks = {Event("ADDED", ConfigMap("a")), Event("ADDED", ConfigMap("b"))};
  transport_->Answer(200, json::object());
  int events = 0;
  EXPECT_TRUE(client_
                  .Watch(ConfigMapResource(), "", {.allow_bookmarks = false},
                         [&](const WatchEvent&) { return ++events < 1; })
                  .ok());
  EXPECT_EQ(events, 1);
  EXPECT_EQ(transport_->requests.back().path_and_query,
            "/api/v1/configmaps?watch=1&timeoutSeconds=300");

  Cancellation cancel;
  cancel.Cancel();
  transport_->Answer(200, json::object());
  events = 0;
  EXPECT_TRUE(
      client_
          .Watch(
              ConfigMapResource(), "", {}, [&](const WatchEvent&) { return ++events > 0; }, &cancel)
          .ok());
  EXPECT_EQ(events, 0);
}

}  // namespace
}  // namespace nines::kube
