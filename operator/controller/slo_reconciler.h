// Reconciles one ServiceLevelObjective: validates it, generates its PrometheusRule and dashboard
// (the same pure functions `nines generate` runs), applies them server-side as field manager
// `nines` with an owner reference to the objective, and writes the Ready condition. Level
// triggered: it reads the current state and acts on it, whatever event brought the key here.
//
// What it never does: change an object of the same name that the objective does not control
// (OwnershipConflict instead), write a status that did not change, or let an invalid objective
// stop the others (it is reported on itself, not returned as an error).
//
// Thread-safety: Reconcile may run on several threads at once for different keys; the work queue
// guarantees one at a time per key.
#ifndef NINES_CONTROLLER_SLO_RECONCILER_H_
#define NINES_CONTROLLER_SLO_RECONCILER_H_

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "operator/api/resource_parser.h"
#include "operator/base/status.h"
#include "operator/controller/event_recorder.h"
#include "operator/controller/own_writes.h"
#include "operator/kube/client.h"
#include "operator/slo/dashboard_generator.h"
#include "operator/slo/rule_generator.h"

namespace nines::controller {

inline constexpr char kFieldManager[] = "nines";
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kSloLabel[] = "nines.dev/slo";

// The kinds the operator reads and writes.
kube::ResourceType SloResource();
kube::ResourceType PrometheusRuleResource();
kube::ResourceType GrafanaDashboardResource();

struct ReconcilerOptions {
  api::ParseOptions parse;
  slo::GenerateOptions rules;
  slo::DashboardOptions dashboard;
  slo::DashboardObjectOptions dashboard_objects;
  // Names this operator in Events (reportingInstance), e.g. the pod's name.
  std::string instance = "nines";
  // Asked before every write: false once this replica has lost leadership, so that it stops
  // writing at once, even half-way through a reconcile.
  std::function<bool()> may_write = [] { return true; };
  // Wall-clock time for conditions and Events.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
  // Where every write's resourceVersion is remembered, so that the controller can tell the watch
  // events of our own writes from changes (none: nothing is remembered).
  OwnWrites* own_writes = nullptr;
  // The controller's caches of generated objects, when it has them: an object's metadata (with
  // its ownerReferences) as the watch last showed it, or nullopt when it is not cached. With them
  // and `own_writes`, a reconcile takes the ownership of objects that are ours from the cache and
  // applies only what changed: a revisit of an unchanged objective applies nothing. Absent: every
  // ownership is asked for and every object applied.
  std::function<std::optional<nlohmann::json>(
      const kube::ResourceType& type, const std::string& namespace_name, const std::string& name)>
      cached;
};

// What one reconcile did, for logs and metrics.
enum class ReconcileOutcome {
  kGone,               // the objective no longer exists: its objects go by garbage collection
  kApplied,            // valid, and its objects are as generated
  kInvalid,            // the spec is invalid: Ready=False, nothing applied
  kOwnershipConflict,  // a same-named object is not ours: Ready=False, nothing changed
};

const char* ReconcileOutcomeName(ReconcileOutcome outcome);

class SloReconciler {
 public:
  SloReconciler(kube::Client& client, ReconcilerOptions options);

  // Reconciles namespace/name. A non-OK Status is a failure worth retrying with backoff (the API
  // server unavailable, a conflict that persisted); the objective's own problems are outcomes.
  Result<ReconcileOutcome> Reconcile(const std::string& namespace_name, const std::string& name);

 private:
  struct Desired {
    kube::ResourceType type;
    std::string kind;
    nlohmann::json object;
    std::optional<nlohmann::json> cached;  // set when the cache shows it ours
  };

  // The Ready condition and, while the objective has no budget state yet, `state`; written only
  // when they changed, first onto `read` (the objective as this reconcile read it), re-read and
  // retried on a conflict.
  Status WriteReady(const nlohmann::json& read, bool ready, const std::string& reason,
                    const std::string& message, const char* state);
  // Whether a dashboard carrier of the kind not configured may still need removing: until it has
  // been looked for once for this objective (this uid). This process never creates that kind,
  // so one look per objective and process is enough.
  bool StaleCarrierChecked(const std::string& key, const std::string& uid);
  void SetStaleCarrierChecked(const std::string& key, const std::string& uid);

  kube::Client& client_;
  const ReconcilerOptions options_;
  EventRecorder events_;
  std::mutex checked_mu_;
  std::map<std::string, std::string> stale_carrier_checked_;  // key -> uid; guarded by checked_mu_
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_SLO_RECONCILER_H_
