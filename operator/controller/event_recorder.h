// Kubernetes Events (events.k8s.io/v1) about a ServiceLevelObjective, as `kubectl describe slo` and
// `kubectl get events` show them: invalid specs, ownership conflicts and burn transitions. The
// reconciler and the status loop both record through one EventRecorder.
//
// Thread-safety: Record may be called from many threads at once.
#ifndef NINES_CONTROLLER_EVENT_RECORDER_H_
#define NINES_CONTROLLER_EVENT_RECORDER_H_

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "operator/kube/client.h"

namespace nines::controller {

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string instance = "nines";  // reportingInstance, e.g. the pod's name
  std::string action = "Reconcile";
  std::function<bool()> may_write = [] { return true; };
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

class EventRecorder {
 public:
  EventRecorder(kube::Client& client, EventRecorderOptions options);

  // Records an Event regarding `slo` (the object as the API server returned it). Best effort: an
  // Event that cannot be written is dropped, because losing one must not fail the work that it
  // describes. Nothing is written once may_write() is false.
  void Record(const nlohmann::json& slo, EventType type, const std::string& reason,
              const std::string& note);

 private:
  kube::Client& client_;
  const EventRecorderOptions options_;
};

}  // namespace nines::controller

#endif  // NINES_CONTROLLER_EVENT_RECORDER_H_
