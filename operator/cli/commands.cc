#include "operator/cli/commands.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "operator/api/resource_parser.h"
#include "operator/cli/flags.h"
#include "operator/cli/generation_flags.h"
#include "operator/cli/input_files.h"
#include "operator/slo/dashboard_generator.h"
#include "operator/slo/rule_generator.h"
#include "operator/slo/yaml_writer.h"

#ifndef NINES_VERSION
#define NINES_VERSION "0.0.0-dev"
#endif
#ifndef NINES_COMMIT
#define NINES_COMMIT "unknown"
#endif

namespace nines::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kTopHelp[] =
    "nines: service level objectives for Kubernetes, as Prometheus rules and Grafana dashboards\n"
    "\n"
    "Usage: nines COMMAND [flags]\n"
    "\n"
    "Commands:\n"
    "  operator   the controller: keeps every objective's rules, dashboard and status\n"
    "  generate   resources in, PrometheusRules and Grafana dashboards out\n"
    "  validate   check resources; every problem as FILE:LINE: spec.FIELD: message\n"
    "  version    version and build information\n"
    "\n"
    "Every flag can also be set with an environment variable NINES_<FLAG>.\n"
    "Run 'nines COMMAND --help' for a command's flags.\n";

void AddInputFlags(FlagSet& flags) {
  flags.Add({.name = "filename",
             .shorthand = 'f',
             .help = "a file, a folder of .yaml/.yml/.json files, or - for standard input; "
                     "repeatable",
             .is_list = true,
             .value_name = "PATH"});
  flags.Add({.name = "recursive",
             .shorthand = 'R',
             .help = "read folders' sub-folders too",
             .is_bool = true});
  flags.Add({.name = "namespace",
             .help = "namespace of resources that name none",
             .default_value = "default",
             .value_name = "NAME"});
  flags.Add({.name = "min-rate-window",
             .help = "shortest alert window allowed; at least two scrape intervals",
             .default_value = "2m",
             .value_name = "DURATION"});
  flags.Add({.name = "promtool",
             .help = "promtool to check timeslice expressions with, when found",
             .default_value = "promtool",
             .value_name = "PATH"});
}

}  // namespace

int ParseFlags(FlagSet& flags, const std::vector<std::string>& args, Io& io) {
  if (Status status = flags.Parse(args, io.getenv); !status.ok()) {
    io.err << "nines: " << status.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    io.out << flags.Help();
    return 0;
  }
  return -1;
}

namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string dirs = path;
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

struct PromtoolCheck {
  bool ok = false;
  std::string output;
};

// Runs `promtool check rules` on a rule file holding one recording rule per expression.
PromtoolCheck CheckWithPromtool(const std::string& promtool,
                                const std::vector<const std::string*>& expressions) {
  char path[] = "/tmp/nines-check-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {true, ""};  // cannot check here; the operator's Prometheus will
  close(fd);
  nlohmann::ordered_json groups = nlohmann::ordered_json::array();
  for (size_t i = 0; i < expressions.size(); ++i) {
    groups.push_back({{"name", "check-" + std::to_string(i)},
                      {"rules", {{{"record", "nines_check"}, {"expr", *expressions[i]}}}}});
  }
  std::ofstream(path) << slo::RenderYaml({{"groups", groups}});
  PromtoolCheck result;
  const std::string command = ShellQuote(promtool) + " check rules " + path + " 2>&1";
  int rc = -1;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
      result.output.append(buffer.data(), n);
    }
    rc = pclose(pipe);
  }
  std::remove(path);
  result.ok = rc == 0;
  return result;
}

// Checks timeslice `good` expressions with Prometheus's own parser, through `promtool check
// rules`, when promtool is at hand. The selectors of other indicators are parsed by nines itself.
// One promtool run checks them all; only when it fails does each get a run of its own, to name
// the resource at fault.
std::vector<api::FieldError> CheckExpressionsWithPromtool(const std::vector<api::SloSpec>& slos,
                                                          const std::string& promtool) {
  std::vector<api::FieldError> errors;
  if (promtool.empty() || !FindExecutable(promtool)) return errors;
  std::vector<std::pair<const api::SloSpec*, const api::TimesliceIndicator*>> timeslices;
  std::vector<const std::string*> expressions;
  for (const api::SloSpec& spec : slos) {
    if (const auto* t = std::get_if<api::TimesliceIndicator>(&spec.indicator)) {
      timeslices.emplace_back(&spec, t);
      expressions.push_back(&t->good);
    }
  }
  if (expressions.empty() || CheckWithPromtool(promtool, expressions).ok) return errors;
  for (const auto& [spec, timeslice] : timeslices) {
    const PromtoolCheck check = CheckWithPromtool(promtool, {&timeslice->good});
    if (check.ok) continue;
    std::string message = "not valid PromQL";
    if (size_t at = check.output.find("parse error"); at != std::string::npos) {
      message += ": " + check.output.substr(at, check.output.find('\n', at) - at);
    }
    errors.push_back(
        {spec->source_file, timeslice->good_line, "spec.indicator.timeslice.good", message});
  }
  return errors;
}

struct LoadedResources {
  std::vector<api::SloSpec> slos;
  std::vector<api::FieldError> errors;
  int files = 0;
};

// Reads and validates every input, including the checks that span files (one name, one object).
Result<LoadedResources> LoadResources(const FlagSet& flags, Io& io) {
  api::ParseOptions options;
  options.default_namespace = flags.Get("namespace");
  auto min_rate = api::ParseDuration(flags.Get("min-rate-window"));
  if (!min_rate.ok()) {
    return InvalidArgumentError("--min-rate-window: " + min_rate.status().message());
  }
  options.min_rate_window = *min_rate;
  auto inputs = ReadInputs(flags.GetList("filename"), flags.GetBool("recursive"), io.in);
  if (!inputs.ok()) return inputs.status();

  LoadedResources out;
  out.files = static_cast<int>(inputs->size());
  std::map<std::string, const api::SloSpec*> seen;
  for (const InputFile& input : *inputs) {
    api::ParsedResources parsed = api::ParseResources(input.text, input.name, options);
    out.errors.insert(out.errors.end(), parsed.errors.begin(), parsed.errors.end());
    for (api::SloSpec& spec : parsed.slos) out.slos.push_back(std::move(spec));
  }
  for (const api::SloSpec& spec : out.slos) {
    const std::string key = spec.namespace_name + "/" + spec.name;
    if (auto it = seen.find(key); it != seen.end()) {
      out.errors.push_back({spec.source_file, spec.source_line, "metadata.name",
                            "\"" + key + "\" is defined twice; first at " +
                                it->second->source_file + ":" +
                                std::to_string(it->second->source_line)});
      continue;
    }
    seen[key] = &spec;
  }
  auto promtool_errors = CheckExpressionsWithPromtool(out.slos, flags.Get("promtool"));
  out.errors.insert(out.errors.end(), promtool_errors.begin(), promtool_errors.end());
  return out;
}

Status WriteFileAtomically(const fs::path& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return UnavailableError("cannot create " + path.parent_path().string() + ": " + ec.message());
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream stream(temporary, std::ios::binary | std::ios::trunc);
    stream << content;
    if (!stream.flush()) return UnavailableError("cannot write " + temporary.string());
  }
  fs::rename(temporary, path, ec);
  if (ec) return UnavailableError("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

int RunGenerate(const std::vector<std::string>& args, Io& io) {
  FlagSet flags("generate", "-f PATH [-f PATH...] [flags]",
                "Reads ServiceLevelObjectives and writes the PrometheusRule and the Grafana\n"
                "dashboard of each, exactly as the operator applies them, for GitOps repositories\n"
                "that render before they sync. Nothing is written unless every resource is valid.");
  AddInputFlags(flags);
  flags.Add({.name = "output-dir",
             .shorthand = 'o',
             .help = "write NAMESPACE/NAME.yaml (rules) and NAMESPACE/NAME-slo-dashboard.yaml "
                     "(or NAMESPACE/NAME.json) files into this folder instead of standard output",
             .value_name = "DIR"});
  flags.Add({.name = "format",
             .help = "prometheusrule (Kubernetes objects) or rulefile (a plain Prometheus rule "
                     "file)",
             .default_value = "prometheusrule",
             .value_name = "FORMAT"});
  AddGenerationFlags(flags);
  if (int rc = ParseFlags(flags, args, io); rc >= 0) return rc;

  const std::string format = flags.Get("format");
  if (format != "prometheusrule" && format != "rulefile") {
    io.err << "nines: --format must be prometheusrule or rulefile, not \"" << format << "\"\n";
    return 2;
  }
  const std::string output_dir = flags.Get("output-dir");
  GenerationSettings settings;
  if (!ReadGenerationFlags(flags, format, !output_dir.empty(), settings, io.err)) return 2;
  const slo::GenerateOptions& options = settings.rules;
  const DashboardSettings& dashboards = settings.dashboards;

  auto loaded = LoadResources(flags, io);
  if (!loaded.ok()) {
    io.err << "nines: " << loaded.status().message() << "\n";
    return 2;
  }
  if (!loaded->errors.empty()) {
    for (const api::FieldError& error : loaded->errors) io.err << error.ToString() << "\n";
    io.err << "nines: nothing generated: " << loaded->errors.size() << " problem"
           << (loaded->errors.size() == 1 ? "" : "s") << " (see above)\n";
    return 1;
  }

  // Every resource has validated, so nothing invalid can be half-written; each objective is now
  // rendered and written in turn, so memory holds one objective's output, not all of them (a
  // dashboard is about 32 KiB: 10,000 of them held at once came to a gigabyte).
  int written = 0;
  const auto emit = [&](const std::string& path, const std::string& content, bool to_stream) {
    if (output_dir.empty()) {
      if (to_stream) io.out << "---\n" << content;
      return Status::Ok();
    }
    ++written;
    return WriteFileAtomically(fs::path(output_dir) / path, content);
  };
  nlohmann::ordered_json all_groups = nlohmann::ordered_json::array();
  for (const api::SloSpec& spec : loaded->slos) {
    const std::string dir = spec.namespace_name + "/";
    Status status;
    if (format == "rulefile") {
      auto groups = slo::RuleGroupsToJson(slo::GenerateRuleGroups(spec, options));
      if (output_dir.empty()) {
        for (auto& group : groups) all_groups.push_back(std::move(group));
      } else {
        status = emit(dir + spec.name + ".yaml", slo::RenderYaml({{"groups", std::move(groups)}}),
                      false);
      }
    } else {
      status = emit(dir + spec.name + ".yaml",
                    slo::RenderYaml(slo::GeneratePrometheusRule(spec, options)), true);
    }
    if (status.ok() && dashboards.mode != "none") {
      const auto dashboard = slo::GenerateDashboard(spec, dashboards.options);
      if (dashboards.mode == "json") {
        status = emit(dir + spec.name + ".json", slo::DashboardToJson(dashboard) + "\n", false);
      } else if (auto object =
                     slo::GenerateDashboardObject(spec, dashboard, dashboards.object_options)) {
        status =
            emit(dir + slo::DashboardObjectName(spec) + ".yaml", slo::RenderYaml(*object), true);
      }
    }
    if (!status.ok()) {
      io.err << "nines: " << status.message() << "\n";
      return 2;
    }
  }

  if (output_dir.empty()) {
    if (format == "rulefile") io.out << slo::RenderYaml({{"groups", std::move(all_groups)}});
    return 0;
  }
  io.err << "nines: wrote " << written << " file" << (written == 1 ? "" : "s") << " to "
         << output_dir << "\n";
  return 0;
}

int RunValidate(const std::vector<std::string>& args, Io& io) {
  FlagSet flags("validate", "-f PATH [-f PATH...] [flags]",
                "Checks ServiceLevelObjectives as the operator would, and prints every problem\n"
                "as FILE:LINE: spec.FIELD: message. Exits 1 if there is any.");
  AddInputFlags(flags);
  if (int rc = ParseFlags(flags, args, io); rc >= 0) return rc;
  auto loaded = LoadResources(flags, io);
  if (!loaded.ok()) {
    io.err << "nines: " << loaded.status().message() << "\n";
    return 2;
  }
  for (const api::FieldError& error : loaded->errors) io.out << error.ToString() << "\n";
  if (!loaded->errors.empty()) {
    io.err << "nines: " << loaded->errors.size() << " problem"
           << (loaded->errors.size() == 1 ? "" : "s") << " found\n";
    return 1;
  }
  io.err << "nines: " << loaded->slos.size() << " ServiceLevelObjective"
         << (loaded->slos.size() == 1 ? "" : "s") << " valid in " << loaded->files << " file"
         << (loaded->files == 1 ? "" : "s") << "\n";
  return 0;
}

int RunVersion(const std::vector<std::string>& args, Io& io) {
  FlagSet flags("version", "", "Prints the version and build information.");
  if (int rc = ParseFlags(flags, args, io); rc >= 0) return rc;
  io.out << "nines " << NINES_VERSION << " (commit " << NINES_COMMIT << ", API " << api::kApiVersion
         << ", C++ " << __cplusplus << ", compiler " << __VERSION__ << ")\n";
  return 0;
}

int RunNines(const std::vector<std::string>& args, Io& io) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    io.out << kTopHelp;
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "operator") return RunOperator(rest, io);
  if (args[0] == "generate") return RunGenerate(rest, io);
  if (args[0] == "validate") return RunValidate(rest, io);
  if (args[0] == "version" || args[0] == "--version") return RunVersion(rest, io);
  io.err << "nines: unknown command \"" << args[0] << "\"\n\n" << kTopHelp;
  return 2;
}

}  // namespace nines::cli
