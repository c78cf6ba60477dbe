// Watch events and the parser that cuts them out of a watch response: newline-delimited JSON
// objects `{"type": "ADDED", "object": {...}}` that arrive in chunks split anywhere, even inside a
// UTF-8 sequence, so the parser keeps the unfinished line until its newline comes.
//
// Thread-safety: WatchEventParser is not thread-safe; one parser belongs to one stream. The
// functions are pure.
#ifndef NINES_KUBE_WATCH_EVENT_H_
#define NINES_KUBE_WATCH_EVENT_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "operator/base/status.h"

namespace nines::kube {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

// "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR".
const char* WatchEventTypeName(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  // The object; for kBookmark only apiVersion, kind and metadata.resourceVersion; for kError a
  // Kubernetes Status (code 410 when the resourceVersion is too old).
  nlohmann::json object;
};

class WatchEventParser {
 public:
  // Returns false to stop: Feed then returns OK without parsing the rest.
  using EventHandler = std::function<bool(WatchEvent event)>;

  explicit WatchEventParser(EventHandler on_event);

  // Parses every complete line in the data so far and hands each event to the handler, in order.
  // Blank lines are skipped. A line that is not a watch event (bad JSON, unknown type, no object)
  // gives InvalidArgument naming what was wrong; the parser is then unusable.
  Status Feed(std::string_view chunk);

  // Call when the stream has ended: a last line without its newline is parsed too.
  Status Finish();

  // Whether the handler asked to stop.
  bool stopped() const { return stopped_; }

 private:
  Status ParseLine(std::string_view line);

  EventHandler on_event_;
  std::string pending_;  // the unfinished last line
  bool stopped_ = false;
};

}  // namespace nines::kube

#endif  // NINES_KUBE_WATCH_EVENT_H_
