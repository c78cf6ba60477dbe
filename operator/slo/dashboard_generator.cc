#include "operator/slo/dashboard_generator.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <string_view>
#include <vector>

#include "operator/slo/number_format.h"
#include "operator/slo/rule_generator.h"

namespace nines::slo {
namespace {

using api::Duration;
using api::FormatDuration;
using api::QuotePromQLString;
using Json = nlohmann::ordered_json;

constexpr char kDatasourceVariable[] = "${datasource}";
// The matchers of the shared boards' filters; the adhoc filter applies itself to every query.
constexpr char kBoardFilter[] = R"(slo_namespace=~"$namespace",service=~"$service")";
constexpr char kFiringBurnAlerts[] =
    R"(ALERTS{alertname=~"SLOFastBurn|SLOSlowBurn",alertstate="firing",slo_namespace=~"$namespace",service=~"$service"})";
// What identifies one objective on the shared boards: every query is aggregated to exactly these
// labels, so that Grafana's merge joins one row per objective.
constexpr char kObjectiveLabels[] = "slo_namespace, slo, service";

// `{slo="a",slo_namespace="b"}` plus extra matchers, for this objective's own series.
std::string Own(const api::SloSpec& spec, const std::string& series,
                const std::string& extra = "") {
  std::string out = series;
  out.append("{slo=").append(QuotePromQLString(spec.name));
  out.append(",slo_namespace=").append(QuotePromQLString(spec.namespace_name));
  if (!extra.empty()) out.append(",").append(extra);
  return out + "}";
}

Json Datasource() { return {{"type", "prometheus"}, {"uid", kDatasourceVariable}}; }

Json Target(const std::string& ref, const std::string& expr, const std::string& legend,
            bool instant = false, bool table = false) {
  Json target = {{"refId", ref}, {"datasource", Datasource()}, {"expr", expr}};
  target["legendFormat"] = legend.empty() ? "__auto" : legend;
  target["range"] = !instant;
  target["instant"] = instant;
  target["format"] = table ? "table" : "time_series";
  target["editorMode"] = "code";
  return target;
}

Json GridPos(int x, int y, int w, int h) { return {{"h", h}, {"w", w}, {"x", x}, {"y", y}}; }

// Threshold steps from the lowest up; the first step's value is null (minus infinity).
Json Steps(const std::vector<std::pair<std::string, std::optional<double>>>& steps) {
  Json out = Json::array();
  for (const auto& [color, value] : steps) {
    out.push_back({{"color", color}, {"value", value ? Json(*value) : Json(nullptr)}});
  }
  return out;
}

Json FieldDefaults(const std::string& unit, const Json& steps) {
  return {{"unit", unit},
          {"color", {{"mode", "thresholds"}}},
          {"thresholds", {{"mode", "absolute"}, {"steps", steps}}},
          {"mappings", Json::array()}};
}

class PanelIds {
 public:
  int Next() { return ++last_; }

 private:
  int last_ = 0;
};

// What every query panel starts with; the caller adds its transformations, fieldConfig and options
// in that order (the key order is part of the byte-identical output).
Json QueryPanel(const char* type, PanelIds& ids, const std::string& title,
                const std::string& description, Json grid, Json targets) {
  return {{"type", type},
          {"id", ids.Next()},
          {"title", title},
          {"description", description},
          {"gridPos", std::move(grid)},
          {"datasource", Datasource()},
          {"targets", std::move(targets)}};
}

Json FieldConfig(Json defaults) {
  return {{"defaults", std::move(defaults)}, {"overrides", Json::array()}};
}

// `sparkline`: the value's recent history drawn behind it; off for values that never move.
Json StatPanel(PanelIds& ids, const std::string& title, const std::string& description, Json grid,
               Json targets, Json defaults, bool sparkline = true) {
  Json panel = QueryPanel("stat", ids, title, description, std::move(grid), std::move(targets));
  panel["fieldConfig"] = FieldConfig(std::move(defaults));
  panel["options"] = {
      {"reduceOptions", {{"calcs", {"lastNotNull"}}, {"fields", ""}, {"values", false}}},
      {"colorMode", "value"},
      {"graphMode", sparkline ? "area" : "none"},
      {"justifyMode", "auto"},
      {"orientation", "auto"},
      {"textMode", "auto"},
      {"wideLayout", true},
      {"showPercentChange", false},
      {"percentChangeColorMode", "standard"}};
  return panel;
}

struct Lines {
  std::string draw_style = "line";
  std::string thresholds_style = "off";  // "line", "dashed", "area"...
  std::string interpolation = "linear";
  int fill_opacity = 10;
  std::optional<double> soft_min;
  std::optional<double> soft_max;
  std::string stacking = "none";
};

Json TimeseriesPanel(PanelIds& ids, const std::string& title, const std::string& description,
                     Json grid, Json targets, Json defaults, const Lines& lines = {}) {
  Json custom = {{"drawStyle", lines.draw_style},
                 {"lineInterpolation", lines.interpolation},
                 {"lineWidth", 1},
                 {"fillOpacity", lines.fill_opacity},
                 {"showPoints", "never"},
                 {"spanNulls", false},
                 {"stacking", {{"mode", lines.stacking}, {"group", "A"}}},
                 {"thresholdsStyle", {{"mode", lines.thresholds_style}}}};
  if (lines.soft_min) custom["axisSoftMin"] = *lines.soft_min;
  if (lines.soft_max) custom["axisSoftMax"] = *lines.soft_max;
  defaults["custom"] = std::move(custom);
  // Series take the palette's colours; the thresholds only draw their lines.
  defaults["color"] = {{"mode", "palette-classic"}};
  Json panel =
      QueryPanel("timeseries", ids, title, description, std::move(grid), std::move(targets));
  panel["fieldConfig"] = FieldConfig(std::move(defaults));
  panel["options"] = {{"legend",
                       {{"displayMode", "list"},
                        {"placement", "bottom"},
                        {"showLegend", true},
                        {"calcs", Json::array()}}},
                      {"tooltip", {{"mode", "multi"}, {"sort", "desc"}}}};
  return panel;
}

Json TextPanel(PanelIds& ids, const std::string& title, Json grid, const std::string& markdown) {
  return {{"type", "text"},
          {"id", ids.Next()},
          {"title", title},
          {"gridPos", std::move(grid)},
          {"options", {{"mode", "markdown"}, {"content", markdown}}}};
}

// Markdown text that reads literally: every ASCII punctuation character backslash-escaped, as
// CommonMark allows, and line breaks folded, so a description cannot add links, HTML or tables.
std::string EscapeMarkdown(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (std::ispunct(static_cast<unsigned char>(c))) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

// An inline code span for `text`, fenced with more backticks than any run inside it.
std::string CodeSpan(std::string_view text) {
  size_t longest = 0;
  size_t run = 0;
  std::string flat;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
    flat += (c == '\n' || c == '\r' || c == '|') ? ' ' : c;
  }
  const std::string fence(longest + 1, '`');
  return fence + " " + flat + " " + fence;
}

// A URL that is safe inside a markdown link's angle brackets and an HTML attribute.
bool IsLinkableUrl(std::string_view url) {
  if (!(url.starts_with("https://") || url.starts_with("http://"))) return false;
  return std::none_of(url.begin(), url.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '"' || c == '\'' || c == '`';
  });
}

// Decimals that show an objective as written: 99.9 -> 1, 99.95 -> 2, 99 -> 0.
int ObjectiveDecimals(const api::Objective& objective) {
  const size_t dot = objective.text.find('.');
  return dot == std::string::npos ? 0 : static_cast<int>(objective.text.size() - dot - 1);
}

std::string TiersText(const api::BurnAlert& alert) {
  std::string out;
  for (const api::BurnTier& tier : alert.tiers) {
    if (!out.empty()) out += "; ";
    out += FormatNumber(tier.burn_rate) + "x over " + FormatDuration(tier.long_window) + " and " +
           FormatDuration(tier.short_window);
  }
  return out;
}

std::vector<std::string> TierWindows(const api::BurnAlert& alert) {
  std::set<Duration> windows;
  for (const api::BurnTier& tier : alert.tiers) {
    windows.insert(tier.long_window);
    windows.insert(tier.short_window);
  }
  std::vector<std::string> out;
  out.reserve(windows.size());
  for (Duration d : windows) out.push_back(FormatDuration(d));
  return out;
}

std::string RegexAlternatives(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    if (!out.empty()) out += "|";
    out += v;  // durations: digits and unit letters only
  }
  return out;
}

// The window of the "recent SLI" line: the first page tier's long window (1h at 30d), which
// shows a dip that the whole window's SLI averages away.
Duration RecentWindow(const api::SloSpec& spec) {
  if (!spec.alerting.fast_burn.tiers.empty())
    return spec.alerting.fast_burn.tiers.front().long_window;
  return BurnRateWindows(spec).back();
}

// A histogram's series share a base name: x_bucket and x_count are both x.
std::string_view BaseMetric(std::string_view name) {
  for (std::string_view suffix : {"_bucket", "_count"}) {
    if (name.ends_with(suffix)) return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

// The labels that tell bad events from good ones in a ratio indicator: those matched by the
// bad/good selector but not by the total one (bucket bounds aside). Empty when the two are
// different metrics, whose labels say nothing about each other.
std::vector<std::string> OutcomeLabels(const api::RatioIndicator& ratio) {
  if (BaseMetric(ratio.total.metric) != BaseMetric(ratio.events.metric)) return {};
  std::set<std::string> total;
  for (const auto& m : ratio.total.matchers) total.insert(m.name);
  std::set<std::string> out;
  for (const auto& m : ratio.events.matchers) {
    if (!total.contains(m.name) && m.name != "le") out.insert(m.name);
  }
  return {out.begin(), out.end()};
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string IndicatorMarkdown(const api::SloSpec& spec) {
  if (const auto* ratio = std::get_if<api::RatioIndicator>(&spec.indicator)) {
    return std::string("ratio: ") + (ratio->events_are_good ? "good " : "bad ") +
           CodeSpan(api::RenderSelector(ratio->events)) + " of all " +
           CodeSpan(api::RenderSelector(ratio->total));
  }
  if (const auto* latency = std::get_if<api::LatencyIndicator>(&spec.indicator)) {
    return std::string("latency: requests no slower than ") + FormatDuration(latency->threshold) +
           " in the " + (latency->native ? "native" : "classic") + " histogram " +
           CodeSpan(api::RenderSelector(latency->histogram));
  }
  const auto& timeslice = std::get<api::TimesliceIndicator>(spec.indicator);
  return "timeslice: " + FormatDuration(timeslice.slice) + " slices, good when " +
         CodeSpan(timeslice.good);
}

std::string AboutMarkdown(const api::SloSpec& spec) {
  const double budget_minutes =
      spec.objective.BudgetRatio() * static_cast<double>(spec.window.ms) / 60000.0;
  std::string md;
  md += "**" +
        (spec.description.empty() ? std::string("No description")
                                  : EscapeMarkdown(spec.description)) +
        "**\n\n";
  md += "| | |\n|---|---|\n";
  md += "| Objective | " + spec.objective.text + "% of events good over a rolling " +
        FormatDuration(spec.window) + " |\n";
  md += "| Error budget | " + spec.objective.BudgetRatioText() + " of events, as much as " +
        FormatNumber(std::round(budget_minutes * 10) / 10) + " minutes of complete outage |\n";
  md += "| Service | " + EscapeMarkdown(spec.service) + " |\n";
  md += "| Indicator | " + IndicatorMarkdown(spec) + " |\n";
  const auto tiers_row = [&](const char* name, const api::BurnAlert& alert) {
    std::string state = spec.alerting.enabled && alert.enabled
                            ? "severity " + EscapeMarkdown(alert.severity)
                            : std::string("not alerting");
    return std::string("| ") + name + " | " + TiersText(alert) + " (" + state + ") |\n";
  };
  md += tiers_row("Page tiers", spec.alerting.fast_burn);
  md += tiers_row("Ticket tiers", spec.alerting.slow_burn);
  if (spec.alerting.min_events > 0) {
    md += "| Low-traffic guard | a tier fires only after " +
          std::to_string(spec.alerting.min_events) + " events in its long window |\n";
  }
  if (auto it = spec.alerting.annotations.find("runbook_url");
      it != spec.alerting.annotations.end() && IsLinkableUrl(it->second)) {
    md += "| Runbook | [" + EscapeMarkdown(it->second) + "](<" + it->second + ">) |\n";
  }
  md += "| Resource | " + CodeSpan("kubectl get slo -n " + spec.namespace_name + " " + spec.name) +
        " |\n";
  md += "\nThe shared boards: [every objective](/d/" + std::string(kOverviewDashboardUid) +
        ") and [the error-budget review](/d/" + std::string(kReviewDashboardUid) + ").\n";
  return md;
}

Json Link(const std::string& title, const std::string& url, const std::string& icon,
          const std::string& tooltip, bool keep_time, bool new_tab = false) {
  return {{"title", title},       {"type", "link"},
          {"icon", icon},         {"tooltip", tooltip},
          {"url", url},           {"tags", Json::array()},
          {"asDropdown", false},  {"targetBlank", new_tab},
          {"includeVars", false}, {"keepTime", keep_time}};
}

Json DatasourceVariable() {
  return {{"type", "datasource"},
          {"name", "datasource"},
          {"label", "Data source"},
          {"query", "prometheus"},
          {"hide", 0},
          {"refresh", 1},
          {"regex", ""},
          {"multi", false},
          {"includeAll", false}};
}

Json ConstantVariable(const std::string& name, const std::string& value) {
  return {{"type", "constant"},
          {"name", name},
          {"query", value},
          {"hide", 2},
          {"current", {{"text", value}, {"value", value}}},
          {"skipUrlSync", true}};
}

Json BuiltInAnnotation() {
  return {{"builtIn", 1},
          {"datasource", {{"type", "grafana"}, {"uid", "-- Grafana --"}}},
          {"enable", true},
          {"hide", true},
          {"iconColor", "rgba(0, 211, 255, 1)"},
          {"name", "Annotations & Alerts"},
          {"type", "dashboard"}};
}

Json PromAnnotation(const std::string& name, const std::string& expr, const std::string& color,
                    const std::string& title, const std::string& text, const std::string& tags) {
  return {{"name", name},    {"datasource", Datasource()}, {"enable", true},
          {"hide", false},   {"iconColor", color},         {"expr", expr},
          {"step", "60s"},   {"titleFormat", title},       {"textFormat", text},
          {"tagKeys", tags}, {"useValueForTime", false}};
}

Json DashboardShell(const std::string& uid, const std::string& title,
                    const std::string& description, Json tags, const std::string& from,
                    Json variables, Json annotations, Json links, Json panels) {
  return {{"uid", uid},
          {"title", title},
          {"description", description},
          {"tags", std::move(tags)},
          {"timezone", "browser"},
          {"editable", true},
          {"graphTooltip", 1},
          {"time", {{"from", from}, {"to", "now"}}},
          {"refresh", "1m"},
          {"schemaVersion", kGrafanaSchemaVersion},
          {"templating", {{"list", std::move(variables)}}},
          {"annotations", {{"list", std::move(annotations)}}},
          {"links", std::move(links)},
          {"panels", std::move(panels)}};
}

// The ratio indicator's events split by what tells bad from good (the response code, mostly).
Json OutcomePanel(PanelIds& ids, const api::RatioIndicator& ratio, Json grid) {
  const std::vector<std::string> by = OutcomeLabels(ratio);
  Json targets = Json::array();
  std::string title;
  if (!by.empty()) {
    std::string legend;
    for (const std::string& label : by) {
      // append, not operator+: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + string.
      if (!legend.empty()) legend.append(" ");
      legend.append("{{").append(label).append("}}");
    }
    targets.push_back(Target("A",
                             "sum by (" + Join(by, ", ") + ") (rate(" +
                                 api::RenderSelector(ratio.total) + "[$__rate_interval]))",
                             legend));
    title = "Events by " + Join(by, " and ");
  } else {
    targets.push_back(Target(
        "A", "sum(rate(" + api::RenderSelector(ratio.total) + "[$__rate_interval]))", "all"));
    targets.push_back(
        Target("B", "sum(rate(" + api::RenderSelector(ratio.events) + "[$__rate_interval]))",
               ratio.events_are_good ? "good" : "bad"));
    title = ratio.events_are_good ? "Good and all events" : "Bad and all events";
  }
  return TimeseriesPanel(ids, title,
                         "Events per second, split by the label that tells bad events from good "
                         "ones: which outcome grew when the SLI fell.",
                         std::move(grid), std::move(targets),
                         FieldDefaults("reqps", Steps({{"green", std::nullopt}})),
                         {.fill_opacity = 30, .stacking = "normal"});
}

Json LatencyPanel(PanelIds& ids, const api::LatencyIndicator& latency, Json grid) {
  Json targets = Json::array();
  const char* refs[] = {"A", "B", "C"};
  int i = 0;
  for (const auto& [q, legend] :
       {std::pair{"0.5", "p50"}, std::pair{"0.9", "p90"}, std::pair{"0.99", "p99"}}) {
    std::string expr;
    if (latency.native) {
      expr = std::string("histogram_quantile(") + q + ", sum(rate(" +
             api::RenderSelector(latency.histogram) + "[$__rate_interval])))";
    } else {
      expr = std::string("histogram_quantile(") + q + ", sum by (le) (rate(" +
             api::RenderSelector(latency.histogram, "_bucket") + "[$__rate_interval])))";
    }
    targets.push_back(Target(refs[i++], expr, legend));
  }
  const double threshold = static_cast<double>(latency.threshold.ms) / 1000.0;
  return TimeseriesPanel(
      ids, "Latency against the " + FormatDuration(latency.threshold) + " threshold",
      "Percentiles of the request latency; the red line is the objective's threshold. "
      "Requests above it spend the budget." +
          std::string(latency.native ? ""
                                     : " Classic buckets: percentiles are interpolated "
                                       "within a bucket."),
      std::move(grid), std::move(targets),
      FieldDefaults("s", Steps({{"green", std::nullopt}, {"red", threshold}})),
      {.thresholds_style = "dashed", .fill_opacity = 0});
}

Json TimeslicePanel(PanelIds& ids, const api::SloSpec& spec, const api::TimesliceIndicator& ts,
                    Json grid) {
  Json targets = Json::array();
  targets.push_back(Target("A", "(" + ts.good + ")", ""));
  return TimeseriesPanel(
      ids, "The slice expression",
      "The timeslice expression as written: a slice is good when every "
      "series of it is non-zero. Each " +
          FormatDuration(ts.slice) + " slice of " + spec.name + " is judged on it.",
      std::move(grid), std::move(targets), FieldDefaults("short", Steps({{"green", std::nullopt}})),
      {.interpolation = "stepAfter", .fill_opacity = 0});
}

Json BurnPanel(PanelIds& ids, const api::SloSpec& spec, const api::BurnAlert& alert, bool fast,
               Json grid) {
  std::vector<std::pair<std::string, std::optional<double>>> steps = {{"green", std::nullopt}};
  std::set<double> rates;
  for (const api::BurnTier& tier : alert.tiers) rates.insert(tier.burn_rate);
  const char* colors[] = {"orange", "red", "dark-red", "purple"};
  size_t i = 0;
  for (double rate : rates) steps.emplace_back(colors[std::min(i++, std::size(colors) - 1)], rate);
  Json targets = Json::array();
  targets.push_back(
      Target("A",
             Own(spec, kBurnRateSeries,
                 "window=~" + QuotePromQLString(RegexAlternatives(TierWindows(alert)))),
             "{{window}}"));
  const bool alerting = spec.alerting.enabled && alert.enabled;
  std::string title =
      std::string("Burn rate, ") + (fast ? "page" : "ticket") + " tiers (" + TiersText(alert) + ")";
  if (!alerting) title += ", not alerting";
  return TimeseriesPanel(
      ids, title,
      "How fast the error budget burns over each window of the " +
          std::string(fast ? "page" : "ticket") +
          " tiers, as a multiple of the rate that spends exactly the budget in the window. A tier "
          "fires when both its long and its short window are above its line.",
      std::move(grid), std::move(targets), FieldDefaults("x", Steps(steps)),
      {.thresholds_style = "dashed", .fill_opacity = 0, .soft_min = 0.0});
}

// ---- The shared boards ----------------------------------------------------------------------

Json QueryVariable(const std::string& name, const std::string& label, const std::string& query) {
  return {
      {"type", "query"},
      {"name", name},
      {"label", label},
      {"datasource", Datasource()},
      {"query", query},
      {"definition", query},
      {"refresh", 2},
      {"sort", 1},
      {"multi", true},
      {"includeAll", true},
      {"allValue", ".*"},
      {"current",
       {{"selected", true}, {"text", Json::array({"All"})}, {"value", Json::array({"$__all"})}}},
      {"hide", 0},
      {"regex", ""}};
}

Json BoardVariables() {
  Json list = Json::array();
  list.push_back(DatasourceVariable());
  list.push_back(
      QueryVariable("namespace", "Namespace",
                    "label_values(" + std::string(kObjectiveSeries) + ", slo_namespace)"));
  list.push_back(QueryVariable("service", "Service",
                               "label_values(" + std::string(kObjectiveSeries) +
                                   "{slo_namespace=~\"$namespace\"}, service)"));
  list.push_back({{"type", "adhoc"},
                  {"name", "filters"},
                  {"label", "Labels"},
                  {"datasource", Datasource()},
                  {"hide", 0}});
  return list;
}

std::string Filtered(const std::string& series, const std::string& extra = "") {
  return series + "{" + kBoardFilter + (extra.empty() ? "" : "," + extra) + "}";
}

std::string PerObjective(const std::string& expr) {
  return "max by (" + std::string(kObjectiveLabels) + ") (" + expr + ")";
}

// A constant label on every series of `expr`: how the boards turn a condition into text.
std::string WithLabel(const std::string& expr, const std::string& label, const std::string& value) {
  return "label_replace(" + expr + R"(, ")" + label + R"(", ")" + value + R"(", "", ""))";
}

// One series per objective with a `state` label: Exhausted when no budget is left, Burning while a
// burn alert fires, Healthy otherwise, No data without an SLI (no events in the window). Text in a
// label rather than a value mapping: the dashboard schema has no room for per-column mappings.
std::string StateExpr() {
  const std::string budget = Filtered(kBudgetRemainingSeries);
  const std::string on = " unless on (slo_namespace, slo) ";
  const std::string exhausted = PerObjective(budget + " <= 0");
  const std::string burning = PerObjective(kFiringBurnAlerts);
  return WithLabel(exhausted, "state", "Exhausted") + " or " +
         WithLabel(burning + on + "(" + budget + " <= 0)", "state", "Burning") + " or " +
         WithLabel(PerObjective(budget + " > 0") + on + burning, "state", "Healthy") + " or " +
         WithLabel(PerObjective(Filtered(kObjectiveSeries)) + on + budget, "state", "No data");
}

// One series per objective with a `label` of "firing" or "-".
std::string AlertFiringExpr(const std::string& alertname, const std::string& label) {
  const std::string alerts = PerObjective(R"(ALERTS{alertname=")" + alertname +
                                          R"(",alertstate="firing",)" + kBoardFilter + "}");
  return WithLabel(alerts, label, "firing") + " or " +
         WithLabel(
             PerObjective(Filtered(kObjectiveSeries)) + " unless on (slo_namespace, slo) " + alerts,
             label, "-");
}

Json BudgetSteps() {
  return Steps({{"red", std::nullopt}, {"orange", 0.0}, {"yellow", 0.25}, {"green", 0.5}});
}

// A table of one row per objective, merged from instant queries that all return exactly the
// objective's labels (and at most one text label). Percentages are computed in the queries and
// every cell links to the objective's dashboard: the dashboard schema allows neither per-column
// units nor per-column links. Grafana cannot compute the hashed uid of a dashboard, so the link
// searches for its title, which holds "namespace/name".
Json TablePanel(PanelIds& ids, const std::string& title, const std::string& description, Json grid,
                Json targets, const Json& renames, const std::string& sort_by,
                const std::vector<std::string>& hidden = {}) {
  Json index = Json::object();
  int position = 0;
  for (const char* name : {"slo_namespace", "slo", "service"}) index[name] = position++;
  for (const auto& [from, to] : renames.items()) index[from] = position++;
  Json rename = renames;
  rename["slo_namespace"] = "Namespace";
  rename["slo"] = "Objective";
  rename["service"] = "Service";
  Json exclude = {{"Time", true}};
  for (const std::string& name : hidden) exclude[name] = true;
  Json transformations = Json::array();
  transformations.push_back({{"id", "merge"}, {"options", Json::object()}});
  transformations.push_back(
      {{"id", "organize"},
       {"options",
        {{"excludeByName", exclude}, {"indexByName", index}, {"renameByName", rename}}}});
  Json link =
      Link("Open the objective's dashboard",
           "/dashboards?tag=nines&query=${__data.fields.slo_namespace}/${__data.fields.slo}",
           "dashboard", "The objective's own dashboard", true);
  Json panel = QueryPanel("table", ids, title, description, std::move(grid), std::move(targets));
  panel["transformations"] = std::move(transformations);
  panel["fieldConfig"] = FieldConfig(
      {{"unit", "none"},
       {"decimals", 3},
       {"thresholds", {{"mode", "absolute"}, {"steps", Steps({{"text", std::nullopt}})}}},
       {"mappings", Json::array()},
       {"links", Json::array({link})}});
  panel["options"] = {
      {"frameIndex", 0},
      {"showHeader", true},
      {"cellHeight", "sm"},
      {"sortBy", Json::array({{{"displayName", sort_by}, {"desc", false}}})},
      {"footer", {{"show", false}, {"reducer", Json::array({"sum"})}, {"countRows", false}}}};
  return panel;
}

std::string Percent(const std::string& expr) { return "100 * " + expr; }

Json CountStat(PanelIds& ids, const std::string& title, const std::string& description, Json grid,
               const std::string& expr, const Json& steps) {
  Json targets = Json::array({Target("A", expr, title, true)});
  return StatPanel(ids, title, description, std::move(grid), std::move(targets),
                   FieldDefaults("none", steps), /*sparkline=*/false);
}

Json BoardLinks(const std::string& other_uid, const std::string& other_title) {
  Json links = Json::array();
  links.push_back(
      Link(other_title, "/d/" + other_uid, "dashboard", "The other shared SLO board", true));
  Json dashboards =
      Link("Objectives", "", "external link", "Every objective's own dashboard", true);
  dashboards["type"] = "dashboards";
  dashboards["tags"] = Json::array({"nines"});
  dashboards["asDropdown"] = true;
  dashboards.erase("url");
  links.push_back(std::move(dashboards));
  return links;
}

}  // namespace

std::string DashboardObjectName(const api::SloSpec& spec) { return spec.name + "-slo-dashboard"; }

Json GenerateDashboard(const api::SloSpec& spec, const DashboardOptions& options) {
  PanelIds ids;
  Json panels = Json::array();
  const int decimals = ObjectiveDecimals(spec.objective);
  const double objective = spec.objective.Ratio();
  const std::string window = FormatDuration(spec.window);

  // Row 1: where the objective stands now.
  panels.push_back(StatPanel(
      ids, "Objective", "The share of events that must be good over the rolling " + window + ".",
      GridPos(0, 0, 5, 5),
      Json::array({Target("A", Own(spec, kObjectiveSeries), "objective", true)}),
      [&] {
        Json d = FieldDefaults("percentunit", Steps({{"blue", std::nullopt}}));
        d["decimals"] = decimals;
        return d;
      }(),
      /*sparkline=*/false));
  panels.push_back(StatPanel(
      ids, "SLI over " + window,
      "Good events / all events over the last " + window +
          ": red while it is below the objective. Empty when nothing happened in the window.",
      GridPos(5, 0, 5, 5), Json::array({Target("A", Own(spec, kSliSeries), "SLI", true)}), [&] {
        Json d = FieldDefaults("percentunit", Steps({{"red", std::nullopt}, {"green", objective}}));
        d["decimals"] = std::min(decimals + 2, 6);
        return d;
      }()));
  panels.push_back(StatPanel(
      ids, "Error budget left",
      "The share of the window's error budget not yet spent; below zero when overspent.",
      GridPos(10, 0, 5, 5),
      Json::array({Target("A", Own(spec, kBudgetRemainingSeries), "budget left", true)}), [&] {
        Json d = FieldDefaults("percentunit", BudgetSteps());
        d["decimals"] = 1;
        return d;
      }()));
  panels.push_back(StatPanel(
      ids, "Burn alerts firing", "How many of the objective's burn-rate alerts fire right now.",
      GridPos(15, 0, 4, 5),
      Json::array(
          {Target("A", "count(" + Own(spec, "ALERTS", "alertstate=\"firing\"") + ") or vector(0)",
                  "firing", true)}),
      FieldDefaults("none", Steps({{"green", std::nullopt}, {"red", 1.0}})),
      /*sparkline=*/false));
  panels.push_back(StatPanel(
      ids, "Traffic", "Events per second over the last 5 minutes.", GridPos(19, 0, 5, 5),
      Json::array({Target("A", Own(spec, kEventsRateSeries), "events/s", true)}),
      FieldDefaults(
          std::holds_alternative<api::TimesliceIndicator>(spec.indicator) ? "short" : "reqps",
          Steps({{"text", std::nullopt}}))));

  // Row 2: the budget and the SLI over time.
  panels.push_back(TimeseriesPanel(
      ids, "Error budget left",
      "The budget over time: where it fell steeply, look at the burn rates and the events below; "
      "release annotations mark deployments where configured.",
      GridPos(0, 5, 12, 8),
      Json::array({Target("A", Own(spec, kBudgetRemainingSeries), "budget left")}),
      FieldDefaults("percentunit", Steps({{"red", std::nullopt}, {"green", 0.0}})),
      {.thresholds_style = "dashed", .fill_opacity = 20}));
  const std::string recent = FormatDuration(RecentWindow(spec));
  panels.push_back(TimeseriesPanel(
      ids, "SLI against the objective",
      "The SLI over the whole " + window + " window, the objective, and the SLI over the last " +
          recent + ", which shows the dips that the window averages away.",
      GridPos(12, 5, 12, 8),
      Json::array({Target("A", Own(spec, kSliSeries), "SLI (" + window + ")"),
                   Target("B", Own(spec, kObjectiveSeries), "objective"),
                   Target("C",
                          "1 - " + Own(spec, kBurnRateSeries, "window=\"" + recent + "\"") + " * " +
                              spec.objective.BudgetRatioText(),
                          "SLI (" + recent + ")")}),
      [&] {
        Json d = FieldDefaults("percentunit", Steps({{"green", std::nullopt}}));
        d["decimals"] = std::min(decimals + 2, 6);
        return d;
      }(),
      {.fill_opacity = 0}));

  // Row 3: burn rates against the tiers' thresholds.
  panels.push_back(BurnPanel(ids, spec, spec.alerting.fast_burn, true, GridPos(0, 13, 12, 8)));
  panels.push_back(BurnPanel(ids, spec, spec.alerting.slow_burn, false, GridPos(12, 13, 12, 8)));

  // Row 4: what the service did: traffic, and the outcome or latency behind the SLI.
  const bool timeslice = std::holds_alternative<api::TimesliceIndicator>(spec.indicator);
  if (timeslice) {
    panels.push_back(TimeseriesPanel(
        ids, "Slices", "Each slice as judged: 1 good, 0 bad.", GridPos(0, 21, 12, 8),
        Json::array({Target("A", Own(spec, kSliceGoodSeries), "good")}),
        FieldDefaults("short", Steps({{"red", std::nullopt}, {"green", 1.0}})),
        {.interpolation = "stepAfter", .fill_opacity = 20}));
  } else {
    panels.push_back(TimeseriesPanel(
        ids, "Traffic", "All events per second over 5 minutes.", GridPos(0, 21, 12, 8),
        Json::array({Target("A", Own(spec, kEventsRateSeries), "events/s")}),
        FieldDefaults("reqps", Steps({{"green", std::nullopt}}))));
  }
  if (const auto* ratio = std::get_if<api::RatioIndicator>(&spec.indicator)) {
    panels.push_back(OutcomePanel(ids, *ratio, GridPos(12, 21, 12, 8)));
  } else if (const auto* latency = std::get_if<api::LatencyIndicator>(&spec.indicator)) {
    panels.push_back(LatencyPanel(ids, *latency, GridPos(12, 21, 12, 8)));
  } else {
    panels.push_back(TimeslicePanel(ids, spec, std::get<api::TimesliceIndicator>(spec.indicator),
                                    GridPos(12, 21, 12, 8)));
  }

  // Row 5: alert state, and what the objective is.
  panels.push_back(TimeseriesPanel(
      ids, "Alerts firing",
      "The objective's alerts over time, by tier: when a page or a ticket was raised.",
      GridPos(0, 29, 12, 9),
      Json::array({Target("A",
                          "sum by (alertname, severity, long, short) (" +
                              Own(spec, "ALERTS", "alertstate=\"firing\"") + ")",
                          "{{alertname}} {{long}}/{{short}} ({{severity}})")}),
      FieldDefaults("none", Steps({{"red", std::nullopt}})),
      {.draw_style = "bars", .fill_opacity = 60, .soft_min = 0.0, .soft_max = 1.0}));
  panels.push_back(
      TextPanel(ids, "About this objective", GridPos(12, 29, 12, 9), AboutMarkdown(spec)));

  Json variables = Json::array();
  variables.push_back(DatasourceVariable());
  variables.push_back(ConstantVariable("slo", spec.name));
  variables.push_back(ConstantVariable("namespace", spec.namespace_name));
  variables.push_back(ConstantVariable("service", spec.service));

  Json annotations = Json::array();
  annotations.push_back(BuiltInAnnotation());
  annotations.push_back(PromAnnotation("Burn alerts", Own(spec, "ALERTS", "alertstate=\"firing\""),
                                       "red", "{{alertname}} {{long}}/{{short}}",
                                       "severity {{severity}}", "severity"));
  if (!options.release_expr.empty()) {
    annotations.push_back(
        PromAnnotation("Releases", options.release_expr, "blue", "Release", "", ""));
  }

  Json links = Json::array();
  links.push_back(
      Link("Every objective",
           "/d/" + std::string(kOverviewDashboardUid) + "?var-namespace=" + spec.namespace_name,
           "dashboard", "The overview of every objective in this namespace", false));
  links.push_back(Link("Error-budget review", "/d/" + std::string(kReviewDashboardUid), "dashboard",
                       "Objectives that ran out of budget, recovered, or could be tightened",
                       true));
  if (auto it = spec.alerting.annotations.find("runbook_url");
      it != spec.alerting.annotations.end() && IsLinkableUrl(it->second)) {
    links.push_back(
        Link("Runbook", it->second, "doc", "What to do when this objective alerts", false, true));
  }

  Json tags = Json::array({"nines", "slo"});
  const std::string service_tag = "service:" + spec.service;
  if (service_tag.size() <= 50) tags.push_back(service_tag);  // Grafana's limit on a tag
  return DashboardShell(DashboardUid(spec), "SLO " + spec.namespace_name + "/" + spec.name,
                        spec.description.empty()
                            ? spec.service + ": " + spec.objective.text + "% over " + window
                            : spec.description,
                        std::move(tags), "now-7d", std::move(variables), std::move(annotations),
                        std::move(links), std::move(panels));
}

std::optional<Json> GenerateDashboardObject(const api::SloSpec& spec, const Json& dashboard,
                                            const DashboardObjectOptions& options) {
  if (options.mode == DashboardMode::kNone) return std::nullopt;
  Json labels = {{"app.kubernetes.io/managed-by", "nines"}, {"nines.dev/slo", spec.name}};
  Json metadata = {{"name", DashboardObjectName(spec)}, {"namespace", spec.namespace_name}};
  if (options.mode == DashboardMode::kConfigMap) {
    labels[options.sidecar_label_key] = options.sidecar_label_value;
    metadata["labels"] = std::move(labels);
    if (!options.folder.empty()) {
      metadata["annotations"] = {{options.folder_annotation, options.folder}};
    }
    // The sidecar writes every key of every ConfigMap into one folder: the key must be unique
    // across namespaces. `_` appears in neither a namespace nor a name, so the pair is unambiguous.
    std::string key = spec.namespace_name + "_" + spec.name + ".json";
    if (key.size() > 253) key = DashboardUid(spec) + ".json";
    return Json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", std::move(metadata)},
                {"data", {{key, DashboardToJson(dashboard)}}}};
  }
  metadata["labels"] = std::move(labels);
  Json match_labels = Json::object();
  for (const auto& [key, value] : options.instance_selector) match_labels[key] = value;
  Json spec_json = {{"instanceSelector", {{"matchLabels", std::move(match_labels)}}}};
  if (!options.folder.empty()) spec_json["folder"] = options.folder;
  spec_json["json"] = DashboardToJson(dashboard);
  return Json{{"apiVersion", "grafana.integreatly.org/v1beta1"},
              {"kind", "GrafanaDashboard"},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec_json)}};
}

Json GenerateOverviewDashboard() {
  PanelIds ids;
  Json panels = Json::array();
  const Json none_bad = Steps({{"green", std::nullopt}, {"red", 1.0}});
  panels.push_back(CountStat(
      ids, "Objectives", "Objectives that match the filters.", GridPos(0, 0, 6, 4),
      "count(" + Filtered(kObjectiveSeries) + ") or vector(0)", Steps({{"text", std::nullopt}})));
  panels.push_back(CountStat(
      ids, "Budget exhausted", "Objectives with no error budget left.", GridPos(6, 0, 6, 4),
      "count(" + Filtered(kBudgetRemainingSeries) + " <= 0) or vector(0)", none_bad));
  panels.push_back(
      CountStat(ids, "Burning now", "Objectives with a page or ticket burn-rate alert firing.",
                GridPos(12, 0, 6, 4), "count(" + PerObjective(kFiringBurnAlerts) + ") or vector(0)",
                Steps({{"green", std::nullopt}, {"orange", 1.0}})));
  panels.push_back(CountStat(
      ids, "No data", "Objectives without a single event in their window.", GridPos(18, 0, 6, 4),
      "count(" + Filtered(kObjectiveSeries) + " unless on (slo_namespace, slo) " +
          std::string(kSliSeries) + ") or vector(0)",
      Steps({{"green", std::nullopt}, {"text", 1.0}})));

  Json targets = Json::array();
  targets.push_back(Target("A", Percent(PerObjective(Filtered(kObjectiveSeries))), "", true, true));
  targets.push_back(Target("B", Percent(PerObjective(Filtered(kSliSeries))), "", true, true));
  targets.push_back(
      Target("C", Percent(PerObjective(Filtered(kBudgetRemainingSeries))), "", true, true));
  targets.push_back(Target("D", AlertFiringExpr("SLOFastBurn", "fast_burn"), "", true, true));
  targets.push_back(Target("E", AlertFiringExpr("SLOSlowBurn", "slow_burn"), "", true, true));
  targets.push_back(Target("F", StateExpr(), "", true, true));
  const Json renames = {{"Value #A", "Objective %"},   {"Value #B", "SLI %"},
                        {"Value #C", "Budget left %"}, {"fast_burn", "Fast burn"},
                        {"slow_burn", "Slow burn"},    {"state", "State"}};
  panels.push_back(TablePanel(ids, "Objectives, least budget left first",
                              "One row per objective; click a row to find its own dashboard. "
                              "State: Exhausted when no budget is left, Burning while a burn "
                              "alert fires, No data without events in the window.",
                              GridPos(0, 4, 24, 14), std::move(targets), renames, "Budget left %",
                              {"Value #D", "Value #E", "Value #F"}));

  panels.push_back(TimeseriesPanel(
      ids, "Error budget left, the ten lowest",
      "The budget of the objectives that have the least of it.", GridPos(0, 18, 12, 9),
      Json::array(
          {Target("A", "bottomk(10, " + PerObjective(Filtered(kBudgetRemainingSeries)) + ")",
                  "{{slo_namespace}}/{{slo}}")}),
      FieldDefaults("percentunit", Steps({{"red", std::nullopt}, {"green", 0.0}})),
      {.thresholds_style = "dashed", .fill_opacity = 0}));
  panels.push_back(TimeseriesPanel(
      ids, "Burn alerts firing", "How many objectives page or open a ticket, over time.",
      GridPos(12, 18, 12, 9),
      Json::array({Target("A",
                          "count by (alertname) (max by (" + std::string(kObjectiveLabels) +
                              ", alertname) (" + kFiringBurnAlerts + "))",
                          "{{alertname}}")}),
      FieldDefaults("none", Steps({{"red", std::nullopt}})),
      {.draw_style = "bars", .fill_opacity = 60, .soft_min = 0.0}));

  Json annotations = Json::array({BuiltInAnnotation()});
  return DashboardShell(kOverviewDashboardUid, "SLO overview",
                        "Every service level objective on one page, least budget left first.",
                        Json::array({"nines", "slo-overview"}), "now-24h", BoardVariables(),
                        std::move(annotations),
                        BoardLinks(kReviewDashboardUid, "Error-budget review"), std::move(panels));
}

Json GenerateReviewDashboard() {
  PanelIds ids;
  Json panels = Json::array();
  const std::string budget = Filtered(kBudgetRemainingSeries);
  const std::string lowest = PerObjective("min_over_time(" + budget + "[$__range])");
  const std::string ran_out = "(" + lowest + " <= 0)";
  const std::string recovered = ran_out + " and on (slo_namespace, slo) (" + budget + " > 0)";
  const std::string spare = "(" + lowest + " >= $spare)";
  const auto only = [](const std::string& expr, const std::string& filter) {
    return "(" + expr + ") and on (slo_namespace, slo) " + filter;
  };

  panels.push_back(CountStat(ids, "Ran out of budget",
                             "Objectives whose budget reached zero at some point in the period.",
                             GridPos(0, 0, 6, 4), "count(" + ran_out + ") or vector(0)",
                             Steps({{"green", std::nullopt}, {"red", 1.0}})));
  panels.push_back(CountStat(ids, "Recovered",
                             "Objectives that ran out in the period and have budget again.",
                             GridPos(6, 0, 6, 4), "count(" + recovered + ") or vector(0)",
                             Steps({{"text", std::nullopt}})));
  panels.push_back(CountStat(ids, "Could be tightened",
                             "Objectives that kept at least the chosen share of their budget all "
                             "through the period.",
                             GridPos(12, 0, 6, 4), "count(" + spare + ") or vector(0)",
                             Steps({{"text", std::nullopt}})));
  panels.push_back(CountStat(ids, "Page tiers that fired",
                             "Fast-burn tiers that paged at least once in the period.",
                             GridPos(18, 0, 6, 4),
                             "count(max_over_time(ALERTS{alertname=\"SLOFastBurn\",alertstate="
                             "\"firing\"," +
                                 std::string(kBoardFilter) + "}[$__range])) or vector(0)",
                             Steps({{"green", std::nullopt}, {"orange", 1.0}})));

  const auto review_table = [&](const std::string& title, const std::string& description,
                                const std::string& filter, int y, bool with_sli) {
    Json targets = Json::array();
    targets.push_back(Target("A", Percent(only(lowest, filter)), "", true, true));
    targets.push_back(Target("B", Percent(only(PerObjective(budget), filter)), "", true, true));
    targets.push_back(Target("C", Percent(only(PerObjective(Filtered(kObjectiveSeries)), filter)),
                             "", true, true));
    Json renames = {{"Value #A", "Lowest budget %"},
                    {"Value #B", "Budget left now %"},
                    {"Value #C", "Objective %"}};
    if (with_sli) {
      targets.push_back(
          Target("D",
                 Percent(only(PerObjective("min_over_time(" + Filtered(kSliSeries) + "[$__range])"),
                              filter)),
                 "", true, true));
      renames["Value #D"] = "Lowest SLI %";
    }
    return TablePanel(ids, title, description, GridPos(0, y, 24, 8), std::move(targets), renames,
                      "Lowest budget %");
  };
  panels.push_back(review_table(
      "Ran out of budget in the period",
      "Objectives that spent their whole budget at some point in the chosen period. Open each "
      "objective's dashboard to see when the budget fell, and whether a release or an outage "
      "caused it.",
      ran_out, 4, false));
  panels.push_back(review_table(
      "Recovered",
      "Objectives that ran out in the period and have budget again: is the fix lasting?", recovered,
      12, false));
  panels.push_back(review_table(
      "Could be tightened",
      "Objectives that kept at least the chosen share of their budget (the Spare variable) all "
      "through the period: the objective may be looser than users need.",
      spare, 20, true));
  panels.push_back(TimeseriesPanel(
      ids, "Error budget left, the ten lowest",
      "The budget of the objectives that have the least of it, over the period.",
      GridPos(0, 28, 24, 9),
      Json::array(
          {Target("A", "bottomk(10, " + PerObjective(budget) + ")", "{{slo_namespace}}/{{slo}}")}),
      FieldDefaults("percentunit", Steps({{"red", std::nullopt}, {"green", 0.0}})),
      {.thresholds_style = "dashed", .fill_opacity = 0}));

  Json variables = BoardVariables();
  Json spare_options = Json::array();
  for (const auto& [value, text] :
       {std::pair{"0.9", "90%"}, std::pair{"0.95", "95%"}, std::pair{"0.99", "99%"}}) {
    spare_options.push_back(
        {{"selected", std::string(value) == "0.9"}, {"text", text}, {"value", value}});
  }
  variables.push_back({{"type", "custom"},
                       {"name", "spare"},
                       {"label", "Spare budget at least"},
                       {"query", "90% : 0.9, 95% : 0.95, 99% : 0.99"},
                       {"options", spare_options},
                       {"current", {{"selected", true}, {"text", "90%"}, {"value", "0.9"}}},
                       {"multi", false},
                       {"includeAll", false},
                       {"hide", 0}});
  return DashboardShell(kReviewDashboardUid, "SLO error-budget review",
                        "For the review every other week: which objectives ran out of budget in "
                        "the period, which recovered, and which could be tightened.",
                        Json::array({"nines", "slo-review"}), "now-14d", std::move(variables),
                        Json::array({BuiltInAnnotation()}),
                        BoardLinks(kOverviewDashboardUid, "SLO overview"), std::move(panels));
}

std::string DashboardToJson(const Json& dashboard) {
  return dashboard.dump(2, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

}  // namespace nines::slo
