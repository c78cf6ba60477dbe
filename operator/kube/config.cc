#include "operator/kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <utility>

#include "operator/kube/exec_credentials.h"

namespace nines::kube {
namespace {

namespace fs = std::filesystem;
using TimePoint = std::chrono::system_clock::time_point;

Clock OrSystemClock(Clock clock) {
  if (clock) return clock;
  return [] { return std::chrono::system_clock::now(); };
}

EnvLookup OrGetenv(EnvLookup env) {
  if (env) return env;
  return [](const char* name) { return std::getenv(name); };  // NOLINT(concurrency-mt-unsafe)
}

Result<std::string> ReadWholeFile(const std::string& path, const std::string& what) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return NotFoundError(what + ": cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  if (stream.bad()) return UnavailableError(what + ": error reading " + path);
  return text;
}

std::string TrimSpace(std::string text) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  const size_t start = text.find_first_not_of(" \t\r\n");
  text.erase(0, start == std::string::npos ? text.size() : start);
  return text;
}

Result<std::string> DecodeBase64(const std::string& text, const std::string& what) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int bit_count = 0;
  bool padding = false;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const size_t value = kAlphabet.find(c);
    if (value == std::string_view::npos || padding) {
      return InvalidArgumentError(what + ": not valid base64");
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  return out;
}

class StaticCredentialSource : public CredentialSource {
 public:
  explicit StaticCredentialSource(Credentials credentials) : credentials_(std::move(credentials)) {}
  Result<Credentials> Get() override { return credentials_; }
  void Invalidate(const Credentials& /*rejected*/) override {}

 private:
  const Credentials credentials_;
};

class FileTokenCredentialSource : public CredentialSource {
 public:
  FileTokenCredentialSource(std::string path, Clock clock, std::chrono::seconds refresh,
                            Credentials base)
      : path_(std::move(path)),
        clock_(std::move(clock)),
        refresh_(refresh),
        base_(std::move(base)) {}

  Result<Credentials> Get() override {
    std::lock_guard<std::mutex> lock(mu_);
    const TimePoint now = clock_();
    if (cached_ && !stale_ && now - read_at_ < refresh_) return *cached_;
    auto text = ReadWholeFile(path_, "token file");
    std::string token = text.ok() ? TrimSpace(*text) : "";
    if (token.empty()) {
      // A rotation caught half way: keep using the token we have until the server rejects it.
      if (cached_ && !stale_) return *cached_;
      if (!text.ok()) return text.status();
      return InvalidArgumentError("token file: " + path_ + " is empty");
    }
    Credentials credentials = base_;
    credentials.bearer_token = std::move(token);
    cached_ = std::move(credentials);
    read_at_ = now;
    stale_ = false;
    return *cached_;
  }

  void Invalidate(const Credentials& rejected) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_ && *cached_ == rejected) stale_ = true;
  }

 private:
  const std::string path_;
  const Clock clock_;
  const std::chrono::seconds refresh_;
  const Credentials base_;
  std::mutex mu_;
  std::optional<Credentials> cached_;  // guarded by mu_
  TimePoint read_at_;                  // guarded by mu_
  bool stale_ = false;                 // guarded by mu_
};

// ---- kubeconfig

// The parsed file and what messages need to say where something is.
struct KubeconfigFile {
  std::string path;
  fs::path dir;
  YAML::Node root;

  std::string Where(const std::string& field) const { return "kubeconfig " + path + ": " + field; }
  std::string Resolve(const std::string& file) const {
    if (file.empty() || fs::path(file).is_absolute()) return file;
    return (dir / file).lexically_normal().string();
  }
};

// The `field` (cluster, user or context) of the entry named `name` in the list `list`.
Result<YAML::Node> FindNamed(const KubeconfigFile& file, const char* list, const std::string& name,
                             const char* field) {
  const YAML::Node entries = file.root[list];
  if (entries && !entries.IsSequence()) {
    return InvalidArgumentError(file.Where(std::string(list) + ": not a list"));
  }
  if (entries) {
    for (const YAML::Node& entry : entries) {
      if (!entry.IsMap() || !entry["name"] || entry["name"].as<std::string>() != name) continue;
      const YAML::Node value = entry[field];
      if (!value || !value.IsMap()) {
        return InvalidArgumentError(
            file.Where(std::string(list) + "[" + name + "]." + field + ": missing"));
      }
      return value;
    }
  }
  return NotFoundError(file.Where(std::string(list) + ": no entry named \"" + name + "\""));
}

std::string Text(const YAML::Node& map, const char* key) {
  const YAML::Node value = map[key];
  if (!value || !value.IsScalar()) return "";
  return value.as<std::string>();
}

// PEM from `<key>-data` (base64) or from the file `<key>`; empty if neither is there.
Result<std::string> PemFromDataOrFile(const KubeconfigFile& file, const YAML::Node& map,
                                      const std::string& prefix, const std::string& key) {
  const std::string data = Text(map, (key + "-data").c_str());
  if (!data.empty()) return DecodeBase64(data, file.Where(prefix + "." + key + "-data"));
  const std::string path = Text(map, key.c_str());
  if (path.empty()) return std::string();
  return ReadWholeFile(file.Resolve(path), file.Where(prefix + "." + key));
}

Status LoadCluster(const KubeconfigFile& file, const std::string& name, ClusterConfig* config) {
  auto cluster = FindNamed(file, "clusters", name, "cluster");
  if (!cluster.ok()) return cluster.status();
  const std::string prefix = "clusters[" + name + "]";
  std::string server = Text(*cluster, "server");
  if (server.empty()) return InvalidArgumentError(file.Where(prefix + ".server: missing"));
  if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0) {
    return InvalidArgumentError(
        file.Where(prefix + ".server: \"" + server + "\" is not an http:// or https:// URL"));
  }
  while (server.size() > 1 && server.back() == '/') server.pop_back();
  config->server = std::move(server);
  auto ca = PemFromDataOrFile(file, *cluster, prefix, "certificate-authority");
  if (!ca.ok()) return ca.status();
  config->ca_pem = std::move(*ca);
  const std::string insecure = Text(*cluster, "insecure-skip-tls-verify");
  if (insecure == "true" || insecure == "True" || insecure == "TRUE") {
    config->insecure_skip_tls_verify = true;
  } else if (!insecure.empty() && insecure != "false" && insecure != "False" &&
             insecure != "FALSE") {
    return InvalidArgumentError(file.Where(prefix + ".insecure-skip-tls-verify: \"" + insecure +
                                           "\" is not true or false"));
  }
  if (config->insecure_skip_tls_verify && !config->ca_pem.empty()) {
    // As kubectl: trusting a CA and trusting anyone at once is a mistake worth stopping for.
    return InvalidArgumentError(file.Where(
        prefix + ".insecure-skip-tls-verify: not allowed together with certificate-authority"));
  }
  config->tls_server_name = Text(*cluster, "tls-server-name");
  return Status::Ok();
}

Result<ExecPlugin> LoadExec(const KubeconfigFile& file, const YAML::Node& exec,
                            const std::string& prefix, const std::string& user) {
  ExecPlugin plugin;
  plugin.user = user;
  plugin.api_version = Text(exec, "apiVersion");
  if (plugin.api_version != "client.authentication.k8s.io/v1" &&
      plugin.api_version != "client.authentication.k8s.io/v1beta1") {
    return InvalidArgumentError(file.Where(
        prefix + ".apiVersion: \"" + plugin.api_version +
        "\" is not client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"));
  }
  plugin.command = Text(exec, "command");
  if (plugin.command.empty()) return InvalidArgumentError(file.Where(prefix + ".command: missing"));
  // As kubectl: a relative path with a separator is relative to the kubeconfig; a bare name is
  // looked up on PATH.
  if (plugin.command.find('/') != std::string::npos) plugin.command = file.Resolve(plugin.command);
  if (const YAML::Node args = exec["args"]) {
    if (!args.IsSequence()) return InvalidArgumentError(file.Where(prefix + ".args: not a list"));
    for (const YAML::Node& arg : args) plugin.args.push_back(arg.as<std::string>());
  }
  if (const YAML::Node env = exec["env"]) {
    if (!env.IsSequence()) return InvalidArgumentError(file.Where(prefix + ".env: not a list"));
    for (const YAML::Node& entry : env) {
      const std::string name = entry.IsMap() ? Text(entry, "name") : "";
      if (name.empty())
        return InvalidArgumentError(file.Where(prefix + ".env: an entry has no name"));
      plugin.env.emplace_back(name, Text(entry, "value"));
    }
  }
  return plugin;
}

Status LoadUser(const KubeconfigFile& file, const std::string& name, const Clock& clock,
                ClusterConfig* config) {
  auto user = FindNamed(file, "users", name, "user");
  if (!user.ok()) return user.status();
  const std::string prefix = "users[" + name + "]";
  if ((*user)["auth-provider"]) {
    return InvalidArgumentError(file.Where(prefix + ".auth-provider: not supported; use exec"));
  }
  if ((*user)["username"] || (*user)["password"]) {
    return InvalidArgumentError(
        file.Where(prefix + ".username: basic authentication is not supported"));
  }
  Credentials base;
  auto cert = PemFromDataOrFile(file, *user, prefix, "client-certificate");
  if (!cert.ok()) return cert.status();
  auto key = PemFromDataOrFile(file, *user, prefix, "client-key");
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return InvalidArgumentError(file.Where(prefix +
                                           (cert->empty() ? ".client-certificate" : ".client-key") +
                                           ": missing (the certificate and key go together)"));
  }
  base.client_cert_pem = std::move(*cert);
  base.client_key_pem = std::move(*key);
  base.bearer_token = Text(*user, "token");
  const std::string token_file = Text(*user, "tokenFile");
  if (const YAML::Node exec = (*user)["exec"]) {
    if (!exec.IsMap()) return InvalidArgumentError(file.Where(prefix + ".exec: not a map"));
    auto plugin = LoadExec(file, exec, prefix + ".exec", name);
    if (!plugin.ok()) return plugin.status();
    config->credentials = ExecCredentials(std::move(*plugin), clock);
  } else if (base.bearer_token.empty() && !token_file.empty()) {
    const std::string path = file.Resolve(token_file);
    // Read once now so that a wrong path is reported at start, naming the field.
    auto text = ReadWholeFile(path, file.Where(prefix + ".tokenFile"));
    if (!text.ok()) return text.status();
    config->credentials =
        FileTokenCredentials(path, clock, std::chrono::minutes(1), std::move(base));
  } else {
    config->credentials = StaticCredentials(std::move(base));
  }
  return Status::Ok();
}

Result<ClusterConfig> LoadKubeconfigFile(const KubeconfigFile& file,
                                         const KubeconfigOptions& options) {
  if (!file.root.IsMap()) return InvalidArgumentError(file.Where("not a YAML map"));
  std::string context_name = options.context;
  if (context_name.empty()) context_name = Text(file.root, "current-context");
  if (context_name.empty()) {
    return InvalidArgumentError(file.Where("current-context: missing, and no context was given"));
  }
  auto context = FindNamed(file, "contexts", context_name, "context");
  if (!context.ok()) return context.status();
  const std::string prefix = "contexts[" + context_name + "].context";
  const std::string cluster_name = Text(*context, "cluster");
  if (cluster_name.empty()) return InvalidArgumentError(file.Where(prefix + ".cluster: missing"));
  const std::string user_name = Text(*context, "user");

  ClusterConfig config;
  config.source = "kubeconfig " + file.path + " context " + context_name;
  config.namespace_name = Text(*context, "namespace");
  if (config.namespace_name.empty()) config.namespace_name = "default";
  if (Status status = LoadCluster(file, cluster_name, &config); !status.ok()) return status;
  if (user_name.empty()) {
    config.credentials = StaticCredentials({});
  } else if (Status status = LoadUser(file, user_name, OrSystemClock(options.clock), &config);
             !status.ok()) {
    return status;
  }
  return config;
}

}  // namespace

std::shared_ptr<CredentialSource> StaticCredentials(Credentials credentials) {
  return std::make_shared<StaticCredentialSource>(std::move(credentials));
}

std::shared_ptr<CredentialSource> FileTokenCredentials(std::string path, Clock clock,
                                                       std::chrono::seconds refresh,
                                                       Credentials base) {
  return std::make_shared<FileTokenCredentialSource>(
      std::move(path), OrSystemClock(std::move(clock)), refresh, std::move(base));
}

std::string KubeconfigPath(const std::string& flag, const EnvLookup& env) {
  if (!flag.empty()) return flag;
  const EnvLookup lookup = OrGetenv(env);
  if (const char* value = lookup("KUBECONFIG"); value != nullptr && *value != '\0') {
    const std::string list = value;
    // The first non-empty entry; merging several files as kubectl does is not needed here.
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) return list.substr(start, end - start);
      start = end + 1;
    }
  }
  if (const char* home = lookup("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.kube/config";
  }
  return "";
}

Result<ClusterConfig> LoadKubeconfig(const KubeconfigOptions& options) {
  if (options.path.empty()) return InvalidArgumentError("no kubeconfig given");
  auto text = ReadWholeFile(options.path, "kubeconfig");
  if (!text.ok()) return text.status();
  KubeconfigFile file;
  file.path = options.path;
  file.dir = fs::path(options.path).parent_path();
  // yaml-cpp throws on malformed YAML and on conversions; both stop here.
  try {
    file.root = YAML::Load(*text);
    return LoadKubeconfigFile(file, options);
  } catch (const YAML::Exception& error) {
    return InvalidArgumentError(file.Where(error.what()));
  }
}

Result<ClusterConfig> LoadInClusterConfig(const InClusterOptions& options) {
  const EnvLookup env = OrGetenv(options.env);
  const char* host = env("KUBERNETES_SERVICE_HOST");
  const char* port = env("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return NotFoundError(
        "not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  const std::string host_text = host;
  const bool ipv6 = host_text.find(':') != std::string::npos;
  ClusterConfig config;
  config.server = "https://" + (ipv6 ? "[" + host_text + "]" : host_text) + ":" + port;
  config.source = "in-cluster service account " + options.service_account_dir;
  const fs::path dir = options.service_account_dir;
  auto ca = ReadWholeFile((dir / "ca.crt").string(), "in-cluster CA");
  if (!ca.ok()) return ca.status();
  config.ca_pem = std::move(*ca);
  auto namespace_text = ReadWholeFile((dir / "namespace").string(), "in-cluster namespace");
  config.namespace_name = namespace_text.ok() ? TrimSpace(*namespace_text) : "";
  if (config.namespace_name.empty()) config.namespace_name = "default";
  const std::string token_path = (dir / "token").string();
  auto credentials = FileTokenCredentials(token_path, options.clock);
  // Read it now, so that a missing token is reported at start rather than on the first request.
  auto first = credentials->Get();
  if (!first.ok()) return first.status();
  config.credentials = std::move(credentials);
  return config;
}

}  // namespace nines::kube
