#include "operator/cli/commands.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "operator/slo/dashboard_generator.h"

namespace nines::cli {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = NINES_SOURCE_DIR;

struct CommandRun {
  int code = 0;
  std::string out;
  std::string err;
};

CommandRun Nines(const std::vector<std::string>& args, const std::string& stdin_text = "",
                 const std::map<std::string, std::string>& env = {}) {
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  Io io{in, out, err, [&env](const char* name) -> const char* {
          auto it = env.find(name);
          return it == env.end() ? nullptr : it->second.c_str();
        }};
  CommandRun run;
  run.code = RunNines(args, io);
  run.out = out.str();
  run.err = err.str();
  return run;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

fs::path TempDir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("nines-test-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Compares `actual` with the golden file, or rewrites it when NINES_UPDATE_GOLDEN is set.
void ExpectGolden(const fs::path& golden, const std::string& actual, const std::string& source) {
  if (std::getenv("NINES_UPDATE_GOLDEN") != nullptr) {
    fs::create_directories(golden.parent_path());
    std::ofstream(golden) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing: run with NINES_UPDATE_GOLDEN=1";
  if (actual != ReadFile(golden)) {
    const fs::path actual_path =
        fs::temp_directory_path() / ("nines-actual-" + golden.filename().string());
    std::ofstream(actual_path) << actual;
    ADD_FAILURE() << source << " no longer generates its golden file; see\n  diff -u " << golden
                  << " " << actual_path
                  << "\nif the change is intended, run with NINES_UPDATE_GOLDEN=1 and review it";
  }
}

// Golden files: `nines generate` for every example, checked in under tests/golden/ (the rules)
// and tests/golden/dashboards/ (the dashboards, as Grafana JSON). Run the tests with
// NINES_UPDATE_GOLDEN=1 to rewrite them after an intended change, and review the diff.
TEST(GoldenTest, EveryExampleGeneratesItsGoldenFiles) {
  int examples = 0;
  int dashboards = 0;
  for (const auto& entry : fs::directory_iterator(kSource / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++examples;
    CommandRun run = Nines({"generate", "--dashboards", "none", "-f", entry.path().string()});
    ASSERT_EQ(run.code, 0) << entry.path() << "\n" << run.err;
    ExpectGolden(kSource / "tests/golden" / entry.path().filename(), run.out,
                 entry.path().string());

    const fs::path dir = TempDir("golden-dashboards");
    run = Nines({"generate", "--dashboards", "json", "--format", "rulefile", "-f",
                 entry.path().string(), "-o", dir.string()});
    ASSERT_EQ(run.code, 0) << entry.path() << "\n" << run.err;
    for (const auto& file : fs::recursive_directory_iterator(dir)) {
      if (file.path().extension() != ".json") continue;
      ++dashboards;
      const std::string name =
          file.path().parent_path().filename().string() + "_" + file.path().filename().string();
      ExpectGolden(kSource / "tests/golden/dashboards" / name, ReadFile(file.path()),
                   entry.path().string());
    }
    fs::remove_all(dir);
  }
  EXPECT_GE(examples, 8);
  EXPECT_GE(dashboards, 9);
}

// The shared boards ship as files for the Helm chart; they must be what the generator makes.
TEST(GoldenTest, SharedDashboardsShipAsGenerated) {
  ExpectGolden(kSource / "charts/nines/dashboards/nines-overview.json",
               slo::DashboardToJson(slo::GenerateOverviewDashboard()) + "\n", "the overview");
  ExpectGolden(kSource / "charts/nines/dashboards/nines-review.json",
               slo::DashboardToJson(slo::GenerateReviewDashboard()) + "\n", "the review board");
}

TEST(GenerateTest, OutputIsByteIdenticalRunToRun) {
  const std::string examples = (kSource / "examples").string();
  CommandRun first = Nines({"generate", "-f", examples});
  CommandRun second = Nines({"generate", "-f", examples});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(first.out, second.out);
  EXPECT_FALSE(first.out.empty());
}

TEST(GenerateTest, ReadsStandardInput) {
  const std::string text = ReadFile(kSource / "examples/availability.yaml");
  CommandRun from_stdin = Nines({"generate", "-f", "-"}, text);
  CommandRun from_file =
      Nines({"generate", "-f", (kSource / "examples/availability.yaml").string()});
  ASSERT_EQ(from_stdin.code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, from_file.out);
}

TEST(GenerateTest, WritesOneFilePerObjectiveIntoTheOutputFolder) {
  const fs::path dir = TempDir("out");
  CommandRun run = Nines(
      {"generate", "-f", (kSource / "examples/multi-document.yaml").string(), "-o", dir.string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir / "edge/gateway-availability.yaml"));
  EXPECT_TRUE(fs::exists(dir / "edge/gateway-fast-and-successful.yaml"));
  const YAML::Node rule = YAML::LoadFile((dir / "edge/gateway-availability.yaml").string());
  EXPECT_EQ(rule["kind"].as<std::string>(), "PrometheusRule");
  fs::remove_all(dir);
}

TEST(GenerateTest, InvalidInputWritesNothing) {
  const fs::path dir = TempDir("invalid");
  const std::string text = ReadFile(kSource / "examples/availability.yaml") +
                           "---\napiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\n"
                           "metadata: {name: broken}\nspec: {service: a, objective: \"100\", "
                           "indicator: {ratio: {total: a, bad: b}}}\n";
  CommandRun run = Nines({"generate", "-f", "-", "-o", dir.string()}, text);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("<stdin>:31: spec.objective: must be more than 0 and less than 100"),
            std::string::npos)
      << run.err;
  EXPECT_TRUE(fs::is_empty(dir)) << "a failed generate must not write a partial output";
  fs::remove_all(dir);
}

TEST(GenerateTest, RuleFileFormatIsAPlainPrometheusRuleFile) {
  CommandRun run =
      Nines({"generate", "--format", "rulefile", "-f", (kSource / "examples").string()});
  ASSERT_EQ(run.code, 0) << run.err;
  const YAML::Node file = YAML::Load(run.out);
  ASSERT_TRUE(file["groups"].IsSequence());
  EXPECT_FALSE(file["apiVersion"]);
  std::set<std::string> names;
  for (const auto& group : file["groups"]) names.insert(group["name"].as<std::string>());
  EXPECT_EQ(names.size(), file["groups"].size()) << "group names must be unique in one file";
}

TEST(GenerateTest, RuleLabelsAndGrafanaUrlComeFromFlagsOrEnvironment) {
  const std::string path = (kSource / "examples/availability.yaml").string();
  CommandRun run = Nines({"generate", "-f", path}, "",
                         {{"NINES_RULE_LABEL", "release=kps,team=sre"},
                          {"NINES_GRAFANA_URL", "https://grafana.example/"}});
  ASSERT_EQ(run.code, 0) << run.err;
  const YAML::Node rule = YAML::Load(run.out);
  EXPECT_EQ(rule["metadata"]["labels"]["release"].as<std::string>(), "kps");
  EXPECT_EQ(rule["metadata"]["labels"]["team"].as<std::string>(), "sre");
  EXPECT_NE(run.out.find("dashboard_url: https://grafana.example/d/slo-"), std::string::npos);
  CommandRun flag = Nines({"generate", "-f", path, "--rule-label", "release=other"}, "",
                          {{"NINES_RULE_LABEL", "release=kps"}});
  EXPECT_EQ(YAML::Load(flag.out)["metadata"]["labels"]["release"].as<std::string>(), "other")
      << "a flag wins over the environment";
}

TEST(GenerateTest, SameObjectiveTwiceIsAnError) {
  const std::string path = (kSource / "examples/availability.yaml").string();
  CommandRun run = Nines({"generate", "-f", path, "-f", path});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("metadata.name: \"shop/checkout-availability\" is defined twice"),
            std::string::npos)
      << run.err;
}

TEST(ValidateTest, PrintsFileLineFieldAndMessageAndExitsOne) {
  const std::string text =
      "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata: {name: a}\n"
      "spec:\n  service: a\n  objective: \"99.9\"\n  indicator:\n    ratio:\n"
      "      total: a_total\n      bad: a_total{code=~\"5..}\n";
  CommandRun run = Nines({"validate", "-f", "-"}, text);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out,
            "<stdin>:10: spec.indicator.ratio.bad: unbalanced quote in the value of label "
            "\"code\" at column 15\n");
}

TEST(ValidateTest, TimesliceExpressionsAreCheckedByPrometheusOwnParser) {
  auto timeslice = [](const std::string& name, const std::string& good) {
    return "apiVersion: nines.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata: {name: " + name +
           "}\nspec:\n  service: a\n  objective: \"99\"\n  indicator:\n    timeslice:\n"
           "      good: '" +
           good + "'\n";
  };
  const std::string text = timeslice("fine", "min(up{job=\"a\"}) == bool 1") + "---\n" +
                           timeslice("broken", "up{job=\"a\"} ==== 1");
  CommandRun run = Nines({"validate", "-f", "-"}, text);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out.rfind("<stdin>:19: spec.indicator.timeslice.good: not valid PromQL: ", 0), 0u)
      << run.out;
  EXPECT_EQ(run.out.find("<stdin>:9:"), std::string::npos) << "the valid one is not blamed";
  CommandRun without = Nines({"validate", "-f", "-", "--promtool", ""}, text);
  EXPECT_EQ(without.code, 0) << "without promtool at hand, only the structure is checked";
}

TEST(ValidateTest, AcceptsEveryExample) {
  CommandRun run = Nines({"validate", "-f", (kSource / "examples").string()});
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("9 ServiceLevelObjectives valid in 8 files"), std::string::npos)
      << run.err;
}

TEST(ValidateTest, FoldersAreReadFlatUnlessRecursive) {
  const fs::path dir = TempDir("recursive");
  fs::create_directories(dir / "team");
  fs::copy_file(kSource / "examples/availability.yaml", dir / "a.yaml");
  fs::copy_file(kSource / "examples/latency.yaml", dir / "team/b.yml");
  std::ofstream(dir / "team/notes.txt") << "not a manifest";
  CommandRun flat = Nines({"validate", "-f", dir.string()});
  EXPECT_EQ(flat.code, 0) << flat.out << flat.err;
  EXPECT_NE(flat.err.find("1 ServiceLevelObjective valid in 1 file"), std::string::npos)
      << flat.err;
  CommandRun deep = Nines({"validate", "-R", "-f", dir.string()});
  EXPECT_EQ(deep.code, 0) << deep.out << deep.err;
  EXPECT_NE(deep.err.find("2 ServiceLevelObjectives valid in 2 files"), std::string::npos)
      << deep.err;
  fs::remove_all(dir);
}

TEST(ValidateTest, MissingFileIsAUsageError) {
  CommandRun run = Nines({"validate", "-f", "/nonexistent/slo.yaml"});
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.err, "nines: /nonexistent/slo.yaml: no such file or folder\n");
}

TEST(CliTest, EveryCommandHasHelp) {
  for (const char* command : {"generate", "validate", "version"}) {
    CommandRun run = Nines({command, "--help"});
    EXPECT_EQ(run.code, 0) << command;
    EXPECT_NE(run.out.find(std::string("Usage: nines ") + command), std::string::npos) << command;
  }
  CommandRun top = Nines({"--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("generate"), std::string::npos);
  CommandRun generate_help = Nines({"generate", "--help"});
  EXPECT_NE(generate_help.out.find("[$NINES_MIN_RATE_WINDOW]"), std::string::npos);
}

TEST(CliTest, UnknownCommandsAndFlagsAreUsageErrors) {
  EXPECT_EQ(Nines({"frobnicate"}).code, 2);
  CommandRun run = Nines({"generate", "--no-such-flag"});
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.err, "nines: unknown flag --no-such-flag (see nines generate --help)\n");
  EXPECT_EQ(Nines({"generate", "examples/x.yaml"}).code, 2);
}

TEST(CliTest, VersionNamesTheApi) {
  CommandRun run = Nines({"version"});
  EXPECT_EQ(run.code, 0);
  EXPECT_EQ(run.out.rfind("nines ", 0), 0u);
  EXPECT_NE(run.out.find("nines.dev/v1alpha1"), std::string::npos);
}

}  // namespace
}  // namespace nines::cli
