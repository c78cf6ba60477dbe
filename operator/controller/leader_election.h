// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the leader renews the
// Lease every retry period; a candidate takes it over only when the holder has not renewed it
// for a whole lease duration, measured on the candidate's own clock from when it last saw the
// Lease change (so clocks that disagree between nodes do not matter). A leader that cannot renew
// within the renew deadline stops leading at once, before anyone else may take over, so two
// operators never write at the same time. On a clean shutdown the leader releases the Lease and
// the next one takes over without waiting.
//
// Thread-safety: Step and Release belong to one thread (Run's); IsLeader may be read from any.
#ifndef NINES_CONTROLLER_LEADER_ELECTION_H_
#define NINES_CONTROLLER_LEADER_ELECTION_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "operator/base/clock.h"
#include "operator/kube/client.h"

namespace nines::controller {

kube::ResourceType LeaseResource();

struct LeaderElectionOptions {
  std::string namespace_name = "default";
  std::string name = "nines-operator";
  std::string identity;  // this replica, e.g. the pod name; must be unique
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
  Clock* clock = RealClock();
  // Wall-clock time written into the Lease (acquireTime, renewTime), for people reading it.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

class LeaderElector {
 public:
  LeaderElector(kube::Client& client, LeaderElectionOptions options);

  // One attempt to acquire or renew. Returns whether this replica leads afterwards. A leader
  // whose renewals have failed for renew_deadline stops leading here.
  bool Step();

  // Gives the Lease up (a clean shutdown): the next candidate need not wait for it to expire.
  void Release();

  bool IsLeader() const { return leader_.load(); }

  // Blocks until this replica leads (true) or Stop is called (false).
  bool WaitToLead();
  // Renews until leadership is lost (returns false) or Stop is called (returns true).
  bool KeepLeading();
  void Stop();

 private:
  // Sleeps one retry period unless stopped; false if stopped.
  bool Sleep();

  kube::Client& client_;
  const LeaderElectionOptions options_;
  std::atomic<bool> leader_{false};

  // What this replica last saw of the Lease, and when, on its own clock.
  std::string observed_holder_;
  std::string observed_version_;
  Clock::TimePoint observed_at_{};
  Clock::TimePoint last_renewal_{};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;  // guarded by mu_
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_LEADER_ELECTION_H_
