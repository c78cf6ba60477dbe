#include "operator/slo/dashboard_generator.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>

#include "operator/api/resource_parser.h"
#include "operator/slo/rule_generator.h"

namespace nines::slo {
namespace {

using Json = nlohmann::ordered_json;

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

const char kRatio[] =
    "  service: checkout\n  objective: \"99.95\"\n  description: Checkout requests succeed\n"
    "  indicator:\n    ratio:\n      total: http_requests_total{job=\"checkout\"}\n"
    "      bad: http_requests_total{job=\"checkout\",code=~\"5..\"}\n"
    "  alerting:\n    annotations: {runbook_url: \"https://runbooks.example/checkout\"}\n";
const char kLatency[] =
    "  service: checkout\n  objective: \"99\"\n"
    "  indicator:\n    latency:\n      histogram: http_request_duration_seconds{job=\"checkout\"}\n"
    "      threshold: 300ms\n";
const char kTimeslice[] =
    "  service: payments\n  objective: \"99.5\"\n"
    "  indicator:\n    timeslice:\n      good: min(probe_success{job=\"p\"}) == bool 1\n"
    "      slice: 1m\n";

// Every panel, rows' panels included.
std::vector<Json> Panels(const Json& dashboard) {
  std::vector<Json> out;
  for (const Json& panel : dashboard["panels"]) {
    out.push_back(panel);
    if (panel.contains("panels")) {
      for (const Json& inner : panel["panels"]) out.push_back(inner);
    }
  }
  return out;
}

const Json* FindPanel(const Json& dashboard, const std::string& title_prefix) {
  for (const Json& panel : dashboard["panels"]) {
    if (panel.value("title", "").starts_with(title_prefix)) return &panel;
  }
  return nullptr;
}

std::vector<std::string> Exprs(const Json& panel) {
  std::vector<std::string> out;
  for (const Json& target : panel.value("targets", Json::array())) out.push_back(target["expr"]);
  return out;
}

// The metric names that `expr` selects: identifiers followed by `{`. (By hand: GCC 12 warns
// falsely inside std::regex under ASan.)
std::vector<std::string> SeriesNames(const std::string& expr) {
  std::vector<std::string> out;
  const auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  };
  for (size_t i = 0; i < expr.size(); ++i) {
    if (expr[i] != '{') continue;
    size_t start = i;
    while (start > 0 && is_name_char(expr[start - 1])) --start;
    if (start < i) out.push_back(expr.substr(start, i - start));
  }
  return out;
}

TEST(DashboardGeneratorTest, IdentityIsStableAndWorksWithAnyPrometheusDatasource) {
  const api::SloSpec spec = Parse(kRatio);
  const Json dashboard = GenerateDashboard(spec);
  EXPECT_EQ(dashboard["uid"], DashboardUid(spec));
  EXPECT_LE(dashboard["uid"].get<std::string>().size(), 40u) << "Grafana's limit on a uid";
  EXPECT_EQ(dashboard["title"], "SLO shop/checkout");
  EXPECT_EQ(dashboard["schemaVersion"], kGrafanaSchemaVersion);
  EXPECT_EQ(DashboardToJson(dashboard), DashboardToJson(GenerateDashboard(spec)));
  EXPECT_NE(GenerateDashboard(Parse(kRatio, "other"))["uid"], dashboard["uid"]);

  const Json& variables = dashboard["templating"]["list"];
  ASSERT_FALSE(variables.empty());
  EXPECT_EQ(variables[0]["type"], "datasource");
  EXPECT_EQ(variables[0]["query"], "prometheus");
  for (const Json& panel : Panels(dashboard)) {
    if (panel["type"] == "text") continue;
    EXPECT_EQ(panel["datasource"]["uid"], "${datasource}") << panel["title"];
    for (const Json& target : panel["targets"]) {
      EXPECT_EQ(target["datasource"]["uid"], "${datasource}") << panel["title"];
    }
  }
}

TEST(DashboardGeneratorTest, PanelsHaveUniqueIdsAndDoNotOverlap) {
  for (const char* body : {kRatio, kLatency, kTimeslice}) {
    const Json dashboard = GenerateDashboard(Parse(body));
    std::set<int> ids;
    std::vector<Json> grids;
    for (const Json& panel : Panels(dashboard)) {
      EXPECT_TRUE(ids.insert(panel["id"].get<int>()).second) << panel["title"];
      const Json& g = panel["gridPos"];
      EXPECT_LE(g["x"].get<int>() + g["w"].get<int>(), 24) << panel["title"];
      for (const Json& other : grids) {
        const bool apart = g["x"].get<int>() + g["w"].get<int>() <= other["x"].get<int>() ||
                           other["x"].get<int>() + other["w"].get<int>() <= g["x"].get<int>() ||
                           g["y"].get<int>() + g["h"].get<int>() <= other["y"].get<int>() ||
                           other["y"].get<int>() + other["h"].get<int>() <= g["y"].get<int>();
        EXPECT_TRUE(apart) << panel["title"] << " overlaps another panel";
      }
      grids.push_back(g);
    }
  }
}

// The panels an SRE reviews, reading the public series of this objective only.
TEST(DashboardGeneratorTest, StatsAndHistoryReadTheObjectivesOwnPublicSeries) {
  const Json dashboard = GenerateDashboard(Parse(kRatio));
  const std::string own = R"({slo="checkout",slo_namespace="shop")";
  const auto expect_reads = [&](const std::string& title, const std::string& series) {
    const Json* panel = FindPanel(dashboard, title);
    ASSERT_NE(panel, nullptr) << title;
    bool found = false;
    for (const std::string& expr : Exprs(*panel)) {
      found = found || expr.find(series + own) != std::string::npos;
    }
    EXPECT_TRUE(found) << title << " should read " << series;
  };
  expect_reads("Objective", kObjectiveSeries);
  expect_reads("SLI over 30d", kSliSeries);
  expect_reads("Error budget left", kBudgetRemainingSeries);
  expect_reads("SLI against the objective", kSliSeries);
  expect_reads("SLI against the objective", kObjectiveSeries);
  expect_reads("Traffic", kEventsRateSeries);
  expect_reads("Burn alerts firing", "ALERTS");
  expect_reads("Alerts firing", "ALERTS");

  // The SLI stat turns green at the objective, shown with the objective's decimals and two more.
  const Json* sli = FindPanel(dashboard, "SLI over");
  const Json& steps = (*sli)["fieldConfig"]["defaults"]["thresholds"]["steps"];
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0]["value"], nullptr);
  EXPECT_DOUBLE_EQ(steps[1]["value"].get<double>(), 0.9995);
  EXPECT_EQ((*sli)["fieldConfig"]["defaults"]["decimals"], 4);
}

TEST(DashboardGeneratorTest, BurnRatePanelsDrawEachTiersThreshold) {
  const Json dashboard = GenerateDashboard(Parse(kRatio));
  const Json* page = FindPanel(dashboard, "Burn rate, page tiers");
  const Json* ticket = FindPanel(dashboard, "Burn rate, ticket tiers");
  ASSERT_NE(page, nullptr);
  ASSERT_NE(ticket, nullptr);
  EXPECT_EQ(Exprs(*page)[0],
            R"(slo:burn_rate:ratio{slo="checkout",slo_namespace="shop",window=~"5m|30m|1h|6h"})");
  EXPECT_EQ(Exprs(*ticket)[0],
            R"(slo:burn_rate:ratio{slo="checkout",slo_namespace="shop",window=~"2h|6h|1d|3d"})");
  std::vector<double> lines;
  for (const Json& step : (*page)["fieldConfig"]["defaults"]["thresholds"]["steps"]) {
    if (!step["value"].is_null()) lines.push_back(step["value"]);
  }
  EXPECT_EQ(lines, (std::vector<double>{6, 14.4}));
  EXPECT_NE((*page)["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "off");

  // A latency objective does not page by default; its panel says so.
  const Json latency = GenerateDashboard(Parse(kLatency));
  EXPECT_NE(FindPanel(latency, "Burn rate, page tiers")->value("title", "").find("not alerting"),
            std::string::npos);
}

TEST(DashboardGeneratorTest, EachIndicatorShowsWhatLiesBehindItsSli) {
  const Json ratio = GenerateDashboard(Parse(kRatio));
  const Json* by_code = FindPanel(ratio, "Events by code");
  ASSERT_NE(by_code, nullptr) << "ratio: the label that tells bad from good";
  EXPECT_EQ(Exprs(*by_code)[0],
            R"(sum by (code) (rate(http_requests_total{job="checkout"}[$__rate_interval])))");

  // Different metrics for bad and all: nothing to group by, so both are drawn.
  const Json two_metrics = GenerateDashboard(
      Parse("  service: a\n  objective: \"99\"\n  indicator:\n    ratio:\n"
            "      total: requests_total\n      bad: errors_total{kind=\"timeout\"}\n"));
  const Json* both = FindPanel(two_metrics, "Bad and all events");
  ASSERT_NE(both, nullptr);
  EXPECT_EQ(Exprs(*both).size(), 2u);

  const Json latency = GenerateDashboard(Parse(kLatency));
  const Json* percentiles = FindPanel(latency, "Latency against the 300ms threshold");
  ASSERT_NE(percentiles, nullptr);
  ASSERT_EQ(Exprs(*percentiles).size(), 3u);
  EXPECT_EQ(
      Exprs(*percentiles)[2],
      R"(histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout"}[$__rate_interval]))))");
  const Json& steps = (*percentiles)["fieldConfig"]["defaults"]["thresholds"]["steps"];
  EXPECT_DOUBLE_EQ(steps.back()["value"].get<double>(), 0.3);
  EXPECT_EQ((*percentiles)["fieldConfig"]["defaults"]["unit"], "s");

  const Json native = GenerateDashboard(Parse(std::string(kLatency).replace(
      std::string(kLatency).find("      threshold"), 0, "      native: true\n")));
  EXPECT_EQ(
      Exprs(*FindPanel(native, "Latency against"))[0],
      R"(histogram_quantile(0.5, sum(rate(http_request_duration_seconds{job="checkout"}[$__rate_interval]))))");

  const Json timeslice = GenerateDashboard(Parse(kTimeslice));
  ASSERT_NE(FindPanel(timeslice, "Slices"), nullptr);
  EXPECT_EQ(Exprs(*FindPanel(timeslice, "The slice expression"))[0],
            R"((min(probe_success{job="p"}) == bool 1))");
}

TEST(DashboardGeneratorTest, AnnotationsMarkAlertsAndReleasesWhenConfigured) {
  const api::SloSpec spec = Parse(kRatio);
  const Json plain = GenerateDashboard(spec);
  std::set<std::string> names;
  for (const Json& a : plain["annotations"]["list"]) names.insert(a["name"]);
  EXPECT_TRUE(names.contains("Burn alerts"));
  EXPECT_FALSE(names.contains("Releases"));

  const std::string release =
      R"(changes(kube_deployment_status_observed_generation{namespace="$namespace"}[2m]) > 0)";
  const Json with_releases = GenerateDashboard(spec, {.release_expr = release});
  const Json& last = with_releases["annotations"]["list"].back();
  EXPECT_EQ(last["name"], "Releases");
  EXPECT_EQ(last["expr"], release);
  // The expression's $namespace is the dashboard's own constant.
  bool has_namespace = false;
  for (const Json& v : with_releases["templating"]["list"]) {
    if (v["name"] == "namespace") {
      has_namespace = true;
      EXPECT_EQ(v["type"], "constant");
      EXPECT_EQ(v["query"], "shop");
    }
  }
  EXPECT_TRUE(has_namespace);
}

TEST(DashboardGeneratorTest, LinksLeadToTheRunbookAndTheSharedBoards) {
  const Json dashboard = GenerateDashboard(Parse(kRatio));
  std::map<std::string, std::string> links;
  for (const Json& link : dashboard["links"]) links[link["title"]] = link["url"];
  EXPECT_EQ(links["Runbook"], "https://runbooks.example/checkout");
  EXPECT_EQ(links["Every objective"], "/d/nines-overview?var-namespace=shop");
  EXPECT_EQ(links["Error-budget review"], "/d/nines-review");
  const std::string about = (*FindPanel(dashboard, "About"))["options"]["content"];
  EXPECT_NE(about.find("Checkout requests succeed"), std::string::npos);
  EXPECT_NE(about.find("(<https://runbooks.example/checkout>)"), std::string::npos);
  EXPECT_NE(about.find("21.6 minutes"), std::string::npos)
      << "99.95% over 30d is a budget of 21.6 minutes:\n"
      << about;

  // Only http(s) runbooks become links.
  const Json odd = GenerateDashboard(Parse(
      std::string(kRatio).replace(std::string(kRatio).find("https://runbooks"), 8, "javascript:")));
  for (const Json& link : odd["links"]) EXPECT_NE(link["title"], "Runbook");
}

// A description is text, never markup: it cannot add links, images, HTML or table cells.
TEST(DashboardGeneratorTest, DescriptionIsEscapedInTheAboutPanel) {
  const Json dashboard = GenerateDashboard(
      Parse("  service: checkout\n  objective: \"99\"\n"
            "  description: \"<img src=x onerror=alert(1)> [click](javascript:x) | *b* `c`\"\n"
            "  indicator:\n    ratio:\n      total: a_total\n      bad: b_total\n"));
  const std::string about = (*FindPanel(dashboard, "About"))["options"]["content"];
  const std::string first_line = about.substr(0, about.find('\n'));
  for (size_t i = 0; i < first_line.size(); ++i) {
    if (first_line[i] == '<' || first_line[i] == '[' || first_line[i] == '`') {
      EXPECT_TRUE(i > 0 && first_line[i - 1] == '\\') << "unescaped at " << i << ": " << first_line;
    }
  }
  EXPECT_NE(
      about.find(R"(\<img src\=x onerror\=alert\(1\)\> \[click\]\(javascript\:x\) \| \*b\* \`c\`)"),
      std::string::npos)
      << about;
  EXPECT_EQ(dashboard["description"],
            "<img src=x onerror=alert(1)> [click](javascript:x) | *b* `c`")
      << "the dashboard's own description is plain text to Grafana";
}

TEST(DashboardGeneratorTest, ConfigMapForTheSidecarCarriesTheDashboard) {
  const api::SloSpec spec = Parse(kRatio);
  const Json dashboard = GenerateDashboard(spec);
  DashboardObjectOptions options;
  options.folder = "SLOs";
  const auto object = GenerateDashboardObject(spec, dashboard, options);
  ASSERT_TRUE(object.has_value());
  EXPECT_EQ((*object)["kind"], "ConfigMap");
  EXPECT_EQ((*object)["metadata"]["name"], "checkout-slo-dashboard");
  EXPECT_EQ((*object)["metadata"]["namespace"], "shop");
  const Json& labels = (*object)["metadata"]["labels"];
  EXPECT_EQ(labels["grafana_dashboard"], "1");
  EXPECT_EQ(labels["app.kubernetes.io/managed-by"], "nines");
  EXPECT_EQ(labels["nines.dev/slo"], "checkout");
  EXPECT_EQ((*object)["metadata"]["annotations"]["grafana_folder"], "SLOs");
  ASSERT_TRUE((*object)["data"].contains("shop_checkout.json"))
      << "keys are unique across namespaces: the sidecar writes them into one folder";
  EXPECT_EQ(Json::parse((*object)["data"]["shop_checkout.json"].get<std::string>()), dashboard);

  options.sidecar_label_key = "dashboards";
  options.sidecar_label_value = "slo";
  options.folder.clear();
  const auto custom = GenerateDashboardObject(spec, dashboard, options);
  EXPECT_EQ((*custom)["metadata"]["labels"]["dashboards"], "slo");
  EXPECT_FALSE((*custom)["metadata"]["labels"].contains("grafana_dashboard"));
  EXPECT_FALSE((*custom)["metadata"].contains("annotations"));
}

TEST(DashboardGeneratorTest, GrafanaDashboardForTheGrafanaOperator) {
  const api::SloSpec spec = Parse(kRatio);
  const Json dashboard = GenerateDashboard(spec);
  DashboardObjectOptions options{.mode = DashboardMode::kGrafanaOperator,
                                 .folder = "SLOs",
                                 .instance_selector = {{"app", "grafana"}, {"env", "prod"}}};
  const auto object = GenerateDashboardObject(spec, dashboard, options);
  ASSERT_TRUE(object.has_value());
  EXPECT_EQ((*object)["apiVersion"], "grafana.integreatly.org/v1beta1");
  EXPECT_EQ((*object)["kind"], "GrafanaDashboard");
  EXPECT_EQ((*object)["spec"]["instanceSelector"]["matchLabels"],
            (Json{{"app", "grafana"}, {"env", "prod"}}));
  EXPECT_EQ((*object)["spec"]["folder"], "SLOs");
  EXPECT_EQ(Json::parse((*object)["spec"]["json"].get<std::string>()), dashboard);
  EXPECT_FALSE((*object)["metadata"]["labels"].contains("grafana_dashboard"));

  EXPECT_FALSE(
      GenerateDashboardObject(spec, dashboard, {.mode = DashboardMode::kNone}).has_value());
}

// The shared boards work for every objective without being regenerated: they name no objective
// and read nothing but the public series and Prometheus's ALERTS.
TEST(DashboardGeneratorTest, SharedBoardsReadOnlyThePublicSeries) {
  const std::set<std::string> allowed = {
      kObjectiveSeries, kWindowSeries,     kSliSeries, kBudgetRemainingSeries,
      kBurnRateSeries,  kEventsRateSeries, "ALERTS"};
  for (const Json& board : {GenerateOverviewDashboard(), GenerateReviewDashboard()}) {
    int queries = 0;
    for (const Json& panel : Panels(board)) {
      for (const std::string& expr : Exprs(panel)) {
        ++queries;
        for (const std::string& name : SeriesNames(expr)) {
          EXPECT_TRUE(allowed.contains(name))
              << board["title"] << " / " << panel["title"] << " reads " << name << ": " << expr;
        }
        EXPECT_EQ(expr.find("nines:"), std::string::npos) << expr;
        EXPECT_NE(expr.find("$namespace"), std::string::npos)
            << panel["title"] << ": every query honours the filters: " << expr;
      }
    }
    EXPECT_GE(queries, 8) << board["title"];
    std::set<std::string> variables;
    for (const Json& v : board["templating"]["list"]) variables.insert(v["name"]);
    EXPECT_TRUE(variables.contains("namespace"));
    EXPECT_TRUE(variables.contains("service"));
    EXPECT_TRUE(variables.contains("filters")) << "ad hoc label filters";
  }
  EXPECT_EQ(GenerateOverviewDashboard()["uid"], kOverviewDashboardUid);
  EXPECT_EQ(GenerateReviewDashboard()["uid"], kReviewDashboardUid);
}

TEST(DashboardGeneratorTest, OverviewSortsByBudgetAndLinksEveryRowToItsObjective) {
  const Json overview = GenerateOverviewDashboard();
  const Json* table = FindPanel(overview, "Objectives, least budget left first");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ((*table)["options"]["sortBy"][0]["displayName"], "Budget left %");
  EXPECT_EQ((*table)["options"]["sortBy"][0]["desc"], false);
  const std::string url = (*table)["fieldConfig"]["defaults"]["links"][0]["url"];
  EXPECT_NE(url.find("${__data.fields.slo_namespace}/${__data.fields.slo}"), std::string::npos);
  // Every objective's title holds "namespace/name", which that link searches for.
  EXPECT_NE(GenerateDashboard(Parse(kRatio))["title"].get<std::string>().find("shop/checkout"),
            std::string::npos);
  std::set<std::string> columns;
  for (const auto& [from, to] : (*table)["transformations"][1]["options"]["renameByName"].items()) {
    columns.insert(to.get<std::string>());
  }
  for (const char* column : {"Namespace", "Objective", "Service", "Objective %", "SLI %",
                             "Budget left %", "Fast burn", "Slow burn", "State"}) {
    EXPECT_TRUE(columns.contains(column)) << column;
  }
}

}  // namespace
}  // namespace nines::slo
