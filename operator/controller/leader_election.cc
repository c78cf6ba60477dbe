#include "operator/controller/leader_election.h"

#include "operator/controller/conditions.h"

namespace nines::controller {

kube::ResourceType LeaseResource() {
  return {"coordination.k8s.io", "v1", "leases", /*namespaced=*/true};
}

LeaderElector::LeaderElector(kube::Client& client, LeaderElectionOptions options)
    : client_(client), options_(std::move(options)) {}

bool LeaderElector::Step() {
  const Clock::TimePoint now = options_.clock->Now();
  const auto fail = [&] {
    // A leader that has not renewed for the renew deadline stops leading, which it does well
    // before the lease duration lets anyone else take over.
    if (leader_.load() && now - last_renewal_ >= options_.renew_deadline) leader_.store(false);
    return leader_.load();
  };
  const std::string wall = FormatMicroTime(options_.now());
  const int64_t duration = options_.lease_duration.count();

  Result<nlohmann::json> got = client_.Get(LeaseResource(), options_.namespace_name, options_.name);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return fail();
    nlohmann::json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.name}, {"namespace", options_.namespace_name}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", duration},
          {"acquireTime", wall},
          {"renewTime", wall},
          {"leaseTransitions", 0}}}};
    Result<nlohmann::json> created =
        client_.Create(LeaseResource(), options_.namespace_name, lease);
    if (!created.ok()) return fail();
    observed_version_ = (*created)["metadata"].value("resourceVersion", "");
    observed_holder_ = options_.identity;
    observed_at_ = now;
    last_renewal_ = now;
    leader_.store(true);
    return true;
  }

  nlohmann::json lease = std::move(*got);
  nlohmann::json spec = lease.value("spec", nlohmann::json::object());
  const std::string holder = spec.value("holderIdentity", "");
  const std::string version = lease["metadata"].value("resourceVersion", "");
  if (version != observed_version_) {
    observed_version_ = version;
    observed_holder_ = holder;
    observed_at_ = now;
  }
  if (!holder.empty() && holder != options_.identity) {
    const auto held_for = std::chrono::seconds(spec.value("leaseDurationSeconds", duration));
    if (now - observed_at_ < held_for) {
      leader_.store(false);  // somebody else holds it, and renews it
      return false;
    }
  }
  if (holder != options_.identity) {
    spec["acquireTime"] = wall;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = duration;
  spec["renewTime"] = wall;
  lease["spec"] = std::move(spec);
  // The resourceVersion in `lease` makes this a compare-and-swap: if another replica wrote the
  // Lease since the Get, the update fails with a conflict and nobody leads twice.
  Result<nlohmann::json> updated = client_.Update(LeaseResource(), options_.namespace_name, lease);
  if (!updated.ok()) return fail();
  observed_version_ = (*updated)["metadata"].value("resourceVersion", "");
  observed_holder_ = options_.identity;
  observed_at_ = now;
  last_renewal_ = now;
  leader_.store(true);
  return true;
}

void LeaderElector::Release() {
  if (!leader_.exchange(false)) return;
  Result<nlohmann::json> got = client_.Get(LeaseResource(), options_.namespace_name, options_.name);
  if (!got.ok()) return;
  nlohmann::json lease = std::move(*got);
  if (lease["spec"].value("holderIdentity", "") != options_.identity) return;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = FormatMicroTime(options_.now());
  (void)client_.Update(LeaseResource(), options_.namespace_name, lease);  // best effort
}

bool LeaderElector::Sleep() {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, options_.retry_period, [this] { return stopped_; });
  return !stopped_;
}

bool LeaderElector::WaitToLead() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return false;
    }
    if (Step()) return true;
    if (!Sleep()) return false;
  }
}

bool LeaderElector::KeepLeading() {
  while (true) {
    if (!Sleep()) return true;
    if (!Step()) return false;
  }
}

void LeaderElector::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  wake_.notify_all();
}

}  // namespace nines::controller
