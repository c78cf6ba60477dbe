// The controller's queue of objects to reconcile, with the semantics of client-go's rate-limited
// workqueue. The queue holds keys ("namespace/name"), never objects: a worker reads the current
// object from the cache when it gets the key, so ten changes made while a key waited cost one
// reconcile of the latest state, not ten reconciles of stale ones.
//
// The guarantees the reconciler is built on:
//   - A key waits at most once: Add of a key that is already waiting does nothing.
//   - One worker per key: Get never hands out a key that a worker holds (between Get and Done).
//     An Add while it is held marks it, and Done puts it back once, however many Adds there were;
//     so a change that lands during a reconcile is always seen by a later reconcile.
//   - Delays do not hold workers: AddAfter and AddRateLimited park the key until it is due; a
//     parked key waits for its earliest due time only.
//
// How the controller uses it (one worker loop per thread):
//
//   while (std::optional<std::string> key = queue.Get()) {
//     Status status = reconciler.Reconcile(*key);
//     if (status.ok()) {
//       queue.Forget(*key);                   // success ends the backoff
//       queue.AddAfter(*key, resync_period);  // the objective's next visit
//     } else if (status.code() == StatusCode::kUnavailable ||
//                status.code() == StatusCode::kConflict) {
//       queue.AddRateLimited(*key);           // 100ms, 200ms, ... up to 5 minutes
//     } else {
//       queue.Forget(*key);                   // retrying the same input gives the same answer
//     }
//     queue.Done(*key);
//   }
//
// Watch events call Add. There is no global resync: each objective schedules its own next visit
// with AddAfter(key, resync_period) after each reconcile, so visits are spread over the period
// rather than bursting every N minutes, and a deleted objective simply is not rescheduled. An
// event between visits reconciles at once; the scheduled visit stays (earliest due wins) and costs
// one extra, idempotent reconcile at most.
//
// Thread-safety: every public method may be called from any thread. The queue must outlive every
// call to it: stop the workers (ShutDown, then join them) before destroying it.
#ifndef NINES_CONTROLLER_WORK_QUEUE_H_
#define NINES_CONTROLLER_WORK_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "operator/base/clock.h"

namespace nines::controller {

struct WorkQueueOptions {
  // Failure n (from 0) of a key waits base_delay * backoff_factor^n, at most max_delay. The
  // defaults retry a flapping API server quickly and a broken one every five minutes.
  Clock::Duration base_delay = std::chrono::milliseconds(100);
  double backoff_factor = 2.0;
  Clock::Duration max_delay = std::chrono::minutes(5);
  // Each backoff is drawn uniformly from [d * (1 - jitter), d * (1 + jitter)], never above
  // max_delay, so that keys that failed together (the API server went away) do not retry
  // together. 0 turns it off; values are clamped to [0, 1].
  double jitter = 0.1;
  // Seeds the jitter, for tests that need the same delays on every run; unset, the seed is random.
  std::optional<uint64_t> jitter_seed;
};

// Counters since the queue was built, for the operator's metrics.
struct WorkQueueStats {
  size_t depth = 0;      // keys waiting now (Len)
  uint64_t adds = 0;     // keys that started to wait (Adds of a waiting key do not count)
  uint64_t retries = 0;  // AddRateLimited calls
  uint64_t gets = 0;     // keys handed to a worker
  // From the first Add of a key (or its due time, when delayed) to the Get that handed it out.
  // total_wait / gets is the mean queue latency; longest_wait shows workers falling behind.
  Clock::Duration total_wait{};
  Clock::Duration longest_wait{};
};

class WorkQueue {
 public:
  // `clock` must outlive the queue.
  explicit WorkQueue(WorkQueueOptions options = {}, Clock* clock = RealClock());
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;
  ~WorkQueue();

  // Makes `key` wait for a worker, unless it already waits. Ignored after shutdown.
  void Add(const std::string& key);
  // Makes `key` wait after `delay`; if it is already parked, the earlier due time wins. A delay
  // of zero or less is Add.
  void AddAfter(const std::string& key, Clock::Duration delay);
  // AddAfter with the key's next backoff, and counts a failure of the key. Returns the delay
  // chosen, for a log line or an event ("retrying in 3.2s"); zero after shutdown.
  Clock::Duration AddRateLimited(const std::string& key);
  // Ends the backoff of `key`: its next AddRateLimited waits base_delay again. Does not remove the
  // key from the queue.
  void Forget(const std::string& key);
  // Failures counted since the last Forget.
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is due and no other worker holds it, and hands it to the caller, who must
  // call Done with it. nullopt once the queue is shut down, even if keys are waiting.
  std::optional<std::string> Get();
  // The worker is finished with `key`. If it was added meanwhile it waits again now.
  void Done(const std::string& key);

  // Keys waiting for a worker now: neither held by one nor parked until later.
  size_t Len() const;
  WorkQueueStats Stats() const;

  // Stops the queue: blocked and later Gets return nullopt, waiting and parked keys are dropped,
  // adds are ignored. Workers holding a key still call Done. Nothing is lost by dropping the keys:
  // whoever starts next (a new leader, a restarted pod) lists every object again.
  void ShutDown();
  // ShutDown, then blocks until every key handed out has been Done, so that a reconcile is not cut
  // off half-way through its writes when the process exits.
  void ShutDownWithDrain();
  bool ShuttingDown() const;

 private:
  using Lock = std::unique_lock<std::mutex>;

  void AddLocked(const std::string& key, Clock::TimePoint now);
  void AddAfterLocked(const std::string& key, Clock::TimePoint due);
  // Moves the parked keys due at `now` to the waiting line.
  void PromoteDueLocked(Clock::TimePoint now);
  Clock::Duration BackoffLocked(int failures);
  size_t LenLocked(Clock::TimePoint now) const;
  void ShutDownLocked();

  const WorkQueueOptions options_;
  Clock* const clock_;
  int jump_listener_id_ = 0;

  mutable std::mutex mu_;
  // Signalled when a key starts waiting, the time jumps, the queue shuts down, or a key is Done
  // (for ShutDownWithDrain).
  std::condition_variable cv_;
  bool shutting_down_ = false;
  // Keys that need a reconcile, with the time each started to wait. A key is in waiting_ and not in
  // processing_ exactly when it is in line_.
  std::unordered_map<std::string, Clock::TimePoint> waiting_;
  std::deque<std::string> line_;  // waiting keys no worker holds, first come first served
  std::unordered_set<std::string> processing_;  // handed out, not yet Done
  // Parked keys ordered by due time (a min-heap that can also move an entry earlier), and each
  // parked key's due time, so that a key is parked once.
  std::set<std::pair<Clock::TimePoint, std::string>> parked_;
  std::unordered_map<std::string, Clock::TimePoint> due_;
  std::unordered_map<std::string, int> failures_;
  std::mt19937_64 rng_;
  WorkQueueStats stats_;
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_WORK_QUEUE_H_
