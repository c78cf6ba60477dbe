#include "operator/cli/input_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

namespace nines::cli {
namespace {

namespace fs = std::filesystem;

bool IsManifest(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

Result<InputFile> ReadFile(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return NotFoundError("cannot read " + path.string());
  std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  if (stream.bad()) return UnavailableError("error reading " + path.string());
  return InputFile{path.string(), std::move(text)};
}

}  // namespace

Result<std::vector<InputFile>> ReadInputs(const std::vector<std::string>& paths, bool recursive,
                                          std::istream& in) {
  if (paths.empty()) return InvalidArgumentError("no input: give -f FILE, -f FOLDER or -f -");
  std::vector<InputFile> out;
  bool read_stdin = false;
  for (const std::string& path : paths) {
    if (path == "-") {
      if (read_stdin) return InvalidArgumentError("-f - given twice");
      read_stdin = true;
      std::ostringstream text;
      text << in.rdbuf();
      out.push_back({"<stdin>", text.str()});
      continue;
    }
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) return NotFoundError(path + ": no such file or folder");
    if (!fs::is_directory(status)) {
      auto file = ReadFile(path);
      if (!file.ok()) return file.status();
      out.push_back(std::move(*file));
      continue;
    }
    std::vector<fs::path> found;
    auto collect = [&](const fs::directory_entry& entry) {
      if (entry.is_regular_file() && IsManifest(entry.path())) found.push_back(entry.path());
    };
    if (recursive) {
      for (const auto& entry : fs::recursive_directory_iterator(path, ec)) collect(entry);
    } else {
      for (const auto& entry : fs::directory_iterator(path, ec)) collect(entry);
    }
    if (ec) return UnavailableError(path + ": " + ec.message());
    std::sort(found.begin(), found.end());
    for (const fs::path& file_path : found) {
      auto file = ReadFile(file_path);
      if (!file.ok()) return file.status();
      out.push_back(std::move(*file));
    }
  }
  return out;
}

}  // namespace nines::cli
