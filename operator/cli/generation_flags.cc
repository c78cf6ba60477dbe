#include "operator/cli/generation_flags.h"

namespace nines::cli {

bool SplitKeyValue(const std::string& text, std::string& key, std::string& value) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  key = text.substr(0, eq);
  value = text.substr(eq + 1);
  return true;
}

namespace {

bool ReadDashboardFlags(const FlagSet& flags, const std::string& format, bool to_dir,
                        DashboardSettings& out, std::ostream& err) {
  out.mode = flags.Get("dashboards");
  if (out.mode.empty()) {
    // A plain rule file is for Prometheus without the operator: its dashboards go beside it as
    // Grafana JSON files for file provisioning, and nowhere when it goes to standard output.
    out.mode = format == "rulefile" ? (to_dir ? "json" : "none") : "configmap";
  }
  if (out.mode == "configmap") {
    out.object_options.mode = slo::DashboardMode::kConfigMap;
  } else if (out.mode == "grafana-operator") {
    out.object_options.mode = slo::DashboardMode::kGrafanaOperator;
  } else if (out.mode == "json" || out.mode == "none") {
    out.object_options.mode = slo::DashboardMode::kNone;
  } else {
    err << "nines: --dashboards must be configmap, grafana-operator, json or none, not \""
        << out.mode << "\"\n";
    return false;
  }
  if (out.mode == "json" && !to_dir) {
    err << "nines: --dashboards json writes one file per dashboard: it needs --output-dir\n";
    return false;
  }
  if (format == "rulefile" && (out.mode == "configmap" || out.mode == "grafana-operator") &&
      !to_dir) {
    err << "nines: a rule file on standard output cannot carry Kubernetes objects: use "
           "--dashboards none, or --output-dir\n";
    return false;
  }
  std::string key;
  std::string value;
  if (!SplitKeyValue(flags.Get("dashboard-label"), key, value)) {
    err << "nines: --dashboard-label takes KEY=VALUE, not \"" << flags.Get("dashboard-label")
        << "\"\n";
    return false;
  }
  out.object_options.sidecar_label_key = key;
  out.object_options.sidecar_label_value = value;
  out.object_options.folder = flags.Get("dashboard-folder");
  out.object_options.folder_annotation = flags.Get("dashboard-folder-annotation");
  out.object_options.instance_selector.clear();
  for (const std::string& label : flags.GetList("grafana-instance-selector")) {
    if (!SplitKeyValue(label, key, value)) {
      err << "nines: --grafana-instance-selector takes KEY=VALUE, not \"" << label << "\"\n";
      return false;
    }
    out.object_options.instance_selector[key] = value;
  }
  out.options.release_expr = flags.Get("release-annotation");
  return true;
}

}  // namespace

void AddGenerationFlags(FlagSet& flags) {
  flags.Add({.name = "rule-label",
             .help = "KEY=VALUE label on every PrometheusRule, e.g. release=kube-prometheus-stack; "
                     "repeatable",
             .is_list = true,
             .value_name = "KEY=VALUE"});
  flags.Add({.name = "grafana-url",
             .help = "Grafana's base URL, for the alerts' dashboard_url annotation",
             .value_name = "URL"});
  flags.Add({.name = "dashboards",
             .help =
                 "configmap (for the Grafana sidecar), grafana-operator (GrafanaDashboard), json "
                 "(plain files, with -o) or none; default configmap, or json beside a rule file",
             .value_name = "MODE"});
  flags.Add({.name = "dashboard-label",
             .help = "the label the Grafana sidecar selects dashboard ConfigMaps by",
             .default_value = "grafana_dashboard=1",
             .value_name = "KEY=VALUE"});
  flags.Add({.name = "dashboard-folder",
             .help = "the Grafana folder of the dashboards (an annotation on ConfigMaps, "
                     "spec.folder on GrafanaDashboards)",
             .value_name = "NAME"});
  flags.Add({.name = "dashboard-folder-annotation",
             .help = "the annotation the sidecar reads the folder from (its folderAnnotation)",
             .default_value = "grafana_folder",
             .value_name = "KEY"});
  flags.Add({.name = "grafana-instance-selector",
             .help = "KEY=VALUE of the GrafanaDashboards' instanceSelector; repeatable",
             .default_value = "dashboards=grafana",
             .is_list = true,
             .value_name = "KEY=VALUE"});
  flags.Add({.name = "release-annotation",
             .help = "PromQL that marks releases on the dashboards; may use $namespace, $service "
                     "and $slo",
             .value_name = "EXPR"});
}

bool ReadGenerationFlags(const FlagSet& flags, const std::string& format, bool to_dir,
                         GenerationSettings& out, std::ostream& err) {
  if (!ReadDashboardFlags(flags, format, to_dir, out.dashboards, err)) return false;
  out.rules.grafana_url = flags.Get("grafana-url");
  while (!out.rules.grafana_url.empty() && out.rules.grafana_url.back() == '/') {
    out.rules.grafana_url.pop_back();
  }
  for (const std::string& label : flags.GetList("rule-label")) {
    std::string key;
    std::string value;
    if (!SplitKeyValue(label, key, value)) {
      err << "nines: --rule-label takes KEY=VALUE, not \"" << label << "\"\n";
      return false;
    }
    out.rules.rule_labels[key] = value;
  }
  return true;
}

}  // namespace nines::cli
