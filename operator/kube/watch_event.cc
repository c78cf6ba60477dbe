#include "operator/kube/watch_event.h"

#include <optional>
#include <utility>

namespace nines::kube {
namespace {

std::optional<WatchEventType> ParseType(std::string_view text) {
  if (text == "ADDED") return WatchEventType::kAdded;
  if (text == "MODIFIED") return WatchEventType::kModified;
  if (text == "DELETED") return WatchEventType::kDeleted;
  if (text == "BOOKMARK") return WatchEventType::kBookmark;
  if (text == "ERROR") return WatchEventType::kError;
  return std::nullopt;
}

}  // namespace

const char* WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

WatchEventParser::WatchEventParser(EventHandler on_event) : on_event_(std::move(on_event)) {}

Status WatchEventParser::Feed(std::string_view chunk) {
  if (stopped_) return Status::Ok();
  // Lines end in the new chunk: parse them from pending_ + chunk without copying whole chunks
  // twice; only the unfinished tail is kept.
  size_t start = 0;
  while (!stopped_) {
    const size_t newline = chunk.find('\n', start);
    if (newline == std::string_view::npos) break;
    Status status;
    if (pending_.empty()) {
      status = ParseLine(chunk.substr(start, newline - start));
    } else {
      pending_.append(chunk.substr(start, newline - start));
      std::string line = std::move(pending_);
      pending_.clear();
      status = ParseLine(line);
    }
    if (!status.ok()) {
      stopped_ = true;
      return status;
    }
    start = newline + 1;
  }
  if (!stopped_) pending_.append(chunk.substr(start));
  return Status::Ok();
}

Status WatchEventParser::Finish() {
  if (stopped_ || pending_.empty()) return Status::Ok();
  std::string line = std::move(pending_);
  pending_.clear();
  return ParseLine(line);
}

Status WatchEventParser::ParseLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return Status::Ok();
  nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgumentError("watch stream: a line is not a JSON object");
  }
  auto type_it = parsed.find("type");
  if (type_it == parsed.end() || !type_it->is_string()) {
    return InvalidArgumentError("watch stream: an event has no \"type\"");
  }
  const std::optional<WatchEventType> type = ParseType(type_it->get_ref<const std::string&>());
  if (!type) {
    return InvalidArgumentError("watch stream: unknown event type \"" +
                                type_it->get<std::string>() + "\"");
  }
  auto object_it = parsed.find("object");
  if (object_it == parsed.end() || !object_it->is_object()) {
    return InvalidArgumentError(std::string("watch stream: an event of type ") +
                                WatchEventTypeName(*type) + " has no \"object\"");
  }
  WatchEvent event{*type, std::move(*object_it)};
  if (!on_event_(std::move(event))) stopped_ = true;
  return Status::Ok();
}

}  // namespace nines::kube
