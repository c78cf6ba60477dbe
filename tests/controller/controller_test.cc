#include "operator/controller/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "operator/controller/conditions.h"
#include "tests/testing/fake_api_server.h"

namespace nines::controller {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;

Json Slo(const std::string& name) {
  return {{"apiVersion", "nines.dev/v1alpha1"},
          {"kind", "ServiceLevelObjective"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec",
           {{"service", name},
            {"objective", "99.9"},
            {"indicator",
             {{"ratio",
               {{"total", "http_requests_total{job=\"" + name + "\"}"},
                {"bad", "http_requests_total{job=\"" + name + "\",code=~\"5..\"}"}}}}}}}};
}

class ControllerTest : public ::testing::Test {
 protected:
  ControllerTest() {
    server_->AddNinesResourceTypes();
    options_.workers = 2;
    options_.on_reconcile = [this](const std::string&, const Result<ReconcileOutcome>&,
                                   std::chrono::nanoseconds) { reconciles_.fetch_add(1); };
  }
  ~ControllerTest() override {
    if (controller_ != nullptr) controller_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  void Start() {
    controller_ = std::make_unique<Controller>(client_, options_);
    thread_ = std::thread([this] { controller_->Run(); });
    for (int i = 0; i < 1000 && !controller_->Synced(); ++i)
      std::this_thread::sleep_for(milliseconds(10));
    ASSERT_TRUE(controller_->Synced());
    ASSERT_TRUE(server_->WaitForOpenWatches(3));
  }

  // Until the queue is empty and no reconcile ran for 300ms (bounded: 20s); says which.
  bool WaitQuiet() {
    int64_t last = -1;
    int still = 0;
    for (int i = 0; i < 2000; ++i) {
      const int64_t now = reconciles_.load();
      still = (now == last && controller_->QueueDepth() == 0) ? still + 1 : 0;
      if (still >= 30) return true;
      last = now;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  bool Ready(const std::string& name) {
    auto slo = server_->Object(SloResource(), "shop", name);
    if (!slo) return false;
    const Json conditions = slo->value("status", Json::object()).value("conditions", Json());
    const Json* ready = FindCondition(conditions, "Ready");
    return ready != nullptr && ready->value("status", "") == "True";
  }

  std::shared_ptr<testing::FakeApiServer> server_ = std::make_shared<testing::FakeApiServer>();
  kube::Client client_{server_};
  ControllerOptions options_;
  std::atomic<int64_t> reconciles_{0};
  std::unique_ptr<Controller> controller_;
  std::thread thread_;
};

// The watch events of the controller's own writes (the rule and dashboard it applied, the Ready it
// wrote) do not send an objective through the reconciler again: one reconcile per objective, not
// two, even when an event overtakes the answer to the write it echoes.
TEST_F(ControllerTest, OwnWritesDoNotBringAnObjectiveBack) {
  Start();
  constexpr int kObjectives = 20;
  for (int i = 0; i < kObjectives; ++i) {
    ASSERT_TRUE(client_.Create(SloResource(), "shop", Slo("svc-" + std::to_string(i))).ok());
  }
  ASSERT_TRUE(WaitQuiet());
  for (int i = 0; i < kObjectives; ++i) EXPECT_TRUE(Ready("svc-" + std::to_string(i))) << i;
  EXPECT_EQ(reconciles_.load(), kObjectives) << "an echo brought an objective back";
  EXPECT_EQ(controller_->EchoesSkipped(), 3 * kObjectives) << "a rule, a dashboard, a status each";
}

// A Prometheus without the objectives' series: each objective gets one status write (Pending,
// RulesNotLoaded), and then nothing changes.
class NoSeries : public prometheus::QueryClient {
 public:
  Result<prometheus::QueryResult> Query(
      std::string_view, std::optional<std::chrono::system_clock::time_point>) override {
    return prometheus::QueryResult{};
  }
};

// The status loop's writes come back as watch events too; neither they nor their race with the
// reconciler's own writes bring an objective back. The states are counted as the watch goes.
TEST_F(ControllerTest, StatusWritesDoNotBringAnObjectiveBackEither) {
  NoSeries prometheus;
  std::atomic<int> status_writes{0};
  options_.prometheus = &prometheus;
  options_.status.interval = milliseconds(50);
  options_.on_status_cycle = [&](const StatusCycle& cycle) { status_writes += cycle.writes; };
  Start();
  constexpr int kObjectives = 20;
  for (int i = 0; i < kObjectives; ++i) {
    ASSERT_TRUE(client_.Create(SloResource(), "shop", Slo("svc-" + std::to_string(i))).ok());
  }
  for (int i = 0; i < 2000 && status_writes.load() < kObjectives; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(status_writes.load(), kObjectives);
  ASSERT_TRUE(WaitQuiet());
  EXPECT_EQ(reconciles_.load(), kObjectives) << "a status write brought an objective back";
  EXPECT_EQ(status_writes.load(), kObjectives) << "nothing changed after the first write";
  const auto states = controller_->CountObjectivesByState();
  EXPECT_EQ(states.size(), 1U);
  EXPECT_EQ(states.count("Pending") ? states.at("Pending") : 0, kObjectives);

  ASSERT_TRUE(client_.Delete(SloResource(), "shop", "svc-0").ok());
  for (int i = 0; i < 500 && controller_->CountObjectivesByState()["Pending"] != kObjectives - 1;
       ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(controller_->CountObjectivesByState()["Pending"], kObjectives - 1);
  int visited = 0;
  controller_->ForEachObjective([&](const Json& slo) {
    ++visited;
    EXPECT_EQ(slo["status"]["state"], "Pending");
  });
  EXPECT_EQ(visited, kObjectives - 1);
}

// ... while a change by anyone else still does: a hand edit of a generated rule is undone.
TEST_F(ControllerTest, AHandEditOfAGeneratedObjectIsStillUndone) {
  Start();
  ASSERT_TRUE(client_.Create(SloResource(), "shop", Slo("checkout")).ok());
  ASSERT_TRUE(WaitQuiet());
  ASSERT_TRUE(Ready("checkout"));
  const Json before = server_->Object(PrometheusRuleResource(), "shop", "checkout")->at("spec");
  const int64_t reconciled = reconciles_.load();
  ASSERT_TRUE(server_
                  ->Edit(PrometheusRuleResource(), "shop", "checkout",
                         {{"spec", {{"groups", Json::array()}}}})
                  .ok());
  ASSERT_TRUE(WaitQuiet());
  EXPECT_GT(reconciles_.load(), reconciled);
  EXPECT_EQ(server_->Object(PrometheusRuleResource(), "shop", "checkout")->at("spec"), before);
}

// A revisit (every --requeue-period) of an objective that nothing changed reads the objective (one
// GET) and the ownership of its objects from the caches, and applies nothing. At 10,000
// objectives and the default 10 minutes, every revisit cost five requests (a GET of the
// objective, two ownership GETs, two applies that changed nothing): 83 a second, forever.
TEST_F(ControllerTest, ARevisitOfAnUnchangedObjectiveOnlyReadsIt) {
  options_.requeue_period = std::chrono::seconds(1);
  Start();
  ASSERT_TRUE(client_.Create(SloResource(), "shop", Slo("checkout")).ok());
  ASSERT_TRUE(WaitQuiet());
  ASSERT_TRUE(Ready("checkout"));
  server_->ClearRequests();
  const int64_t reconciled = reconciles_.load();
  for (int i = 0; i < 1000 && reconciles_.load() < reconciled + 2; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_GE(reconciles_.load(), reconciled + 2) << "two revisits";
  int gets = 0;
  for (const testing::RecordedRequest& request : server_->Requests()) {
    if (request.verb == "get") {
      ++gets;
      EXPECT_NE(request.path_and_query.find("/servicelevelobjectives/checkout"), std::string::npos)
          << request.path_and_query << ": only the objective is read";
      continue;
    }
    EXPECT_EQ(request.verb, "watch") << request.method << " " << request.path_and_query;
  }
  EXPECT_GE(gets, 2) << "one GET of the objective a revisit";
}

// ... while what a revisit cannot see in the caches still brings the writes back: a generated
// object deleted by hand, and an objective edited (its rules change).
TEST_F(ControllerTest, ADeletedRuleAndAnEditedObjectiveAreAppliedAfterARevisit) {
  options_.requeue_period = std::chrono::seconds(1);
  Start();
  ASSERT_TRUE(client_.Create(SloResource(), "shop", Slo("checkout")).ok());
  ASSERT_TRUE(WaitQuiet());
  const Json before = server_->Object(PrometheusRuleResource(), "shop", "checkout")->at("spec");
  // Let a revisit run, so that the next reconciles start from "nothing to do".
  const int64_t reconciled = reconciles_.load();
  for (int i = 0; i < 1000 && reconciles_.load() < reconciled + 1; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }

  ASSERT_TRUE(client_.Delete(PrometheusRuleResource(), "shop", "checkout").ok());
  for (int i = 0; i < 1000 && !server_->Object(PrometheusRuleResource(), "shop", "checkout"); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto restored = server_->Object(PrometheusRuleResource(), "shop", "checkout");
  ASSERT_TRUE(restored.has_value()) << "the deleted rule came back";
  EXPECT_EQ(restored->at("spec"), before);

  Json slo = *server_->Object(SloResource(), "shop", "checkout");
  slo["spec"]["objective"] = "99.5";
  ASSERT_TRUE(client_.Update(SloResource(), "shop", slo).ok());
  bool changed = false;
  for (int i = 0; i < 1000 && !changed; ++i) {
    changed = server_->Object(PrometheusRuleResource(), "shop", "checkout")->at("spec") != before;
    if (!changed) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(changed) << "the edited objective's rules were applied";
  EXPECT_NE(server_->Object(PrometheusRuleResource(), "shop", "checkout")->dump().find("0.995"),
            std::string::npos);
}

}  // namespace
}  // namespace nines::controller
