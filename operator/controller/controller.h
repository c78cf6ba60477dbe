// The operator's control loop: informers on ServiceLevelObjectives and on the objects generated
// for them feed a work queue of "namespace/name" keys, and workers reconcile each key. A change to
// an objective, or a hand edit or deletion of one of its generated objects (they carry the
// `nines.dev/slo` label), brings the objective back through the reconciler, which restores them.
// Instead of a global resync, every objective is revisited on its own timer after a successful
// reconcile; failures are retried with per-key exponential backoff. Beside the workers, once the
// caches have synced, the status loop writes each objective's error budget from Prometheus.
//
// Thread-safety: Run blocks until Stop, which may be called from any thread (a signal handler's
// helper thread, say). The counters may be read from any thread.
#ifndef NINES_CONTROLLER_CONTROLLER_H_
#define NINES_CONTROLLER_CONTROLLER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "operator/controller/own_writes.h"
#include "operator/controller/slo_reconciler.h"
#include "operator/controller/status_loop.h"
#include "operator/controller/work_queue.h"
#include "operator/kube/client.h"
#include "operator/kube/informer.h"

namespace nines::controller {

struct ControllerOptions {
  ReconcilerOptions reconciler;
  std::vector<std::string> namespaces;  // empty: every namespace
  int workers = 2;
  std::chrono::milliseconds requeue_period{std::chrono::minutes(10)};
  WorkQueueOptions queue;
  // Called after every reconcile, for logs and metrics: key, outcome or error, duration.
  std::function<void(const std::string& key, const Result<ReconcileOutcome>& result,
                     std::chrono::nanoseconds took)>
      on_reconcile;
  // Where the status loop reads the objectives' series; none: no status loop, and objectives
  // stay Pending once Ready.
  prometheus::QueryClient* prometheus = nullptr;
  StatusLoopOptions status;
  std::function<void(const StatusCycle&)> on_status_cycle;
};

class Controller {
 public:
  Controller(kube::Client& client, ControllerOptions options);
  ~Controller();

  // Starts the informers and the workers, and blocks until Stop().
  void Run();
  void Stop();

  // Whether every objective informer has listed once: readiness.
  bool Synced() const;
  size_t QueueDepth() const { return queue_.Len(); }
  int64_t WatchRestarts() const;
  int64_t Relists() const;  // after 410 Gone
  // Watch events that were the echo of our own writes, and so sent nothing to the queue.
  int64_t EchoesSkipped() const { return echoes_skipped_.load(); }
  // Every objective in the informers' caches, as the API server last returned them, one at a
  // time (never all of them parsed at once).
  void ForEachObjective(const std::function<void(const nlohmann::json&)>& visit) const;
  // The objectives by status.state ("" when none yet), from a count kept as the watch goes: a
  // /metrics scrape reads no objective.
  std::map<std::string, int64_t> CountObjectivesByState() const;

 private:
  // An event of an objective's, or of an object generated for it, while it is being reconciled:
  // whether it was our own write can only be told once the reconcile has remembered its writes.
  struct HeldEvent {
    std::string resource;
    nlohmann::json metadata;  // name and resourceVersion
  };

  // `resource` is the plural of the informer's kind; `deleted` whether the event removed it.
  void Enqueue(const nlohmann::json& object, bool from_generated, const std::string& resource,
               bool deleted);
  // Marks the key in flight (a reconcile, or a status write); then, once the last flight of it
  // has ended and remembered its writes, whether an event held meanwhile was a change and the
  // key must come back.
  void BeginFlight(const std::string& key);
  bool EndFlight(const std::string& key);
  void RecordState(const nlohmann::json& object, bool deleted);
  void Work();
  // The reconciler's view of the caches (ReconcilerOptions::cached).
  std::optional<nlohmann::json> Cached(const kube::ResourceType& type,
                                       const std::string& namespace_name,
                                       const std::string& name) const;
  ControllerOptions WithHooks(ControllerOptions options);

  kube::Client& client_;
  OwnWrites own_writes_;  // before options_, which points at it
  std::atomic<int64_t> echoes_skipped_{0};
  struct Flight {
    int flights = 0;
    std::vector<HeldEvent> held;
  };
  std::mutex flight_mu_;
  // Keys being reconciled or written, with the events held for them; guarded by flight_mu_.
  std::unordered_map<std::string, Flight> in_flight_;
  mutable std::mutex states_mu_;
  std::unordered_map<std::string, std::string> states_;  // key -> status.state; by states_mu_
  ControllerOptions options_;
  SloReconciler reconciler_;
  WorkQueue queue_;
  std::vector<std::unique_ptr<kube::Informer>> slo_informers_;
  std::vector<std::unique_ptr<kube::Informer>> generated_informers_;
  // Every informer by the plural it watches and its namespace ("" for all); set in the
  // constructor, read only afterwards.
  struct Cache {
    std::string plural;
    std::string namespace_name;
    const kube::Informer* informer;
  };
  std::vector<Cache> caches_;
  std::unique_ptr<StatusLoop> status_loop_;
  std::atomic<bool> stopped_{false};
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_CONTROLLER_H_
