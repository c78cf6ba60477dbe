// Command-line flags: `--kebab-case value`, `--kebab-case=value`, one-letter shorthands, repeated
// flags, and booleans. A flag that is not given is read from the environment variable
// NINES_<FLAG> (upper case, dashes as underscores); list flags split that value on commas.
//
// Thread-safety: not thread-safe; parse once at start-up.
#ifndef NINES_CLI_FLAGS_H_
#define NINES_CLI_FLAGS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "operator/base/status.h"

namespace nines::cli {

struct FlagSpec {
  std::string name;    // kebab-case, without dashes
  char shorthand = 0;  // e.g. 'f', or 0
  std::string help;
  std::string default_value;
  bool is_bool = false;
  bool is_list = false;  // may be repeated; the environment value is comma-separated
  std::string value_name = "VALUE";
};

class FlagSet {
 public:
  FlagSet(std::string command, std::string usage, std::string description);

  void Add(FlagSpec spec);

  // Parses `args` (without the program and command names). `getenv` looks up environment
  // variables; tests pass their own. Positional arguments are errors: every input is a flag.
  Status Parse(const std::vector<std::string>& args,
               const std::function<const char*(const char*)>& getenv);

  bool help_requested() const { return help_requested_; }
  std::string Get(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  std::vector<std::string> GetList(const std::string& name) const;

  std::string Help() const;
  static std::string EnvName(const std::string& flag);

 private:
  const FlagSpec* Find(const std::string& name) const;
  const FlagSpec* FindShort(char c) const;

  std::string command_;
  std::string usage_;
  std::string description_;
  std::vector<FlagSpec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
  bool help_requested_ = false;
};

}  // namespace nines::cli

#endif  // NINES_CLI_FLAGS_H_
