#include "tests/testing/fake_api_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "operator/kube/api_error.h"
#include "operator/kube/client.h"

namespace nines::testing {
namespace {

using kube::ConfigMapResource;
using kube::WatchEvent;
using kube::WatchEventType;
using nlohmann::json;

json ConfigMap(const std::string& name, const json& data = {{"k", "v"}},
               const json& labels = json::object()) {
  json object = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", name}, {"namespace", "shop"}}},
                 {"data", data}};
  if (!labels.empty()) object["metadata"]["labels"] = labels;
  return object;
}

json Slo(const std::string& name, double objective) {
  return {{"apiVersion", "nines.dev/v1alpha1"},
          {"kind", "ServiceLevelObjective"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec", {{"service", "checkout"}, {"objective", objective}}}};
}

json OwnedBy(json object, const json& owner) {
  object["metadata"]["ownerReferences"] = json::array({{{"apiVersion", owner["apiVersion"]},
                                                        {"kind", owner["kind"]},
                                                        {"name", owner["metadata"]["name"]},
                                                        {"uid", owner["metadata"]["uid"]},
                                                        {"controller", true}}});
  return object;
}

std::string Rv(const json& object) { return object["metadata"]["resourceVersion"]; }

class FakeApiServerTest : public ::testing::Test {
 protected:
  FakeApiServerTest() { server_->AddNinesResourceTypes(); }

  // Watches in a thread, collecting events until `count` arrived (then stops) or the watch ends.
  struct Watching {
    std::vector<WatchEvent> events;
    Status status;
    std::thread thread;
  };
  std::unique_ptr<Watching> StartWatch(const kube::WatchOptions& options, size_t count,
                                       const kube::ResourceType& type = ConfigMapResource(),
                                       const std::string& namespace_name = "shop",
                                       kube::Cancellation* cancel = nullptr) {
    auto watching = std::make_unique<Watching>();
    Watching* raw = watching.get();
    const size_t open = server_->OpenWatches();
    raw->thread = std::thread([this, raw, options, count, type, namespace_name, cancel] {
      raw->status = client_.Watch(
          type, namespace_name, options,
          [raw, count](WatchEvent event) {
            raw->events.push_back(std::move(event));
            return raw->events.size() < count;
          },
          cancel);
    });
    EXPECT_TRUE(server_->WaitForOpenWatches(open + 1));
    return watching;
  }

  std::shared_ptr<FakeApiServer> server_ = std::make_shared<FakeApiServer>();
  kube::Client client_{server_};
};

TEST_F(FakeApiServerTest, CreateGetListUpdate) {
  auto created = client_.Create(ConfigMapResource(), "", ConfigMap("a"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["metadata"]["uid"], "uid-1");
  EXPECT_EQ(Rv(*created), "1");
  EXPECT_EQ((*created)["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_FALSE((*created)["metadata"].contains("generation"));  // a built-in type

  auto got = client_.Get(ConfigMapResource(), "shop", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, *created);

  json changed = *got;
  changed["data"]["k"] = "w";
  auto updated = client_.Update(ConfigMapResource(), "shop", changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(Rv(*updated), "2");
  EXPECT_EQ((*updated)["data"]["k"], "w");
  EXPECT_EQ((*updated)["metadata"]["uid"], "uid-1");
  EXPECT_EQ(server_->ResourceVersion(), "2");

  // The same content again is not a write.
  auto again = client_.Update(ConfigMapResource(), "shop", *updated);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Rv(*again), "2");

  auto list = client_.List(ConfigMapResource(), "shop");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["kind"], "ConfigMapList");
  EXPECT_EQ((*list)["metadata"]["resourceVersion"], "2");
  ASSERT_EQ((*list)["items"].size(), 1U);
  EXPECT_EQ((*list)["items"][0]["data"]["k"], "w");
}

TEST_F(FakeApiServerTest, ListSelectorsNamespacesAndPages) {
  server_->Put(ConfigMapResource(), ConfigMap("a", {}, {{"app", "x"}, {"tier", "web"}}));
  server_->Put(ConfigMapResource(), ConfigMap("b", {}, {{"app", "y"}}));
  json other = ConfigMap("c", {}, {{"app", "x"}});
  other["metadata"]["namespace"] = "billing";
  server_->Put(ConfigMapResource(), other);

  auto names = [&](const std::string& namespace_name, const kube::ListOptions& options) {
    std::vector<std::string> out;
    auto list = client_.List(ConfigMapResource(), namespace_name, options);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return out;
    for (const json& item : (*list)["items"]) out.push_back(item["metadata"]["name"]);
    return out;
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(names("", {}), (Names{"c", "a", "b"}));  // all namespaces, by namespace then name
  EXPECT_EQ(names("shop", {.label_selector = "app=x"}), Names{"a"});
  EXPECT_EQ(names("", {.label_selector = "app==x"}), (Names{"c", "a"}));
  EXPECT_EQ(names("shop", {.label_selector = "app!=x"}), Names{"b"});
  EXPECT_EQ(names("shop", {.label_selector = "tier"}), Names{"a"});
  EXPECT_EQ(names("shop", {.label_selector = "!tier"}), Names{"b"});
  EXPECT_EQ(names("shop", {.label_selector = "app=x,tier=web"}), Names{"a"});
  EXPECT_EQ(names("shop", {.label_selector = "app in (x, y)"}), (Names{"a", "b"}));
  EXPECT_EQ(names("", {.field_selector = "metadata.name=b"}), Names{"b"});
  EXPECT_EQ(names("", {.field_selector = "metadata.namespace!=shop"}), Names{"c"});

  auto bad = client_.List(ConfigMapResource(), "", {.field_selector = "spec.x=1"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);

  auto first = client_.List(ConfigMapResource(), "", {.limit = 2});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)["items"].size(), 2U);
  const std::string token = (*first)["metadata"]["continue"];
  auto second = client_.List(ConfigMapResource(), "", {.limit = 2, .continue_token = token});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ((*second)["items"].size(), 1U);
  EXPECT_EQ((*second)["items"][0]["metadata"]["name"], "b");
  EXPECT_FALSE((*second)["metadata"].contains("continue"));
}

TEST_F(FakeApiServerTest, ErrorsAreKubernetesStatuses) {
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("a")).ok());
  auto exists = client_.Create(ConfigMapResource(), "", ConfigMap("a"));
  EXPECT_EQ(exists.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(exists.status().message().find("configmaps \"a\" already exists"), std::string::npos)
      << exists.status().message();

  json nameless = ConfigMap("x");
  nameless["metadata"].erase("name");
  auto invalid = client_.Create(ConfigMapResource(), "shop", nameless);
  EXPECT_EQ(invalid.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(invalid.status().message().find("HTTP 422 Invalid"), std::string::npos);

  nameless["metadata"]["generateName"] = "event-";
  auto generated = client_.Create(ConfigMapResource(), "shop", nameless);
  ASSERT_TRUE(generated.ok());
  EXPECT_EQ(std::string((*generated)["metadata"]["name"]).rfind("event-", 0), 0U);

  EXPECT_EQ(client_.Get(ConfigMapResource(), "shop", "nope").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(client_.Update(ConfigMapResource(), "shop", ConfigMap("nope")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(client_.Delete(ConfigMapResource(), "shop", "nope").code(), StatusCode::kNotFound);
  auto slo = client_.Get(ServiceLevelObjectiveResource(), "shop", "nope");
  EXPECT_NE(slo.status().message().find("servicelevelobjectives.nines.dev \"nope\" not found"),
            std::string::npos)
      << slo.status().message();

  const kube::ResourceType unknown{"example.com", "v1", "widgets"};
  EXPECT_EQ(client_.Get(unknown, "shop", "a").status().code(), StatusCode::kNotFound);
  // ConfigMaps have no status subresource.
  EXPECT_EQ(client_.UpdateStatus(ConfigMapResource(), "shop", ConfigMap("a")).status().code(),
            StatusCode::kNotFound);
  // JSON patch is not served.
  auto patch = server_->Send(
      {"PATCH", "/api/v1/namespaces/shop/configmaps/a", "application/json-patch+json", "[]"});
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->status, 415);
}

TEST_F(FakeApiServerTest, StaleResourceVersionIsAConflict) {
  auto created = client_.Create(ConfigMapResource(), "", ConfigMap("a"));
  ASSERT_TRUE(created.ok());
  json first = *created;
  json second = *created;
  first["data"]["k"] = "first";
  second["data"]["k"] = "second";
  ASSERT_TRUE(client_.Update(ConfigMapResource(), "shop", first).ok());
  auto lost = client_.Update(ConfigMapResource(), "shop", second);
  EXPECT_EQ(lost.status().code(), StatusCode::kConflict);
  EXPECT_NE(lost.status().message().find("the object has been modified"), std::string::npos);
  EXPECT_EQ(server_->Object(ConfigMapResource(), "shop", "a")->at("data")["k"], "first");

  // Without a resourceVersion a PUT is unconditional; a stale one in a merge patch conflicts.
  second["metadata"].erase("resourceVersion");
  EXPECT_TRUE(client_.Update(ConfigMapResource(), "shop", second).ok());
  auto patch = client_.MergePatch(ConfigMapResource(), "shop", "a",
                                  {{"metadata", {{"resourceVersion", "1"}}}});
  EXPECT_EQ(patch.status().code(), StatusCode::kConflict);
  // And so do delete preconditions.
  EXPECT_EQ(client_.Delete(ConfigMapResource(), "shop", "a", {.precondition_resource_version = "1"})
                .code(),
            StatusCode::kConflict);
  EXPECT_EQ(client_.Delete(ConfigMapResource(), "shop", "a", {.precondition_uid = "uid-9"}).code(),
            StatusCode::kConflict);
}

TEST_F(FakeApiServerTest, StatusSubresourceAndGeneration) {
  const auto type = ServiceLevelObjectiveResource();
  json slo = Slo("checkout", 99.9);
  slo["status"] = {{"state", "Healthy"}};
  auto created = client_.Create(type, "", slo);
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(created->contains("status"));  // dropped on create
  EXPECT_EQ((*created)["metadata"]["generation"], 1);

  // A PUT of the main resource ignores status: here nothing else changed, so nothing is written.
  json with_status = *created;
  with_status["status"] = {{"state", "Burning"}};
  auto ignored = client_.Update(type, "shop", with_status);
  ASSERT_TRUE(ignored.ok());
  EXPECT_FALSE(ignored->contains("status"));
  EXPECT_EQ(Rv(*ignored), Rv(*created));

  // A PUT to /status changes only status and never generation.
  json status_write = *created;
  status_write["status"] = {{"state", "Healthy"}, {"observedGeneration", 1}};
  status_write["spec"]["objective"] = 50;
  status_write["metadata"]["labels"] = {{"sneaky", "yes"}};
  auto status = client_.UpdateStatus(type, "shop", status_write);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["status"]["state"], "Healthy");
  EXPECT_EQ((*status)["spec"]["objective"], 99.9);
  EXPECT_FALSE((*status)["metadata"].contains("labels"));
  EXPECT_EQ((*status)["metadata"]["generation"], 1);
  EXPECT_NE(Rv(*status), Rv(*created));

  // Labels are metadata: no new generation. A spec change is one.
  json labelled = *status;
  labelled["metadata"]["labels"] = {{"team", "payments"}};
  auto relabelled = client_.Update(type, "shop", labelled);
  ASSERT_TRUE(relabelled.ok());
  EXPECT_EQ((*relabelled)["metadata"]["generation"], 1);
  EXPECT_EQ((*relabelled)["status"]["state"], "Healthy");  // kept
  json respecced = *relabelled;
  respecced["spec"]["objective"] = 99.5;
  auto bumped = client_.Update(type, "shop", respecced);
  ASSERT_TRUE(bumped.ok());
  EXPECT_EQ((*bumped)["metadata"]["generation"], 2);
  EXPECT_EQ((*bumped)["status"]["state"], "Healthy");

  // A merge patch of /status is a status write too.
  auto patched = client_.MergePatch(
      type, "shop", "checkout", {{"status", {{"state", "Burning"}}}, {"spec", nullptr}}, "status");
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ((*patched)["status"]["state"], "Burning");
  EXPECT_EQ((*patched)["status"]["observedGeneration"], 1);
  EXPECT_EQ((*patched)["spec"]["objective"], 99.5);
  EXPECT_EQ((*patched)["metadata"]["generation"], 2);
  EXPECT_EQ(server_->WriteRequests("status"), 2);
}

TEST_F(FakeApiServerTest, MergePatchFollowsRfc7386) {
  ASSERT_TRUE(
      client_.Create(ConfigMapResource(), "", ConfigMap("a", {{"k", "v"}, {"gone", "x"}})).ok());
  auto patched = client_.MergePatch(
      ConfigMapResource(), "shop", "a",
      {{"data", {{"gone", nullptr}, {"new", "n"}}}, {"metadata", {{"labels", {{"l", "1"}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ((*patched)["data"], json({{"k", "v"}, {"new", "n"}}));
  EXPECT_EQ((*patched)["metadata"]["labels"]["l"], "1");
  EXPECT_EQ(client_.MergePatch(ConfigMapResource(), "shop", "nope", json::object()).status().code(),
            StatusCode::kNotFound);
}

TEST_F(FakeApiServerTest, ApplyCreatesThenIsIdempotent) {
  const auto type = PrometheusRuleResource();
  const json rule = {{"apiVersion", "monitoring.coreos.com/v1"},
                     {"kind", "PrometheusRule"},
                     {"metadata", {{"name", "checkout"}, {"labels", {{"release", "kps"}}}}},
                     {"spec", {{"groups", json::array({{{"name", "g"}}})}}}};
  auto created = client_.Apply(type, "shop", rule);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["metadata"]["generation"], 1);
  EXPECT_EQ((*created)["metadata"]["managedFields"][0]["manager"], "nines");
  EXPECT_EQ((*created)["metadata"]["managedFields"][0]["operation"], "Apply");
  const std::string version = Rv(*created);

  for (int i = 0; i < 3; ++i) {
    auto again = client_.Apply(type, "shop", rule);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(Rv(*again), version);
    EXPECT_EQ((*again)["metadata"]["generation"], 1);
  }
  EXPECT_EQ(server_->ResourceVersion(), version);
  EXPECT_EQ(server_->Count("apply"), 4);

  json changed = rule;
  changed["spec"]["groups"][0]["name"] = "h";
  auto updated = client_.Apply(type, "shop", changed);
  ASSERT_TRUE(updated.ok());
  EXPECT_NE(Rv(*updated), version);
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  // Apply without a fieldManager is refused, as the server does.
  auto raw = server_->Send({"PATCH",
                            "/apis/monitoring.coreos.com/v1/namespaces/shop/"
                            "prometheusrules/checkout",
                            "application/apply-patch+yaml", rule.dump()});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 400);
}

// The semantics at this granularity: each label is a field. A label the manager stops applying
// goes; a label another manager set stays.
TEST_F(FakeApiServerTest, ApplyRemovesWhatTheManagerStoppedApplyingOnly) {
  const auto type = ConfigMapResource();
  auto first = client_.Apply(
      type, "shop", ConfigMap("d", {{"a", "1"}, {"b", "2"}}, {{"keep", "1"}, {"drop", "1"}}));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(server_
                  ->Edit(type, "shop", "d",
                         {{"metadata", {{"labels", {{"theirs", "1"}}}}}, {"data", {{"c", "3"}}}})
                  .ok());
  auto managed = server_->ManagedFields(type, "shop", "d");
  EXPECT_EQ(managed["kubectl-edit/Update"],
            (std::set<std::string>{"data.c", "metadata.labels.theirs"}));
  EXPECT_EQ(managed["nines/Apply"].count("metadata.labels.drop"), 1U);

  auto second = client_.Apply(type, "shop", ConfigMap("d", {{"a", "1"}}, {{"keep", "1"}}));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)["metadata"]["labels"], json({{"keep", "1"}, {"theirs", "1"}}));
  EXPECT_EQ((*second)["data"], json({{"a", "1"}, {"c", "3"}}));

  // Stopping everything: the maps it leaves empty go too; the other manager's fields stay.
  json bare = ConfigMap("d");
  bare.erase("data");
  auto third = client_.Apply(type, "shop", bare);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)["metadata"]["labels"], json({{"theirs", "1"}}));
  EXPECT_EQ((*third)["data"], json({{"c", "3"}}));
}

TEST_F(FakeApiServerTest, ForcedApplyTakesBackAHandEdit) {
  const auto type = ServiceLevelObjectiveResource();
  ASSERT_TRUE(client_.Apply(type, "shop", Slo("checkout", 99.9)).ok());
  auto edited = server_->Edit(type, "shop", "checkout", {{"spec", {{"objective", 95}}}});
  ASSERT_TRUE(edited.ok());
  EXPECT_EQ((*edited)["metadata"]["generation"], 2);
  EXPECT_EQ(server_->ManagedFields(type, "shop", "checkout")["kubectl-edit/Update"],
            std::set<std::string>{"spec.objective"});

  // Without force, the other manager's field is a conflict.
  const std::string path = kube::ResourcePath(type, "shop", "checkout");
  auto refused = server_->Send({"PATCH", path + "?fieldManager=nines",
                                "application/apply-patch+yaml", Slo("checkout", 99.9).dump()});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 409);
  const Status conflict = kube::StatusFromHttp(refused->status, refused->body);
  EXPECT_EQ(conflict.code(), StatusCode::kConflict);
  EXPECT_NE(conflict.message().find("conflict with \"kubectl-edit\": .spec.objective"),
            std::string::npos)
      << conflict.message();

  // Client::Apply forces: the field comes back and changes hands.
  auto forced = client_.Apply(type, "shop", Slo("checkout", 99.9));
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ((*forced)["spec"]["objective"], 99.9);
  EXPECT_EQ((*forced)["metadata"]["generation"], 3);
  auto managed = server_->ManagedFields(type, "shop", "checkout");
  EXPECT_EQ(managed.count("kubectl-edit/Update"), 0U);
  EXPECT_EQ(managed["nines/Apply"], (std::set<std::string>{"spec.objective", "spec.service"}));

  // Apply to /status touches only status, and needs the object.
  json status = Slo("checkout", 1);
  status["status"] = {{"state", "Healthy"}};
  auto applied_status = client_.Apply(type, "shop", status, "status");
  ASSERT_TRUE(applied_status.ok());
  EXPECT_EQ((*applied_status)["status"]["state"], "Healthy");
  EXPECT_EQ((*applied_status)["spec"]["objective"], 99.9);
  EXPECT_EQ((*applied_status)["metadata"]["generation"], 3);
  status["metadata"]["name"] = "absent";
  EXPECT_EQ(client_.Apply(type, "shop", status, "status").status().code(), StatusCode::kNotFound);
}

TEST_F(FakeApiServerTest, DeletingAnOwnerCollectsItsDependents) {
  auto owner = client_.Create(ServiceLevelObjectiveResource(), "", Slo("checkout", 99.9));
  ASSERT_TRUE(owner.ok());
  json rule = {{"apiVersion", "monitoring.coreos.com/v1"},
               {"kind", "PrometheusRule"},
               {"metadata", {{"name", "checkout"}, {"namespace", "shop"}}},
               {"spec", json::object()}};
  ASSERT_TRUE(client_.Create(PrometheusRuleResource(), "", OwnedBy(rule, *owner)).ok());
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", OwnedBy(ConfigMap("dash"), *owner)).ok());
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("unrelated")).ok());
  // Two owners: it loses the reference to the deleted one and lives on.
  auto other = client_.Create(ConfigMapResource(), "", ConfigMap("other-owner"));
  ASSERT_TRUE(other.ok());
  json shared = OwnedBy(ConfigMap("shared"), *owner);
  shared["metadata"]["ownerReferences"].push_back(
      OwnedBy(ConfigMap("x"), *other)["metadata"]["ownerReferences"][0]);
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", shared).ok());

  ASSERT_TRUE(client_.Delete(ServiceLevelObjectiveResource(), "shop", "checkout").ok());
  EXPECT_FALSE(server_->Object(ServiceLevelObjectiveResource(), "shop", "checkout"));
  EXPECT_FALSE(server_->Object(PrometheusRuleResource(), "shop", "checkout"));
  EXPECT_FALSE(server_->Object(ConfigMapResource(), "shop", "dash"));
  EXPECT_TRUE(server_->Object(ConfigMapResource(), "shop", "unrelated"));
  auto survivor = server_->Object(ConfigMapResource(), "shop", "shared");
  ASSERT_TRUE(survivor);
  ASSERT_EQ((*survivor)["metadata"]["ownerReferences"].size(), 1U);
  EXPECT_EQ((*survivor)["metadata"]["ownerReferences"][0]["uid"], (*other)["metadata"]["uid"]);
}

TEST_F(FakeApiServerTest, OrphanPropagationAndDeferredCollection) {
  auto deferred = std::make_shared<FakeApiServer>(
      FakeApiServerOptions{.synchronous_garbage_collection = false});
  deferred->AddNinesResourceTypes();
  kube::Client client(deferred);
  auto owner = client.Create(ServiceLevelObjectiveResource(), "", Slo("a", 99));
  ASSERT_TRUE(owner.ok());
  ASSERT_TRUE(client.Create(ConfigMapResource(), "", OwnedBy(ConfigMap("dep"), *owner)).ok());
  ASSERT_TRUE(client.Delete(ServiceLevelObjectiveResource(), "shop", "a").ok());
  EXPECT_TRUE(deferred->Object(ConfigMapResource(), "shop", "dep"));  // not yet
  deferred->RunGarbageCollection();
  EXPECT_FALSE(deferred->Object(ConfigMapResource(), "shop", "dep"));

  auto owner2 = client_.Create(ServiceLevelObjectiveResource(), "", Slo("b", 99));
  ASSERT_TRUE(owner2.ok());
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", OwnedBy(ConfigMap("dep"), *owner2)).ok());
  ASSERT_TRUE(
      client_.Delete(ServiceLevelObjectiveResource(), "shop", "b", {.propagation_policy = "Orphan"})
          .ok());
  auto orphan = server_->Object(ConfigMapResource(), "shop", "dep");
  ASSERT_TRUE(orphan);
  EXPECT_FALSE((*orphan)["metadata"].contains("ownerReferences"));
}

TEST_F(FakeApiServerTest, FinalizersHoldDeletionUntilEmptied) {
  const auto type = ServiceLevelObjectiveResource();
  json slo = Slo("checkout", 99.9);
  slo["metadata"]["finalizers"] = {"nines.dev/cleanup"};
  auto created = client_.Create(type, "", slo);
  ASSERT_TRUE(created.ok());
  auto dependent = client_.Create(ConfigMapResource(), "", OwnedBy(ConfigMap("dash"), *created));
  ASSERT_TRUE(dependent.ok());

  ASSERT_TRUE(client_.Delete(type, "shop", "checkout").ok());
  auto deleting = client_.Get(type, "shop", "checkout");
  ASSERT_TRUE(deleting.ok());
  EXPECT_EQ((*deleting)["metadata"]["deletionTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ((*deleting)["metadata"]["generation"], 2);
  EXPECT_TRUE(server_->Object(ConfigMapResource(), "shop", "dash"));  // its owner still exists
  // Deleting again changes nothing; no new finalizer may be added now.
  ASSERT_TRUE(client_.Delete(type, "shop", "checkout").ok());
  EXPECT_EQ(Rv(*client_.Get(type, "shop", "checkout")), Rv(*deleting));
  json more = *deleting;
  more["metadata"]["finalizers"].push_back("other");
  EXPECT_EQ(client_.Update(type, "shop", more).status().code(), StatusCode::kInvalidArgument);

  auto released =
      client_.MergePatch(type, "shop", "checkout", {{"metadata", {{"finalizers", nullptr}}}});
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  EXPECT_EQ(client_.Get(type, "shop", "checkout").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(server_->Object(ConfigMapResource(), "shop", "dash"));
}

TEST_F(FakeApiServerTest, WatchFromAResourceVersionSeesLaterEventsInOrder) {
  auto a = client_.Create(ConfigMapResource(), "", ConfigMap("a"));
  ASSERT_TRUE(a.ok());
  // Written before the watch starts, after its resourceVersion: replayed from history.
  json changed = *a;
  changed["data"]["k"] = "2";
  ASSERT_TRUE(client_.Update(ConfigMapResource(), "shop", changed).ok());

  auto watching = StartWatch({.resource_version = Rv(*a)}, 4);
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("b")).ok());
  json other_namespace = ConfigMap("elsewhere");
  other_namespace["metadata"]["namespace"] = "billing";
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", other_namespace).ok());
  ASSERT_TRUE(client_.Delete(ConfigMapResource(), "shop", "a").ok());
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("c")).ok());
  watching->thread.join();
  ASSERT_TRUE(watching->status.ok()) << watching->status.ToString();
  ASSERT_EQ(watching->events.size(), 4U);
  const std::vector<std::pair<WatchEventType, std::string>> expected = {
      {WatchEventType::kModified, "a"},
      {WatchEventType::kAdded, "b"},
      {WatchEventType::kDeleted, "a"},
      {WatchEventType::kAdded, "c"}};
  int64_t last = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(watching->events[i].type, expected[i].first) << i;
    EXPECT_EQ(watching->events[i].object["metadata"]["name"], expected[i].second) << i;
    const int64_t version = std::stoll(Rv(watching->events[i].object));
    EXPECT_GT(version, last);
    last = version;
  }
}

TEST_F(FakeApiServerTest, WatchWithoutAVersionStartsWithTheCurrentObjects) {
  server_->Put(ConfigMapResource(), ConfigMap("a"));
  server_->Put(ConfigMapResource(), ConfigMap("b"));
  auto watching = StartWatch({}, 3);
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("c")).ok());
  watching->thread.join();
  ASSERT_EQ(watching->events.size(), 3U);
  EXPECT_EQ(watching->events[0].object["metadata"]["name"], "a");
  EXPECT_EQ(watching->events[1].object["metadata"]["name"], "b");
  EXPECT_EQ(watching->events[2].object["metadata"]["name"], "c");
  for (const WatchEvent& event : watching->events) EXPECT_EQ(event.type, WatchEventType::kAdded);
}

TEST_F(FakeApiServerTest, WatchWithALabelSelector) {
  const std::string start = server_->ResourceVersion();
  auto watching = StartWatch({.resource_version = start, .label_selector = "app=x"}, 3);
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("no", {}, {{"app", "y"}})).ok());
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("yes", {}, {{"app", "x"}})).ok());
  // Leaving the selection is a DELETED; entering it an ADDED.
  ASSERT_TRUE(client_
                  .MergePatch(ConfigMapResource(), "shop", "yes",
                              {{"metadata", {{"labels", {{"app", "z"}}}}}})
                  .ok());
  ASSERT_TRUE(client_
                  .MergePatch(ConfigMapResource(), "shop", "no",
                              {{"metadata", {{"labels", {{"app", "x"}}}}}})
                  .ok());
  watching->thread.join();
  ASSERT_EQ(watching->events.size(), 3U);
  EXPECT_EQ(watching->events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(watching->events[0].object["metadata"]["name"], "yes");
  EXPECT_EQ(watching->events[1].type, WatchEventType::kDeleted);
  EXPECT_EQ(watching->events[1].object["metadata"]["name"], "yes");
  EXPECT_EQ(watching->events[2].type, WatchEventType::kAdded);
  EXPECT_EQ(watching->events[2].object["metadata"]["name"], "no");
}

TEST_F(FakeApiServerTest, BookmarksCarryTheCurrentResourceVersion) {
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("a")).ok());
  const std::string start = server_->ResourceVersion();
  auto watching = StartWatch({.resource_version = start}, 2);
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("b")).ok());
  server_->SendBookmarks();
  watching->thread.join();
  ASSERT_EQ(watching->events.size(), 2U);
  EXPECT_EQ(watching->events[1].type, WatchEventType::kBookmark);
  EXPECT_EQ(watching->events[1].object["metadata"]["resourceVersion"], server_->ResourceVersion());
  EXPECT_EQ(watching->events[1].object["kind"], "ConfigMap");

  // Without allowWatchBookmarks, none.
  auto plain = StartWatch({.resource_version = start, .allow_bookmarks = false}, 10);
  server_->SendBookmarks();
  server_->CloseAllWatches();
  plain->thread.join();
  ASSERT_EQ(plain->events.size(), 1U);
  EXPECT_EQ(plain->events[0].type, WatchEventType::kAdded);
}

TEST_F(FakeApiServerTest, CloseAllWatchesAndCancellationEndStreams) {
  auto first = StartWatch({.resource_version = "1"}, 100);
  auto second = StartWatch({.resource_version = "1"}, 100, ServiceLevelObjectiveResource(), "");
  EXPECT_EQ(server_->OpenWatches(), 2U);
  server_->CloseAllWatches();
  first->thread.join();
  second->thread.join();
  EXPECT_TRUE(first->status.ok());
  EXPECT_TRUE(second->status.ok());
  EXPECT_TRUE(server_->WaitForOpenWatches(0));
  EXPECT_EQ(server_->OpenWatches(), 0U);

  kube::Cancellation cancel;
  auto cancelled = StartWatch({.resource_version = "1"}, 100, ConfigMapResource(), "shop", &cancel);
  cancel.Cancel();
  cancelled->thread.join();
  EXPECT_TRUE(cancelled->status.ok());
  EXPECT_EQ(server_->OpenWatches(), 0U);
  EXPECT_EQ(server_->Count("watch"), 3);
}

TEST_F(FakeApiServerTest, CompactedHistoryIsGoneInBothStyles) {
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("a")).ok());
  const std::string old_version = server_->ResourceVersion();
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("b")).ok());
  server_->CompactHistory();

  auto never = [](const WatchEvent&) { return true; };
  const Status as_event =
      client_.Watch(ConfigMapResource(), "shop", {.resource_version = old_version}, never);
  EXPECT_EQ(as_event.code(), StatusCode::kGone) << as_event.ToString();
  EXPECT_NE(as_event.message().find("too old resource version"), std::string::npos);

  server_->SetWatchExpiry(WatchExpiry::kHttpStatus);
  const Status as_http =
      client_.Watch(ConfigMapResource(), "shop", {.resource_version = old_version}, never);
  EXPECT_EQ(as_http.code(), StatusCode::kGone) << as_http.ToString();
  EXPECT_NE(as_http.message().find("HTTP 410"), std::string::npos);

  // From the current version nothing was lost: the watch works.
  auto watching = StartWatch({.resource_version = server_->ResourceVersion()}, 1);
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("c")).ok());
  watching->thread.join();
  ASSERT_EQ(watching->events.size(), 1U);
  EXPECT_EQ(watching->events[0].object["metadata"]["name"], "c");
}

TEST_F(FakeApiServerTest, InjectedErrorsSurfaceAsTheirStatusCodes) {
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("a")).ok());
  const std::string path = kube::ResourcePath(ConfigMapResource(), "shop");
  server_->InjectError({.method = "GET", .path_prefix = path, .status = 500, .times = 2});
  EXPECT_EQ(client_.Get(ConfigMapResource(), "shop", "a").status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(client_.List(ConfigMapResource(), "shop").status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(client_.Get(ConfigMapResource(), "shop", "a").ok());  // used up

  server_->InjectError({.method = "PUT", .status = 409, .reason = "Conflict"});
  EXPECT_EQ(client_.Update(ConfigMapResource(), "shop", ConfigMap("a")).status().code(),
            StatusCode::kConflict);

  server_->InjectError({.status = 429, .reason = "TooManyRequests", .retry_after = "3"});
  const Status throttled = client_.Get(ConfigMapResource(), "shop", "a").status();
  EXPECT_EQ(throttled.code(), StatusCode::kUnavailable);
  ASSERT_TRUE(kube::RetryAfter(throttled));
  EXPECT_EQ(*kube::RetryAfter(throttled), std::chrono::seconds(3));

  server_->InjectError({.verb = "apply", .status = 403, .reason = "Forbidden"});
  EXPECT_EQ(client_.Apply(ConfigMapResource(), "shop", ConfigMap("a")).status().code(),
            StatusCode::kForbidden);

  server_->InjectTransportError({.method = "DELETE"});
  const Status dropped = client_.Delete(ConfigMapResource(), "shop", "a");
  EXPECT_EQ(dropped.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(server_->Object(ConfigMapResource(), "shop", "a"));

  server_->InjectError({.verb = "watch", .status = 410, .reason = "Expired"});
  EXPECT_EQ(
      client_.Watch(ConfigMapResource(), "shop", {}, [](const WatchEvent&) { return true; }).code(),
      StatusCode::kGone);

  // The log saw all of it; failed writes are writes asked for.
  EXPECT_EQ(server_->Count("delete"), 1);
  EXPECT_EQ(server_->Count("watch"), 1);
  const std::vector<RecordedRequest> log = server_->Requests();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().status, 410);
  server_->ClearRequests();
  EXPECT_EQ(server_->WriteRequests(), 0);
}

TEST_F(FakeApiServerTest, NoOpWritesAreInvisibleToWatchers) {
  const json dashboard =
      ConfigMap("checkout-slo-dashboard", {{"slo.json", "{}"}}, {{"grafana_dashboard", "1"}});
  ASSERT_TRUE(client_.Apply(ConfigMapResource(), "shop", dashboard).ok());
  auto watching = StartWatch({.resource_version = server_->ResourceVersion(),
                              .field_selector = "metadata.name=checkout-slo-dashboard"},
                             100);
  ASSERT_TRUE(client_.Apply(ConfigMapResource(), "shop", dashboard).ok());
  ASSERT_TRUE(client_
                  .MergePatch(ConfigMapResource(), "shop", "checkout-slo-dashboard",
                              {{"data", {{"slo.json", "{}"}}}})
                  .ok());
  json changed = dashboard;
  changed["data"]["slo.json"] = "{\"panels\": []}";
  ASSERT_TRUE(client_.Apply(ConfigMapResource(), "shop", changed).ok());
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("not-selected")).ok());
  server_->CloseAllWatches();
  watching->thread.join();
  ASSERT_EQ(watching->events.size(), 1U);
  EXPECT_EQ(watching->events[0].type, WatchEventType::kModified);
  EXPECT_EQ(watching->events[0].object["data"]["slo.json"], "{\"panels\": []}");
}

TEST_F(FakeApiServerTest, EventsLeasesAndSeededObjects) {
  const json event = {{"apiVersion", "events.k8s.io/v1"},
                      {"kind", "Event"},
                      {"metadata", {{"generateName", "checkout."}}},
                      {"reason", "BudgetExhausted"}};
  auto created = client_.CreateEvent("shop", event);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["metadata"]["namespace"], "shop");
  EXPECT_EQ(server_->Count("create"), 1);

  const json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                      {"kind", "Lease"},
                      {"metadata", {{"name", "nines"}, {"namespace", "ops"}}},
                      {"spec", {{"holderIdentity", "a"}}}};
  auto held = client_.Create(LeaseResource(), "", lease);
  ASSERT_TRUE(held.ok());
  json taken = *held;
  taken["spec"]["holderIdentity"] = "b";
  ASSERT_TRUE(client_.Update(LeaseResource(), "ops", taken).ok());
  taken["spec"]["holderIdentity"] = "c";  // from the same, now stale, read
  EXPECT_EQ(client_.Update(LeaseResource(), "ops", taken).status().code(), StatusCode::kConflict);

  // Put seeds directly; the server still assigns what it owns.
  json seeded = Slo("seeded", 99);
  seeded["status"] = {{"state", "Healthy"}};
  const json stored = server_->Put(ServiceLevelObjectiveResource(), seeded);
  EXPECT_EQ(stored["status"]["state"], "Healthy");
  EXPECT_EQ(stored["metadata"]["generation"], 1);
  EXPECT_FALSE(stored["metadata"]["uid"].get<std::string>().empty());
  seeded["spec"]["objective"] = 98;
  EXPECT_EQ(server_->Put(ServiceLevelObjectiveResource(), seeded)["metadata"]["generation"], 2);
  EXPECT_EQ(server_->WriteRequests(), 4);  // the refused update counts; Put is no request
}

TEST_F(FakeApiServerTest, ConcurrentWritersNeverLoseAnUpdate) {
  ASSERT_TRUE(client_.Create(ConfigMapResource(), "", ConfigMap("counter", {{"n", "0"}})).ok());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> conflicts{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      kube::Client client(server_);
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          auto current = client.Get(ConfigMapResource(), "shop", "counter");
          ASSERT_TRUE(current.ok());
          json next = *current;
          next["data"]["n"] = std::to_string(std::stoi(next["data"]["n"].get<std::string>()) + 1);
          auto written = client.Update(ConfigMapResource(), "shop", next);
          if (written.ok()) break;
          ASSERT_EQ(written.status().code(), StatusCode::kConflict);
          ++conflicts;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  auto final_state = server_->Object(ConfigMapResource(), "shop", "counter");
  ASSERT_TRUE(final_state);
  EXPECT_EQ((*final_state)["data"]["n"], std::to_string(kThreads * kIncrements));
  EXPECT_EQ(server_->ResourceVersion(), std::to_string(1 + kThreads * kIncrements));
  EXPECT_EQ(server_->Count("update"), kThreads * kIncrements + conflicts.load());
}

}  // namespace
}  // namespace nines::testing
