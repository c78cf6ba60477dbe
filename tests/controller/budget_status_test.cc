#include "operator/controller/budget_status.h"

#include <gtest/gtest.h>

#include "operator/api/resource_parser.h"

namespace nines::controller {
namespace {

using Json = nlohmann::json;
using TimePoint = std::chrono::system_clock::time_point;

// 2026-11-23T19:00:00Z
const TimePoint kNow = TimePoint(std::chrono::seconds(1795460400));

api::SloSpec Spec(const std::string& extra = "", const std::string& objective = "99.9") {
  const std::string yaml = R"(apiVersion: nines.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: checkout, namespace: shop}
spec:
  service: checkout
  objective: ")" + objective +
                           R"("
  indicator:
    ratio:
      total: http_requests_total{job="checkout"}
      bad: http_requests_total{job="checkout",code=~"5.."}
)" + extra;
  auto parsed = api::ParseResources(yaml, "test.yaml");
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front().message;
  return parsed.slos.at(0);
}

// What Prometheus answers for a healthy objective with the default 30d tiers (page 1h/5m at 14.4
// and 6h/30m at 6; ticket 1d/2h at 3 and 3d/6h at 1).
ObjectiveSeries Healthy() {
  ObjectiveSeries s;
  s.rules_loaded = true;
  s.sli = 0.999532;
  s.budget_remaining = 0.532;
  s.events_rate = 20;
  s.burn_rates = {{"5m", 0.2}, {"30m", 0.31}, {"1h", 0.44}, {"2h", 0.5},
                  {"6h", 0.9}, {"1d", 0.8},   {"3d", 0.6}};
  return s;
}

const Json* ConditionOf(const Json& status, const std::string& type) {
  return FindCondition(status["conditions"], type);
}

TEST(BudgetStatusTest, HealthyObjectiveRoundsAsAReaderSeesIt) {
  const ObjectiveSeries healthy = Healthy();
  const BudgetStatus b = ComputeBudgetStatus(Spec(), &healthy, Status::Ok(), kNow);
  EXPECT_EQ(b.state, kStateHealthy);
  EXPECT_EQ(*b.sli_percent, 99.953) << "two decimals more than the objective's one";
  EXPECT_EQ(*b.remaining_percent, 53.2);
  EXPECT_FALSE(b.exhausts_at) << "a 1d burn rate of 0.8 never runs the budget out";
  EXPECT_EQ(b.burn_rates.at("30m"), 0.31);
  EXPECT_EQ(*b.fast_burn_rate, 0.44) << "the first page tier's long window, 1h";
  EXPECT_EQ(*b.slow_burn_rate, 0.8) << "the first ticket tier's long window, 1d";
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kFalse);
  EXPECT_EQ(b.fast_burn.reason, "BurnRateBelowThreshold");
  EXPECT_EQ(b.fast_burn.message,
            "no page tier holds: 0.44 over 1h (page above 14.4), 0.9 over 6h (page above 6)");
  EXPECT_EQ(b.budget_exhausted.status, ConditionStatus::kFalse);
  EXPECT_EQ(b.budget_exhausted.message, "53.2% of the error budget left over 30d");
}

TEST(BudgetStatusTest, SliDecimalsFollowTheObjective) {
  ObjectiveSeries s = Healthy();
  s.sli = 0.9999532;
  EXPECT_EQ(*ComputeBudgetStatus(Spec("", "99.99"), &s, Status::Ok(), kNow).sli_percent, 99.9953);
  EXPECT_EQ(*ComputeBudgetStatus(Spec("", "99"), &s, Status::Ok(), kNow).sli_percent, 100);
}

// At a burn rate b the whole budget lasts window / b; what is left lasts remaining x window / b.
TEST(BudgetStatusTest, ExhaustsAtIsProjectedFromTheOneDayBurnRate) {
  ObjectiveSeries s = Healthy();
  s.budget_remaining = 0.5;
  s.burn_rates["1d"] = 2;
  s.burn_rates["3d"] = 50;  // longer than a day: not the projection's
  const BudgetStatus b = ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow);
  ASSERT_TRUE(b.exhausts_at);
  EXPECT_EQ(FormatTime(*b.exhausts_at), "2026-12-01T07:00:00Z") << "7.5 days on, to the hour";

  s.budget_remaining = 0.01;  // 0.01 x 30d / 2 = 3.6 hours: to the minute
  s.burn_rates["1d"] = 2.0001;
  const BudgetStatus soon = ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow);
  ASSERT_TRUE(soon.exhausts_at);
  EXPECT_EQ(FormatTime(*soon.exhausts_at), "2026-11-23T22:36:00Z");
}

TEST(BudgetStatusTest, FastBurnNeedsBothWindowsOfATierAboveItsThreshold) {
  ObjectiveSeries s = Healthy();
  s.burn_rates["1h"] = 20.04;
  s.burn_rates["5m"] = 10;  // the short window says it is over
  BudgetStatus b = ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow);
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kFalse);
  EXPECT_EQ(b.state, kStateHealthy);

  s.burn_rates["5m"] = 25;
  b = ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow);
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kTrue);
  EXPECT_EQ(b.fast_burn.reason, "BurnRateAboveThreshold");
  EXPECT_EQ(b.fast_burn.message,
            "a page tier holds: burn rate 20 over 1h and 25 over 5m, above 14.4");
  EXPECT_EQ(b.slow_burn.status, ConditionStatus::kFalse);
  EXPECT_EQ(b.state, kStateBurning);
  EXPECT_EQ(*b.fast_burn_rate, 20);
}

TEST(BudgetStatusTest, SlowBurnAloneIsBurning) {
  ObjectiveSeries s = Healthy();
  s.burn_rates["1d"] = 3.5;
  s.burn_rates["2h"] = 4;
  const BudgetStatus b = ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow);
  EXPECT_EQ(b.slow_burn.status, ConditionStatus::kTrue);
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kFalse);
  EXPECT_EQ(b.state, kStateBurning);
}

TEST(BudgetStatusTest, MinEventsKeepsATierFromHoldingOnTooFewEvents) {
  const api::SloSpec spec = Spec("  alerting:\n    minEvents: 100\n");
  ObjectiveSeries s = Healthy();
  s.burn_rates["1h"] = 20;
  s.burn_rates["5m"] = 25;
  s.event_counts["1h"] = 40;
  BudgetStatus b = ComputeBudgetStatus(spec, &s, Status::Ok(), kNow);
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kFalse);
  EXPECT_NE(b.fast_burn.message.find("with fewer than 100 events"), std::string::npos)
      << b.fast_burn.message;
  s.event_counts["1h"] = 100;
  b = ComputeBudgetStatus(spec, &s, Status::Ok(), kNow);
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kTrue);
}

TEST(BudgetStatusTest, ASpentBudgetIsExhaustedEvenWhileBurning) {
  ObjectiveSeries s = Healthy();
  s.sli = 0.998874;
  s.budget_remaining = -0.125;
  s.burn_rates["1h"] = 20;
  s.burn_rates["5m"] = 25;
  const BudgetStatus b = ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow);
  EXPECT_EQ(b.state, kStateExhausted);
  EXPECT_EQ(b.budget_exhausted.status, ConditionStatus::kTrue);
  EXPECT_EQ(b.budget_exhausted.reason, "BudgetSpent");
  EXPECT_EQ(b.budget_exhausted.message,
            "the error budget is spent: -12.5% left over 30d (SLI 99.887%, objective 99.9%)");
  EXPECT_EQ(*b.remaining_percent, -12.5);
  EXPECT_FALSE(b.exhausts_at);
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kTrue);
}

TEST(BudgetStatusTest, RemainingIsComputedFromTheSliWhenItsSeriesIsMissing) {
  ObjectiveSeries s = Healthy();
  s.budget_remaining.reset();
  s.sli = 0.9995;
  EXPECT_EQ(*ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow).remaining_percent, 50);
}

TEST(BudgetStatusTest, NoEventsInTheWindowIsNoData) {
  ObjectiveSeries s;
  s.rules_loaded = true;
  const BudgetStatus b = ComputeBudgetStatus(Spec(), &s, Status::Ok(), kNow);
  EXPECT_EQ(b.state, kStateNoData);
  EXPECT_TRUE(b.values_known);
  EXPECT_FALSE(b.sli_percent);
  EXPECT_EQ(b.fast_burn.status, ConditionStatus::kUnknown);
  EXPECT_EQ(b.fast_burn.reason, "NoEvents");
  EXPECT_NE(b.fast_burn.message.find("no events in the last 30d"), std::string::npos);
}

TEST(BudgetStatusTest, RulesNotYetLoadedArePending) {
  const BudgetStatus b = ComputeBudgetStatus(Spec(), nullptr, Status::Ok(), kNow);
  EXPECT_EQ(b.state, kStatePending);
  EXPECT_FALSE(b.values_known);
  EXPECT_EQ(b.budget_exhausted.reason, "RulesNotLoaded");
  EXPECT_NE(b.budget_exhausted.message.find(
                "slo:objective:ratio{slo_namespace=\"shop\",slo=\"checkout\"}"),
            std::string::npos);
}

TEST(BudgetStatusTest, PrometheusDownIsNoDataWithTheReasonAndKeepsTheLastValues) {
  const BudgetStatus b =
      ComputeBudgetStatus(Spec(), nullptr, UnavailableError("connection refused"), kNow);
  EXPECT_EQ(b.state, kStateNoData);
  EXPECT_FALSE(b.values_known);
  EXPECT_EQ(b.slow_burn.reason, "PrometheusUnavailable");
  EXPECT_NE(b.slow_burn.message.find("connection refused"), std::string::npos);

  Json status = {{"state", "Healthy"}, {"sli", 99.953}, {"errorBudget", {{"remaining", 53.2}}}};
  ASSERT_TRUE(MergeBudgetStatus(status, b, 1, kNow, nullptr));
  EXPECT_EQ(status["state"], "NoData");
  EXPECT_EQ(status["sli"], 99.953);
  EXPECT_EQ(status["errorBudget"]["remaining"], 53.2);
  EXPECT_EQ(ConditionOf(status, "FastBurn")->value("status", ""), "Unknown");
}

TEST(BudgetStatusTest, MergeWritesOnlyWhatChangedBeyondRounding) {
  const api::SloSpec spec = Spec();
  ObjectiveSeries s = Healthy();
  Json status = {{"observedGeneration", 3},
                 {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  ASSERT_TRUE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &s, Status::Ok(), kNow), 3, kNow,
                                nullptr));
  EXPECT_EQ(status["observedGeneration"], 3) << "the reconciler's fields are left alone";
  EXPECT_EQ(ConditionOf(status, "Ready")->value("status", ""), "True");
  EXPECT_EQ(status["state"], "Healthy");
  EXPECT_EQ(status["sli"], 99.953);
  EXPECT_EQ(status["errorBudget"], Json({{"remaining", 53.2}}));
  EXPECT_EQ(status["burnRates"]["1h"], 0.44);
  EXPECT_EQ(status["fastBurnRate"], 0.44);
  EXPECT_EQ(status["lastEvaluated"], "2026-11-23T19:00:00Z");
  EXPECT_EQ(ConditionOf(status, "FastBurn")->value("observedGeneration", 0), 3);

  // A minute later the ratios wobbled below what is shown: nothing to write, not even the time.
  const TimePoint later = kNow + std::chrono::minutes(1);
  s.sli = 0.9995318;
  s.budget_remaining = 0.53196;
  s.burn_rates["1h"] = 0.4412;
  const Json before = status;
  EXPECT_FALSE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &s, Status::Ok(), later), 3,
                                 later, nullptr));
  EXPECT_EQ(status, before);

  // The server gives 53.0 back as 53: still the same number.
  s.budget_remaining = 0.53;
  ASSERT_TRUE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &s, Status::Ok(), later), 3,
                                later, nullptr));
  status["errorBudget"]["remaining"] = 53;
  EXPECT_FALSE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &s, Status::Ok(), later), 3,
                                 later, nullptr));

  s.sli = 0.99951;  // a change a reader sees
  EXPECT_TRUE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &s, Status::Ok(), later), 3,
                                later, nullptr));
  EXPECT_EQ(status["sli"], 99.951);
  EXPECT_EQ(status["lastEvaluated"], "2026-11-23T19:01:00Z");
}

TEST(BudgetStatusTest, TransitionsToAndFromTrueAreEvents) {
  const api::SloSpec spec = Spec();
  Json status = Json::object();
  std::vector<BudgetTransition> t;
  // First data: everything False, nothing to announce.
  const ObjectiveSeries healthy = Healthy();
  ASSERT_TRUE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &healthy, Status::Ok(), kNow), 1,
                                kNow, &t));
  EXPECT_TRUE(t.empty());

  ObjectiveSeries burning = Healthy();
  burning.burn_rates["1h"] = 20;
  burning.burn_rates["5m"] = 25;
  ASSERT_TRUE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &burning, Status::Ok(), kNow), 1,
                                kNow, &t));
  ASSERT_EQ(t.size(), 1U);
  EXPECT_EQ(t[0].type, EventType::kWarning);
  EXPECT_EQ(t[0].reason, "FastBurn");
  EXPECT_EQ(t[0].note, "a page tier holds: burn rate 20 over 1h and 25 over 5m, above 14.4");
  const std::string since = ConditionOf(status, "FastBurn")->value("lastTransitionTime", "");

  // Still burning, at another rate: the message changes, the transition time does not.
  t.clear();
  burning.burn_rates["5m"] = 30;
  const TimePoint later = kNow + std::chrono::minutes(5);
  ASSERT_TRUE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &burning, Status::Ok(), later), 1,
                                later, &t));
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(ConditionOf(status, "FastBurn")->value("lastTransitionTime", ""), since);

  ObjectiveSeries spent = burning;
  spent.sli = 0.998;
  spent.budget_remaining = -1;
  spent.burn_rates["5m"] = 1;
  ASSERT_TRUE(MergeBudgetStatus(status, ComputeBudgetStatus(spec, &spent, Status::Ok(), later), 1,
                                later, &t));
  ASSERT_EQ(t.size(), 2U);
  EXPECT_EQ(t[0].reason, "BudgetExhausted");
  EXPECT_EQ(t[0].type, EventType::kWarning);
  EXPECT_EQ(t[1].reason, "FastBurnResolved");
  EXPECT_EQ(t[1].type, EventType::kNormal);
  EXPECT_EQ(status["state"], "Exhausted");
}

TEST(BudgetStatusTest, QueriesAreFixedWhateverTheNumberOfObjectives) {
  const auto all = StatusQueries({});
  EXPECT_EQ(all, (std::vector<std::string>{
                     "max by (slo_namespace, slo) (slo:objective:ratio)",
                     "max by (slo_namespace, slo) (slo:sli:ratio)",
                     "max by (slo_namespace, slo) (slo:error_budget_remaining:ratio)",
                     "max by (slo_namespace, slo, window) (slo:burn_rate:ratio)",
                     "max by (slo_namespace, slo) (slo:events:rate5m)",
                     "max by (slo_namespace, slo, window) (nines:slo_events:count)"}));
  const auto some = StatusQueries({"shop", "identity"});
  EXPECT_EQ(some[1],
            "max by (slo_namespace, slo) (slo:sli:ratio{slo_namespace=~\"shop|identity\"})");
}

TEST(BudgetStatusTest, GroupSeriesMatchesSamplesToObjectivesAndDropsNonNumbers) {
  auto sample = [](std::map<std::string, std::string> labels, double value) {
    return prometheus::Sample{.labels = std::move(labels), .value = value};
  };
  std::vector<prometheus::QueryResult> answers(6);
  answers[0].samples = {sample({{"slo", "a"}, {"slo_namespace", "x"}}, 0.999),
                        sample({{"slo", "a"}, {"slo_namespace", "y"}}, 0.99)};
  answers[1].samples = {sample({{"slo", "a"}, {"slo_namespace", "x"}}, 0.9991),
                        sample({{"slo", "a"}, {"slo_namespace", "y"}}, std::nan("")),
                        sample({{"slo", "lost"}}, 0.5)};
  answers[3].samples = {sample({{"slo", "a"}, {"slo_namespace", "x"}, {"window", "1h"}}, 2),
                        sample({{"slo", "a"}, {"slo_namespace", "x"}, {"window", "5m"}},
                               std::numeric_limits<double>::infinity())};
  const auto grouped = GroupSeries(answers);
  ASSERT_EQ(grouped.size(), 2U);
  const ObjectiveSeries& x = grouped.at({"x", "a"});
  EXPECT_TRUE(x.rules_loaded);
  EXPECT_EQ(*x.sli, 0.9991);
  EXPECT_EQ(x.burn_rates, (std::map<std::string, double>{{"1h", 2}}));
  EXPECT_FALSE(grouped.at({"y", "a"}).sli) << "NaN is no SLI";
}

}  // namespace
}  // namespace nines::controller
