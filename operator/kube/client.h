// The Kubernetes API, typed enough: objects are JSON (nlohmann::json), kinds are named by group,
// version and plural, and every failure is a Status whose code says what to do next (see
// api_error.h): kConflict re-read and retry, kGone relist, kUnavailable back off, and so on.
//
// Thread-safety: Client is thread-safe if its transport is (HttpTransport implementations are).
#ifndef NINES_KUBE_CLIENT_H_
#define NINES_KUBE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "operator/base/status.h"
#include "operator/kube/http_transport.h"
#include "operator/kube/watch_event.h"

namespace nines::kube {

// A kind of resource as the API serves it.
struct ResourceType {
  std::string group;  // empty for the core group
  std::string version;
  std::string plural;
  bool namespaced = true;
};

// Some kinds nines uses.
ResourceType NamespaceResource();
ResourceType ConfigMapResource();
ResourceType EventResource();  // events.k8s.io/v1

// The URL path of a collection (empty name) or an object, and optionally its subresource:
// "/api/v1/namespaces/shop/configmaps/x", "/apis/nines.dev/v1alpha1/servicelevelobjectives".
// An empty namespace on a namespaced type means all namespaces (for List and Watch). Names are
// percent-escaped.
std::string ResourcePath(const ResourceType& type, std::string_view namespace_name,
                         std::string_view name = "", std::string_view subresource = "");

// Percent-escapes a query parameter value.
std::string EscapeQueryValue(std::string_view value);

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;             // 0: no paging
  std::string continue_token;    // from the previous page's metadata.continue
  std::string resource_version;  // empty: the latest (a quorum read)
};

struct WatchOptions {
  std::string resource_version;  // from a List or the last event; empty: from now, with ADDEDs
  std::string label_selector;
  std::string field_selector;
  int timeout_seconds = 300;  // the server ends the watch after this (0: its own default)
  bool allow_bookmarks = true;
};

struct DeleteOptions {
  std::string precondition_uid;               // empty: none
  std::string precondition_resource_version;  // empty: none
  std::string propagation_policy;             // Foreground, Background, Orphan; empty: default
};

class Client {
 public:
  explicit Client(std::shared_ptr<HttpTransport> transport);

  Result<nlohmann::json> Get(const ResourceType& type, std::string_view namespace_name,
                             std::string_view name);

  // One page: the List object with items, metadata.resourceVersion and, when there is more,
  // metadata.continue.
  Result<nlohmann::json> List(const ResourceType& type, std::string_view namespace_name,
                              const ListOptions& options = {});

  // POST; the namespace is the object's metadata.namespace when `namespace_name` is empty.
  Result<nlohmann::json> Create(const ResourceType& type, std::string_view namespace_name,
                                const nlohmann::json& object);

  // PUT of the object, by its metadata.name. If it carries metadata.resourceVersion, the server
  // refuses with kConflict when the object changed since (optimistic concurrency).
  Result<nlohmann::json> Update(const ResourceType& type, std::string_view namespace_name,
                                const nlohmann::json& object);

  // PUT to the status subresource: only status changes.
  Result<nlohmann::json> UpdateStatus(const ResourceType& type, std::string_view namespace_name,
                                      const nlohmann::json& object);

  // JSON merge patch (RFC 7386).
  Result<nlohmann::json> MergePatch(const ResourceType& type, std::string_view namespace_name,
                                    std::string_view name, const nlohmann::json& patch,
                                    std::string_view subresource = "");

  // Server-side apply as `field_manager`, taking over conflicting fields (force): the object must
  // carry apiVersion, kind and metadata.name. JSON is valid YAML, so it is sent as is.
  Result<nlohmann::json> Apply(const ResourceType& type, std::string_view namespace_name,
                               const nlohmann::json& object, std::string_view subresource = "",
                               std::string_view field_manager = "nines");

  Status Delete(const ResourceType& type, std::string_view namespace_name, std::string_view name,
                const DeleteOptions& options = {});

  // Creates an events.k8s.io/v1 Event in the namespace.
  Result<nlohmann::json> CreateEvent(std::string_view namespace_name, const nlohmann::json& event);

  // Watches from options.resource_version, handing each ADDED, MODIFIED, DELETED and BOOKMARK
  // event to `on_event` (return false to stop). Returns OK when the server ends the watch (its
  // timeout), `on_event` stops it, or `cancel` (may be null) is cancelled; kGone when the
  // resourceVersion is too old (HTTP 410, or an ERROR event with code 410): relist; another error
  // for other ERROR events, malformed streams and failed requests.
  Status Watch(const ResourceType& type, std::string_view namespace_name,
               const WatchOptions& options, const std::function<bool(WatchEvent)>& on_event,
               Cancellation* cancel = nullptr);

 private:
  Result<nlohmann::json> Call(const char* method, const std::string& path_and_query,
                              const std::string& content_type, const std::string& body);

  std::shared_ptr<HttpTransport> transport_;
};

}  // namespace nines::kube

#endif  // NINES_KUBE_CLIENT_H_
