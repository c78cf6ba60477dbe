// The client against a real API server: skipped unless NINES_E2E_KUBECONFIG names a kubeconfig
// (e2e/controlplane/controlplane.sh writes one). Runs for every context in it, or for the
// comma-separated contexts in NINES_E2E_CONTEXTS. Works in its own namespace, deleted at the end.
//
//   eval "$(e2e/controlplane/controlplane.sh up --no-third-party)"
//   NINES_E2E_KUBECONFIG=$KUBECONFIG build/nines_tests --gtest_filter='*ClientE2e*'
//   e2e/controlplane/controlplane.sh down
//
// The script's kubeconfig has a client-certificate context and a token-only one: both are run.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/kube/http_transport.h"

namespace nines::kube {
namespace {

using nlohmann::json;

const char* KubeconfigFromEnv() {
  const char* path = std::getenv("NINES_E2E_KUBECONFIG");  // NOLINT(concurrency-mt-unsafe)
  return path != nullptr && *path != '\0' ? path : nullptr;
}

std::vector<std::string> Contexts() {
  std::vector<std::string> contexts;
  const char* path = KubeconfigFromEnv();
  if (path == nullptr) return {"(skipped)"};
  if (const char* list = std::getenv("NINES_E2E_CONTEXTS")) {  // NOLINT(concurrency-mt-unsafe)
    std::stringstream stream(list);
    for (std::string name; std::getline(stream, name, ',');) contexts.push_back(name);
    return contexts;
  }
  for (const YAML::Node& context : YAML::LoadFile(path)["contexts"]) {
    contexts.push_back(context["name"].as<std::string>());
  }
  return contexts;
}

std::string RandomSuffix() {
  std::random_device device;
  std::mt19937 random(device());
  std::string suffix;
  for (int i = 0; i < 6; ++i) suffix += "abcdefghijklmnopqrstuvwxyz0123456789"[random() % 36];
  return suffix;
}

json ConfigMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", {{"app.kubernetes.io/managed-by", "nines"}}}}},
          {"data", {{"key", value}}}};
}

std::string ResourceVersion(const json& object) {
  return object["metadata"]["resourceVersion"].get<std::string>();
}

class ClientE2eTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const char* path = KubeconfigFromEnv();
    if (path == nullptr) GTEST_SKIP() << "NINES_E2E_KUBECONFIG is not set";
    auto config = LoadKubeconfig({.path = path, .context = GetParam()});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
    auto transport = NewHttpTransport(config_, {.stream_read_timeout = std::chrono::seconds(30)});
    ASSERT_TRUE(transport.ok()) << transport.status().ToString();
    client_ = std::make_unique<Client>(std::move(*transport));
    namespace_ = "nines-kube-e2e-" + RandomSuffix();
    auto created = client_->Create(
        NamespaceResource(), "",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", namespace_}}}});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  void TearDown() override {
    if (client_ && !namespace_.empty()) {
      EXPECT_TRUE(client_->Delete(NamespaceResource(), "", namespace_).ok());
    }
  }

  ClusterConfig config_;
  std::unique_ptr<Client> client_;
  std::string namespace_;
};

TEST_P(ClientE2eTest, ListsNamespacesWithPaging) {
  auto page = client_->List(NamespaceResource(), "", {.limit = 1});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ((*page)["items"].size(), 1U);
  std::string token = (*page)["metadata"].value("continue", "");
  ASSERT_FALSE(token.empty());
  auto rest = client_->List(NamespaceResource(), "", {.continue_token = token});
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  bool found = false;
  for (const json& item : (*rest)["items"]) found |= item["metadata"]["name"] == namespace_;
  EXPECT_TRUE(found) << "our namespace " << namespace_ << " is listed";
}

TEST_P(ClientE2eTest, CreateApplyUpdateConflictDelete) {
  const ResourceType configmaps = ConfigMapResource();
  auto created = client_->Create(configmaps, namespace_, ConfigMap("plain", "one"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto again = client_->Create(configmaps, namespace_, ConfigMap("plain", "one"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();

  // Server-side apply, twice: the second is a no-op and leaves the resourceVersion alone.
  auto applied = client_->Apply(configmaps, namespace_, ConfigMap("applied", "v"));
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  auto reapplied = client_->Apply(configmaps, namespace_, ConfigMap("applied", "v"));
  ASSERT_TRUE(reapplied.ok()) << reapplied.status().ToString();
  EXPECT_EQ(ResourceVersion(*reapplied), ResourceVersion(*applied));
  auto changed = client_->Apply(configmaps, namespace_, ConfigMap("applied", "w"));
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_NE(ResourceVersion(*changed), ResourceVersion(*applied));
  EXPECT_EQ((*changed)["metadata"]["managedFields"][0]["manager"], "nines");

  // Optimistic concurrency: an update with the current resourceVersion wins, a stale one loses.
  json update = *created;
  update["data"]["key"] = "two";
  auto updated = client_->Update(configmaps, namespace_, update);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  update["data"]["key"] = "three";  // still carries the first resourceVersion
  auto stale = client_->Update(configmaps, namespace_, update);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict) << stale.status().ToString();
  EXPECT_NE(stale.status().message().find("the object has been modified"), std::string::npos)
      << stale.status().message();

  auto patched = client_->MergePatch(configmaps, namespace_, "plain", {{"data", {{"extra", "x"}}}});
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ((*patched)["data"]["extra"], "x");

  auto event = client_->CreateEvent(namespace_, {{"apiVersion", "events.k8s.io/v1"},
                                                 {"kind", "Event"},
                                                 {"metadata", {{"generateName", "plain-"}}},
                                                 {"eventTime", "2026-11-23T19:00:00.000000Z"},
                                                 {"reportingController", "nines.dev/operator"},
                                                 {"reportingInstance", "e2e"},
                                                 {"action", "Test"},
                                                 {"reason", "Tested"},
                                                 {"type", "Normal"},
                                                 {"note", "a test event"},
                                                 {"regarding",
                                                  {{"apiVersion", "v1"},
                                                   {"kind", "ConfigMap"},
                                                   {"name", "plain"},
                                                   {"namespace", namespace_}}}});
  EXPECT_TRUE(event.ok()) << event.status().ToString();

  const Status wrong_uid =
      client_->Delete(configmaps, namespace_, "plain", {.precondition_uid = "not-its-uid"});
  EXPECT_EQ(wrong_uid.code(), StatusCode::kConflict) << wrong_uid.ToString();
  EXPECT_TRUE(client_
                  ->Delete(configmaps, namespace_, "plain",
                           {.precondition_uid = (*patched)["metadata"]["uid"].get<std::string>(),
                            .propagation_policy = "Background"})
                  .ok());
  auto gone = client_->Get(configmaps, namespace_, "plain");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound) << gone.status().ToString();
}

TEST_P(ClientE2eTest, WatchSeesChangesAndABookmark) {
  const ResourceType configmaps = ConfigMapResource();
  // Only ours: the controller manager adds kube-root-ca.crt to a new namespace when it gets to it.
  const std::string ours = "app.kubernetes.io/managed-by=nines";
  auto list = client_->List(configmaps, namespace_, {.label_selector = ours});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  const std::string from = (*list)["metadata"]["resourceVersion"];

  std::vector<std::string> seen;
  Status watch_status;
  // The API server sends a bookmark about 2 s before a watch's timeout: 8 s gives one soon.
  std::thread watcher([&] {
    watch_status =
        client_->Watch(configmaps, namespace_,
                       {.resource_version = from, .label_selector = ours, .timeout_seconds = 8},
                       [&](const WatchEvent& event) {
                         std::string name = event.object["metadata"].value("name", std::string());
                         seen.push_back(std::string(WatchEventTypeName(event.type)) +
                                        (name.empty() ? "" : " " + name));
                         return true;
                       });
  });
  ASSERT_TRUE(client_->Create(configmaps, namespace_, ConfigMap("watched", "1")).ok());
  ASSERT_TRUE(
      client_->MergePatch(configmaps, namespace_, "watched", {{"data", {{"key", "2"}}}}).ok());
  ASSERT_TRUE(client_->Delete(configmaps, namespace_, "watched").ok());
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status.ToString();
  ASSERT_GE(seen.size(), 4U);
  EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + 3),
            (std::vector<std::string>{"ADDED watched", "MODIFIED watched", "DELETED watched"}));
  EXPECT_NE(std::find(seen.begin(), seen.end(), "BOOKMARK"), seen.end());
}

TEST_P(ClientE2eTest, WatchIsCancelledPromptly) {
  Cancellation cancel;
  Status status;
  const auto start = std::chrono::steady_clock::now();
  std::thread watcher([&] {
    status = client_->Watch(
        ConfigMapResource(), namespace_, {.timeout_seconds = 60},
        [](const WatchEvent&) { return true; }, &cancel);
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  cancel.Cancel();
  watcher.join();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_P(ClientE2eTest, WatchFromATooOldResourceVersionIsGone) {
  // resourceVersion 1 is gone once etcd has compacted past it: the API server compacts every
  // 5 minutes, so a fresh cluster still serves it (compact by hand to see it now: POST
  // {"revision":"N"} to etcd's /v3/kv/compaction).
  bool stopped_early = false;
  const Status status =
      client_->Watch(ConfigMapResource(), namespace_,
                     {.resource_version = "1", .timeout_seconds = 3}, [&](const WatchEvent&) {
                       stopped_early = true;
                       return false;
                     });
  if (status.ok()) GTEST_SKIP() << "resourceVersion 1 is not compacted yet";
  EXPECT_FALSE(stopped_early);
  EXPECT_EQ(status.code(), StatusCode::kGone) << status.ToString();
}

TEST_P(ClientE2eTest, RejectedCredentialsAndCertificates) {
  ClusterConfig wrong_token = config_;
  wrong_token.credentials = StaticCredentials({.bearer_token = "not-a-valid-token"});
  auto transport = NewHttpTransport(wrong_token);
  ASSERT_TRUE(transport.ok());
  auto denied = Client(std::move(*transport)).List(NamespaceResource(), "");
  EXPECT_EQ(denied.status().code(), StatusCode::kForbidden) << denied.status().ToString();
  EXPECT_EQ(denied.status().message().find("not-a-valid-token"), std::string::npos);

  if (config_.server.rfind("https://", 0) != 0 || config_.ca_pem.empty()) return;
  // The system's roots do not know the cluster's CA: the connection is refused, not trusted.
  ClusterConfig system_roots = config_;
  system_roots.ca_pem.clear();
  transport = NewHttpTransport(system_roots);
  ASSERT_TRUE(transport.ok());
  auto untrusted = Client(std::move(*transport)).List(NamespaceResource(), "");
  EXPECT_EQ(untrusted.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(untrusted.status().message().find("SSLServerVerification"), std::string::npos)
      << untrusted.status().message();

  // tls-server-name: verified against that name instead of the server's host.
  ClusterConfig named = config_;
  named.tls_server_name = "kubernetes.default.svc";
  transport = NewHttpTransport(named);
  ASSERT_TRUE(transport.ok());
  auto by_name = Client(std::move(*transport)).List(NamespaceResource(), "", {.limit = 1});
  EXPECT_TRUE(by_name.ok()) << by_name.status().ToString();
  named.tls_server_name = "not-in-the-certificate.example";
  transport = NewHttpTransport(named);
  ASSERT_TRUE(transport.ok());
  auto wrong_name = Client(std::move(*transport)).List(NamespaceResource(), "", {.limit = 1});
  EXPECT_EQ(wrong_name.status().code(), StatusCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Contexts, ClientE2eTest, ::testing::ValuesIn(Contexts()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name;
                           for (char c : info.param) name += std::isalnum(c) ? c : '_';
                           return name;
                         });

}  // namespace
}  // namespace nines::kube
