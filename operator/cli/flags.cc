#include "operator/cli/flags.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace nines::cli {

FlagSet::FlagSet(std::string command, std::string usage, std::string description)
    : command_(std::move(command)),
      usage_(std::move(usage)),
      description_(std::move(description)) {}

void FlagSet::Add(FlagSpec spec) { specs_.push_back(std::move(spec)); }

const FlagSpec* FlagSet::Find(const std::string& name) const {
  for (const FlagSpec& spec : specs_) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const FlagSpec* FlagSet::FindShort(char c) const {
  for (const FlagSpec& spec : specs_) {
    if (spec.shorthand == c) return &spec;
  }
  return nullptr;
}

std::string FlagSet::EnvName(const std::string& flag) {
  std::string out = "NINES_";
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

Status FlagSet::Parse(const std::vector<std::string>& args,
                      const std::function<const char*(const char*)>& getenv) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      std::string name = arg.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      spec = Find(name);
      if (spec == nullptr) {
        return InvalidArgumentError("unknown flag --" + name + " (see nines " + command_ +
                                    " --help)");
      }
    } else if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      spec = FindShort(arg[1]);
      if (spec == nullptr) {
        return InvalidArgumentError("unknown flag " + arg + " (see nines " + command_ + " --help)");
      }
    } else {
      return InvalidArgumentError("unexpected argument \"" + arg +
                                  "\": inputs are given with flags (see nines " + command_ +
                                  " --help)");
    }
    if (spec->is_bool) {
      if (!has_value) value = "true";
      if (value != "true" && value != "false") {
        return InvalidArgumentError("--" + spec->name + " takes true or false, not \"" + value +
                                    "\"");
      }
    } else if (!has_value) {
      if (i + 1 >= args.size()) return InvalidArgumentError("--" + spec->name + " needs a value");
      value = args[++i];
    }
    auto& slot = values_[spec->name];
    if (!spec->is_list) slot.clear();
    slot.push_back(value);
  }
  for (const FlagSpec& spec : specs_) {
    if (values_.contains(spec.name)) continue;
    const char* env = getenv(EnvName(spec.name).c_str());
    if (env == nullptr) continue;
    std::string text = env;
    auto& slot = values_[spec.name];
    if (!spec.is_list) {
      slot.push_back(text);
      continue;
    }
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
      if (!item.empty()) slot.push_back(item);
    }
  }
  return Status::Ok();
}

std::string FlagSet::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.back();
  const FlagSpec* spec = Find(name);
  return spec ? spec->default_value : "";
}

bool FlagSet::GetBool(const std::string& name) const { return Get(name) == "true"; }

std::vector<std::string> FlagSet::GetList(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string FlagSet::Help() const {
  std::string out = "Usage: nines " + command_ + " " + usage_ + "\n\n" + description_ + "\n";
  if (specs_.empty()) return out;
  out += "\nFlags:\n";
  for (const FlagSpec& spec : specs_) {
    std::string left = "  ";
    left += spec.shorthand ? std::string("-") + spec.shorthand + ", " : "    ";
    left += "--" + spec.name;
    if (!spec.is_bool) left += " " + spec.value_name;
    out += left;
    out += left.size() < 34 ? std::string(34 - left.size(), ' ') : "\n" + std::string(34, ' ');
    out += spec.help;
    if (!spec.default_value.empty()) out += " (default " + spec.default_value + ")";
    out += " [$" + EnvName(spec.name) + "]\n";
  }
  out += "  -h, --help                      this help\n";
  return out;
}

}  // namespace nines::cli
