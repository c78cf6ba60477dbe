// What the operator itself last wrote, by resourceVersion: every write comes back as a watch event
// (its echo), and an echo sent the objective through the reconciler again to find nothing to do,
// which doubled the requests of every objective applied. An event is an echo when the object's
// resourceVersion is exactly the one a write of ours returned: any other change to the object,
// by anyone, gives it another resourceVersion.
//
// A write's answer and its watch event race: an echo that arrives before the answer is not
// recognised, and costs one reconcile that finds nothing to do, as every echo did before.
//
// Thread-safety: thread-safe.
#ifndef NINES_CONTROLLER_OWN_WRITES_H_
#define NINES_CONTROLLER_OWN_WRITES_H_

#include <cstddef>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

namespace nines::controller {

class OwnWrites {
 public:
  // `objective` is "namespace/name"; `resource` the plural of what was written (the objective's
  // own, or a generated object's); `written` the object the server answered the write with.
  void Remember(const std::string& objective, const std::string& resource,
                const nlohmann::json& written);
  // Whether `object`, as a watch event carries it, is what our last write of it left.
  bool IsEcho(const std::string& objective, const std::string& resource,
              const nlohmann::json& object) const;
  // The objective is gone: forget it and what was generated for it.
  void Forget(const std::string& objective);
  size_t Objectives() const;

 private:
  mutable std::mutex mu_;
  // objective -> "resource/name" -> resourceVersion; guarded by mu_
  std::unordered_map<std::string, std::map<std::string, std::string>> writes_;
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_OWN_WRITES_H_
