// The commands: `nines operator`, the offline `nines generate`, `nines validate` and
// `nines version`, and the dispatcher that `main` calls. Each takes its arguments and streams, so
// tests run them in-process.
//
// Thread-safety: not thread-safe; one command per process.
#ifndef NINES_CLI_COMMANDS_H_
#define NINES_CLI_COMMANDS_H_

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace nines::cli {

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  std::function<const char*(const char*)> getenv;
};

// `args` excludes the program name. Returns the process exit code: 0 success, 1 invalid
// resources, 2 a usage or I/O error.
int RunNines(const std::vector<std::string>& args, Io& io);

int RunGenerate(const std::vector<std::string>& args, Io& io);
int RunValidate(const std::vector<std::string>& args, Io& io);
int RunVersion(const std::vector<std::string>& args, Io& io);
// Runs `flags.Parse`, printing help or the usage error. Returns an exit code, or -1 to go on.
class FlagSet;
int ParseFlags(FlagSet& flags, const std::vector<std::string>& args, Io& io);

// The controller (operator_command.cc): runs until SIGTERM or SIGINT.
int RunOperator(const std::vector<std::string>& args, Io& io);

}  // namespace nines::cli

#endif  // NINES_CLI_COMMANDS_H_
