// Reading resources from files, folders and standard input, the way `kubectl apply -f` does:
// a folder means its .yaml, .yml and .json files in name order (its sub-folders too with
// recursive), and `-` means standard input.
//
// Thread-safety: not thread-safe (reads the process's standard input).
#ifndef NINES_CLI_INPUT_FILES_H_
#define NINES_CLI_INPUT_FILES_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "operator/base/status.h"

namespace nines::cli {

struct InputFile {
  std::string name;  // the path as given, or "<stdin>"
  std::string text;
};

Result<std::vector<InputFile>> ReadInputs(const std::vector<std::string>& paths, bool recursive,
                                          std::istream& in);

}  // namespace nines::cli

#endif  // NINES_CLI_INPUT_FILES_H_
