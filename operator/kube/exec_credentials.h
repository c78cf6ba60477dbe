// Credentials from a kubeconfig `exec` plugin (client.authentication.k8s.io v1 and v1beta1): the
// command prints an ExecCredential whose status holds a token and/or a client certificate and key,
// valid until its expirationTimestamp.
//
// Thread-safety: the CredentialSource is thread-safe; at most one plugin runs at a time.
#ifndef NINES_KUBE_EXEC_CREDENTIALS_H_
#define NINES_KUBE_EXEC_CREDENTIALS_H_

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "operator/base/status.h"
#include "operator/kube/config.h"

namespace nines::kube {

struct ExecPlugin {
  std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
  std::string command;      // a path, or a name looked up on PATH
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to this process's environment
  std::string user;                                      // the kubeconfig user, for messages
  std::chrono::seconds timeout = std::chrono::minutes(1);
};

// Runs the plugin on the first Get(), and again once the credentials expired or were rejected.
std::shared_ptr<CredentialSource> ExecCredentials(ExecPlugin plugin, Clock clock);

// Parses a plugin's output. `expiry` is set from status.expirationTimestamp, or left as the
// time_point's max() when there is none. InvalidArgument naming the field otherwise.
Result<Credentials> ParseExecCredential(const std::string& output, const std::string& api_version,
                                        std::chrono::system_clock::time_point* expiry);

// An RFC 3339 time ("2026-11-23T19:00:00Z", "...T19:00:00.5+01:00").
Result<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

}  // namespace nines::kube

#endif  // NINES_KUBE_EXEC_CREDENTIALS_H_
