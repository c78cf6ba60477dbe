// libFuzzer target for the resource parser: any bytes in, never a crash, and every resource that
// parses generates rules and renders to YAML that parses back.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "operator/api/resource_parser.h"
#include "operator/slo/rule_generator.h"
#include "operator/slo/yaml_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const nines::api::ParsedResources parsed = nines::api::ParseResources(text, "fuzz.yaml");
  for (const nines::api::SloSpec& spec : parsed.slos) {
    const std::string yaml = nines::slo::RenderYaml(nines::slo::GeneratePrometheusRule(spec));
    try {
      const YAML::Node back = YAML::Load(yaml);
      if (back["metadata"]["name"].as<std::string>() != spec.name) std::abort();
    } catch (const YAML::Exception&) {
      std::abort();  // we wrote YAML that does not read back
    }
  }
  return 0;
}
