#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "operator/cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  nines::cli::Io io{std::cin, std::cout, std::cerr,
                    [](const char* name) { return std::getenv(name); }};
  return nines::cli::RunNines(args, io);
}
