#include "operator/kube/exec_credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace nines::kube {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

constexpr size_t kMaxOutput = 1 << 20;

std::string Describe(const ExecPlugin& plugin) {
  return "exec plugin \"" + plugin.command + "\" of user \"" + plugin.user + "\"";
}

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Runs the plugin with stdin from /dev/null (interactive mode is never offered: an operator has no
// terminal), stdout captured and stderr inherited, as kubectl does.
Result<std::string> RunPlugin(const ExecPlugin& plugin) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return UnavailableError(Describe(plugin) + ": pipe: " + std::strerror(errno));
  }
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);

  std::vector<std::string> env_strings;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    env_strings.emplace_back(*entry);
  }
  for (const auto& [name, value] : plugin.env) {
    std::string entry = name;
    entry += '=';
    entry += value;
    env_strings.push_back(std::move(entry));
  }
  const nlohmann::json exec_info = {{"apiVersion", plugin.api_version},
                                    {"kind", "ExecCredential"},
                                    {"spec", {{"interactive", false}}}};
  env_strings.push_back("KUBERNETES_EXEC_INFO=" + exec_info.dump());
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::vector<std::string> arg_strings = {plugin.command};
  arg_strings.insert(arg_strings.end(), plugin.args.begin(), plugin.args.end());
  std::vector<char*> argv;
  argv.reserve(arg_strings.size() + 1);
  for (std::string& arg : arg_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  pid_t pid = 0;
  const int spawn_error =
      posix_spawnp(&pid, plugin.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    const std::string message = Describe(plugin) + ": cannot run: " + std::strerror(spawn_error);
    return spawn_error == ENOENT ? NotFoundError(message) : UnavailableError(message);
  }
  write_end.Reset();

  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + plugin.timeout;
  std::optional<std::string> failure;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure = "did not finish in " + std::to_string(plugin.timeout.count()) + "s";
      break;
    }
    pollfd poll_fd{read_end.get(), POLLIN, 0};
    const int ready = poll(&poll_fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      failure = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (ready == 0) continue;
    char buffer[4096];
    const ssize_t got = read(read_end.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      failure = std::string("read: ") + std::strerror(errno);
      break;
    }
    if (got == 0) break;
    output.append(buffer, static_cast<size_t>(got));
    if (output.size() > kMaxOutput) {
      failure = "printed more than 1 MiB";
      break;
    }
  }
  if (failure) kill(pid, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  if (failure) return UnavailableError(Describe(plugin) + ": " + *failure);
  if (WIFSIGNALED(wait_status)) {
    return UnavailableError(Describe(plugin) + ": killed by signal " +
                            std::to_string(WTERMSIG(wait_status)));
  }
  if (WEXITSTATUS(wait_status) != 0) {
    return UnavailableError(Describe(plugin) + ": exited with status " +
                            std::to_string(WEXITSTATUS(wait_status)));
  }
  return output;
}

class ExecCredentialSource : public CredentialSource {
 public:
  ExecCredentialSource(ExecPlugin plugin, Clock clock)
      : plugin_(std::move(plugin)), clock_(std::move(clock)) {}

  Result<Credentials> Get() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_ && clock_() < expiry_) return *cached_;
    auto output = RunPlugin(plugin_);
    if (!output.ok()) return output.status();
    TimePoint expiry;
    auto credentials = ParseExecCredential(*output, plugin_.api_version, &expiry);
    if (!credentials.ok()) {
      return Status(credentials.status().code(),
                    Describe(plugin_) + ": " + credentials.status().message());
    }
    cached_ = *credentials;
    expiry_ = expiry;
    return *cached_;
  }

  void Invalidate(const Credentials& rejected) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_ && *cached_ == rejected) cached_.reset();
  }

 private:
  const ExecPlugin plugin_;
  const Clock clock_;
  std::mutex mu_;
  std::optional<Credentials> cached_;  // guarded by mu_
  TimePoint expiry_;                   // guarded by mu_
};

// Reads exactly `digits` decimal digits at text[*pos].
std::optional<int> Digits(const std::string& text, size_t* pos, size_t digits) {
  if (*pos + digits > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const char c = text[*pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  *pos += digits;
  return value;
}

bool Expect(const std::string& text, size_t* pos, const char* choices) {
  if (*pos >= text.size() || std::strchr(choices, text[*pos]) == nullptr) return false;
  ++*pos;
  return true;
}

}  // namespace

Result<TimePoint> ParseRfc3339(const std::string& text) {
  const Status bad = InvalidArgumentError("\"" + text + "\" is not an RFC 3339 time");
  size_t pos = 0;
  auto year = Digits(text, &pos, 4);
  if (!year || !Expect(text, &pos, "-")) return bad;
  auto month = Digits(text, &pos, 2);
  if (!month || !Expect(text, &pos, "-")) return bad;
  auto day = Digits(text, &pos, 2);
  if (!day || !Expect(text, &pos, "Tt")) return bad;
  auto hour = Digits(text, &pos, 2);
  if (!hour || !Expect(text, &pos, ":")) return bad;
  auto minute = Digits(text, &pos, 2);
  if (!minute || !Expect(text, &pos, ":")) return bad;
  auto second = Digits(text, &pos, 2);
  if (!second) return bad;
  std::chrono::nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t scale = 100000000;
    const size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += std::chrono::nanoseconds((text[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad;
  }
  std::chrono::seconds offset{0};
  if (Expect(text, &pos, "Zz")) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    auto offset_hours = Digits(text, &pos, 2);
    if (!offset_hours || !Expect(text, &pos, ":")) return bad;
    auto offset_minutes = Digits(text, &pos, 2);
    if (!offset_minutes) return bad;
    offset = std::chrono::seconds(sign * (*offset_hours * 3600 + *offset_minutes * 60));
  } else {
    return bad;
  }
  if (pos != text.size()) return bad;
  const std::chrono::year_month_day date{std::chrono::year(*year),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return bad;
  const auto seconds = std::chrono::sys_days{date}.time_since_epoch() + std::chrono::hours(*hour) +
                       std::chrono::minutes(*minute) + std::chrono::seconds(*second) - offset;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(seconds + fraction));
}

Result<Credentials> ParseExecCredential(const std::string& output, const std::string& api_version,
                                        TimePoint* expiry) {
  const nlohmann::json parsed = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgumentError("the output is not a JSON object");
  }
  auto text = [](const nlohmann::json& object, const char* key) -> std::string {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
  };
  if (text(parsed, "kind") != "ExecCredential") {
    return InvalidArgumentError("kind: want ExecCredential, got \"" + text(parsed, "kind") + "\"");
  }
  if (text(parsed, "apiVersion") != api_version) {
    return InvalidArgumentError("apiVersion: want " + api_version + ", got \"" +
                                text(parsed, "apiVersion") + "\"");
  }
  auto status_it = parsed.find("status");
  if (status_it == parsed.end() || !status_it->is_object()) {
    return InvalidArgumentError("status: missing");
  }
  const nlohmann::json& status = *status_it;
  Credentials credentials{text(status, "token"), text(status, "clientCertificateData"),
                          text(status, "clientKeyData")};
  if (credentials.client_cert_pem.empty() != credentials.client_key_pem.empty()) {
    return InvalidArgumentError(
        "status: clientCertificateData and clientKeyData must be given together");
  }
  if (credentials.bearer_token.empty() && credentials.client_cert_pem.empty()) {
    return InvalidArgumentError("status: neither token nor clientCertificateData");
  }
  *expiry = TimePoint::max();
  const std::string expiration = text(status, "expirationTimestamp");
  if (!expiration.empty()) {
    auto time = ParseRfc3339(expiration);
    if (!time.ok())
      return InvalidArgumentError("status.expirationTimestamp: " + time.status().message());
    *expiry = *time;
  }
  return credentials;
}

std::shared_ptr<CredentialSource> ExecCredentials(ExecPlugin plugin, Clock clock) {
  return std::make_shared<ExecCredentialSource>(std::move(plugin), std::move(clock));
}

}  // namespace nines::kube
