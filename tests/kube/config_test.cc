#include "operator/kube/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "operator/kube/exec_credentials.h"

namespace nines::kube {
namespace {

namespace fs = std::filesystem;
using TimePoint = std::chrono::system_clock::time_point;

// A fresh folder per test, removed afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("nines-kube-" + std::string(info->name()) + "-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  Clock FakeClock() {
    return [this] { return now_; };
  }

  fs::path dir_;
  TimePoint now_ = TimePoint(std::chrono::hours(24 * 365 * 50));  // about 2020
};

// "hello" in base64.
constexpr const char* kHello64 = "aGVsbG8=";

const std::string kTwoContexts = R"(apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443/
    certificate-authority-data: aGVsbG8=
    tls-server-name: kubernetes.default
- name: dev
  cluster:
    server: http://127.0.0.1:8080
    certificate-authority: pki/ca.crt
users:
- name: admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: robot
  user:
    token: s3cret
contexts:
- name: prod-admin
  context: {cluster: prod, user: admin, namespace: shop}
- name: dev-robot
  context: {cluster: dev, user: robot}
current-context: prod-admin
)";

TEST_F(ConfigTest, CurrentContextWithInlineData) {
  const std::string path = Write("kubeconfig", kTwoContexts);
  auto config = LoadKubeconfig({.path = path});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://prod.example:6443");
  EXPECT_EQ(config->ca_pem, "hello");
  EXPECT_EQ(config->tls_server_name, "kubernetes.default");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->namespace_name, "shop");
  auto credentials = config->credentials->Get();
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(credentials->client_cert_pem, "cert");
  EXPECT_EQ(credentials->client_key_pem, "key");
  EXPECT_EQ(credentials->bearer_token, "");
}

TEST_F(ConfigTest, NamedContextWithFilesRelativeToTheKubeconfig) {
  Write("conf/pki/ca.crt", "the CA");
  const std::string path = Write("conf/kubeconfig", kTwoContexts);
  auto config = LoadKubeconfig({.path = path, .context = "dev-robot"});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "http://127.0.0.1:8080");
  EXPECT_EQ(config->ca_pem, "the CA");
  EXPECT_EQ(config->namespace_name, "default");
  auto credentials = config->credentials->Get();
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(credentials->bearer_token, "s3cret");
  EXPECT_TRUE(credentials->client_cert_pem.empty());
}

TEST_F(ConfigTest, ErrorsNameTheFileAndTheField) {
  const std::string path = Write("kubeconfig", kTwoContexts);
  const struct {
    std::string text;
    std::string context;
    StatusCode code;
    std::string message;
  } cases[] = {
      {kTwoContexts, "nope", StatusCode::kNotFound,
       "kubeconfig " + path + ": contexts: no entry named \"nope\""},
      {"clusters: []\n", "", StatusCode::kInvalidArgument,
       "kubeconfig " + path + ": current-context: missing, and no context was given"},
      {"contexts:\n- name: c\n  context: {cluster: x}\ncurrent-context: c\n", "",
       StatusCode::kNotFound, "kubeconfig " + path + ": clusters: no entry named \"x\""},
      {"contexts:\n- name: c\n  context: {cluster: x}\nclusters:\n- name: x\n", "c",
       StatusCode::kInvalidArgument, "kubeconfig " + path + ": clusters[x].cluster: missing"},
      {"contexts:\n- name: c\n  context: {cluster: x}\nclusters:\n- name: x\n  cluster: {a: b}\n",
       "c", StatusCode::kInvalidArgument, "kubeconfig " + path + ": clusters[x].server: missing"},
      {"contexts:\n- name: c\n  context: {cluster: x}\nclusters:\n- name: x\n  cluster:\n"
       "    server: https://h\n    certificate-authority: missing.crt\n",
       "c", StatusCode::kNotFound,
       "kubeconfig " + path + ": clusters[x].certificate-authority: cannot read " +
           (dir_ / "missing.crt").string()},
      {"contexts:\n- name: c\n  context: {cluster: x}\nclusters:\n- name: x\n  cluster:\n"
       "    server: https://h\n    certificate-authority-data: '@@'\n",
       "c", StatusCode::kInvalidArgument,
       "kubeconfig " + path + ": clusters[x].certificate-authority-data: not valid base64"},
      {"contexts:\n- name: c\n  context: {cluster: x, user: u}\nclusters:\n- name: x\n  cluster:\n"
       "    server: https://h\nusers:\n- name: u\n  user:\n    client-certificate-data: Y2VydA==\n",
       "c", StatusCode::kInvalidArgument,
       "kubeconfig " + path +
           ": users[u].client-key: missing (the certificate and key go together)"},
      {"contexts:\n- name: c\n  context: {cluster: x, user: u}\nclusters:\n- name: x\n  cluster:\n"
       "    server: https://h\nusers:\n- name: u\n  user:\n    tokenFile: nothere\n",
       "c", StatusCode::kNotFound,
       "kubeconfig " + path + ": users[u].tokenFile: cannot read " + (dir_ / "nothere").string()},
      {"contexts:\n- name: c\n  context: {cluster: x, user: u}\nclusters:\n- name: x\n  cluster:\n"
       "    server: https://h\nusers:\n- name: u\n  user:\n    exec:\n"
       "      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: x\n",
       "c", StatusCode::kInvalidArgument,
       "kubeconfig " + path +
           ": users[u].exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not "
           "client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"},
      {"contexts:\n- name: c\n  context: {cluster: x}\nclusters:\n- name: x\n  cluster:\n"
       "    server: https://h\n    insecure-skip-tls-verify: true\n"
       "    certificate-authority-data: aGVsbG8=\n",
       "c", StatusCode::kInvalidArgument,
       "kubeconfig " + path +
           ": clusters[x].insecure-skip-tls-verify: not allowed together with "
           "certificate-authority"},
      {"contexts:\n- name: c\n  context: {cluster: x}\nclusters:\n- name: x\n  cluster:\n"
       "    server: https://h\n    insecure-skip-tls-verify: yes please\n",
       "c", StatusCode::kInvalidArgument,
       "kubeconfig " + path +
           ": clusters[x].insecure-skip-tls-verify: \"yes please\" is not true or false"},
      {"contexts: [unclosed\n", "c", StatusCode::kInvalidArgument, ""},
  };
  for (const auto& c : cases) {
    Write("kubeconfig", c.text);
    auto config = LoadKubeconfig({.path = path, .context = c.context});
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_EQ(config.status().code(), c.code) << c.text;
    if (!c.message.empty()) {
      EXPECT_EQ(config.status().message(), c.message);
    } else {
      EXPECT_NE(config.status().message().find(path), std::string::npos);
    }
  }
  auto missing = LoadKubeconfig({.path = (dir_ / "none").string()});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(ConfigTest, InsecureSkipTlsVerify) {
  const std::string path =
      Write("kubeconfig",
            "contexts:\n- name: c\n  context: {cluster: x}\nclusters:\n- name: x\n  cluster:\n"
            "    server: https://h\n    insecure-skip-tls-verify: true\ncurrent-context: c\n");
  auto config = LoadKubeconfig({.path = path});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  auto credentials = config->credentials->Get();
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(*credentials, Credentials{});
}

TEST_F(ConfigTest, TokenFileIsReReadAfterAMinuteAndAfterA401) {
  Write("token", "one\n");
  const std::string path = Write(
      "kubeconfig",
      "contexts:\n- name: c\n  context: {cluster: x, user: u}\nclusters:\n- name: x\n  cluster:\n"
      "    server: https://h\nusers:\n- name: u\n  user:\n    tokenFile: token\n"
      "current-context: c\n");
  auto config = LoadKubeconfig({.path = path, .clock = FakeClock()});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->credentials->Get()->bearer_token, "one");
  Write("token", "two");
  now_ += std::chrono::seconds(59);
  EXPECT_EQ(config->credentials->Get()->bearer_token, "one");
  now_ += std::chrono::seconds(1);
  EXPECT_EQ(config->credentials->Get()->bearer_token, "two");
  Write("token", "three");
  // A 401 for an older token than the one we hold changes nothing.
  config->credentials->Invalidate({.bearer_token = "one"});
  EXPECT_EQ(config->credentials->Get()->bearer_token, "two");
  config->credentials->Invalidate({.bearer_token = "two"});
  EXPECT_EQ(config->credentials->Get()->bearer_token, "three");
}

TEST_F(ConfigTest, KubeconfigPath) {
  std::map<std::string, std::string> env;
  const EnvLookup lookup = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(KubeconfigPath("", lookup), "");
  env["HOME"] = "/home/me";
  EXPECT_EQ(KubeconfigPath("", lookup), "/home/me/.kube/config");
  env["KUBECONFIG"] = ":/a/one:/b/two";
  EXPECT_EQ(KubeconfigPath("", lookup), "/a/one");
  EXPECT_EQ(KubeconfigPath("/flag", lookup), "/flag");
}

// ---- in-cluster

TEST_F(ConfigTest, InClusterRereadsTheRotatedTokenEveryMinuteAndAfterA401) {
  Write("sa/token", "first");
  Write("sa/ca.crt", "the CA");
  Write("sa/namespace", "shop\n");
  const std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                  {"KUBERNETES_SERVICE_PORT", "443"}};
  InClusterOptions options{.service_account_dir = (dir_ / "sa").string(),
                           .clock = FakeClock(),
                           .env = [&env](const char* name) -> const char* {
                             auto it = env.find(name);
                             return it == env.end() ? nullptr : it->second.c_str();
                           }};
  auto config = LoadInClusterConfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->ca_pem, "the CA");
  EXPECT_EQ(config->namespace_name, "shop");
  EXPECT_EQ(config->credentials->Get()->bearer_token, "first");

  Write("sa/token", "second");
  now_ += std::chrono::seconds(30);
  EXPECT_EQ(config->credentials->Get()->bearer_token, "first");  // cached
  now_ += std::chrono::seconds(30);
  EXPECT_EQ(config->credentials->Get()->bearer_token, "second");  // a minute: re-read

  Write("sa/token", "third");
  now_ += std::chrono::seconds(1);
  config->credentials->Invalidate({.bearer_token = "second"});
  EXPECT_EQ(config->credentials->Get()->bearer_token, "third");  // a 401: re-read at once

  // Caught in the middle of a rotation (empty file): keep the token we have.
  Write("sa/token", "");
  now_ += std::chrono::minutes(2);
  EXPECT_EQ(config->credentials->Get()->bearer_token, "third");
}

TEST_F(ConfigTest, InClusterIPv6AndErrors) {
  std::map<std::string, std::string> env;
  InClusterOptions options{.service_account_dir = (dir_ / "sa").string(),
                           .env = [&env](const char* name) -> const char* {
                             auto it = env.find(name);
                             return it == env.end() ? nullptr : it->second.c_str();
                           }};
  EXPECT_EQ(LoadInClusterConfig(options).status().code(), StatusCode::kNotFound);
  env = {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  auto no_ca = LoadInClusterConfig(options);
  EXPECT_EQ(no_ca.status().message(),
            "in-cluster CA: cannot read " + (dir_ / "sa/ca.crt").string());
  Write("sa/ca.crt", "CA");
  auto no_token = LoadInClusterConfig(options);
  EXPECT_EQ(no_token.status().message(), "token file: cannot read " + (dir_ / "sa/token").string());
  Write("sa/token", "t");
  auto config = LoadInClusterConfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
  EXPECT_EQ(config->namespace_name, "default");
}

// ---- exec plugins

// A plugin that counts its runs in a file and prints token "tok-N", valid until `expiry`.
std::string PluginScript(const std::string& api_version, const std::string& expiry) {
  return "#!/bin/sh\n"
         "n=$(cat \"$COUNT_FILE\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >\"$COUNT_FILE\"\n"
         "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 3 ;; esac\n"
         "cat <<EOF\n"
         "{\"apiVersion\": \"" +
         api_version +
         "\", \"kind\": \"ExecCredential\",\n"
         " \"status\": {\"token\": \"tok-$n-$1\", \"expirationTimestamp\": \"" +
         expiry + "\"}}\nEOF\n";
}

TEST_F(ConfigTest, ExecPluginIsCachedUntilExpiryAndRerunAfterExpiryOrA401) {
  for (const std::string version :
       {"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}) {
    const std::string script = Write("bin/plugin", PluginScript(version, "2020-01-01T00:10:00Z"));
    fs::permissions(script, fs::perms::owner_all);
    const std::string count_file = (dir_ / "count").string();
    fs::remove(count_file);
    std::string kubeconfig =
        "contexts:\n- name: c\n  context: {cluster: x, user: u}\nclusters:\n- name: x\n"
        "  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    exec:\n"
        "      apiVersion: ";
    kubeconfig += version;
    kubeconfig +=
        "\n      command: ./bin/plugin\n      args: [arg]\n      interactiveMode: Never\n"
        "      env:\n      - {name: COUNT_FILE, value: ";
    kubeconfig += count_file;
    kubeconfig += "}\ncurrent-context: c\n";
    const std::string path = Write("kubeconfig", kubeconfig);
    auto expiry = ParseRfc3339("2020-01-01T00:10:00Z");
    ASSERT_TRUE(expiry.ok());
    now_ = *expiry - std::chrono::minutes(10);
    auto config = LoadKubeconfig({.path = path, .clock = FakeClock()});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto first = config->credentials->Get();
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->bearer_token, "tok-1-arg");
    now_ = *expiry - std::chrono::seconds(1);
    EXPECT_EQ(config->credentials->Get()->bearer_token, "tok-1-arg");  // cached
    now_ = *expiry;
    EXPECT_EQ(config->credentials->Get()->bearer_token, "tok-2-arg");  // expired: run again
    EXPECT_EQ(config->credentials->Get()->bearer_token, "tok-3-arg");  // still expired
    now_ = *expiry - std::chrono::minutes(5);
    EXPECT_EQ(config->credentials->Get()->bearer_token, "tok-3-arg");
    config->credentials->Invalidate({.bearer_token = "tok-3-arg"});
    EXPECT_EQ(config->credentials->Get()->bearer_token, "tok-4-arg");  // a 401: run again
  }
}

TEST_F(ConfigTest, ExecPluginFailuresNameThePlugin) {
  const std::string script = Write("fail", "#!/bin/sh\nexit 7\n");
  fs::permissions(script, fs::perms::owner_all);
  const std::string path =
      Write("kubeconfig",
            "contexts:\n- name: c\n  context: {cluster: x, user: u}\nclusters:\n- name: x\n"
            "  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    exec:\n"
            "      apiVersion: client.authentication.k8s.io/v1\n      command: " +
                script + "\ncurrent-context: c\n");
  auto config = LoadKubeconfig({.path = path});
  ASSERT_TRUE(config.ok());
  auto credentials = config->credentials->Get();
  EXPECT_EQ(credentials.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(credentials.status().message(),
            "exec plugin \"" + script + "\" of user \"u\": exited with status 7");

  ExecPlugin missing{.api_version = "client.authentication.k8s.io/v1",
                     .command = "nines-no-such-plugin",
                     .user = "u"};
  EXPECT_EQ(ExecCredentials(missing, nullptr)->Get().status().code(), StatusCode::kNotFound);

  ExecPlugin slow{.api_version = "client.authentication.k8s.io/v1",
                  .command = "sleep",
                  .args = {"10"},
                  .user = "u",
                  .timeout = std::chrono::seconds(1)};
  EXPECT_EQ(ExecCredentials(slow, [] { return TimePoint(); })->Get().status().message(),
            "exec plugin \"sleep\" of user \"u\": did not finish in 1s");
}

TEST(ParseExecCredentialTest, TokensCertificatesAndErrors) {
  const std::string v1 = "client.authentication.k8s.io/v1";
  TimePoint expiry;
  auto certificate = ParseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}})",
      v1, &expiry);
  ASSERT_TRUE(certificate.ok()) << certificate.status().ToString();
  EXPECT_EQ(certificate->client_cert_pem, "CERT");
  EXPECT_EQ(certificate->client_key_pem, "KEY");
  EXPECT_EQ(expiry, TimePoint::max());

  const struct {
    std::string output;
    std::string message;
  } cases[] = {
      {"nope", "the output is not a JSON object"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"Other"})",
       "kind: want ExecCredential, got \"Other\""},
      {R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential"})",
       "apiVersion: want client.authentication.k8s.io/v1, got "
       "\"client.authentication.k8s.io/v1beta1\""},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"})",
       "status: missing"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
       "status: neither token nor clientCertificateData"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
           "status":{"clientCertificateData":"C"}})",
       "status: clientCertificateData and clientKeyData must be given together"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
           "status":{"token":"t","expirationTimestamp":"tomorrow"}})",
       "status.expirationTimestamp: \"tomorrow\" is not an RFC 3339 time"},
  };
  for (const auto& c : cases) {
    auto result = ParseExecCredential(c.output, v1, &expiry);
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << c.output;
    EXPECT_EQ(result.status().message(), c.message);
  }
}

TEST(ParseRfc3339Test, ZonesAndFractions) {
  using std::chrono::seconds;
  auto utc = ParseRfc3339("2026-11-23T19:00:00Z");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(std::chrono::duration_cast<seconds>(utc->time_since_epoch()).count(), 1795460400);
  auto offset = ParseRfc3339("2026-11-23T20:30:00.5+01:30");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset - *utc, std::chrono::milliseconds(500));
  for (const char* bad : {"", "2026-11-23", "2026-11-23T19:00:00", "2026-13-01T00:00:00Z",
                          "2026-11-23T19:00:00Zx", "2026-11-23T19:00:00.Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace nines::kube
