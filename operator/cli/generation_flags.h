// The flags that shape generated objects, shared by `nines generate` and `nines operator` so that
// the operator applies exactly what generate prints for the same flags: rule labels, Grafana's
// URL, and where and how dashboards go.
//
// Thread-safety: not thread-safe; parse once at start-up.
#ifndef NINES_CLI_GENERATION_FLAGS_H_
#define NINES_CLI_GENERATION_FLAGS_H_

#include <ostream>
#include <string>

#include "operator/cli/flags.h"
#include "operator/slo/dashboard_generator.h"
#include "operator/slo/rule_generator.h"

namespace nines::cli {

struct DashboardSettings {
  std::string mode;  // configmap, grafana-operator, json or none
  slo::DashboardOptions options;
  slo::DashboardObjectOptions object_options;
};

struct GenerationSettings {
  slo::GenerateOptions rules;
  DashboardSettings dashboards;
};

void AddGenerationFlags(FlagSet& flags);

// Reads them; prints the problem to `err` and returns false when one is wrong. `format` is
// generate's --format ("prometheusrule" for the operator) and `to_dir` whether output goes to a
// folder; they decide the default dashboard mode.
bool ReadGenerationFlags(const FlagSet& flags, const std::string& format, bool to_dir,
                         GenerationSettings& out, std::ostream& err);

// Splits KEY=VALUE; false when there is no key.
bool SplitKeyValue(const std::string& text, std::string& key, std::string& value);

}  // namespace nines::cli

#endif  // NINES_CLI_GENERATION_FLAGS_H_
