#include "operator/slo/rule_generator.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>

#include "operator/api/resource_parser.h"
#include "operator/slo/yaml_writer.h"

namespace nines::slo {
namespace {

using api::Duration;

api::SloSpec Parse(const std::string& spec_body, const std::string& name = "checkout") {
  const std::string text =
      "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\n"
      "metadata: {name: " +
      name + ", namespace: shop}\nspec:\n" + spec_body;
  api::ParsedResources parsed = api::ParseResources(text, "t.yaml");
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front().ToString();
  EXPECT_EQ(parsed.slos.size(), 1u);
  return parsed.slos.empty() ? api::SloSpec{} : parsed.slos[0];
}

const char kRatioBad[] =
    "  service: checkout\n  objective: \"99.9\"\n  labels: {tier: \"1\"}\n"
    "  indicator:\n    ratio:\n      total: http_requests_total{job=\"checkout\"}\n"
    "      bad: http_requests_total{job=\"checkout\",code=~\"5..\"}\n";

std::vector<const RecordingRule*> Records(const std::vector<RuleGroup>& groups,
                                          const std::string& record) {
  std::vector<const RecordingRule*> out;
  for (const RuleGroup& g : groups) {
    for (const RecordingRule& r : g.recording_rules) {
      if (r.record == record) out.push_back(&r);
    }
  }
  return out;
}

// Copies, so that a test may pass a temporary.
std::vector<AlertingRule> Alerts(const std::vector<RuleGroup>& groups) {
  std::vector<AlertingRule> out;
  for (const RuleGroup& g : groups) {
    out.insert(out.end(), g.alerting_rules.begin(), g.alerting_rules.end());
  }
  return out;
}

TEST(RuleGeneratorTest, EveryPublicSeriesCarriesTheObjectiveLabels) {
  const auto groups = GenerateRuleGroups(Parse(kRatioBad));
  const std::map<std::string, std::string> labels = {
      {"slo", "checkout"}, {"slo_namespace", "shop"}, {"service", "checkout"}, {"tier", "1"}};
  for (const char* series :
       {kObjectiveSeries, kWindowSeries, kSliSeries, kBudgetRemainingSeries, kEventsRateSeries}) {
    auto rules = Records(groups, series);
    ASSERT_EQ(rules.size(), 1u) << series;
    EXPECT_EQ(rules[0]->labels, labels) << series;
  }
  std::set<std::string> windows;
  for (const RecordingRule* rule : Records(groups, kBurnRateSeries)) {
    windows.insert(rule->labels.at("window"));
    EXPECT_EQ(rule->labels.at("tier"), "1");
  }
  EXPECT_EQ(windows, (std::set<std::string>{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}));
}

TEST(RuleGeneratorTest, ObjectiveAndWindowAreExactConstants) {
  const auto groups = GenerateRuleGroups(Parse(kRatioBad));
  EXPECT_EQ(Records(groups, kObjectiveSeries)[0]->expr, "vector(0.999)");
  EXPECT_EQ(Records(groups, kWindowSeries)[0]->expr, "vector(2592000)");
}

// The promise that keeps Prometheus cheap: only windows up to an hour read raw series; everything
// longer reads this objective's own recorded 5-minute counts.
// Every `metric[range]` and `metric{...}[range]` of an expression, as (metric, range). The
// generated values hold no braces, so matching braces need no quoting rules here.
std::vector<std::pair<std::string, std::string>> RangeSelectors(const std::string& expr) {
  auto is_name = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t open = expr.find('['); open != std::string::npos; open = expr.find('[', open + 1)) {
    const size_t close = expr.find(']', open);
    size_t end = open;
    if (end > 0 && expr[end - 1] == '}') end = expr.rfind('{', end - 1);
    size_t start = end;
    while (start > 0 && is_name(expr[start - 1])) --start;
    out.emplace_back(expr.substr(start, end - start), expr.substr(open + 1, close - open - 1));
  }
  return out;
}

// The promise that keeps Prometheus cheap: only windows up to an hour read raw series; everything
// longer reads this objective's own recorded 5-minute counts.
TEST(RuleGeneratorTest, NoRuleReadsRawSeriesOverMoreThanAnHour) {
  EXPECT_EQ(RangeSelectors("sum(increase(a_total{x=\"1\"}[5m])) / b[1d]"),
            (std::vector<std::pair<std::string, std::string>>{{"a_total", "5m"}, {"b", "1d"}}));
  for (const char* body :
       {kRatioBad,
        "  service: s\n  objective: \"99\"\n  window: 90d\n  indicator:\n    latency:\n"
        "      histogram: h_seconds{job=\"a\"}\n      threshold: 250ms\n",
        "  service: s\n  objective: \"99\"\n  indicator:\n    latency:\n"
        "      histogram: h_seconds\n      threshold: 1s\n      native: true\n"}) {
    for (const RuleGroup& group : GenerateRuleGroups(Parse(body))) {
      std::vector<std::string> exprs;
      for (const auto& r : group.recording_rules) exprs.push_back(r.expr);
      for (const auto& r : group.alerting_rules) exprs.push_back(r.expr);
      for (const std::string& expr : exprs) {
        for (const auto& [metric, range] : RangeSelectors(expr)) {
          auto window = api::ParseDuration(range);
          ASSERT_TRUE(window.ok()) << expr;
          if (*window > Duration::Hours(1)) {
            EXPECT_EQ(metric.rfind("nines:", 0), 0u)
                << metric << " read over " << range << " in " << expr;
          }
        }
      }
    }
  }
}

TEST(RuleGeneratorTest, RatiosAreEventsOverEventsAndAbsentWithoutTraffic) {
  const auto groups = GenerateRuleGroups(Parse(kRatioBad));
  for (const RecordingRule* rule : Records(groups, kBurnRateSeries)) {
    // Every division by a count is by a count filtered to > 0: no traffic, no series, no NaN.
    EXPECT_NE(rule->expr.find(" > 0) / 0.001"), std::string::npos) << rule->expr;
    EXPECT_EQ(rule->expr.find("avg_over_time"), std::string::npos)
        << "an average of ratios is not a ratio of events: " << rule->expr;
  }
  EXPECT_EQ(Records(groups, kSliSeries)[0]->expr,
            "1 - sum(sum_over_time(nines:slo_bad_events:increase5m{slo=\"checkout\","
            "slo_namespace=\"shop\"}[30d])) / (sum(sum_over_time(nines:slo_events:increase5m{slo="
            "\"checkout\",slo_namespace=\"shop\"}[30d])) > 0)");
  EXPECT_EQ(Records(groups, kBurnRateSeries)[0]->expr,
            "(sum(increase(http_requests_total{job=\"checkout\",code=~\"5..\"}[5m])) or "
            "vector(0)) / "
            "(sum(increase(http_requests_total{job=\"checkout\"}[5m])) > 0) / 0.001");
}

TEST(RuleGeneratorTest, GoodEventsBecomeBadEventsNeverBelowZero) {
  const auto groups =
      GenerateRuleGroups(Parse("  service: s\n  objective: \"99\"\n  indicator:\n    ratio:\n"
                               "      total: r_total\n      good: r_total{code=\"200\"}\n"));
  EXPECT_EQ(Records(groups, kBadEventsIncreaseSeries)[0]->expr,
            "clamp_min(sum(increase(r_total[5m])) - (sum(increase(r_total{code=\"200\"}[5m])) or "
            "vector(0)), 0)");
}

TEST(RuleGeneratorTest, ClassicLatencyMatchesTheBucketAsPrometheus2And3WriteIt) {
  const auto groups =
      GenerateRuleGroups(Parse("  service: s\n  objective: \"99\"\n  indicator:\n    latency:\n"
                               "      histogram: h_seconds{job=\"a\"}\n      threshold: 300ms\n"));
  const std::string expr = Records(groups, kBadEventsIncreaseSeries)[0]->expr;
  EXPECT_NE(expr.find("h_seconds_bucket{job=\"a\",le=~\"0\\\\.30*\"}[5m]"), std::string::npos)
      << expr;
  EXPECT_NE(expr.find("h_seconds_count{job=\"a\"}[5m]"), std::string::npos) << expr;

  const auto whole =
      GenerateRuleGroups(Parse("  service: s\n  objective: \"99\"\n  indicator:\n    latency:\n"
                               "      histogram: h_seconds\n      threshold: 1s\n"));
  EXPECT_NE(Records(whole, kBadEventsIncreaseSeries)[0]->expr.find("le=~\"1(\\\\.0*)?\""),
            std::string::npos);
}

TEST(RuleGeneratorTest, NativeLatencyUsesTheHistogramFraction) {
  const auto groups = GenerateRuleGroups(
      Parse("  service: s\n  objective: \"99\"\n  indicator:\n    latency:\n"
            "      histogram: h_seconds\n      threshold: 1500ms\n      native: true\n"));
  EXPECT_EQ(Records(groups, kBadEventsIncreaseSeries)[0]->expr,
            "clamp_min(histogram_count(sum(increase(h_seconds[5m]))) - (histogram_fraction(0, "
            "1.5, sum(increase(h_seconds[5m]))) * histogram_count(sum(increase(h_seconds[5m]))) "
            "or vector(0)), 0)");
}

TEST(RuleGeneratorTest, TimesliceRecordsOneSamplePerSlice) {
  const auto groups =
      GenerateRuleGroups(Parse("  service: s\n  objective: \"99\"\n  indicator:\n    timeslice:\n"
                               "      good: up{job=\"a\"} == 1\n      slice: 30s\n"));
  ASSERT_EQ(groups[0].name, "nines/shop/checkout/slices");
  EXPECT_EQ(groups[0].interval, Duration::Seconds(30));
  EXPECT_EQ(groups[0].recording_rules[0].expr,
            "(min((up{job=\"a\"} == 1)) > bool 0) or on () vector(0)");
  EXPECT_EQ(Records(groups, kSliSeries)[0]->expr,
            "sum(sum_over_time(nines:slo_slice:good{slo=\"checkout\",slo_namespace=\"shop\"}[30d]))"
            " / sum(count_over_time(nines:slo_slice:good{slo=\"checkout\",slo_namespace=\"shop\"}"
            "[30d]))");
}

TEST(RuleGeneratorTest, DefaultAlertsFollowTheWorkbook) {
  const auto alerts = Alerts(GenerateRuleGroups(Parse(kRatioBad)));
  ASSERT_EQ(alerts.size(), 4u);
  struct Want {
    const char* alert;
    const char* severity;
    const char* long_window;
    const char* short_window;
  };
  const std::vector<Want> want = {{"SLOFastBurn", "page", "1h", "5m"},
                                  {"SLOFastBurn", "page", "6h", "30m"},
                                  {"SLOSlowBurn", "ticket", "1d", "2h"},
                                  {"SLOSlowBurn", "ticket", "3d", "6h"}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(alerts[i].alert, want[i].alert);
    EXPECT_EQ(alerts[i].labels.at("severity"), want[i].severity);
    EXPECT_EQ(alerts[i].labels.at("long"), want[i].long_window);
    EXPECT_EQ(alerts[i].labels.at("short"), want[i].short_window);
    EXPECT_TRUE(alerts[i].annotations.count("summary"));
    EXPECT_NE(alerts[i].annotations.at("description").find("of the budget is left"),
              std::string::npos);
  }
  EXPECT_EQ(alerts[0].expr,
            "max without (window) (slo:burn_rate:ratio{slo=\"checkout\",slo_namespace=\"shop\","
            "window=\"1h\"} > 14.4) and ignoring (window) slo:burn_rate:ratio{slo=\"checkout\","
            "slo_namespace=\"shop\",window=\"5m\"} > 14.4");
}

TEST(RuleGeneratorTest, FastestTierIsEvaluatedWithItsRawWindows) {
  const auto groups = GenerateRuleGroups(Parse(kRatioBad));
  const RuleGroup& short_group = groups[0];
  EXPECT_EQ(short_group.interval, kShortInterval);
  ASSERT_FALSE(short_group.alerting_rules.empty());
  EXPECT_EQ(short_group.alerting_rules[0].labels.at("long"), "1h");
}

TEST(RuleGeneratorTest, LatencyPagesOnlyWhenAskedTo) {
  const std::string latency =
      "  service: s\n  objective: \"99\"\n  indicator:\n    latency:\n"
      "      histogram: h_seconds\n      threshold: 1s\n";
  for (const AlertingRule& alert : Alerts(GenerateRuleGroups(Parse(latency)))) {
    EXPECT_EQ(alert.alert, "SLOSlowBurn");
  }
  const auto paged =
      Alerts(GenerateRuleGroups(Parse(latency + "  alerting:\n    fastBurn: {enabled: true}\n")));
  EXPECT_EQ(paged.size(), 4u);
}

TEST(RuleGeneratorTest, MinEventsGuardsEveryBurnAlert) {
  const auto groups =
      GenerateRuleGroups(Parse(std::string(kRatioBad) + "  alerting:\n    minEvents: 50\n"));
  for (const AlertingRule& alert : Alerts(groups)) {
    EXPECT_NE(alert.expr.find("nines:slo_events:count{slo=\"checkout\",slo_namespace=\"shop\","
                              "window=\"" +
                              alert.labels.at("long") + "\"} >= 50"),
              std::string::npos)
        << alert.expr;
  }
  std::set<std::string> counted;
  for (const RecordingRule* rule : Records(groups, kEventsCountSeries)) {
    counted.insert(rule->labels.at("window"));
  }
  EXPECT_EQ(counted, (std::set<std::string>{"1h", "6h", "1d", "3d"}));
}

TEST(RuleGeneratorTest, AlertingLabelsAnnotationsAndBudgetExhausted) {
  const auto groups = GenerateRuleGroups(
      Parse(std::string(kRatioBad) + "  alerting:\n    labels: {team: payments}\n"
                                     "    annotations: {runbook_url: \"https://r.example/x\"}\n"
                                     "    budgetExhausted: {enabled: true, severity: page}\n"),
      {.rule_labels = {}, .grafana_url = "https://grafana.example"});
  const auto alerts = Alerts(groups);
  ASSERT_EQ(alerts.size(), 5u);
  for (const AlertingRule& alert : alerts) {
    EXPECT_EQ(alert.labels.at("team"), "payments");
    EXPECT_EQ(alert.annotations.at("runbook_url"), "https://r.example/x");
    EXPECT_EQ(alert.annotations.at("dashboard_url"),
              "https://grafana.example/d/" + DashboardUid(Parse(kRatioBad)));
  }
  EXPECT_EQ(alerts.back().alert, "SLOBudgetExhausted");
  EXPECT_EQ(alerts.back().labels.at("severity"), "page");
  EXPECT_EQ(alerts.back().expr,
            "slo:error_budget_remaining:ratio{slo=\"checkout\",slo_namespace=\"shop\"} <= 0");
}

TEST(RuleGeneratorTest, AlertingDisabledGivesRecordingRulesOnly) {
  const auto groups =
      GenerateRuleGroups(Parse(std::string(kRatioBad) + "  alerting:\n    enabled: false\n"));
  EXPECT_TRUE(Alerts(groups).empty());
  EXPECT_EQ(Records(groups, kSliSeries).size(), 1u);
}

TEST(RuleGeneratorTest, LabelValuesAreEscapedNeverPasted) {
  const auto groups =
      GenerateRuleGroups(Parse("  service: s\n  objective: \"99\"\n  indicator:\n    ratio:\n"
                               "      total: 'r_total{path=\"a\\\"}) or vector(1) #\"}'\n"
                               "      bad: r_total{code=\"500\"}\n"));
  const std::string expr = Records(groups, kEventsIncreaseSeries)[0]->expr;
  EXPECT_EQ(expr, "sum(increase(r_total{path=\"a\\\"}) or vector(1) #\"}[5m]))");
}

TEST(RuleGeneratorTest, PrometheusRuleIsLabelledAndOwnedByName) {
  const auto rule = GeneratePrometheusRule(Parse(kRatioBad), {.rule_labels = {{"release", "kps"}}});
  EXPECT_EQ(rule["apiVersion"], "monitoring.coreos.com/v1");
  EXPECT_EQ(rule["kind"], "PrometheusRule");
  EXPECT_EQ(rule["metadata"]["name"], "checkout");
  EXPECT_EQ(rule["metadata"]["namespace"], "shop");
  EXPECT_EQ(rule["metadata"]["labels"]["app.kubernetes.io/managed-by"], "nines");
  EXPECT_EQ(rule["metadata"]["labels"]["nines.dev/slo"], "checkout");
  EXPECT_EQ(rule["metadata"]["labels"]["release"], "kps");
  EXPECT_FALSE(rule["metadata"].contains("ownerReferences"));
  for (const auto& group : rule["spec"]["groups"]) {
    for (const auto& r : group["rules"]) EXPECT_FALSE(r.contains("for")) << r.dump();
  }
}

TEST(RuleGeneratorTest, DashboardUidIsStableAndFitsGrafana) {
  const api::SloSpec spec = Parse(kRatioBad);
  EXPECT_EQ(DashboardUid(spec), DashboardUid(spec));
  EXPECT_EQ(DashboardUid(spec), "slo-" + DashboardUid(spec).substr(4));
  EXPECT_LE(DashboardUid(spec).size(), 40u);
  EXPECT_NE(DashboardUid(spec), DashboardUid(Parse(kRatioBad, "other")));
}

// The size limits of validation exist for this: the largest valid resource must generate a
// PrometheusRule that prometheus-operator accepts (512 KiB).
TEST(RuleGeneratorTest, TheLargestValidResourceStaysUnder512KiB) {
  auto long_text = [](char c, size_t n) { return std::string(n, c); };
  std::string labels;
  std::string alert_labels;
  std::string annotations;
  for (int i = 0; i < 16; ++i) {
    const std::string name = std::string(1, static_cast<char>('a' + i)) + long_text('x', 62);
    labels += "      " + name + ": " + long_text('v', 128) + "\n";
    alert_labels += "        " + name.substr(0, 62) + "y: " + long_text('v', 128) + "\n";
    if (i < 8) annotations += "        " + name + ": " + long_text('v', 1024) + "\n";
  }
  std::string selector = std::string("m").append(long_text('m', 62)).append("{");
  for (int i = 0; i < 16; ++i) {
    selector.append("l").append(std::to_string(i)).append(long_text('l', 20)).append("=~\"");
    selector.append(long_text('v', 32)).append("\",");
  }
  selector += "}";
  ASSERT_LE(selector.size(), api::kMaxSelectorLength);
  auto tiers = [](int first_minutes) {
    std::string out = "        thresholds:\n";
    for (int i = 0; i < 4; ++i) {
      out += "        - {burnRate: 1.5, long: " + std::to_string(first_minutes + 10 * i + 60) +
             "m, short: " + std::to_string(first_minutes + 10 * i + 2) + "m}\n";
    }
    return out;
  };
  const std::string body =
      "  service: " + long_text('s', 128) + "\n  description: " + long_text('d', 1024) +
      "\n  objective: \"99.12345\"\n  labels:\n" + labels +
      "  indicator:\n    ratio:\n      total: '" + selector + "'\n      good: '" + selector +
      "'\n  alerting:\n    minEvents: 1000000\n    labels:\n" + alert_labels +
      "    annotations:\n" + annotations + "    fastBurn:\n" + tiers(0) + "    slowBurn:\n" +
      tiers(3) + "    budgetExhausted: {enabled: true}\n";
  const api::SloSpec spec = Parse(body, long_text('n', 63));
  const std::string yaml =
      RenderYaml(GeneratePrometheusRule(spec, {.rule_labels = {}, .grafana_url = "https://g"}));
  EXPECT_LT(yaml.size(), 512u * 1024u)
      << "the largest valid resource generates " << yaml.size() << " bytes";
  EXPECT_LT(GeneratePrometheusRule(spec).dump().size(), 512u * 1024u);
  RecordProperty("worst_case_bytes", static_cast<int>(yaml.size()));
}

}  // namespace
}  // namespace nines::slo
