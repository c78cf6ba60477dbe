// What the operator itself last wrote, by resourceVersion: every write comes back as a watch event
// (its echo), and an echo sent the objective through the reconciler again to find nothing to do,
// which doubled the requests of every objective applied. An event is an echo when the object's
// resourceVersion is exactly the one a write of ours returned: any other change to the object,
// by anyone, gives it another resourceVersion.
//
// The last few writes of each object are kept, not only the last: the reconciler's Ready and the
// status loop's budget may be written right after one another, and the first one's event may
// arrive after the second has been remembered. (The controller holds events that arrive while a
// write is still in flight; see Controller.)
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
#include <vector>

namespace nines::controller {

class OwnWrites {
 public:
  // `objective` is "namespace/name"; `resource` the plural of what was written (the objective's
  // own, or a generated object's); `written` the object the server answered the write with.
  void Remember(const std::string& objective, const std::string& resource,
                const nlohmann::json& written);
  // Whether `object`, as a watch event carries it, is what one of our last writes of it left.
  bool IsEcho(const std::string& objective, const std::string& resource,
              const nlohmann::json& object) const;
  // An apply of a generated object: `written` as the server answered, `fingerprint` a hash of the
  // object as rendered and sent. Also remembered as a write (IsEcho).
  void RememberApply(const std::string& objective, const std::string& resource,
                     const nlohmann::json& written, size_t fingerprint);
  // Whether applying what hashes to `fingerprint` would change nothing: our last apply of that
  // object sent the same, and `cached` (the object as the watch last showed it) still has the
  // resourceVersion that apply left, so nobody has changed it since. A revisit of an unchanged
  // objective then sends no request.
  bool AppliedUnchanged(const std::string& objective, const std::string& resource,
                        const nlohmann::json& cached, size_t fingerprint) const;
  // The objective is gone: forget it and what was generated for it.
  void Forget(const std::string& objective);
  size_t Objectives() const;

 private:
  mutable std::mutex mu_;
  static constexpr size_t kKept = 3;  // writes remembered per object
  // objective -> "resource/name" -> its last resourceVersions, oldest first; guarded by mu_
  std::unordered_map<std::string, std::map<std::string, std::vector<std::string>>> writes_;
  struct Applied {
    std::string resource_version;
    size_t fingerprint = 0;
  };
  // objective -> "resource/name" -> what our last apply of it sent and left; guarded by mu_
  std::unordered_map<std::string, std::map<std::string, Applied>> applied_;
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_OWN_WRITES_H_
