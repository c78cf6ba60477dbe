// The generated rules' behaviour over time, proved with `promtool test rules`: each test builds an
// objective, synthetic counters and the times at which the SRE Workbook says each alert must fire
// or resolve, writes a promtool suite and runs it against the rules nines generates.
//
// Note on evaluation: promtool evaluates every group at the suite's evaluation_interval, whatever
// the group's own interval. Timing suites use 30s (the short group's interval, so a tier of up to
// one hour is checked to one evaluation); suites that count events use 1m, the long group's
// interval in production, because event counts over long windows divide by it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "operator/api/resource_parser.h"
#include "operator/slo/rule_generator.h"
#include "operator/slo/yaml_writer.h"

namespace nines {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

std::string Number(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : "0";
}

// Milliseconds as a promtool duration.
std::string At(int64_t ms) { return std::to_string(ms) + "ms"; }

// A counter in promtool's expanding notation: it starts at 0 and grows by `increment` at each of
// `steps` scrapes, segment after segment.
class Counter {
 public:
  Counter& Grow(int64_t steps, double increment) {
    if (steps <= 0) return *this;
    const double first = value_ + increment;
    notation_ += " " + Number(first) + "+" + Number(increment) + "x" + std::to_string(steps - 1);
    value_ = first + increment * static_cast<double>(steps - 1);
    return *this;
  }
  // The process restarts: the next scrape reads `increment` again, counted from zero.
  Counter& Reset(double increment) {
    value_ = increment;
    notation_ += " " + Number(increment);
    return *this;
  }
  std::string Notation() const { return notation_; }

 private:
  double value_ = 0;
  std::string notation_ = "0";
};

struct Series {
  std::string selector;
  std::string values;
};

// An expression test: `expr` at `at` returns exactly `samples` (labels, value), or nothing.
struct Check {
  std::string expr;
  int64_t at = 0;
  bool expect_one = true;  // expect `{} 1` (see Firing, Near); otherwise expect nothing
  std::string why;
};

struct Scenario {
  std::string name;
  int64_t scrape_interval = 30 * kSecond;
  std::vector<Series> series;
  std::vector<Check> checks;
};

std::string Alert(const std::string& slo, const std::string& alertname,
                  const std::string& extra = "") {
  return "count(ALERTS{alertstate=\"firing\",alertname=\"" + alertname + "\",slo=\"" + slo + "\"" +
         extra + "})";
}

std::string Tier(const std::string& long_window) { return ",long=\"" + long_window + "\""; }

Check Firing(const std::string& expr, int64_t at, std::string why) {
  return {expr, at, true, std::move(why)};
}
Check Silent(const std::string& expr, int64_t at, std::string why) {
  return {expr, at, false, std::move(why)};
}
// `expr` within `tolerance` of `value`.
Check Near(const std::string& expr, double value, double tolerance, int64_t at, std::string why) {
  return {"count(abs(" + expr + " - " + Number(value) + ") < " + Number(tolerance) + ")", at, true,
          std::move(why)};
}

api::SloSpec ParseSlo(const std::string& name, const std::string& spec_body) {
  const std::string text =
      "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\n"
      "metadata: {name: " +
      name + ", namespace: test}\nspec:\n" + spec_body;
  api::ParsedResources parsed = api::ParseResources(text, name + ".yaml");
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front().ToString();
  return parsed.slos.at(0);
}

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

// Writes the rules of `slos` and a suite of `scenarios`, and runs promtool on them.
PromtoolResult RunPromtool(const std::string& suite_name, const std::vector<api::SloSpec>& slos,
                           const std::vector<Scenario>& scenarios, int64_t evaluation_interval) {
  const fs::path dir =
      fs::temp_directory_path() / ("nines-promtool-" + suite_name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  Json groups = Json::array();
  for (const api::SloSpec& spec : slos) {
    for (auto& group : slo::RuleGroupsToJson(slo::GenerateRuleGroups(spec))) {
      groups.push_back(std::move(group));
    }
  }
  std::ofstream(dir / "rules.yaml") << slo::RenderYaml({{"groups", groups}});

  Json tests = Json::array();
  for (const Scenario& scenario : scenarios) {
    Json input = Json::array();
    for (const Series& s : scenario.series) {
      input.push_back({{"series", s.selector}, {"values", s.values}});
    }
    Json checks = Json::array();
    for (const Check& check : scenario.checks) {
      Json samples = Json::array();
      if (check.expect_one) samples.push_back({{"labels", "{}"}, {"value", 1}});
      checks.push_back(
          {{"expr", check.expr}, {"eval_time", At(check.at)}, {"exp_samples", samples}});
    }
    tests.push_back({{"name", scenario.name},
                     {"interval", At(scenario.scrape_interval)},
                     {"input_series", input},
                     {"promql_expr_test", checks}});
  }
  std::ofstream(dir / "suite.yaml")
      << slo::RenderYaml({{"rule_files", {"rules.yaml"}},
                          {"evaluation_interval", At(evaluation_interval)},
                          {"tests", tests}});

  PromtoolResult result;
  const std::string command = "cd '" + dir.string() + "' && promtool test rules suite.yaml 2>&1";
  if (FILE* pipe = popen(command.c_str(), "r")) {
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
      result.output.append(buffer.data(), n);
    }
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  if (result.exit_code == 0) fs::remove_all(dir);  // keep a failing suite for reading
  return result;
}

#define EXPECT_PROMTOOL_PASSES(result) \
  EXPECT_EQ((result).exit_code, 0) << "promtool test rules failed:\n" << (result).output

constexpr char kCheckoutBody[] =
    "  service: checkout\n  objective: \"99.9\"\n  window: 30d\n  indicator:\n    ratio:\n"
    "      total: http_requests_total{job=\"checkout\"}\n"
    "      bad: http_requests_total{job=\"checkout\",code=~\"5..\"}\n";

// Good and bad counters for `rate` requests a second: `prior` of clean traffic, then `errors` of
// traffic failing at `error_ratio`, then `after` of clean traffic again.
std::vector<Series> Traffic(const std::string& job, int64_t interval, double rate, int64_t prior,
                            int64_t errors, double error_ratio, int64_t after) {
  const double per_step = rate * static_cast<double>(interval) / kSecond;
  Counter good;
  Counter bad;
  good.Grow(prior / interval, per_step)
      .Grow(errors / interval, per_step * (1 - error_ratio))
      .Grow(after / interval, per_step);
  bad.Grow(prior / interval, 0)
      .Grow(errors / interval, per_step * error_ratio)
      .Grow(after / interval, 0);
  return {{"http_requests_total{job=\"" + job + "\",code=\"200\"}", good.Notation()},
          {"http_requests_total{job=\"" + job + "\",code=\"500\"}", bad.Notation()}};
}

struct WorkbookTier {
  const char* alertname;
  const char* long_label;
  double burn_rate;
  int64_t long_window;
};

constexpr WorkbookTier kWorkbookTiers[] = {
    {"SLOFastBurn", "1h", 14.4, kHour},
    {"SLOFastBurn", "6h", 6, 6 * kHour},
    {"SLOSlowBurn", "1d", 3, kDay},
    {"SLOSlowBurn", "3d", 1, 3 * kDay},
};

// How late a tier may fire after the Workbook's time: one evaluation for tiers read from raw
// series (long window up to 1h); one evaluation of the long group plus five minutes for the
// others, whose windows sum 5-minute counts recorded every minute.
int64_t AllowedLateness(int64_t long_window) {
  return long_window <= kHour ? 30 * kSecond : kMinute + 5 * kMinute;
}

// Time to fire = (1 - objective) / error ratio x long window x burn rate, after a full long
// window of good traffic.
TEST(RuleBehaviourTest, EachTierFiresWhenTheWorkbookPredicts) {
  const api::SloSpec slo = ParseSlo("checkout", kCheckoutBody);
  const int64_t prior = 3 * kDay + kHour;  // every long window full of good traffic
  std::vector<Scenario> scenarios;
  for (double error_ratio : {1.0, 0.1, 0.02}) {
    Scenario s;
    s.name = "errors at " + Number(error_ratio * 100) + "%";
    int64_t last_check = 0;
    for (const WorkbookTier& tier : kWorkbookTiers) {
      const double fire_after_ms =
          0.001 / error_ratio * static_cast<double>(tier.long_window) * tier.burn_rate;
      const auto predicted = static_cast<int64_t>(std::ceil(fire_after_ms));
      const std::string expr = Alert("checkout", tier.alertname, Tier(tier.long_label));
      const std::string what = std::string(tier.alertname) + " " + tier.long_label + " at " +
                               Number(error_ratio * 100) + "% errors";
      if (predicted > kSecond) {
        s.checks.push_back(Silent(expr, prior + predicted - kSecond,
                                  what + " must not fire before the Workbook's time"));
      }
      const int64_t deadline = prior + predicted + AllowedLateness(tier.long_window);
      s.checks.push_back(Firing(expr, deadline, what + " must fire by " + At(deadline)));
      last_check = std::max(last_check, deadline);
    }
    s.series = Traffic("checkout", s.scrape_interval, 10, prior, last_check - prior + kMinute,
                       error_ratio, 0);
    scenarios.push_back(s);
  }
  EXPECT_PROMTOOL_PASSES(RunPromtool("time-to-fire", {slo}, scenarios, 30 * kSecond));
}

TEST(RuleBehaviourTest, NoTierFiresBelowItsThreshold) {
  const api::SloSpec slo = ParseSlo("checkout", kCheckoutBody);
  std::vector<Scenario> scenarios;
  for (const WorkbookTier& tier : kWorkbookTiers) {
    // 90% of the tier's threshold, for longer than its long window.
    const double error_ratio = 0.9 * tier.burn_rate * 0.001;
    const int64_t duration = tier.long_window + tier.long_window / 4 + kHour;
    Scenario s;
    s.name = std::string(tier.alertname) + " " + tier.long_label + " below threshold";
    s.scrape_interval = kMinute;
    s.series = Traffic("checkout", s.scrape_interval, 10, 0, duration, error_ratio, 0);
    const std::string expr = Alert("checkout", tier.alertname, Tier(tier.long_label));
    for (int64_t at = tier.long_window / 8; at <= duration; at += tier.long_window / 8) {
      s.checks.push_back(Silent(expr, at, s.name + " must stay silent"));
    }
    scenarios.push_back(s);
  }
  EXPECT_PROMTOOL_PASSES(RunPromtool("below-threshold", {slo}, scenarios, kMinute));
}

TEST(RuleBehaviourTest, AlertsResolveWithinTheShortWindowOnceErrorsStop) {
  const api::SloSpec slo = ParseSlo("checkout", kCheckoutBody);
  const int64_t prior = kHour;
  const int64_t outage = 30 * kMinute;
  const int64_t stop = prior + outage;
  struct Resolve {
    const WorkbookTier* tier;
    int64_t short_window;
  };
  const std::vector<Resolve> tiers = {{&kWorkbookTiers[0], 5 * kMinute},
                                      {&kWorkbookTiers[1], 30 * kMinute},
                                      {&kWorkbookTiers[2], 2 * kHour},
                                      {&kWorkbookTiers[3], 6 * kHour}};
  Scenario s;
  s.name = "100% errors for 30m, then none";
  for (const Resolve& r : tiers) {
    const std::string expr = Alert("checkout", r.tier->alertname, Tier(r.tier->long_label));
    const std::string what = std::string(r.tier->alertname) + " " + r.tier->long_label;
    s.checks.push_back(Firing(expr, stop, what + " fires during the outage"));
    // Windows over an hour sum 5-minute counts, so the last errors leave them up to 5m later.
    const int64_t resolved_by = stop + r.short_window + (r.short_window > kHour ? 5 * kMinute : 0) +
                                AllowedLateness(r.tier->long_window);
    s.checks.push_back(Silent(expr, resolved_by, what + " resolves within its short window"));
  }
  s.series =
      Traffic("checkout", s.scrape_interval, 10, prior, outage, 1.0, 6 * kHour + 30 * kMinute);
  EXPECT_PROMTOOL_PASSES(RunPromtool("resolve", {slo}, {s}, 30 * kSecond));
}

// A month of diurnal traffic with an hour-long outage at the night's low: the SLI must be the
// events' ratio, not an average of 5-minute ratios (which makes the outage look 3x worse).
TEST(RuleBehaviourTest, ThirtyDaySliIsWeightedByEvents) {
  // Only windows of up to 1h, so the suite stays fast; the SLI is what is under test.
  const api::SloSpec slo = ParseSlo(
      "diurnal", std::string(kCheckoutBody) +
                     "  alerting:\n    fastBurn:\n      thresholds: [{burnRate: 14.4, long: 1h, "
                     "short: 5m}]\n    slowBurn:\n      thresholds: [{burnRate: 6, long: 1h, "
                     "short: 30m}]\n");
  const int64_t interval = kMinute;
  // promtool's query engine stops at 10,000 samples a query (Prometheus's own default is 50
  // million), and a month of 1-minute samples is 43,200: so this suite evaluates every 5 minutes.
  // The SLI is a ratio of sums, so its weighting does not depend on the evaluation interval.
  const int64_t evaluation_interval = 5 * kMinute;
  const int days = 30;
  const int outage_day = 14;
  const int low_hour = 18;  // sin(2 pi 18/24) = -1: a third of the mean traffic
  Counter good;
  Counter bad;
  double total_events = 0;
  double bad_events = 0;
  for (int hour = 0; hour < days * 24; ++hour) {
    const double per_minute =
        std::round(600.0 * (1.0 + (2.0 / 3.0) * std::sin(2 * M_PI * (hour % 24) / 24.0)));
    const bool outage = hour == outage_day * 24 + low_hour;
    good.Grow(60, outage ? 0 : per_minute);
    bad.Grow(60, outage ? per_minute : 0);
    total_events += 60 * per_minute;
    bad_events += outage ? 60 * per_minute : 0;
  }
  const double true_sli = 1 - bad_events / total_events;
  const double true_error_ratio = bad_events / total_events;
  const int64_t end = static_cast<int64_t>(days) * kDay;
  Scenario s;
  s.name = "30 days of diurnal traffic";
  s.scrape_interval = interval;
  s.series = {{"http_requests_total{job=\"checkout\",code=\"200\"}", good.Notation()},
              {"http_requests_total{job=\"checkout\",code=\"500\"}", bad.Notation()}};
  const std::string own = "{slo=\"diurnal\",slo_namespace=\"test\"}";
  s.checks.push_back(Near("slo:sli:ratio" + own, true_sli, true_error_ratio * 0.01, end,
                          "the 30-day SLI is the true event-weighted ratio, to 1% of the error"));
  s.checks.push_back(Near("slo:error_budget_remaining:ratio" + own, 1 - true_error_ratio / 0.001,
                          true_error_ratio / 0.001 * 0.01, end,
                          "the budget left follows from the SLI"));
  // What averaging 5-minute ratios would have said, from the same data: every 5 minutes of the
  // outage hour weighs as much as 5 minutes at the daily peak. (promtool cannot hold a month of
  // 5-minute ratios in one query, so this one is plain arithmetic.)
  double sum_of_ratios = 0;
  int windows = 0;
  for (int hour = 0; hour < days * 24; ++hour) {
    const bool outage = hour == outage_day * 24 + low_hour;
    sum_of_ratios += 12 * (outage ? 1.0 : 0.0);
    windows += 12;
  }
  const double averaged_error_ratio = sum_of_ratios / windows;
  EXPECT_GT(averaged_error_ratio / true_error_ratio, 2.8);
  EXPECT_LT(averaged_error_ratio / true_error_ratio, 3.2);
  EXPECT_PROMTOOL_PASSES(RunPromtool("diurnal", {slo}, {s}, evaluation_interval));
}

// Changing `service` (or spec.labels) changes the labels the 5-minute counts are recorded under;
// those recorded before stay in the windows beside the new ones. Every window must still add them
// into one series: Prometheus refuses a rule whose results collide once its labels are applied.
TEST(RuleBehaviourTest, CountsRecordedUnderEarlierLabelsStillAddUp) {
  std::string body = kCheckoutBody;
  body.replace(body.find("service: checkout"), 17, "service: checkout-v2");
  const api::SloSpec slo = ParseSlo("renamed", body);
  Scenario s;
  s.name = "service renamed";
  s.scrape_interval = kMinute;
  s.series = Traffic("checkout", kMinute, 10, 2 * kHour, kHour, 0.01, 0);
  // What the rules recorded for two hours while the objective still said `service: checkout`.
  const std::string old = "{slo=\"renamed\",slo_namespace=\"test\",service=\"checkout\"}";
  s.series.push_back({"nines:slo_events:increase5m" + old, "3000x119"});
  s.series.push_back({"nines:slo_bad_events:increase5m" + old, "0x119"});
  const std::string own = "{slo=\"renamed\",slo_namespace=\"test\"}";
  const int64_t at = 3 * kHour;
  s.checks.push_back(Firing("count(slo:sli:ratio" + own + ")", at, "one SLI, old counts included"));
  s.checks.push_back(Firing("count(slo:burn_rate:ratio{slo=\"renamed\",window=\"6h\"})", at,
                            "one burn rate per window over 1h"));
  // 1% errors for the last hour of three: 0.9967 from the new counts alone, 0.998 with the old
  // clean ones.
  s.checks.push_back(Near("slo:sli:ratio" + own, 0.998, 0.0002, at, "the old counts weigh in"));
  EXPECT_PROMTOOL_PASSES(RunPromtool("renamed", {slo}, {s}, kMinute));
}

TEST(RuleBehaviourTest, CounterResetsZeroTrafficAndMissingErrorSeries) {
  const api::SloSpec slo = ParseSlo("checkout", kCheckoutBody);
  const std::string own = "{slo=\"checkout\",slo_namespace=\"test\"";
  std::vector<Scenario> scenarios;
  {
    // 1% errors throughout; both counters reset to zero after 2h (a restart).
    Scenario s;
    s.name = "counter reset";
    const int64_t steps = 2 * kHour / s.scrape_interval;
    Counter good;
    Counter bad;
    good.Grow(steps, 297).Reset(297).Grow(steps, 297);
    bad.Grow(steps, 3).Reset(3).Grow(steps, 3);
    s.series = {{"http_requests_total{job=\"checkout\",code=\"200\"}", good.Notation()},
                {"http_requests_total{job=\"checkout\",code=\"500\"}", bad.Notation()}};
    for (const char* window : {"5m", "30m", "1h"}) {
      s.checks.push_back(Near("slo:burn_rate:ratio" + own + ",window=\"" + window + "\"}", 10, 0.1,
                              2 * kHour + 30 * kMinute,
                              std::string("a reset leaves the ") + window + " burn rate at 10"));
    }
    s.checks.push_back(Near("slo:burn_rate:ratio" + own + ",window=\"2h\"}", 10, 0.1, 3 * kHour,
                            "and the 2h burn rate too"));
    s.checks.push_back(Near("slo:sli:ratio" + own + "}", 0.99, 0.0001, 4 * kHour, "and the SLI"));
    scenarios.push_back(s);
  }
  {
    Scenario s;
    s.name = "zero traffic";
    s.series = {{"http_requests_total{job=\"checkout\",code=\"200\"}", "100+0x480"},
                {"http_requests_total{job=\"checkout\",code=\"500\"}", "7+0x480"}};
    for (const char* series :
         {"slo:sli:ratio", "slo:error_budget_remaining:ratio", "slo:burn_rate:ratio"}) {
      s.checks.push_back(Silent("count(" + std::string(series) + own + "})", 3 * kHour,
                                std::string("no traffic, no ") + series));
      s.checks.push_back(Silent("count(" + std::string(series) + " != " + series + ")", 3 * kHour,
                                std::string("never NaN in ") + series));
    }
    s.checks.push_back(
        Near("slo:events:rate5m" + own + "}", 0, 1e-9, 3 * kHour, "traffic is 0, not absent"));
    scenarios.push_back(s);
  }
  {
    Scenario s;
    s.name = "no error series yet";
    s.series = {{"http_requests_total{job=\"checkout\",code=\"200\"}", "0+300x480"}};
    s.checks.push_back(Near("slo:burn_rate:ratio" + own + ",window=\"5m\"}", 0, 1e-12, 3 * kHour,
                            "no error yet is a burn rate of 0, not absent"));
    s.checks.push_back(Near("slo:burn_rate:ratio" + own + ",window=\"1d\"}", 0, 1e-12, 3 * kHour,
                            "over long windows too"));
    s.checks.push_back(Near("slo:sli:ratio" + own + "}", 1, 1e-12, 3 * kHour, "SLI 100%"));
    scenarios.push_back(s);
  }
  EXPECT_PROMTOOL_PASSES(RunPromtool("edge-cases", {slo}, scenarios, 30 * kSecond));
}

// Ten requests an hour and one error: a burn rate of 100 over the hour. minEvents keeps that from
// paging; without it, it pages.
TEST(RuleBehaviourTest, MinEventsSilencesASingleErrorAtLowTraffic) {
  const std::string body =
      "  service: admin\n  objective: \"99.9\"\n  indicator:\n    ratio:\n"
      "      total: http_requests_total{job=\"admin\"}\n"
      "      bad: http_requests_total{job=\"admin\",code=~\"5..\"}\n";
  const api::SloSpec guarded = ParseSlo("guarded", body + "  alerting:\n    minEvents: 100\n");
  const api::SloSpec unguarded = ParseSlo("unguarded", body);
  // One request every 6 minutes; the 31st (at 3h06m) fails.
  std::string good = "0";
  std::string bad = "0";
  int requests = 0;
  int errors = 0;
  for (int minute = 1; minute <= 8 * 60; ++minute) {
    if (minute % 6 == 0) {
      if (minute == 186) {
        ++errors;
      } else {
        ++requests;
      }
    }
    good.append(" ").append(std::to_string(requests));
    bad.append(" ").append(std::to_string(errors));
  }
  Scenario s;
  s.name = "one error at 10 requests an hour";
  s.scrape_interval = kMinute;
  s.series = {{"http_requests_total{job=\"admin\",code=\"200\"}", good},
              {"http_requests_total{job=\"admin\",code=\"500\"}", bad}};
  s.checks.push_back(Firing(Alert("unguarded", "SLOFastBurn", Tier("1h")), 3 * kHour + 8 * kMinute,
                            "without minEvents one error pages"));
  for (int64_t at = 3 * kHour + 7 * kMinute; at <= 8 * kHour; at += 10 * kMinute) {
    s.checks.push_back(Silent(Alert("guarded", "SLOFastBurn"), at,
                              "minEvents: 100 keeps one error in 10 an hour from paging"));
  }
  EXPECT_PROMTOOL_PASSES(RunPromtool("min-events", {guarded, unguarded}, {s}, kMinute));
}

TEST(RuleBehaviourTest, LatencyObjectiveFollowsItsSlowTiers) {
  // Bucket boundaries as Prometheus 3 writes them: le="1.0" must match a 1s threshold.
  const api::SloSpec slo =
      ParseSlo("latency",
               "  service: checkout\n  objective: \"99\"\n  indicator:\n    latency:\n"
               "      histogram: http_request_duration_seconds{job=\"checkout\"}\n"
               "      threshold: 1s\n");
  const int64_t prior = 3 * kDay + kHour;
  const int64_t interval = kMinute;
  const double per_step = 600;
  // Fast until `prior`, then every request slower than 1s.
  const int64_t slow_for = kHour;
  Counter fast_bucket;
  Counter threshold_bucket;
  Counter inf_bucket;
  Counter count;
  fast_bucket.Grow(prior / interval, per_step).Grow(slow_for / interval, 0);
  threshold_bucket.Grow(prior / interval, per_step).Grow(slow_for / interval, 0);
  inf_bucket.Grow(prior / interval, per_step).Grow(slow_for / interval, per_step);
  count.Grow(prior / interval, per_step).Grow(slow_for / interval, per_step);
  Scenario s;
  s.name = "every request slow";
  s.scrape_interval = interval;
  const std::string h = "http_request_duration_seconds";
  s.series = {{h + "_bucket{job=\"checkout\",le=\"0.5\"}", fast_bucket.Notation()},
              {h + "_bucket{job=\"checkout\",le=\"1.0\"}", threshold_bucket.Notation()},
              {h + "_bucket{job=\"checkout\",le=\"+Inf\"}", inf_bucket.Notation()},
              {h + "_count{job=\"checkout\"}", count.Notation()}};
  s.checks.push_back(Near("slo:sli:ratio{slo=\"latency\"}", 1, 1e-12, prior,
                          "all fast: SLI 100% (le=\"1.0\" matched)"));
  for (const WorkbookTier& tier : {kWorkbookTiers[2], kWorkbookTiers[3]}) {
    const auto predicted =
        static_cast<int64_t>(0.01 * static_cast<double>(tier.long_window) * tier.burn_rate);
    const std::string expr = Alert("latency", tier.alertname, Tier(tier.long_label));
    s.checks.push_back(Silent(expr, prior + predicted - kMinute, "not before the Workbook"));
    s.checks.push_back(Firing(expr, prior + predicted + AllowedLateness(tier.long_window),
                              std::string("slow tier ") + tier.long_label + " fires"));
  }
  s.checks.push_back(Silent(Alert("latency", "SLOFastBurn"), prior + slow_for,
                            "latency does not page unless asked to"));
  EXPECT_PROMTOOL_PASSES(RunPromtool("latency", {slo}, {s}, 30 * kSecond));
}

TEST(RuleBehaviourTest, TimesliceCountsBadSlices) {
  const api::SloSpec slo =
      ParseSlo("probe",
               "  service: provider\n  objective: \"99.5\"\n  indicator:\n    timeslice:\n"
               "      good: min(probe_success{job=\"provider\"}) == bool 1\n      slice: 1m\n");
  // One sample a minute for 3h; ten failed probes from minute 60.
  std::string values;
  for (int minute = 0; minute <= 180; ++minute) {
    if (minute > 0) values += ' ';
    values += minute >= 60 && minute < 70 ? '0' : '1';
  }
  Scenario s;
  s.name = "ten bad minutes";
  s.scrape_interval = kMinute;
  s.series = {{"probe_success{job=\"provider\",instance=\"a\"}", values}};
  const std::string own = "{slo=\"probe\",slo_namespace=\"test\"";
  s.checks.push_back(Near("slo:sli:ratio" + own + "}", 171.0 / 181.0, 0.5 / 181.0, 180 * kMinute,
                          "SLI = good slices / all slices"));
  s.checks.push_back(Near("slo:burn_rate:ratio" + own + ",window=\"5m\"}", 200, 1e-9, 65 * kMinute,
                          "a window of bad slices burns at 1 / (1 - 0.995)"));
  s.checks.push_back(Firing(Alert("probe", "SLOFastBurn", Tier("1h")), 66 * kMinute,
                            "six bad minutes in the hour page"));
  s.checks.push_back(Silent(Alert("probe", "SLOFastBurn", Tier("1h")), 59 * kMinute, "not before"));
  EXPECT_PROMTOOL_PASSES(RunPromtool("timeslice", {slo}, {s}, kMinute));
}

TEST(RuleBehaviourTest, SevenDayWindowScalesItsTiers) {
  const api::SloSpec slo =
      ParseSlo("weekly",
               "  service: catalog\n  objective: \"99.9\"\n  window: 7d\n  indicator:\n"
               "    ratio:\n      total: http_requests_total{job=\"catalog\"}\n"
               "      bad: http_requests_total{job=\"catalog\",code=~\"5..\"}\n");
  const int64_t prior = 2 * kHour;
  Scenario s;
  s.name = "100% errors on a 7-day objective";
  // Tier 1 is 14.4x over 14m and 2m: fires after 0.001 x 14m x 14.4 = 12.1s.
  const int64_t tier1 = 12096;
  s.checks.push_back(Silent(Alert("weekly", "SLOFastBurn", Tier("14m") + ",short=\"2m\""),
                            prior + tier1 - kSecond, "not before"));
  s.checks.push_back(Firing(Alert("weekly", "SLOFastBurn", Tier("14m") + ",short=\"2m\""),
                            prior + tier1 + 30 * kSecond, "tier 1 of a week, within one eval"));
  // Tier 2 is 6x over 1h24m and 7m: 0.001 x 84m x 6 = 30.2s.
  s.checks.push_back(Firing(Alert("weekly", "SLOFastBurn", Tier("1h24m") + ",short=\"7m\""),
                            prior + 30240 + AllowedLateness(84 * kMinute), "tier 2 of a week"));
  s.series = Traffic("catalog", s.scrape_interval, 10, prior, 10 * kMinute, 1.0, 0);
  EXPECT_PROMTOOL_PASSES(RunPromtool("weekly", {slo}, {s}, 30 * kSecond));
}

TEST(RuleBehaviourTest, CustomThresholdsAndSeverities) {
  const api::SloSpec slo =
      ParseSlo("login",
               "  service: login\n  objective: \"99.95\"\n  indicator:\n    ratio:\n"
               "      total: http_requests_total{job=\"login\"}\n"
               "      bad: http_requests_total{job=\"login\",code=~\"5..\"}\n"
               "  alerting:\n    fastBurn:\n      severity: critical\n"
               "      thresholds: [{burnRate: 10, long: 1h, short: 5m}]\n"
               "    slowBurn:\n      severity: warning\n"
               "      thresholds: [{burnRate: 2, long: 2d, short: 4h}]\n");
  const int64_t prior = 2 * kDay + kHour;
  Scenario s;
  s.name = "100% errors with custom tiers";
  // 0.0005 x 1h x 10 = 18s; 0.0005 x 2d x 2 = 172.8s.
  const std::string fast = Alert("login", "SLOFastBurn", ",severity=\"critical\",long=\"1h\"");
  const std::string slow = Alert("login", "SLOSlowBurn", ",severity=\"warning\",long=\"2d\"");
  s.checks.push_back(Silent(fast, prior + 17 * kSecond, "not before"));
  s.checks.push_back(Firing(fast, prior + 18 * kSecond + 30 * kSecond, "the custom page tier"));
  s.checks.push_back(Silent(slow, prior + 172800 - kMinute, "not before"));
  s.checks.push_back(
      Firing(slow, prior + 172800 + AllowedLateness(2 * kDay), "the custom ticket tier"));
  s.series = Traffic("login", s.scrape_interval, 10, prior, 15 * kMinute, 1.0, 0);
  EXPECT_PROMTOOL_PASSES(RunPromtool("custom", {slo}, {s}, 30 * kSecond));
}

}  // namespace
}  // namespace nines
