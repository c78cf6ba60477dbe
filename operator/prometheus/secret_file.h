// A secret kept in a file that may be replaced while the process runs: a mounted Kubernetes
// Secret or a projected service-account token, which the kubelet rewrites when it rotates.
//
// The contents are trimmed of surrounding whitespace (editors and `echo` add a trailing newline;
// Prometheus trims its own token and password files the same way). They are never logged or put
// into a message; messages name the setting and the path only.
//
// Thread-safety: thread-safe.
#ifndef NINES_PROMETHEUS_SECRET_FILE_H_
#define NINES_PROMETHEUS_SECRET_FILE_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "operator/base/clock.h"
#include "operator/base/status.h"

namespace nines::prometheus {

class SecretFile {
 public:
  // Reads `path` now, so that a wrong path is reported at start. InvalidArgument naming `setting`
  // (e.g. "bearer_token_file") when the file cannot be read or holds nothing but whitespace.
  static Result<std::unique_ptr<SecretFile>> Open(
      std::string path, std::string setting, Clock* clock,
      Clock::Duration refresh = std::chrono::minutes(1));

  SecretFile(const SecretFile&) = delete;
  SecretFile& operator=(const SecretFile&) = delete;

  // The secret to use now: the one last read, re-read first when that read is `refresh` old. A
  // re-read that fails or finds the file empty keeps the old secret: a rotation caught half way
  // should not stop requests that the old secret still authenticates.
  std::string Get();

  // The server rejected `rejected`. Re-reads the file at once and returns true when it now holds
  // a different secret (which the next Get() returns), false when there is nothing new to try.
  bool RereadAfterRejection(const std::string& rejected);

 private:
  SecretFile(std::string path, std::string setting, Clock* clock, Clock::Duration refresh);

  // Reads the file into current_ if it holds a secret; mu_ held. The error names the setting.
  Status ReadLocked();

  const std::string path_;
  const std::string setting_;
  Clock* const clock_;
  const Clock::Duration refresh_;

  std::mutex mu_;
  std::string current_;         // guarded by mu_
  Clock::TimePoint read_at_{};  // guarded by mu_; when the file was last read
};

}  // namespace nines::prometheus

#endif  // NINES_PROMETHEUS_SECRET_FILE_H_
