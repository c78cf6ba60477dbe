#include "operator/controller/event_recorder.h"

#include <atomic>
#include <cstdint>
#include <cstdio>

#include "operator/api/slo_spec.h"
#include "operator/controller/conditions.h"

namespace nines::controller {
namespace {

// An Event's note is at most 1 KiB (the API server's limit).
constexpr size_t kMaxNoteLength = 1024;

}  // namespace

EventRecorder::EventRecorder(kube::Client& client, EventRecorderOptions options)
    : client_(client), options_(std::move(options)) {}

void EventRecorder::Record(const nlohmann::json& slo, EventType type, const std::string& reason,
                           const std::string& note) {
  if (!options_.may_write()) return;
  const auto now = options_.now();
  // Named as client-go names them, name.<hex nanoseconds>; the counter keeps two Events of one
  // instant (or of a frozen test clock) apart.
  static std::atomic<uint64_t> sequence{0};
  const auto nanos =
      static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()) +
      sequence.fetch_add(1);
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), ".%llx", static_cast<unsigned long long>(nanos));
  const nlohmann::json metadata = slo.value("metadata", nlohmann::json::object());
  const std::string ns = metadata.value("namespace", "");
  std::string text = note;
  if (text.size() > kMaxNoteLength) {
    text.resize(kMaxNoteLength - 3);
    text += "...";
  }
  nlohmann::json event = {
      {"apiVersion", "events.k8s.io/v1"},
      {"kind", "Event"},
      {"metadata", {{"name", metadata.value("name", "") + suffix}, {"namespace", ns}}},
      {"eventTime", FormatMicroTime(now)},
      {"reportingController", "nines.dev/operator"},
      {"reportingInstance", options_.instance},
      {"action", options_.action},
      {"reason", reason},
      {"note", text},
      {"type", type == EventType::kWarning ? "Warning" : "Normal"},
      {"regarding",
       {{"apiVersion", api::kApiVersion},
        {"kind", api::kKind},
        {"name", metadata.value("name", "")},
        {"namespace", ns},
        {"uid", metadata.value("uid", "")}}}};
  (void)client_.CreateEvent(ns, event);
}

}  // namespace nines::controller
