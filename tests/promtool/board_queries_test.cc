// What the shared boards say, checked by promtool on recorded series: the overview's state and
// burn columns, and the review board's three lists. The end-to-end query test
// (tests/dashboards/query_test.sh) proves every query runs and returns data on live rules; these
// cases need histories that a few minutes of live data cannot have (a budget that burns while
// some is left, a budget that ran out a week ago).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "operator/slo/dashboard_generator.h"
#include "operator/slo/yaml_writer.h"

namespace nines::slo {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// The query of target `ref_id` of the panel titled `title`, with Grafana's variables filled in
// as the boards' defaults have them: every namespace and service, a 10-minute period, 90% spare.
std::string BoardQuery(const Json& board, const std::string& title, const std::string& ref_id) {
  for (const Json& panel : board["panels"]) {
    if (panel["title"] != title) continue;
    for (const Json& target : panel["targets"]) {
      if (target["refId"] != ref_id) continue;
      std::string expr = target["expr"];
      for (const auto& [name, value] : {std::pair{std::string("$namespace"), std::string(".*")},
                                        {"$service", ".*"},
                                        {"$__range", "10m"},
                                        {"$spare", "0.9"}}) {
        for (size_t at = expr.find(name); at != std::string::npos; at = expr.find(name, at)) {
          expr.replace(at, name.size(), value);
          at += value.size();
        }
      }
      return expr;
    }
  }
  ADD_FAILURE() << "no panel " << title << " with a target " << ref_id;
  return "vector(0)";
}

std::string Labels(const std::string& slo, const std::string& extra = "") {
  return "{slo_namespace=\"shop\",slo=\"" + slo + "\",service=\"" + slo + "\"" +
         (extra.empty() ? "" : "," + extra) + "}";
}

struct Expected {
  std::string labels;
  double value;
};

Json ExprTest(const std::string& expr, const std::vector<Expected>& samples) {
  Json out = Json::array();
  for (const Expected& s : samples) out.push_back({{"labels", s.labels}, {"value", s.value}});
  return {{"expr", expr}, {"eval_time", "10m"}, {"exp_samples", out}};
}

int RunPromtool(const Json& input, const Json& checks, std::string& output) {
  const fs::path dir = fs::temp_directory_path() / ("nines-boards-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "rules.yaml") << "groups: []\n";
  const Json suite = {
      {"rule_files", {"rules.yaml"}},
      {"evaluation_interval", "1m"},
      {"tests", {{{"interval", "1m"}, {"input_series", input}, {"promql_expr_test", checks}}}}};
  std::ofstream(dir / "suite.yaml") << RenderYaml(suite);
  const std::string command = "cd '" + dir.string() + "' && promtool test rules suite.yaml 2>&1";
  int code = -1;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
    const int status = pclose(pipe);
    code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  if (code == 0) fs::remove_all(dir);
  return code;
}

// Five objectives over ten minutes: "spent" has none left and pages; "burning" pages with budget
// left; "healthy" neither (a pending alert does not count); "quiet" has no events, so no SLI and
// no budget; "recovered" ran out at minute 3 and has budget again. Values are binary fractions,
// because promtool compares them exactly.
Json Input() {
  Json input = Json::array();
  const auto series = [&](const std::string& name, const std::string& labels,
                          const std::string& values) {
    input.push_back({{"series", name + labels}, {"values", values}});
  };
  for (const char* slo : {"spent", "burning", "healthy", "quiet", "recovered"}) {
    series("slo:objective:ratio", Labels(slo), "0.999x10");
  }
  series("slo:error_budget_remaining:ratio", Labels("spent"), "-0.5x10");
  series("slo:error_budget_remaining:ratio", Labels("burning"), "0.5x10");
  series("slo:error_budget_remaining:ratio", Labels("healthy"), "0.9375x10");
  series("slo:error_budget_remaining:ratio", Labels("recovered"),
         "0.25 0.125 0 -0.125 0 0.125 0.25 0.375 0.375 0.375 0.375");
  for (const char* slo : {"spent", "burning", "healthy", "recovered"}) {
    series("slo:sli:ratio", Labels(slo), "0.9995x10");
  }
  for (const char* slo : {"spent", "burning"}) {
    series("ALERTS",
           Labels(slo,
                  "alertname=\"SLOFastBurn\",alertstate=\"firing\",severity=\"page\","
                  "long=\"1h\",short=\"5m\""),
           "1x10");
  }
  series("ALERTS",
         Labels("healthy",
                "alertname=\"SLOSlowBurn\",alertstate=\"pending\",severity=\"ticket\","
                "long=\"3d\",short=\"6h\""),
         "1x10");
  return input;
}

TEST(BoardQueriesTest, OverviewStatesAndBurnColumns) {
  const Json overview = GenerateOverviewDashboard();
  const std::string table = "Objectives, least budget left first";
  const auto state = [](const std::string& slo, const std::string& value) {
    return Labels(slo, "state=\"" + value + "\"");
  };
  const auto fast = [](const std::string& slo, const std::string& value) {
    return Labels(slo, "fast_burn=\"" + value + "\"");
  };
  Json checks = Json::array();
  // The values are whatever series the state came from; the table shows only the label.
  checks.push_back(
      ExprTest(BoardQuery(overview, table, "F"), {{state("spent", "Exhausted"), -0.5},
                                                  {state("burning", "Burning"), 1},
                                                  {state("healthy", "Healthy"), 0.9375},
                                                  {state("recovered", "Healthy"), 0.375},
                                                  {state("quiet", "No data"), 0.999}}));
  checks.push_back(ExprTest(BoardQuery(overview, table, "D"), {{fast("spent", "firing"), 1},
                                                               {fast("burning", "firing"), 1},
                                                               {fast("healthy", "-"), 0.999},
                                                               {fast("recovered", "-"), 0.999},
                                                               {fast("quiet", "-"), 0.999}}));
  checks.push_back(ExprTest(BoardQuery(overview, table, "C"), {{Labels("spent"), -50},
                                                               {Labels("burning"), 50},
                                                               {Labels("healthy"), 93.75},
                                                               {Labels("recovered"), 37.5}}));
  checks.push_back(ExprTest(BoardQuery(overview, "Objectives", "A"), {{"{}", 5}}));
  checks.push_back(ExprTest(BoardQuery(overview, "Budget exhausted", "A"), {{"{}", 1}}));
  checks.push_back(ExprTest(BoardQuery(overview, "Burning now", "A"), {{"{}", 2}}));
  checks.push_back(ExprTest(BoardQuery(overview, "No data", "A"), {{"{}", 1}}));
  std::string output;
  EXPECT_EQ(RunPromtool(Input(), checks, output), 0) << output;
}

TEST(BoardQueriesTest, ReviewListsRanOutRecoveredAndSpare) {
  const Json review = GenerateReviewDashboard();
  Json checks = Json::array();
  checks.push_back(ExprTest(BoardQuery(review, "Ran out of budget", "A"), {{"{}", 2}}));
  checks.push_back(ExprTest(BoardQuery(review, "Ran out of budget in the period", "A"),
                            {{Labels("spent"), -50}, {Labels("recovered"), -12.5}}));
  checks.push_back(ExprTest(BoardQuery(review, "Ran out of budget in the period", "B"),
                            {{Labels("spent"), -50}, {Labels("recovered"), 37.5}}));
  // "Recovered" is the title of a stat and of a table; the stat comes first.
  checks.push_back(ExprTest(BoardQuery(review, "Recovered", "A"), {{"{}", 1}}));
  checks.push_back(ExprTest(BoardQuery(review, "Could be tightened", "A"), {{"{}", 1}}));
  std::string output;
  EXPECT_EQ(RunPromtool(Input(), checks, output), 0) << output;
}

}  // namespace
}  // namespace nines::slo
