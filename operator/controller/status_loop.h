// The status loop: every interval it reads every objective's public series from Prometheus, with
// a fixed number of queries whatever the number of objectives, and writes each objective's SLI,
// error budget, burn rates, state and budget conditions where they changed beyond rounding, with
// an Event on every transition of BudgetExhausted, FastBurn and SlowBurn.
//
// It evaluates the objectives that the reconciler has made Ready for their current generation (an
// invalid or conflicting objective keeps the state the reconciler gave it). Prometheus down makes
// those objectives NoData with the reason, and the loop simply tries again next interval: rule
// reconciliation never waits for it.
//
// Thread-safety: RunOnce must not run on two threads at once; Run blocks until Stop, which may be
// called from any thread.
#ifndef NINES_CONTROLLER_STATUS_LOOP_H_
#define NINES_CONTROLLER_STATUS_LOOP_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "operator/api/resource_parser.h"
#include "operator/base/status.h"
#include "operator/controller/budget_status.h"
#include "operator/controller/event_recorder.h"
#include "operator/controller/own_writes.h"
#include "operator/kube/client.h"
#include "operator/prometheus/query_client.h"

namespace nines::controller {

struct StatusLoopOptions {
  std::chrono::milliseconds interval{std::chrono::minutes(1)};
  std::vector<std::string> namespaces;  // empty: every namespace
  api::ParseOptions parse;              // as the reconciler parses
  std::string instance = "nines";       // in Events
  std::function<bool()> may_write = [] { return true; };
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
  // Where every status write's resourceVersion is remembered (see own_writes.h); none: nowhere.
  OwnWrites* own_writes = nullptr;
  // Called around each status write of the objective "namespace/name", so that the controller
  // holds the write's watch event until the write is remembered (see Controller).
  std::function<void(const std::string& key)> begin_write;
  std::function<void(const std::string& key)> end_write;
};

// What one cycle did, for logs, metrics and benchmarks.
struct StatusCycle {
  int queries = 0;
  Status prometheus;                  // the first failed query's error, or OK
  std::vector<std::string> warnings;  // Prometheus's warnings (a partial response, say)
  int evaluated = 0;                  // objectives whose budget was computed
  int writes = 0;                     // status writes that succeeded
  int write_errors = 0;
  int conflicts = 0;  // writes retried after a 409
  int events = 0;
  std::map<std::string, int> states;  // every listed objective, by status.state ("" for none)
  std::chrono::nanoseconds took{0};
};

// Hands memory that malloc holds free back to the system (glibc's malloc_trim; nothing elsewhere).
// A cycle parses tens of MiB of answers at 10,000 objectives, on its own thread, and glibc keeps
// what a thread's arena freed: without this the operator stayed at its peak between cycles.
void ReleaseFreeMemory();

class StatusLoop {
 public:
  // Visits the objectives to evaluate, as the API server last returned them (an informer's
  // cache), one at a time.
  using ObjectiveVisitor = std::function<void(const nlohmann::json&)>;
  using ObjectiveLister = std::function<void(const ObjectiveVisitor&)>;

  StatusLoop(kube::Client& client, prometheus::QueryClient& prometheus, ObjectiveLister list,
             StatusLoopOptions options);

  // One cycle: query, compute, write what changed.
  StatusCycle RunOnce();

  // Runs a cycle at once and then every interval until Stop(); `on_cycle` sees each cycle.
  void Run(const std::function<void(const StatusCycle&)>& on_cycle);
  void Stop();

 private:
  // The checked spec of an objective, kept while its uid and generation stay the same: parsing
  // 10,000 objectives every minute would cost more than the rest of the cycle.
  struct CachedSpec {
    int64_t generation = 0;
    std::optional<api::SloSpec> spec;
  };
  const api::SloSpec* SpecOf(const nlohmann::json& slo, std::map<std::string, CachedSpec>& next);
  // Writes the merged status of `slo`; on a conflict re-reads it and merges again.
  Status Write(nlohmann::json slo, const BudgetStatus& budget, StatusCycle& cycle);
  Status WriteOnce(nlohmann::json slo, const BudgetStatus& budget, StatusCycle& cycle);

  kube::Client& client_;
  prometheus::QueryClient& prometheus_;
  const ObjectiveLister list_;
  const StatusLoopOptions options_;
  EventRecorder events_;
  std::map<std::string, CachedSpec> specs_;  // by uid; only RunOnce's thread touches it

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;  // guarded by mu_
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_STATUS_LOOP_H_
