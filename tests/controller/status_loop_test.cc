#include "operator/controller/status_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "operator/controller/conditions.h"
#include "operator/controller/slo_reconciler.h"
#include "tests/testing/fake_api_server.h"

namespace nines::controller {
namespace {

using Json = nlohmann::json;

Json Slo(const std::string& name, const std::string& ns = "shop") {
  return Json::parse(R"({
    "apiVersion": "nines.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": ")" +
                     name + R"(", "namespace": ")" + ns + R"("},
    "spec": {
      "service": "checkout",
      "objective": "99.9",
      "indicator": {"ratio": {
        "total": "http_requests_total{job=\"checkout\"}",
        "bad": "http_requests_total{job=\"checkout\",code=~\"5..\"}"}}
    }
  })");
}

// Prometheus as the status loop sees it: every objective's public series, set per test, or an
// outage. Counts the queries it answers.
class FakePrometheus : public prometheus::QueryClient {
 public:
  Result<prometheus::QueryResult> Query(
      std::string_view promql, std::optional<std::chrono::system_clock::time_point>) override {
    ++queries;
    if (!down.ok()) return down;
    const std::string query(promql);
    // "max by (slo_namespace, slo) (SERIES{...})": the series is inside the last parentheses.
    const size_t open = query.rfind(" (") + 2;
    const std::string series = query.substr(open, query.find_first_of("{)", open) - open);
    prometheus::QueryResult result;
    result.warnings = warnings;
    for (const auto& [key, values] : objectives) {
      std::map<std::string, std::string> labels = {{"slo_namespace", key.first},
                                                   {"slo", key.second}};
      auto add = [&](double value, const std::string& window = "") {
        auto l = labels;
        if (!window.empty()) l["window"] = window;
        result.samples.push_back({.labels = l, .value = value});
      };
      if (series == "slo:objective:ratio") add(0.999);
      if (series == "slo:sli:ratio") add(values.sli);
      if (series == "slo:error_budget_remaining:ratio") add(1 - (1 - values.sli) / 0.001);
      if (series == "slo:events:rate5m") add(20);
      if (series == "slo:burn_rate:ratio") {
        for (const auto& [window, rate] : values.burn_rates) add(rate, window);
      }
    }
    return result;
  }

  struct Values {
    double sli = 0.9995;
    std::map<std::string, double> burn_rates = {{"5m", 0.5}, {"30m", 0.5}, {"1h", 0.5}, {"2h", 0.5},
                                                {"6h", 0.5}, {"1d", 0.5},  {"3d", 0.5}};
  };
  std::map<ObjectiveKey, Values> objectives;
  Status down;
  std::vector<std::string> warnings;
  std::atomic<int> queries{0};
};

class StatusLoopTest : public ::testing::Test {
 protected:
  StatusLoopTest() {
    server_->AddNinesResourceTypes();
    options_.now = [this] { return now_; };
    reconciler_options_.now = options_.now;
  }

  // An objective that the reconciler has made Ready, as the status loop finds them.
  void AddReady(const std::string& name, const std::string& ns = "shop") {
    ASSERT_TRUE(client_.Create(SloResource(), ns, Slo(name, ns)).ok());
    SloReconciler reconciler(client_, reconciler_options_);
    auto outcome = reconciler.Reconcile(ns, name);
    ASSERT_TRUE(outcome.ok() && *outcome == ReconcileOutcome::kApplied);
    prometheus_.objectives[{ns, name}] = {};
  }

  std::vector<Json> ListAll() {
    std::vector<Json> out;
    auto list = client_.List(SloResource(), "");
    if (list.ok()) {
      for (Json& item : (*list)["items"]) out.push_back(std::move(item));
    }
    return out;
  }

  StatusCycle Cycle() {
    StatusLoop loop(
        client_, prometheus_,
        [this](const StatusLoop::ObjectiveVisitor& visit) {
          for (const Json& slo : ListAll()) visit(slo);
        },
        options_);
    return loop.RunOnce();
  }

  Json StatusOf(const std::string& name, const std::string& ns = "shop") {
    auto object = server_->Object(SloResource(), ns, name);
    return object ? (*object)["status"] : Json();
  }

  std::vector<Json> Events(const std::string& reason) {
    std::vector<Json> out;
    auto list = client_.List(kube::EventResource(), "shop");
    if (list.ok()) {
      for (const Json& e : (*list)["items"]) {
        if (e.value("reason", "") == reason) out.push_back(e);
      }
    }
    return out;
  }

  std::shared_ptr<testing::FakeApiServer> server_ = std::make_shared<testing::FakeApiServer>();
  kube::Client client_{server_};
  FakePrometheus prometheus_;
  std::chrono::system_clock::time_point now_{std::chrono::hours(500000)};
  StatusLoopOptions options_;
  ReconcilerOptions reconciler_options_;
};

TEST_F(StatusLoopTest, WritesTheBudgetOnceAndNothingWhileNothingChanges) {
  AddReady("checkout");
  const StatusCycle first = Cycle();
  EXPECT_EQ(first.evaluated, 1);
  EXPECT_EQ(first.writes, 1);
  Json status = StatusOf("checkout");
  EXPECT_EQ(status["state"], "Healthy");
  EXPECT_EQ(status["sli"], 99.95);
  EXPECT_EQ(status["errorBudget"]["remaining"], 50);
  EXPECT_EQ(status["burnRates"]["3d"], 0.5);
  EXPECT_EQ(FindCondition(status["conditions"], "Ready")->value("status", ""), "True");
  EXPECT_EQ(FindCondition(status["conditions"], "FastBurn")->value("status", ""), "False");

  server_->ClearRequests();
  now_ += std::chrono::minutes(1);
  const StatusCycle second = Cycle();
  EXPECT_EQ(second.writes, 0);
  EXPECT_EQ(server_->WriteRequests(), 0) << "no write, no Event, when nothing changed";
}

TEST_F(StatusLoopTest, QueriesAreAFixedNumberWhateverTheNumberOfObjectives) {
  AddReady("one");
  EXPECT_EQ(Cycle().queries, 6);
  for (int i = 0; i < 30; ++i) AddReady("many-" + std::to_string(i));
  prometheus_.queries = 0;
  const StatusCycle cycle = Cycle();
  EXPECT_EQ(cycle.queries, 6);
  EXPECT_EQ(prometheus_.queries, 6);
  EXPECT_EQ(cycle.evaluated, 31);
  EXPECT_EQ(cycle.states.at("Healthy"), 31);
}

TEST_F(StatusLoopTest, BurnTransitionsAreConditionsAndEvents) {
  AddReady("checkout");
  (void)Cycle();
  auto& values = prometheus_.objectives[{"shop", "checkout"}];
  values.burn_rates["1h"] = 20;
  values.burn_rates["5m"] = 30;
  now_ += std::chrono::minutes(1);
  (void)Cycle();
  Json status = StatusOf("checkout");
  EXPECT_EQ(status["state"], "Burning");
  EXPECT_EQ(FindCondition(status["conditions"], "FastBurn")->value("status", ""), "True");
  ASSERT_EQ(Events("FastBurn").size(), 1U);
  EXPECT_EQ(Events("FastBurn")[0]["type"], "Warning");
  EXPECT_EQ(Events("FastBurn")[0]["regarding"]["name"], "checkout");

  values.sli = 0.998;  // the budget is gone
  now_ += std::chrono::minutes(1);
  (void)Cycle();
  status = StatusOf("checkout");
  EXPECT_EQ(status["state"], "Exhausted");
  EXPECT_EQ(FindCondition(status["conditions"], "BudgetExhausted")->value("status", ""), "True");
  EXPECT_EQ(Events("BudgetExhausted").size(), 1U);

  values.burn_rates["5m"] = 0.1;
  now_ += std::chrono::minutes(1);
  (void)Cycle();
  EXPECT_EQ(FindCondition(StatusOf("checkout")["conditions"], "FastBurn")->value("status", ""),
            "False");
  EXPECT_EQ(Events("FastBurnResolved").size(), 1U);
  EXPECT_EQ(Events("FastBurn").size(), 1U) << "one Event per transition, not per cycle";
}

TEST_F(StatusLoopTest, PrometheusDownIsNoDataUntilItIsBack) {
  AddReady("checkout");
  (void)Cycle();
  prometheus_.down = UnavailableError("dial tcp 10.0.0.1:9090: connection refused");
  const StatusCycle cycle = Cycle();
  EXPECT_FALSE(cycle.prometheus.ok());
  EXPECT_EQ(cycle.queries, 1) << "one failed query ends the cycle's questions";
  Json status = StatusOf("checkout");
  EXPECT_EQ(status["state"], "NoData");
  EXPECT_EQ(status["sli"], 99.95) << "the last values stay";
  const Json* fast = FindCondition(status["conditions"], "FastBurn");
  EXPECT_EQ(fast->value("status", ""), "Unknown");
  EXPECT_EQ(fast->value("reason", ""), "PrometheusUnavailable");
  EXPECT_NE(fast->value("message", "").find("connection refused"), std::string::npos);
  EXPECT_EQ(FindCondition(status["conditions"], "Ready")->value("status", ""), "True")
      << "rules are still managed";

  prometheus_.down = Status::Ok();
  (void)Cycle();
  EXPECT_EQ(StatusOf("checkout")["state"], "Healthy");
}

TEST_F(StatusLoopTest, ObjectivesTheReconcilerHasNotMadeReadyAreLeftAlone) {
  Json invalid = Slo("broken");
  invalid["spec"]["objective"] = "100";
  ASSERT_TRUE(client_.Create(SloResource(), "shop", invalid).ok());
  SloReconciler reconciler(client_, reconciler_options_);
  ASSERT_TRUE(reconciler.Reconcile("shop", "broken").ok());
  prometheus_.objectives[{"shop", "broken"}] = {};
  ASSERT_TRUE(client_.Create(SloResource(), "shop", Slo("new")).ok());  // not reconciled yet

  server_->ClearRequests();
  const StatusCycle cycle = Cycle();
  EXPECT_EQ(cycle.evaluated, 0);
  EXPECT_EQ(server_->WriteRequests(), 0);
  EXPECT_EQ(StatusOf("broken")["state"], "Invalid");
  EXPECT_EQ(cycle.states.at("Invalid"), 1);
  EXPECT_EQ(cycle.states.at(""), 1);
}

TEST_F(StatusLoopTest, RulesNotYetInPrometheusArePending) {
  AddReady("checkout");
  prometheus_.objectives.clear();
  (void)Cycle();
  EXPECT_EQ(StatusOf("checkout")["state"], "Pending");
  EXPECT_EQ(FindCondition(StatusOf("checkout")["conditions"], "FastBurn")->value("reason", ""),
            "RulesNotLoaded");
}

TEST_F(StatusLoopTest, APartialAnswerLeavesMissingObjectivesAsTheyAre) {
  AddReady("seen");
  AddReady("unseen");
  (void)Cycle();
  prometheus_.objectives.erase({"shop", "unseen"});
  prometheus_.warnings = {"partial response: store 10.0.0.2:10901 did not answer"};
  const StatusCycle cycle = Cycle();
  EXPECT_EQ(cycle.warnings.size(), 6U);
  EXPECT_EQ(StatusOf("unseen")["state"], "Healthy");
}

TEST_F(StatusLoopTest, AConflictIsMergedIntoTheFreshObjectAndRetried) {
  AddReady("checkout");
  server_->InjectError({.method = "PUT", .status = 409, .reason = "Conflict", .times = 1});
  const StatusCycle cycle = Cycle();
  EXPECT_EQ(cycle.conflicts, 1);
  EXPECT_EQ(cycle.writes, 1);
  EXPECT_EQ(StatusOf("checkout")["state"], "Healthy");
}

TEST_F(StatusLoopTest, AReplicaThatDoesNotLeadWritesNothing) {
  AddReady("checkout");
  options_.may_write = [] { return false; };
  server_->ClearRequests();
  (void)Cycle();
  EXPECT_EQ(server_->WriteRequests(), 0);
}

TEST_F(StatusLoopTest, StopEndsRunPromptly) {
  AddReady("checkout");
  options_.interval = std::chrono::hours(1);
  StatusLoop loop(
      client_, prometheus_,
      [this](const StatusLoop::ObjectiveVisitor& visit) {
        for (const Json& slo : ListAll()) visit(slo);
      },
      options_);
  int cycles = 0;
  std::thread runner([&] { loop.Run([&](const StatusCycle&) { ++cycles; }); });
  while (prometheus_.queries < 6) std::this_thread::yield();
  loop.Stop();
  runner.join();
  EXPECT_EQ(cycles, 1);
}

}  // namespace
}  // namespace nines::controller
