// Where the API server is and how to authenticate to it: from a kubeconfig file (as kubectl reads
// it) or from inside a pod (the service account's mounted token and CA).
//
// Credentials that change while the operator runs (a rotated service-account token, a token file,
// an exec plugin's short-lived token or certificate) come from a CredentialSource, which the
// transport asks before every request and tells after every 401.
//
// Thread-safety: ClusterConfig is a value; its CredentialSource is thread-safe. The Load functions
// may be called from any thread (they read files and, for exec plugins, nothing until the first
// Get()).
#ifndef NINES_KUBE_CONFIG_H_
#define NINES_KUBE_CONFIG_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "operator/base/status.h"

namespace nines::kube {

// The wall clock, injectable so that expiry and re-reading are tested without sleeping.
using Clock = std::function<std::chrono::system_clock::time_point()>;

// Reads an environment variable; nullptr when unset. Injectable for tests.
using EnvLookup = std::function<const char*(const char*)>;

// What authenticates one request. Secrets: never log these fields.
struct Credentials {
  std::string bearer_token;     // empty: none
  std::string client_cert_pem;  // with client_key_pem, or both empty
  std::string client_key_pem;

  bool operator==(const Credentials&) const = default;
};

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;

  // The credentials to use now: cached, or re-read / re-run when they expired or were
  // invalidated. An error names the file or plugin that failed.
  virtual Result<Credentials> Get() = 0;

  // The server answered 401 to `rejected`: unless they were already replaced, the next Get()
  // refreshes (re-reads the token file, re-runs the plugin) instead of using the cache.
  virtual void Invalidate(const Credentials& rejected) = 0;
};

// Credentials that never change (a kubeconfig's inline token or certificate).
std::shared_ptr<CredentialSource> StaticCredentials(Credentials credentials);

// A bearer token read from `path` (a service-account token, a kubeconfig tokenFile): re-read
// at most every `refresh` (tokens rotate), and at the next Get() after a 401. A certificate, if
// given, is sent along unchanged.
std::shared_ptr<CredentialSource> FileTokenCredentials(
    std::string path, Clock clock, std::chrono::seconds refresh = std::chrono::minutes(1),
    Credentials base = {});

struct ClusterConfig {
  std::string server;  // "https://host:port", no trailing slash
  std::string ca_pem;  // the CAs to trust; empty: the system's roots
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // the name to verify the server's certificate against
  std::string namespace_name;   // the context's (or pod's) namespace; "default" if none
  std::shared_ptr<CredentialSource> credentials;  // never null
  std::string source;  // where it came from, for messages: the file and context
};

// The kubeconfig file to read: `flag` if not empty, else the first entry of $KUBECONFIG
// (colon-separated), else $HOME/.kube/config. Empty if none of them is set.
std::string KubeconfigPath(const std::string& flag, const EnvLookup& env);

struct KubeconfigOptions {
  std::string path;     // the kubeconfig file
  std::string context;  // empty: the file's current-context
  Clock clock;          // default: std::chrono::system_clock::now
};

// Loads a kubeconfig: the context's cluster (server, certificate-authority(-data),
// insecure-skip-tls-verify, tls-server-name) and user (client-certificate(-data),
// client-key(-data), token, tokenFile, exec with apiVersion client.authentication.k8s.io/v1 or
// v1beta1). Relative paths are resolved against the kubeconfig's folder. Files named in it are
// read now, except the token file and exec plugins, which are read or run on demand. An exec
// plugin inherits this process's environment plus its `env`, and its output is cached until its
// expirationTimestamp or a 401; it is given a minute to answer.
// InvalidArgument or NotFound naming the file and the field (`users[admin].client-key`).
Result<ClusterConfig> LoadKubeconfig(const KubeconfigOptions& options);

struct InClusterOptions {
  // The service account's folder (token, ca.crt, namespace); tests point it elsewhere.
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  Clock clock;    // default: std::chrono::system_clock::now
  EnvLookup env;  // KUBERNETES_SERVICE_HOST/PORT; default: std::getenv
};

// The in-cluster configuration: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
// the mounted CA and namespace, and the mounted token, re-read at most every minute and after a
// 401 (the kubelet rotates it). NotFound when not in a pod.
Result<ClusterConfig> LoadInClusterConfig(const InClusterOptions& options);

}  // namespace nines::kube

#endif  // NINES_KUBE_CONFIG_H_
