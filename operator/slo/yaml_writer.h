// Deterministic YAML for generated objects: block style, two-space indent, keys in insertion
// order, strings plain where YAML reads them back unchanged and JSON-quoted otherwise (a JSON
// string is a valid YAML double-quoted string). The same value always gives the same bytes.
//
// Thread-safety: pure function.
#ifndef NINES_SLO_YAML_WRITER_H_
#define NINES_SLO_YAML_WRITER_H_

#include <nlohmann/json.hpp>
#include <string>

namespace nines::slo {

std::string RenderYaml(const nlohmann::ordered_json& value);

}  // namespace nines::slo

#endif  // NINES_SLO_YAML_WRITER_H_
