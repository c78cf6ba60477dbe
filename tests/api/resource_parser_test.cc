#include "operator/api/resource_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nines::api {
namespace {

// A resource whose spec is `body` (indented by two spaces); the body starts on line 7.
std::string Resource(const std::string& body) {
  std::string out =
      "apiVersion: nines.dev/v1alpha1\n"
      "kind: ServiceLevelObjective\n"
      "metadata:\n"
      "  name: test\n"
      "  namespace: ns\n"
      "spec:\n";
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    out += "  " + body.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

constexpr char kRatio[] =
    "indicator:\n"
    "  ratio:\n"
    "    total: http_requests_total{job=\"a\"}\n"
    "    bad: http_requests_total{job=\"a\",code=~\"5..\"}\n";

std::string Valid(const std::string& extra = "") {
  return "service: checkout\nobjective: \"99.9\"\n" + std::string(kRatio) + extra;
}

std::vector<std::string> Errors(const std::string& text, const ParseOptions& options = {}) {
  std::vector<std::string> out;
  for (const FieldError& e : ParseResources(text, "t.yaml", options).errors) {
    out.push_back(e.ToString());
  }
  return out;
}

TEST(ResourceParserTest, ParsesAValidRatioResourceWithDefaults) {
  ParsedResources parsed = ParseResources(Resource(Valid()), "t.yaml");
  ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0].ToString();
  ASSERT_EQ(parsed.slos.size(), 1u);
  const SloSpec& spec = parsed.slos[0];
  EXPECT_EQ(spec.name, "test");
  EXPECT_EQ(spec.namespace_name, "ns");
  EXPECT_EQ(spec.service, "checkout");
  EXPECT_EQ(spec.objective.RatioText(), "0.999");
  EXPECT_EQ(spec.objective.BudgetRatioText(), "0.001");
  EXPECT_EQ(spec.window, Duration::Days(30));
  const auto& ratio = std::get<RatioIndicator>(spec.indicator);
  EXPECT_EQ(ratio.total.metric, "http_requests_total");
  EXPECT_FALSE(ratio.events_are_good);
  EXPECT_TRUE(spec.alerting.enabled);
  EXPECT_TRUE(spec.alerting.fast_burn.enabled);
  EXPECT_EQ(spec.alerting.fast_burn.severity, "page");
  EXPECT_EQ(spec.alerting.slow_burn.severity, "ticket");
  EXPECT_FALSE(spec.alerting.budget_exhausted_enabled);
  const std::vector<BurnTier> fast = {{14.4, Duration::Hours(1), Duration::Minutes(5)},
                                      {6, Duration::Hours(6), Duration::Minutes(30)}};
  const std::vector<BurnTier> slow = {{3, Duration::Days(1), Duration::Hours(2)},
                                      {1, Duration::Days(3), Duration::Hours(6)}};
  EXPECT_EQ(spec.alerting.fast_burn.tiers, fast);
  EXPECT_EQ(spec.alerting.slow_burn.tiers, slow);
}

TEST(ResourceParserTest, ReadsJson) {
  const std::string json = R"({"apiVersion": "nines.dev/v1alpha1", "kind": "ServiceLevelObjective",
    "metadata": {"name": "j"},
    "spec": {"service": "s", "objective": "99.5",
             "indicator": {"ratio": {"total": "a_total", "good": "a_total{ok=\"1\"}"}}}})";
  ParsedResources parsed = ParseResources(json, "j.json");
  ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0].ToString();
  ASSERT_EQ(parsed.slos.size(), 1u);
  EXPECT_EQ(parsed.slos[0].namespace_name, "default");
  EXPECT_TRUE(std::get<RatioIndicator>(parsed.slos[0].indicator).events_are_good);
}

TEST(ResourceParserTest, ReadsEveryDocumentAndSkipsOtherKinds) {
  const std::string text = Resource(Valid()) + "---\napiVersion: v1\nkind: ConfigMap\n" +
                           "metadata: {name: x}\n---\n" + Resource(Valid()) + "---\n";
  ParsedResources parsed = ParseResources(text, "t.yaml");
  EXPECT_TRUE(parsed.errors.empty());
  EXPECT_EQ(parsed.slos.size(), 2u);
  EXPECT_EQ(parsed.other_documents, 1);
  EXPECT_EQ(parsed.slos[1].source_line, 18);
}

TEST(ResourceParserTest, AnInvalidDocumentDoesNotStopTheOthers) {
  const std::string text = Resource("service: a\nobjective: \"100\"\n" + std::string(kRatio)) +
                           "---\n" + Resource(Valid());
  ParsedResources parsed = ParseResources(text, "t.yaml");
  EXPECT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.slos.size(), 1u);
}

TEST(ResourceParserTest, ReportsBrokenYamlWithItsLine) {
  EXPECT_EQ(
      Errors("a: b\nc: [d\n"),
      std::vector<std::string>{"t.yaml:3: not valid YAML or JSON: end of sequence flow not found"});
}

// Found by the fuzzer: yaml-cpp's LoadAll loops forever, growing, on a stray top-level comma.
TEST(ResourceParserTest, AStrayCommaIsAnErrorNotAHang) {
  for (const std::string& text :
       {std::string(","), std::string("- a\n,"), Resource(Valid()) + "---\n- a\n,\n"}) {
    ParsedResources parsed = ParseResources(text, "t.yaml");
    ASSERT_EQ(parsed.errors.size(), 1u) << text;
    EXPECT_NE(parsed.errors[0].message.find("content that starts no document"), std::string::npos)
        << parsed.errors[0].ToString();
    EXPECT_TRUE(parsed.slos.empty());
  }
  EXPECT_EQ(Errors(Resource(Valid()) + "---\n- a\n,\n")[0],
            "t.yaml:15: not valid YAML or JSON: content that starts no document (a stray \",\", "
            "\"]\" or \"}\"?)");
}

TEST(ResourceParserTest, ScalesDefaultTiersForAWeekAndKeepsTheMinimumRateWindow) {
  const auto fast = DefaultFastBurnTiers(Duration::Days(7), Duration::Minutes(2));
  ASSERT_EQ(fast.size(), 2u);
  EXPECT_EQ(FormatDuration(fast[0].long_window), "14m");
  EXPECT_EQ(FormatDuration(fast[0].short_window), "2m");  // 70s, raised to the minimum
  EXPECT_EQ(FormatDuration(fast[1].long_window), "1h24m");
  EXPECT_EQ(FormatDuration(fast[1].short_window), "7m");
  const auto slow = DefaultSlowBurnTiers(Duration::Days(28), Duration::Minutes(2));
  EXPECT_EQ(FormatDuration(slow[0].long_window), "22h24m");
  EXPECT_EQ(FormatDuration(slow[1].long_window), "2d19h12m");
  EXPECT_EQ(slow[1].burn_rate, 1);
}

TEST(ResourceParserTest, LatencyAlertsOnSlowTiersOnlyByDefault) {
  ParsedResources parsed =
      ParseResources(Resource("service: a\nobjective: \"99\"\nindicator:\n  latency:\n"
                              "    histogram: h_seconds{job=\"a\"}\n    threshold: 300ms\n"),
                     "t.yaml");
  ASSERT_EQ(parsed.slos.size(), 1u);
  EXPECT_FALSE(parsed.slos[0].alerting.fast_burn.enabled);
  EXPECT_TRUE(parsed.slos[0].alerting.slow_burn.enabled);
  EXPECT_EQ(std::get<LatencyIndicator>(parsed.slos[0].indicator).threshold.ms, 300);
}

TEST(ObjectiveTest, ParsesExactly) {
  struct Case {
    std::string text;
    std::string ratio;
    std::string budget;
  };
  for (const Case& c : std::vector<Case>{{"99.9", "0.999", "0.001"},
                                         {"99", "0.99", "0.01"},
                                         {"99.99999", "0.9999999", "0.0000001"},
                                         {"0.00001", "0.0000001", "0.9999999"},
                                         {"50", "0.5", "0.5"},
                                         {"99.950", "0.9995", "0.0005"}}) {
    auto objective = ParseObjective(c.text);
    ASSERT_TRUE(objective.ok()) << c.text << ": " << objective.status().message();
    EXPECT_EQ(objective->RatioText(), c.ratio) << c.text;
    EXPECT_EQ(objective->BudgetRatioText(), c.budget) << c.text;
  }
}

// One case per validation rule: the exact line, field path and message a user sees.
struct ValidationCase {
  std::string name;
  std::string document;
  std::vector<std::string> errors;
};

std::vector<ValidationCase> ValidationCases() {
  const std::string ratio(kRatio);
  const std::string head = "service: a\nobjective: \"99.9\"\n";
  auto with_alerting = [&](const std::string& alerting) {
    return Resource(head + ratio + "alerting:\n" + alerting);
  };
  return {
      {"ObjectiveMissing",
       Resource("service: a\n" + ratio),
       {"t.yaml:7: spec.objective: is required, e.g. \"99.9\""}},
      {"ObjectiveAsNumber",
       Resource("service: a\nobjective: 99.9\n" + ratio),
       {"t.yaml:8: spec.objective: must be a string, e.g. \"99.9\" in quotes, so that no digit "
        "is lost to floating point"}},
      {"ObjectiveHundred",
       Resource("service: a\nobjective: \"100\"\n" + ratio),
       {"t.yaml:8: spec.objective: must be more than 0 and less than 100, not \"100\""}},
      {"ObjectiveZero",
       Resource("service: a\nobjective: \"0\"\n" + ratio),
       {"t.yaml:8: spec.objective: must be more than 0 and less than 100, not \"0\""}},
      {"ObjectiveTooManyDecimals",
       Resource("service: a\nobjective: \"99.999999\"\n" + ratio),
       {"t.yaml:8: spec.objective: \"99.999999\" has more than 5 decimals"}},
      {"ObjectiveNotANumber",
       Resource("service: a\nobjective: \"99.9%\"\n" + ratio),
       {"t.yaml:8: spec.objective: \"99.9%\" is not a percentage: write it like \"99.9\""}},
      {"ObjectiveNegative",
       Resource("service: a\nobjective: \"-5\"\n" + ratio),
       {"t.yaml:8: spec.objective: \"-5\" is not a percentage: write it like \"99.9\""}},
      {"ServiceMissing",
       Resource("objective: \"99\"\n" + ratio),
       {"t.yaml:7: spec.service: is required"}},
      {"ServiceEmpty",
       Resource("service: \"\"\nobjective: \"99\"\n" + ratio),
       {"t.yaml:7: spec.service: must not be empty"}},
      {"DescriptionTooLong",
       Resource(head + ratio + "description: " + std::string(1025, 'x')),
       {"t.yaml:13: spec.description: must be at most 1024 characters, not 1025"}},
      {"WindowTooShort",
       Resource(head + "window: 12h\n" + ratio),
       {"t.yaml:9: spec.window: must be from 1d to 90d, not 12h"}},
      {"WindowTooLong",
       Resource(head + "window: 5y\n" + ratio),
       {"t.yaml:9: spec.window: must be from 1d to 90d, not 1825d"}},
      {"WindowWithoutUnit",
       Resource(head + "window: \"30\"\n" + ratio),
       {"t.yaml:9: spec.window: invalid duration \"30\": the number 30 needs a unit (ms, s, m, "
        "h, d, w, y)"}},
      {"UnknownSpecField",
       Resource(head + ratio + "objectve: \"99\"\n"),
       {"t.yaml:13: spec.objectve: unknown field \"objectve\" (known fields: service, "
        "description, objective, window, labels, indicator, alerting)"}},
      {"FieldGivenTwice",
       Resource(head + ratio + "service: b\n"),
       {"t.yaml:13: spec.service: field given twice"}},
      {"IndicatorMissing",
       Resource(head),
       {"t.yaml:7: spec.indicator: is required: one of ratio, latency or timeslice"}},
      {"TwoIndicators",
       Resource(head + ratio + "  timeslice:\n    good: up == 1\n"),
       {"t.yaml:10: spec.indicator: must have exactly one of ratio, latency or timeslice, not 2"}},
      {"BadAndGood",
       Resource(head + ratio + "    good: http_requests_total{code=\"200\"}\n"),
       {"t.yaml:11: spec.indicator.ratio: must have exactly one of bad or good, not both"}},
      {"NeitherBadNorGood",
       Resource(head + "indicator:\n  ratio:\n    total: a_total\n"),
       {"t.yaml:11: spec.indicator.ratio: must have one of bad or good"}},
      {"TotalMissing",
       Resource(head + "indicator:\n  ratio:\n    bad: a_total\n"),
       {"t.yaml:11: spec.indicator.ratio.total: is required: the selector of all events"}},
      {"SelectorWithFunction",
       Resource(head + "indicator:\n  ratio:\n    total: rate(a_total[5m])\n    bad: a_total\n"),
       {"t.yaml:11: spec.indicator.ratio.total: unexpected \"(\" at column 5: a selector is a "
        "metric name with label matchers, not an expression"}},
      {"SelectorWithBadRegex",
       Resource(head +
                "indicator:\n  ratio:\n    total: a_total\n    bad: a_total{code=~\"5(..\"}\n"),
       {"t.yaml:12: spec.indicator.ratio.bad: invalid regular expression in the value of label "
        "\"code\": missing closing )"}},
      {"SelectorTooLong",
       Resource(head + "indicator:\n  ratio:\n    total: a" + std::string(1024, 'x') +
                "\n    bad: b\n"),
       {"t.yaml:11: spec.indicator.ratio.total: must be at most 1024 characters, not 1025"}},
      {"TooManyMatchers",
       Resource(head + "indicator:\n  ratio:\n    total: a\n    bad: 'b{" +
                [] {
                  std::string m;
                  for (int i = 0; i < 17; ++i)
                    m.append("l").append(std::to_string(i)).append("=\"x\",");
                  return m;
                }() +
                "}'\n"),
       {"t.yaml:12: spec.indicator.ratio.bad: must have at most 16 label matchers"}},
      {"ServiceTooLong",
       Resource("service: " + std::string(129, 's') + "\nobjective: \"99\"\n" + ratio),
       {"t.yaml:7: spec.service: must be at most 128 characters, not 129"}},
      {"TimesliceExpressionTooLong",
       Resource(head + "indicator:\n  timeslice:\n    good: up" + std::string(2047, ' ') + "x\n"),
       {"t.yaml:11: spec.indicator.timeslice.good: must be at most 2048 characters, not 2050"}},
      {"TooManyAnnotations",
       with_alerting("  annotations: {a: x, b: x, c: x, d: x, e: x, f: x, g: x, h: x, i: x}\n"),
       {"t.yaml:14: spec.alerting.annotations: must have at most 8 entries"}},
      {"LatencyThresholdMissing",
       Resource(head + "indicator:\n  latency:\n    histogram: h_seconds\n"),
       {"t.yaml:11: spec.indicator.latency.threshold: is required, e.g. 300ms"}},
      {"LatencyThresholdZero",
       Resource(head + "indicator:\n  latency:\n    histogram: h_seconds\n    threshold: 0s\n"),
       {"t.yaml:12: spec.indicator.latency.threshold: must be more than 0 and at most 1h"}},
      {"LatencyHistogramWithBucketSuffix",
       Resource(head +
                "indicator:\n  latency:\n    histogram: h_seconds_bucket\n    threshold: 1s\n"),
       {"t.yaml:11: spec.indicator.latency.histogram: name the histogram without its _bucket, "
        "_count or _sum suffix"}},
      {"LatencyHistogramWithLe",
       Resource(head + "indicator:\n  latency:\n    histogram: h{le=\"1\"}\n    threshold: 1s\n"),
       {"t.yaml:11: spec.indicator.latency.histogram: must not match on \"le\": the bucket "
        "comes from threshold"}},
      {"TimesliceSliceTooShort",
       Resource(head + "indicator:\n  timeslice:\n    good: up == 1\n    slice: 5s\n"),
       {"t.yaml:12: spec.indicator.timeslice.slice: must be from 10s to 1h"}},
      {"TimesliceUnbalanced",
       Resource(head + "indicator:\n  timeslice:\n    good: min(up == 1\n"),
       {"t.yaml:11: spec.indicator.timeslice.good: unclosed \"(\""}},
      {"TimesliceBreaksOut",
       Resource(head + "indicator:\n  timeslice:\n    good: up) or (vector(1)\n"),
       {"t.yaml:11: spec.indicator.timeslice.good: unbalanced \")\" at column 3"}},
      {"LabelNameInvalid",
       Resource(head + ratio + "labels:\n  1tier: a\n"),
       {"t.yaml:14: spec.labels.1tier: \"1tier\" is not a valid label name: use letters, digits "
        "and underscores, not starting with a digit or \"__\", at most 63 characters"}},
      {"LabelReserved",
       Resource(head + ratio + "labels:\n  slo: a\n"),
       {"t.yaml:14: spec.labels.slo: \"slo\" is set by nines and cannot be overridden"}},
      {"LabelValueEmpty",
       Resource(head + ratio + "labels:\n  tier: \"\"\n"),
       {"t.yaml:14: spec.labels.tier: must not be empty"}},
      {"LabelValueTooLong",
       Resource(head + ratio + "labels:\n  tier: " + std::string(129, 'x') + "\n"),
       {"t.yaml:14: spec.labels.tier: must be at most 128 characters, not 129"}},
      {"TooManyLabels",
       Resource(head + ratio +
                "labels: {a: x, b: x, c: x, d: x, e: x, f: x, g: x, h: x, i: x, "
                "j: x, k: x, l: x, m: x, n: x, o: x, p: x, q: x}\n"),
       {"t.yaml:13: spec.labels: must have at most 16 entries"}},
      {"ShortNotShorterThanLong",
       with_alerting("  fastBurn:\n    thresholds:\n    - {burnRate: 10, long: 1h, short: 1h}\n"),
       {"t.yaml:16: spec.alerting.fastBurn.thresholds[0].short: must be shorter than long (1h)"}},
      {"LongBeyondWindow",
       with_alerting("  slowBurn:\n    thresholds:\n    - {burnRate: 1, long: 31d, short: 1d}\n"),
       {"t.yaml:16: spec.alerting.slowBurn.thresholds[0].long: must be at most the SLO window "
        "(30d)"}},
      {"BurnRateZero",
       with_alerting("  fastBurn:\n    thresholds:\n    - {burnRate: 0, long: 1h, short: 5m}\n"),
       {"t.yaml:16: spec.alerting.fastBurn.thresholds[0].burnRate: must be more than 0"}},
      {"BurnRateThatCannotFire",
       with_alerting("  fastBurn:\n    thresholds:\n    - {burnRate: 2000, long: 1h, short: 5m}\n"),
       {"t.yaml:16: spec.alerting.fastBurn.thresholds[0].burnRate: can never fire: at 100% "
        "errors an objective of 99.9 burns at most 1000x"}},
      {"WindowBelowMinimumRateWindow",
       with_alerting("  fastBurn:\n    thresholds:\n    - {burnRate: 10, long: 1h, short: 1m}\n"),
       {"t.yaml:16: spec.alerting.fastBurn.thresholds[0].short: must be at least the minimum "
        "rate window (2m)"}},
      {"ThresholdsEmpty",
       with_alerting("  fastBurn:\n    thresholds: []\n"),
       {"t.yaml:15: spec.alerting.fastBurn.thresholds: must have from 1 to 4 entries (to turn "
        "these alerts off, set enabled: false)"}},
      {"ThresholdFieldMissing",
       with_alerting("  fastBurn:\n    thresholds:\n    - {burnRate: 10, long: 1h}\n"),
       {"t.yaml:16: spec.alerting.fastBurn.thresholds[0].short: is required"}},
      {"TiersWithTheSameWindows",
       with_alerting("  fastBurn:\n    thresholds:\n    - {burnRate: 10, long: 1h, short: 5m}\n"
                     "    - {burnRate: 20, long: 1h, short: 5m}\n"),
       {"t.yaml:17: spec.alerting.fastBurn.thresholds[1]: has the same long and short windows as "
        "thresholds[0]: give each tier windows of its own"}},
      {"EnabledNotABoolean",
       with_alerting("  enabled: \"yes\"\n"),
       {"t.yaml:14: spec.alerting.enabled: must be true or false"}},
      {"MinEventsNegative",
       with_alerting("  minEvents: -1\n"),
       {"t.yaml:14: spec.alerting.minEvents: must be from 0 to 1000000000"}},
      {"MinEventsFraction",
       with_alerting("  minEvents: 1.5\n"),
       {"t.yaml:14: spec.alerting.minEvents: must be a whole number"}},
      {"AnnotationValueTooLong",
       with_alerting("  annotations:\n    runbook_url: " + std::string(1025, 'x') + "\n"),
       {"t.yaml:15: spec.alerting.annotations.runbook_url: must be at most 1024 characters, not "
        "1025"}},
      {"SeverityEmpty",
       with_alerting("  slowBurn:\n    severity: \"\"\n"),
       {"t.yaml:15: spec.alerting.slowBurn.severity: must not be empty"}},
      {"NameInvalid",
       "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata:\n"
       "  name: Checkout_SLO\nspec:\n  service: a\n  objective: \"99\"\n"
       "  indicator: {ratio: {total: a, bad: b}}\n",
       {"t.yaml:4: metadata.name: must be at most 63 lower-case letters, digits and \"-\", "
        "starting and ending with a letter or digit (it is also a label value)"}},
      {"NameMissing",
       "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata: {}\nspec:\n"
       "  service: a\n  objective: \"99\"\n  indicator: {ratio: {total: a, bad: b}}\n",
       {"t.yaml:3: metadata.name: is required"}},
      {"WrongApiVersion",
       "apiVersion: nines.dev/v1\nkind: ServiceLevelObjective\nmetadata: {name: a}\nspec: {}\n",
       {"t.yaml:1: apiVersion: must be nines.dev/v1alpha1"}},
      {"SpecMissing",
       "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\n"
       "metadata: {name: a}\n",
       {"t.yaml:1: spec: is required"}},
      {"SeveralProblemsAtOnce",
       Resource("service: a\nobjective: \"101\"\nwindow: 1h\n" + ratio),
       {"t.yaml:8: spec.objective: must be more than 0 and less than 100, not \"101\"",
        "t.yaml:9: spec.window: must be from 1d to 90d, not 1h"}},
  };
}

class ValidationTest : public testing::TestWithParam<ValidationCase> {};

TEST_P(ValidationTest, ReportsFieldLineAndMessage) {
  const ValidationCase& c = GetParam();
  ParsedResources parsed = ParseResources(c.document, "t.yaml");
  std::vector<std::string> errors;
  for (const FieldError& e : parsed.errors) errors.push_back(e.ToString());
  EXPECT_EQ(errors, c.errors);
  EXPECT_TRUE(parsed.slos.empty()) << "an invalid resource must yield no spec";
}

INSTANTIATE_TEST_SUITE_P(EveryRule, ValidationTest, testing::ValuesIn(ValidationCases()),
                         [](const testing::TestParamInfo<ValidationCase>& info) {
                           return info.param.name;
                         });

TEST(ResourceParserTest, MinimumRateWindowIsAnOption) {
  ParseOptions options;
  options.min_rate_window = Duration::Minutes(10);
  EXPECT_EQ(Errors(Resource(Valid("alerting:\n  fastBurn:\n    thresholds:\n"
                                  "    - {burnRate: 10, long: 1h, short: 5m}\n")),
                   options),
            std::vector<std::string>{
                "t.yaml:16: spec.alerting.fastBurn.thresholds[0].short: must be at least the "
                "minimum rate window (10m)"});
}

}  // namespace
}  // namespace nines::api
