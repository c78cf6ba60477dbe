// An in-memory Kubernetes API server behind the HttpTransport interface, so that kube::Client, and
// the controller above it, are tested against something that answers like kube-apiserver without
// a cluster.
//
// Faithful (the controller depends on these):
//   - paths (/api/v1/..., /apis/<group>/<version>/..., namespaced or across all namespaces, the
//     status subresource), status codes and Kubernetes `Status` bodies (kind, code, reason,
//     message) with the server's wording: 404 NotFound, 409 AlreadyExists, 409 Conflict, 422
//     Invalid, 410 Expired, 405 MethodNotAllowed, 415 UnsupportedMediaType, 400 BadRequest;
//   - one global resourceVersion (a decimal string) bumped by every write; uid, creationTimestamp
//     and generation set by the server and not changeable by clients;
//   - generation: 1 on create, +1 when anything but metadata and status changes (and when a
//     deletionTimestamp is set), for custom resources and for types with a status subresource;
//     absent on built-in types (ConfigMap, Event, Lease), as the real server does;
//   - the status subresource: a create or a PUT/PATCH/apply of the main resource ignores
//     `status`; a write to /status changes only `status` and never bumps generation;
//   - optimistic concurrency: a PUT, PATCH or apply that names a stale metadata.resourceVersion
//     fails with 409 Conflict; a PUT without one is unconditional;
//   - a write that changes nothing is not written: the resourceVersion stays, no watch event;
//   - deletion: finalizers hold the object with a deletionTimestamp (and no new finalizers may be
//     added) until a write empties them (watchers see that MODIFIED, then DELETED); delete
//     preconditions (uid, resourceVersion); the garbage collector deletes dependents whose owners
//     (by ownerReferences uid) are all gone, drops dangling references from dependents that keep
//     an owner, and Orphan propagation strips the references instead;
//   - watches: newline-delimited events from a resourceVersion (exclusive), or the current objects
//     as ADDED first when none (or "0") is given; label and field selectors, with an object that
//     stops matching seen as DELETED and one that starts matching as ADDED; BOOKMARK events;
//     410 "too old resource version" after CompactHistory(), as an HTTP 410 or as an ERROR event
//     in a 200 stream (both happen in the real server; selectable); timeoutSeconds honoured.
//
// Simplified (and why it is enough):
//   - server-side apply tracks ownership per *field* at this granularity: each key of
//     metadata.labels and of metadata.annotations; each metadata.ownerReferences entry (by uid);
//     each metadata.finalizers value; each key of a top-level object field (spec.<key>,
//     data.<key>, status.<key>); a top-level field that is not an object (e.g. a list) as a
//     whole. Below that level values are atomic: the applier replaces them whole. Ownership is
//     kept per (manager, operation, subresource), and shown as metadata.managedFields in the
//     FieldsV1 shape of that granularity. The rules are the real ones at that granularity:
//       * apply sets the fields it names; a field another manager owns with a different value is
//         a conflict (409) unless force=true, which takes the field over; the same value is
//         shared ownership;
//       * a field the manager applied before and no longer applies is removed from the object,
//         unless another manager owns it too;
//       * a PUT, POST or merge patch by manager M (fieldManager query parameter, else the default
//         manager) takes the fields it changes from everyone, and removed fields lose owners;
//       * maps that such removals leave empty (labels, annotations, data, spec, ...) are dropped.
//     Apply bodies must be JSON (YAML is not parsed). A real server would also merge lists by
//     their keys below this level and validate against the schema; nines applies whole objects,
//     so neither matters to it.
//   - only JSON merge patch (RFC 7386) and apply patches; JSON patch and strategic merge patch
//     get 415;
//   - no schema validation or defaulting beyond metadata.name; namespaces need not exist;
//   - LIST paging (limit/continue) pages over the current state, not a snapshot, and the
//     resourceVersion parameter of a LIST is ignored (every list is a consistent read);
//   - the garbage collector runs synchronously inside the DELETE (or only on
//     RunGarbageCollection() when synchronous_garbage_collection is off); Foreground and
//     Background propagation behave alike;
//   - the server's time is a fixed string (set with SetNow), never the clock.
//
// Thread-safety: everything is thread-safe: Send and Stream may run on many threads at once, and
// the test helpers may be called while they do. Watch handlers run without the lock held, so a
// handler may call back into the server.
#ifndef NINES_TESTS_TESTING_FAKE_API_SERVER_H_
#define NINES_TESTS_TESTING_FAKE_API_SERVER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "operator/kube/client.h"
#include "operator/kube/http_transport.h"

namespace nines::testing {

// The kinds nines touches besides those kube/client.h names.
kube::ResourceType PrometheusRuleResource();         // monitoring.coreos.com/v1
kube::ResourceType ServiceLevelObjectiveResource();  // nines.dev/v1alpha1
kube::ResourceType LeaseResource();                  // coordination.k8s.io/v1
kube::ResourceType GrafanaDashboardResource();       // grafana.integreatly.org/v1beta1

// How a watch from a resourceVersion older than the retained history fails.
enum class WatchExpiry {
  kErrorEvent,  // 200, then an ERROR event whose object is a Status with code 410 (the usual)
  kHttpStatus,  // HTTP 410 with a Status body before any event
};

struct FakeApiServerOptions {
  std::string now = "2026-01-01T00:00:00Z";  // creationTimestamp, deletionTimestamp, times
  // The manager of writes that name no fieldManager (the real server derives it from the
  // User-Agent, which is "nines" for the operator).
  std::string default_field_manager = "nines";
  WatchExpiry watch_expiry = WatchExpiry::kErrorEvent;
  bool synchronous_garbage_collection = true;
};

// Fails the next `times` requests that match with an HTTP error and a Status body.
struct InjectedError {
  std::string method;       // "GET", "PUT", ...; empty: any
  std::string verb;         // a RecordedRequest verb ("watch", "apply", ...); empty: any
  std::string path_prefix;  // compared with the start of path_and_query; empty: any
  int status = 500;
  std::string reason = "InternalError";
  std::string message = "injected error";
  std::string retry_after;  // the Retry-After header, e.g. "3"
  int times = 1;
};

// Fails the next `times` requests that match as the transport does when a connection drops.
struct InjectedTransportError {
  std::string method;
  std::string verb;
  std::string path_prefix;
  std::string message = "connection reset by peer (injected)";
  int times = 1;
};

struct RecordedRequest {
  std::string method;
  std::string path_and_query;
  std::string content_type;
  // get, list, watch, create, update, patch (merge), apply, delete; "unknown" for unparsed paths.
  std::string verb;
  std::string subresource;  // "status" or empty
  int status = 0;           // the HTTP status answered; 0 for a transport error
};

class FakeApiServer : public kube::HttpTransport {
 public:
  explicit FakeApiServer(FakeApiServerOptions options = {});
  ~FakeApiServer() override;
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // Serves `type` with objects of `kind`. Register every type before the first request. A custom
  // resource (a CRD) lists its items with apiVersion and kind (built-in lists leave them out);
  // custom resources and types with a status subresource track generation.
  void AddResourceType(const kube::ResourceType& type, std::string kind,
                       bool has_status_subresource, bool custom_resource = false);
  // ConfigMaps, events.k8s.io Events, Leases, PrometheusRules, GrafanaDashboards (status
  // subresource) and ServiceLevelObjectives (status subresource).
  void AddNinesResourceTypes();

  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override;
  Result<kube::HttpResponse> Stream(const kube::HttpRequest& request, const ChunkHandler& on_chunk,
                                    kube::Cancellation* cancel) override;

  // ---- Test helpers ----

  // Creates or replaces the object (as a direct write to storage: no manager, no conflicts),
  // assigning what the server assigns. Watchers see it. Returns the stored object.
  nlohmann::json Put(const kube::ResourceType& resource, nlohmann::json object);
  // A merge patch as `manager` would make it (a hand edit: kubectl edit, kubectl patch). Returns
  // the stored object, or the error the server would answer. Like Put, it is not in the request
  // log, so that "no write happened" assertions are about the code under test.
  Result<nlohmann::json> Edit(const kube::ResourceType& resource, std::string_view namespace_name,
                              std::string_view name, const nlohmann::json& merge_patch,
                              std::string_view manager = "kubectl-edit");
  std::optional<nlohmann::json> Object(const kube::ResourceType& resource,
                                       std::string_view namespace_name,
                                       std::string_view name) const;
  // The fields each manager owns, as "manager/operation[/subresource]" -> dotted field paths
  // ("metadata.labels.app", "spec.objective", "metadata.ownerReferences[uid-1]").
  std::map<std::string, std::set<std::string>> ManagedFields(const kube::ResourceType& resource,
                                                             std::string_view namespace_name,
                                                             std::string_view name) const;
  std::string ResourceVersion() const;
  void SetNow(std::string now);
  void SetWatchExpiry(WatchExpiry expiry);

  // Deletes dependents whose owners are all gone (needed only when synchronous garbage
  // collection is off).
  void RunGarbageCollection();

  // Watches: a BOOKMARK at the current resourceVersion to every open watch that allows them;
  // end every open watch (as the server does at its timeout); forget the event history, so a
  // watch from an older resourceVersion gets 410.
  void SendBookmarks();
  void CloseAllWatches();
  void CompactHistory();
  size_t OpenWatches() const;
  // Blocks until at least `count` watches are open, or `bound` passes; says which.
  bool WaitForOpenWatches(size_t count,
                          std::chrono::milliseconds bound = std::chrono::seconds(30)) const;

  // Faults.
  void InjectError(InjectedError error);
  void InjectTransportError(InjectedTransportError error);
  // Drops every injected error not yet used up: an outage that the test ends.
  void ClearInjectedErrors();

  // The request log.
  std::vector<RecordedRequest> Requests() const;
  int Count(std::string_view verb) const;  // requests with that verb
  // Writes asked for (create, update, patch, apply, delete), whether or not they changed
  // anything; with `subresource`, only those to it.
  int WriteRequests(std::string_view subresource = "") const;
  void ClearRequests();

  struct Outcome;  // a handler's answer (internal)

 private:
  struct TypeInfo;
  struct Route;
  struct StoredObject;
  struct Watcher;
  using ManagerKey = std::string;  // "manager/operation[/subresource]"
  using FieldPath = std::vector<std::string>;
  using Ownership = std::map<ManagerKey, std::set<FieldPath>>;
  using ObjectKey = std::pair<std::string, std::string>;  // namespace, name

  // Fills `route` from the request's path and query; false when no registered type serves it.
  bool ParseRoute(const kube::HttpRequest& request, Route* route) const;
  Outcome Handle(const kube::HttpRequest& request, const Route& route);
  static Outcome HandleGet(const Route& route);
  Outcome HandleList(const Route& route) const;
  Outcome HandleCreate(const Route& route, const nlohmann::json& body);
  Outcome HandleUpdate(const Route& route, const nlohmann::json& body);
  Outcome HandleMergePatch(const Route& route, const nlohmann::json& patch,
                           std::string_view manager);
  Outcome HandleApply(const Route& route, const nlohmann::json& body);
  Outcome HandleDelete(const Route& route, const nlohmann::json& options);

  // Writes `object` as the new state of (type, key) with `ownership` unless nothing changed;
  // returns the stored object. Bumps resourceVersion, generation; records and fans out the
  // event; removes the object when it is being deleted and has no finalizers left.
  // A `server_write` keeps the server-owned metadata it is given (uid, timestamps, generation)
  // instead of taking it from the stored object.
  nlohmann::json Commit(TypeInfo& type, const ObjectKey& key, nlohmann::json object,
                        Ownership ownership, bool server_write);
  void RemoveObject(TypeInfo& type, const ObjectKey& key);
  // Removes the object, or marks it with a deletionTimestamp while finalizers remain; returns its
  // last state.
  nlohmann::json DeleteObject(TypeInfo& type, const ObjectKey& key, const std::string& propagation);
  // Deletes the dependents of removed owners (of every owner that is gone with `everything`).
  void CollectGarbage(bool everything = false);
  void Publish(TypeInfo& type, const char* event_type, const nlohmann::json& object,
               const nlohmann::json* previous);
  int64_t NextResourceVersion();
  TypeInfo* FindType(const kube::ResourceType& type) const;
  std::optional<std::string> Inject(const kube::HttpRequest& request, const std::string& verb,
                                    kube::HttpResponse* response);

  const FakeApiServerOptions options_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;                        // watch queues, open watch count
  std::string now_;                                                // guarded by mu_
  WatchExpiry watch_expiry_;                                       // guarded by mu_
  std::map<std::string, std::unique_ptr<TypeInfo>> types_;         // by group/version/plural
  int64_t resource_version_ = 0;                                   // guarded by mu_
  int64_t compacted_through_ = 0;                                  // guarded by mu_
  int64_t uid_counter_ = 0;                                        // guarded by mu_
  std::vector<std::shared_ptr<Watcher>> watchers_;                 // guarded by mu_
  std::vector<InjectedError> injected_errors_;                     // guarded by mu_
  std::vector<InjectedTransportError> injected_transport_errors_;  // guarded by mu_
  std::vector<RecordedRequest> requests_;                          // guarded by mu_
  std::set<std::string> removed_uids_;  // removed since the last collection; guarded by mu_
};

}  // namespace nines::testing

#endif  // NINES_TESTS_TESTING_FAKE_API_SERVER_H_
