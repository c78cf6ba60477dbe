// Pure generation of Grafana dashboards: one per objective, for reviewing it, and the two shared
// boards (the overview of every objective, and the error-budget review) that read only the public
// series, so that they work for every objective without being regenerated. docs/dashboards.md
// says what each panel answers.
//
// Every dashboard is a Grafana JSON model of the current schemaVersion with a datasource variable,
// so that it works with any Prometheus datasource. Output is deterministic.
//
// Thread-safety: pure functions over values.
#ifndef NINES_SLO_DASHBOARD_GENERATOR_H_
#define NINES_SLO_DASHBOARD_GENERATOR_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "operator/api/slo_spec.h"

namespace nines::slo {

inline constexpr int kGrafanaSchemaVersion = 42;
inline constexpr char kOverviewDashboardUid[] = "nines-overview";
inline constexpr char kReviewDashboardUid[] = "nines-review";

struct DashboardOptions {
  // PromQL whose samples mark releases on the objective's dashboard, e.g.
  // `changes(kube_deployment_status_observed_generation{namespace="$namespace"}[2m]) > 0`. It may
  // use the dashboard's constants $slo, $namespace and $service. Empty: no release annotations.
  std::string release_expr;
};

// How dashboards reach Grafana.
enum class DashboardMode {
  kConfigMap,        // a ConfigMap for the Grafana chart's dashboard sidecar
  kGrafanaOperator,  // a GrafanaDashboard (grafana.integreatly.org/v1beta1)
  kNone,
};

struct DashboardObjectOptions {
  DashboardMode mode = DashboardMode::kConfigMap;
  // The label the sidecar selects ConfigMaps by.
  std::string sidecar_label_key = "grafana_dashboard";
  std::string sidecar_label_value = "1";
  // The Grafana folder; empty leaves the dashboard in the sidecar's or the operator's default.
  std::string folder;
  // The annotation the sidecar reads the folder from (its `folderAnnotation` setting).
  std::string folder_annotation = "grafana_folder";
  // grafana-operator: which Grafana instances take the dashboard (spec.instanceSelector).
  std::map<std::string, std::string> instance_selector = {{"dashboards", "grafana"}};
};

// The Grafana dashboard (JSON model) for one objective, with uid DashboardUid(spec).
nlohmann::ordered_json GenerateDashboard(const api::SloSpec& spec,
                                         const DashboardOptions& options = {});

// The name of the object that carries the objective's dashboard: `<name>-slo-dashboard`.
std::string DashboardObjectName(const api::SloSpec& spec);

// The ConfigMap or GrafanaDashboard that carries `dashboard` into Grafana, labelled like every
// generated object; nothing in the kNone mode. Without owner references, which the operator adds.
std::optional<nlohmann::ordered_json> GenerateDashboardObject(
    const api::SloSpec& spec, const nlohmann::ordered_json& dashboard,
    const DashboardObjectOptions& options);

// The shared boards, built only on the public series.
nlohmann::ordered_json GenerateOverviewDashboard();
nlohmann::ordered_json GenerateReviewDashboard();

// The dashboard as Grafana stores it: two-space indented, ASCII-only JSON.
std::string DashboardToJson(const nlohmann::ordered_json& dashboard);

}  // namespace nines::slo

#endif  // NINES_SLO_DASHBOARD_GENERATOR_H_
