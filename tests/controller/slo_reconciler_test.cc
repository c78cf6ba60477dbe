#include "operator/controller/slo_reconciler.h"

#include <gtest/gtest.h>

#include <memory>

#include "operator/controller/conditions.h"
#include "tests/testing/fake_api_server.h"

namespace nines::controller {
namespace {

using Json = nlohmann::json;

Json Slo(const std::string& name, const std::string& objective = "99.9") {
  return Json::parse(R"({
    "apiVersion": "nines.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": ")" +
                     name + R"(", "namespace": "shop"},
    "spec": {
      "service": "checkout",
      "objective": ")" +
                     objective + R"(",
      "indicator": {"ratio": {
        "total": "http_requests_total{job=\"checkout\"}",
        "bad": "http_requests_total{job=\"checkout\",code=~\"5..\"}"}}
    }
  })");
}

class SloReconcilerTest : public ::testing::Test {
 protected:
  SloReconcilerTest() {
    server_->AddNinesResourceTypes();
    options_.now = [] { return std::chrono::system_clock::time_point(std::chrono::hours(1000)); };
    options_.instance = "test";
  }

  Json Create(const Json& object) {
    auto created = client_.Create(SloResource(), "shop", object);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }

  ReconcileOutcome Reconcile(const std::string& name = "checkout") {
    SloReconciler reconciler(client_, options_);
    auto result = reconciler.Reconcile("shop", name);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : ReconcileOutcome::kGone;
  }

  Json Object(const kube::ResourceType& type, const std::string& name) {
    auto object = server_->Object(type, "shop", name);
    return object ? *object : Json();
  }

  Json Ready(const std::string& name = "checkout") {
    const Json conditions =
        Object(SloResource(), name).value("status", Json::object()).value("conditions", Json());
    const Json* ready = FindCondition(conditions, "Ready");
    return ready != nullptr ? *ready : Json();
  }

  std::vector<Json> Events() {
    auto list = client_.List(kube::EventResource(), "shop");
    EXPECT_TRUE(list.ok());
    std::vector<Json> out;
    if (list.ok()) {
      for (const Json& item : (*list)["items"]) out.push_back(item);
    }
    return out;
  }

  std::shared_ptr<testing::FakeApiServer> server_ = std::make_shared<testing::FakeApiServer>();
  kube::Client client_{server_};
  ReconcilerOptions options_;
};

// What the operator applies is, byte for byte, what `nines generate` renders, plus the owner
// reference that lets garbage collection delete it with the objective.
TEST_F(SloReconcilerTest, AppliesTheGeneratedRuleAndDashboardOwnedByTheObjective) {
  const Json slo = Create(Slo("checkout"));
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kApplied);

  const Json rule = Object(PrometheusRuleResource(), "checkout");
  ASSERT_TRUE(rule.is_object());
  auto parsed = api::ParseResources(slo.dump(), "t");
  ASSERT_EQ(parsed.slos.size(), 1U);
  const Json expected = Json::parse(slo::GeneratePrometheusRule(parsed.slos[0]).dump());
  EXPECT_EQ(rule["spec"], expected["spec"]);
  EXPECT_EQ(rule["metadata"]["labels"], expected["metadata"]["labels"]);
  const Json& owner = rule["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["uid"], slo["metadata"]["uid"]);
  EXPECT_EQ(owner["kind"], "ServiceLevelObjective");
  EXPECT_EQ(owner["controller"], true);

  const Json dashboard = Object(kube::ConfigMapResource(), "checkout-slo-dashboard");
  ASSERT_TRUE(dashboard.is_object());
  EXPECT_EQ(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
  EXPECT_EQ(dashboard["metadata"]["ownerReferences"][0]["uid"], slo["metadata"]["uid"]);

  const Json ready = Ready();
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["reason"], "Reconciled");
  EXPECT_EQ(ready["observedGeneration"], 1);
  const Json status = Object(SloResource(), "checkout")["status"];
  EXPECT_EQ(status["observedGeneration"], 1);
  EXPECT_EQ(status["state"], "Pending") << "no budget state before the status loop's first data";
}

// Level triggered and quiet: a second pass over an unchanged objective changes nothing at all.
TEST_F(SloReconcilerTest, NothingChangesWhenNothingChanged) {
  Create(Slo("checkout"));
  Reconcile();
  const std::string version = server_->ResourceVersion();
  server_->ClearRequests();
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kApplied);
  EXPECT_EQ(server_->ResourceVersion(), version) << "no object was written";
  EXPECT_EQ(server_->WriteRequests("status"), 0) << "the status is written only when it changed";
  EXPECT_TRUE(Events().empty());
}

TEST_F(SloReconcilerTest, InvalidSpecIsReportedOnTheObjectWithTheField) {
  Json slo = Slo("checkout");
  slo["spec"]["objective"] = "100";
  Create(slo);
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kInvalid);
  const Json ready = Ready();
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "InvalidSpec");
  EXPECT_NE(ready["message"].get<std::string>().find("spec.objective"), std::string::npos)
      << ready["message"];
  EXPECT_EQ(Object(SloResource(), "checkout")["status"]["state"], "Invalid");
  EXPECT_FALSE(Object(PrometheusRuleResource(), "checkout").is_object())
      << "nothing invalid reaches Prometheus";
  auto events = Events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_EQ(events[0]["reason"], "InvalidSpec");
  EXPECT_EQ(events[0]["regarding"]["name"], "checkout");

  // Once reported, the same problem is not reported again.
  server_->ClearRequests();
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kInvalid);
  EXPECT_EQ(Events().size(), 1U);
  EXPECT_EQ(server_->WriteRequests("status"), 0);

  // Fixed: Ready again, with a Normal event for the transition.
  ASSERT_TRUE(
      server_->Edit(SloResource(), "shop", "checkout", {{"spec", {{"objective", "99.5"}}}}).ok());
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kApplied);
  EXPECT_EQ(Ready()["status"], "True");
  EXPECT_EQ(Ready()["observedGeneration"], 2);
  EXPECT_EQ(Object(SloResource(), "checkout")["status"]["state"], "Pending");
  EXPECT_EQ(Events().size(), 2U);
}

// A same-named object that the objective does not control stays exactly as it is.
TEST_F(SloReconcilerTest, NeverChangesAnObjectItDoesNotControl) {
  const Json theirs = server_->Put(
      PrometheusRuleResource(),
      {{"apiVersion", "monitoring.coreos.com/v1"},
       {"kind", "PrometheusRule"},
       {"metadata", {{"name", "checkout"}, {"namespace", "shop"}, {"labels", {{"team", "x"}}}}},
       {"spec", {{"groups", Json::array()}}}});
  Create(Slo("checkout"));
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kOwnershipConflict);
  EXPECT_EQ(Object(PrometheusRuleResource(), "checkout"), theirs);
  EXPECT_FALSE(Object(kube::ConfigMapResource(), "checkout-slo-dashboard").is_object());
  const Json ready = Ready();
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "OwnershipConflict");
  EXPECT_NE(ready["message"].get<std::string>().find("PrometheusRule shop/checkout"),
            std::string::npos);
  ASSERT_EQ(Events().size(), 1U);
  EXPECT_EQ(Events()[0]["reason"], "OwnershipConflict");
}

TEST_F(SloReconcilerTest, HandEditsOfGeneratedObjectsAreUndone) {
  Create(Slo("checkout"));
  Reconcile();
  const Json generated = Object(PrometheusRuleResource(), "checkout");
  ASSERT_TRUE(server_
                  ->Edit(PrometheusRuleResource(), "shop", "checkout",
                         {{"spec", {{"groups", Json::array()}}}})
                  .ok());
  EXPECT_NE(Object(PrometheusRuleResource(), "checkout")["spec"], generated["spec"]);
  Reconcile();
  EXPECT_EQ(Object(PrometheusRuleResource(), "checkout")["spec"], generated["spec"]);

  ASSERT_TRUE(client_.Delete(PrometheusRuleResource(), "shop", "checkout").ok());
  Reconcile();
  EXPECT_EQ(Object(PrometheusRuleResource(), "checkout")["spec"], generated["spec"]);
}

TEST_F(SloReconcilerTest, EditingTheObjectiveUpdatesItsRules) {
  Create(Slo("checkout"));
  Reconcile();
  ASSERT_TRUE(
      server_->Edit(SloResource(), "shop", "checkout", {{"spec", {{"objective", "99"}}}}).ok());
  Reconcile();
  const std::string rules = Object(PrometheusRuleResource(), "checkout")["spec"].dump();
  EXPECT_NE(rules.find("vector(0.99)"), std::string::npos);
  EXPECT_EQ(Ready()["observedGeneration"], 2);
}

TEST_F(SloReconcilerTest, StatusConflictsAreRetriedAndServerErrorsReturned) {
  Create(Slo("checkout"));
  server_->InjectError({.verb = "update", .status = 409, .reason = "Conflict", .times = 2});
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kApplied);
  EXPECT_EQ(Ready()["status"], "True");

  server_->InjectError({.verb = "apply", .status = 500, .times = 1});
  ASSERT_TRUE(
      server_->Edit(SloResource(), "shop", "checkout", {{"spec", {{"objective", "99"}}}}).ok());
  SloReconciler reconciler(client_, options_);
  auto result = reconciler.Reconcile("shop", "checkout");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("PrometheusRule shop/checkout"), std::string::npos);
}

TEST_F(SloReconcilerTest, ChangingTheDashboardModeReplacesTheCarrier) {
  Create(Slo("checkout"));
  Reconcile();
  ASSERT_TRUE(Object(kube::ConfigMapResource(), "checkout-slo-dashboard").is_object());
  options_.dashboard_objects.mode = slo::DashboardMode::kGrafanaOperator;
  Reconcile();
  EXPECT_FALSE(Object(kube::ConfigMapResource(), "checkout-slo-dashboard").is_object());
  const Json grafana = Object(GrafanaDashboardResource(), "checkout-slo-dashboard");
  ASSERT_TRUE(grafana.is_object());
  EXPECT_EQ(grafana["spec"]["instanceSelector"]["matchLabels"]["dashboards"], "grafana");
}

// Every write is remembered by resourceVersion, so that the controller can drop the watch events
// they bring back; a hand edit is not ours; a gone objective is forgotten.
TEST_F(SloReconcilerTest, RemembersItsWritesSoThatTheirEchoesAreRecognised) {
  OwnWrites writes;
  options_.own_writes = &writes;
  Create(Slo("checkout"));
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kApplied);
  const std::string key = "shop/checkout";
  EXPECT_TRUE(writes.IsEcho(key, "prometheusrules", Object(PrometheusRuleResource(), "checkout")));
  EXPECT_TRUE(writes.IsEcho(key, "configmaps",
                            Object(kube::ConfigMapResource(), "checkout-slo-dashboard")));
  EXPECT_TRUE(writes.IsEcho(key, "servicelevelobjectives", Object(SloResource(), "checkout")))
      << "the status write";

  ASSERT_TRUE(server_
                  ->Edit(PrometheusRuleResource(), "shop", "checkout",
                         {{"metadata", {{"labels", {{"hand", "edit"}}}}}})
                  .ok());
  EXPECT_FALSE(writes.IsEcho(key, "prometheusrules", Object(PrometheusRuleResource(), "checkout")))
      << "a hand edit is a change";
  ASSERT_TRUE(
      server_->Edit(SloResource(), "shop", "checkout", {{"spec", {{"objective", "99"}}}}).ok());
  EXPECT_FALSE(writes.IsEcho(key, "servicelevelobjectives", Object(SloResource(), "checkout")));

  ASSERT_TRUE(client_.Delete(SloResource(), "shop", "checkout").ok());
  EXPECT_EQ(Reconcile(), ReconcileOutcome::kGone);
  EXPECT_EQ(writes.Objectives(), 0U);
}

int Gets(const testing::FakeApiServer& server, const std::string& resource) {
  int gets = 0;
  for (const testing::RecordedRequest& r : server.Requests()) {
    if (r.verb == "get" && r.path_and_query.find("/" + resource + "/") != std::string::npos) ++gets;
  }
  return gets;
}

// The objective is read once per reconcile: Ready is written onto that read, and re-read only
// after a conflict. A dashboard carrier of the kind not configured is looked for once per
// objective: this process never makes one.
TEST_F(SloReconcilerTest, ReadsTheObjectiveOnceAndLooksForAStaleCarrierOnce) {
  Create(Slo("checkout"));
  SloReconciler reconciler(client_, options_);
  ASSERT_TRUE(reconciler.Reconcile("shop", "checkout").ok());
  EXPECT_EQ(Ready()["status"], "True");
  EXPECT_EQ(Gets(*server_, "servicelevelobjectives"), 1);
  EXPECT_EQ(Gets(*server_, "grafanadashboards"), 1);

  server_->ClearRequests();
  ASSERT_TRUE(reconciler.Reconcile("shop", "checkout").ok());
  EXPECT_EQ(Gets(*server_, "servicelevelobjectives"), 1);
  EXPECT_EQ(Gets(*server_, "grafanadashboards"), 0);

  // A new objective of the same name (a new uid) is looked at again.
  ASSERT_TRUE(client_.Delete(SloResource(), "shop", "checkout").ok());
  EXPECT_EQ(*reconciler.Reconcile("shop", "checkout"), ReconcileOutcome::kGone);
  Create(Slo("checkout"));
  server_->ClearRequests();
  ASSERT_TRUE(reconciler.Reconcile("shop", "checkout").ok());
  EXPECT_EQ(Gets(*server_, "grafanadashboards"), 1);

  // A conflict on the status write re-reads.
  ASSERT_TRUE(
      server_->Edit(SloResource(), "shop", "checkout", {{"spec", {{"objective", "99"}}}}).ok());
  server_->InjectError({.verb = "update", .status = 409, .reason = "Conflict", .times = 1});
  server_->ClearRequests();
  ASSERT_TRUE(reconciler.Reconcile("shop", "checkout").ok());
  EXPECT_EQ(Gets(*server_, "servicelevelobjectives"), 2);
  EXPECT_EQ(Ready()["observedGeneration"], 2);
}

TEST_F(SloReconcilerTest, AStaleCarrierLookThatFailedIsMadeAgain) {
  Create(Slo("checkout"));
  SloReconciler reconciler(client_, options_);
  server_->InjectError({.method = "GET",
                        .path_prefix = "/apis/grafana.integreatly.org/",
                        .status = 503,
                        .reason = "ServiceUnavailable",
                        .times = 1});
  ASSERT_TRUE(reconciler.Reconcile("shop", "checkout").ok());
  server_->ClearRequests();
  ASSERT_TRUE(reconciler.Reconcile("shop", "checkout").ok());
  EXPECT_EQ(Gets(*server_, "grafanadashboards"), 1);
}

TEST_F(SloReconcilerTest, AGoneObjectiveIsNothingToDo) {
  EXPECT_EQ(Reconcile("nothing-here"), ReconcileOutcome::kGone);
}

}  // namespace
}  // namespace nines::controller
