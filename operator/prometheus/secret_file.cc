#include "operator/prometheus/secret_file.h"

#include <fstream>
#include <iterator>
#include <utility>

namespace nines::prometheus {
namespace {

std::string TrimSpace(std::string text) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  const size_t start = text.find_first_not_of(" \t\r\n");
  text.erase(0, start == std::string::npos ? text.size() : start);
  return text;
}

}  // namespace

Result<std::unique_ptr<SecretFile>> SecretFile::Open(std::string path, std::string setting,
                                                     Clock* clock, Clock::Duration refresh) {
  std::unique_ptr<SecretFile> file(
      new SecretFile(std::move(path), std::move(setting), clock, refresh));
  std::lock_guard<std::mutex> lock(file->mu_);
  if (Status read = file->ReadLocked(); !read.ok()) return read;
  return file;
}

SecretFile::SecretFile(std::string path, std::string setting, Clock* clock, Clock::Duration refresh)
    : path_(std::move(path)), setting_(std::move(setting)), clock_(clock), refresh_(refresh) {}

Status SecretFile::ReadLocked() {
  const Clock::TimePoint now = clock_->Now();
  std::ifstream stream(path_, std::ios::binary);
  if (!stream) return InvalidArgumentError(setting_ + ": cannot read " + path_);
  std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  if (stream.bad()) return InvalidArgumentError(setting_ + ": error reading " + path_);
  text = TrimSpace(std::move(text));
  if (text.empty()) return InvalidArgumentError(setting_ + ": " + path_ + " is empty");
  current_ = std::move(text);
  read_at_ = now;
  return Status::Ok();
}

std::string SecretFile::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (clock_->Now() - read_at_ >= refresh_) {
    // On failure the old secret stays; the failed read is retried at the next Get, not in a
    // minute, so that a secret being rewritten is picked up as soon as it is whole again.
    (void)ReadLocked();
  }
  return current_;
}

bool SecretFile::RereadAfterRejection(const std::string& rejected) {
  std::lock_guard<std::mutex> lock(mu_);
  // Another request may have rotated it already.
  if (current_ != rejected) return true;
  return ReadLocked().ok() && current_ != rejected;
}

}  // namespace nines::prometheus
