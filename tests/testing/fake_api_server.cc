#include "tests/testing/fake_api_server.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <deque>
#include <utility>

#include "operator/kube/api_error.h"

namespace nines::testing {
namespace {

using nlohmann::json;
using FieldPath = std::vector<std::string>;
using FieldMap = std::map<FieldPath, json>;

constexpr std::string_view kApplyPatch = "application/apply-patch+yaml";
constexpr std::string_view kMergePatch = "application/merge-patch+json";
constexpr const char* kOwnerRefPrefix = "k:";
constexpr const char* kFinalizerPrefix = "v:";

// ---- Small parsing helpers ----

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else if (text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::string MediaType(std::string_view content_type) {
  return std::string(Trim(content_type.substr(0, content_type.find(';'))));
}

const json& Metadata(const json& object) {
  static const json kEmpty = json::object();
  if (!object.is_object()) return kEmpty;
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

std::string MetaString(const json& object, const char* key) {
  const json& metadata = Metadata(object);
  auto it = metadata.find(key);
  return it != metadata.end() && it->is_string() ? it->get<std::string>() : "";
}

// ---- Selectors ----

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kExists, kNotExists, kIn, kNotIn };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;
};

struct FieldRequirement {
  std::string field;  // metadata.name or metadata.namespace
  bool equals = true;
  std::string value;
};

// Splits on commas outside parentheses.
std::vector<std::string_view> SplitRequirements(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      parts.push_back(Trim(text.substr(start, i - start)));
      start = i + 1;
    } else if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    }
  }
  return parts;
}

std::optional<std::vector<LabelRequirement>> ParseLabelSelector(std::string_view text) {
  std::vector<LabelRequirement> requirements;
  if (Trim(text).empty()) return requirements;
  for (std::string_view part : SplitRequirements(text)) {
    if (part.empty()) return std::nullopt;
    LabelRequirement requirement;
    size_t at = 0;
    if (part.front() == '!') {
      requirement.op = LabelRequirement::Op::kNotExists;
      requirement.key = Trim(part.substr(1));
    } else if ((at = part.find("!=")) != std::string_view::npos) {
      requirement.op = LabelRequirement::Op::kNotEquals;
      requirement.key = Trim(part.substr(0, at));
      requirement.values.emplace_back(Trim(part.substr(at + 2)));
    } else if ((at = part.find("==")) != std::string_view::npos) {
      requirement.op = LabelRequirement::Op::kEquals;
      requirement.key = Trim(part.substr(0, at));
      requirement.values.emplace_back(Trim(part.substr(at + 2)));
    } else if ((at = part.find('=')) != std::string_view::npos) {
      requirement.op = LabelRequirement::Op::kEquals;
      requirement.key = Trim(part.substr(0, at));
      requirement.values.emplace_back(Trim(part.substr(at + 1)));
    } else if (const size_t open = part.find('('); open != std::string_view::npos) {
      if (part.back() != ')') return std::nullopt;
      const std::string_view head = Trim(part.substr(0, open));
      const size_t space = head.rfind(' ');
      if (space == std::string_view::npos) return std::nullopt;
      const std::string_view op = head.substr(space + 1);
      if (op == "in") {
        requirement.op = LabelRequirement::Op::kIn;
      } else if (op == "notin") {
        requirement.op = LabelRequirement::Op::kNotIn;
      } else {
        return std::nullopt;
      }
      requirement.key = Trim(head.substr(0, space));
      for (std::string_view value : Split(part.substr(open + 1, part.size() - open - 2), ',')) {
        requirement.values.emplace_back(Trim(value));
      }
    } else {
      requirement.key = part;
    }
    if (requirement.key.empty() || requirement.key.find(' ') != std::string::npos) {
      return std::nullopt;
    }
    requirements.push_back(std::move(requirement));
  }
  if (requirements.empty()) return std::nullopt;
  return requirements;
}

bool MatchesLabels(const std::vector<LabelRequirement>& requirements, const json& object) {
  const json& metadata = Metadata(object);
  auto labels_it = metadata.find("labels");
  const json labels =
      labels_it != metadata.end() && labels_it->is_object() ? *labels_it : json::object();
  for (const LabelRequirement& requirement : requirements) {
    auto it = labels.find(requirement.key);
    const bool present = it != labels.end() && it->is_string();
    const std::string value = present ? it->get<std::string>() : "";
    const bool listed = std::find(requirement.values.begin(), requirement.values.end(), value) !=
                        requirement.values.end();
    bool ok = true;
    switch (requirement.op) {
      case LabelRequirement::Op::kEquals:
      case LabelRequirement::Op::kIn:
        ok = present && listed;
        break;
      case LabelRequirement::Op::kNotEquals:
      case LabelRequirement::Op::kNotIn:
        ok = !present || !listed;
        break;
      case LabelRequirement::Op::kExists:
        ok = present;
        break;
      case LabelRequirement::Op::kNotExists:
        ok = !present;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

// Only metadata.name and metadata.namespace, as for custom resources.
std::optional<std::vector<FieldRequirement>> ParseFieldSelector(std::string_view text,
                                                                std::string* unsupported) {
  std::vector<FieldRequirement> requirements;
  if (Trim(text).empty()) return requirements;
  for (std::string_view part : Split(text, ',')) {
    FieldRequirement requirement;
    size_t at = part.find("!=");
    size_t skip = 2;
    if (at != std::string_view::npos) {
      requirement.equals = false;
    } else if ((at = part.find("==")) == std::string_view::npos) {
      at = part.find('=');
      skip = 1;
    }
    if (at == std::string_view::npos) return std::nullopt;
    requirement.field = Trim(part.substr(0, at));
    requirement.value = Trim(part.substr(at + skip));
    if (requirement.field != "metadata.name" && requirement.field != "metadata.namespace") {
      *unsupported = requirement.field;
      return std::nullopt;
    }
    requirements.push_back(std::move(requirement));
  }
  return requirements;
}

bool MatchesFields(const std::vector<FieldRequirement>& requirements, const json& object) {
  return std::all_of(
      requirements.begin(), requirements.end(), [&](const FieldRequirement& requirement) {
        const std::string actual =
            MetaString(object, requirement.field == "metadata.name" ? "name" : "namespace");
        return (actual == requirement.value) == requirement.equals;
      });
}

// ---- Fields, for server-side apply ----

enum class Scope { kMain, kStatus, kAll };

// The fields of `object` at the granularity the header describes, with their values.
FieldMap Extract(const json& object, Scope scope, bool status_subresource) {
  FieldMap fields;
  if (!object.is_object()) return fields;
  if (scope != Scope::kStatus) {
    const json& metadata = Metadata(object);
    for (const char* map : {"labels", "annotations"}) {
      auto it = metadata.find(map);
      if (it == metadata.end() || !it->is_object()) continue;
      for (const auto& [key, value] : it->items()) fields[{"metadata", map, key}] = value;
    }
    if (auto it = metadata.find("ownerReferences"); it != metadata.end() && it->is_array()) {
      for (const json& reference : *it) {
        if (!reference.is_object() || !reference.contains("uid")) continue;
        const std::string uid = reference["uid"].is_string() ? reference["uid"].get<std::string>()
                                                             : reference["uid"].dump();
        fields[{"metadata", "ownerReferences", kOwnerRefPrefix + uid}] = reference;
      }
    }
    if (auto it = metadata.find("finalizers"); it != metadata.end() && it->is_array()) {
      for (const json& finalizer : *it) {
        if (finalizer.is_string()) {
          fields[{"metadata", "finalizers", kFinalizerPrefix + finalizer.get<std::string>()}] =
              finalizer;
        }
      }
    }
  }
  for (const auto& [key, value] : object.items()) {
    if (key == "apiVersion" || key == "kind" || key == "metadata") continue;
    const bool is_status = key == "status";
    const bool include = scope == Scope::kAll ||
                         (scope == Scope::kStatus ? is_status : !(is_status && status_subresource));
    if (!include) continue;
    if (value.is_object()) {
      for (const auto& [sub, sub_value] : value.items()) fields[{key, sub}] = sub_value;
    } else {
      fields[{key}] = value;
    }
  }
  return fields;
}

bool IsOwnerRef(const FieldPath& path) {
  return path.size() == 3 && path[0] == "metadata" && path[1] == "ownerReferences";
}
bool IsFinalizer(const FieldPath& path) {
  return path.size() == 3 && path[0] == "metadata" && path[1] == "finalizers";
}

void SetField(json& object, const FieldPath& path, const json& value) {
  if (IsOwnerRef(path) || IsFinalizer(path)) {
    json& list = object["metadata"][path[1]];
    if (!list.is_array()) list = json::array();
    if (IsFinalizer(path)) {
      if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
      return;
    }
    for (json& reference : list) {
      if (reference.is_object() && reference.value("uid", "") == value.value("uid", "")) {
        reference = value;
        return;
      }
    }
    list.push_back(value);
    return;
  }
  json* node = &object;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    json& child = (*node)[path[i]];
    if (!child.is_object()) child = json::object();
    node = &child;
  }
  (*node)[path.back()] = value;
}

// Removes the field, and the map or list that it leaves empty (never metadata itself).
void RemoveField(json& object, const FieldPath& path) {
  if (IsOwnerRef(path) || IsFinalizer(path)) {
    json& metadata = object["metadata"];
    auto it = metadata.find(path[1]);
    if (it == metadata.end() || !it->is_array()) return;
    const std::string key = path[2].substr(2);
    json kept = json::array();
    for (const json& item : *it) {
      const bool match =
          IsFinalizer(path) ? item == key : item.is_object() && item.value("uid", "") == key;
      if (!match) kept.push_back(item);
    }
    if (kept.empty()) {
      metadata.erase(path[1]);
    } else {
      *it = std::move(kept);
    }
    return;
  }
  std::vector<json*> chain{&object};
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    json* node = chain.back();
    auto it = node->find(path[i]);
    if (it == node->end() || !it->is_object()) return;
    chain.push_back(&*it);
  }
  chain.back()->erase(path.back());
  for (size_t i = chain.size() - 1; i >= 1; --i) {
    if (!chain[i]->empty() || path[i - 1] == "metadata") break;
    chain[i - 1]->erase(path[i - 1]);
  }
}

std::string FieldName(const FieldPath& path) {
  std::string name;
  for (const std::string& segment : path) {
    if (segment.rfind(kOwnerRefPrefix, 0) == 0 && path.size() == 3) {
      name += "[" + segment.substr(2) + "]";
      continue;
    }
    if (segment.rfind(kFinalizerPrefix, 0) == 0 && path.size() == 3) {
      name += "[" + segment.substr(2) + "]";
      continue;
    }
    if (!name.empty()) name += '.';
    name += segment;
  }
  return name;
}

// The FieldsV1 form: {"f:metadata": {"f:labels": {"f:app": {}}}}.
json FieldsV1(const std::set<FieldPath>& paths) {
  json fields = json::object();
  for (const FieldPath& path : paths) {
    json* node = &fields;
    for (const std::string& segment : path) {
      std::string key;
      if (IsOwnerRef(path) && &segment == &path.back()) {
        key = "k:" + json{{"uid", segment.substr(2)}}.dump();
      } else if (IsFinalizer(path) && &segment == &path.back()) {
        key = "v:" + json(segment.substr(2)).dump();
      } else {
        key = "f:" + segment;
      }
      json& child = (*node)[key];
      if (!child.is_object()) child = json::object();
      node = &child;
    }
  }
  return fields;
}

// "manager/operation[/subresource]".
std::string ManagerKeyOf(std::string_view manager, std::string_view operation,
                         std::string_view subresource) {
  std::string key = std::string(manager) + "/" + std::string(operation);
  if (!subresource.empty()) key += "/" + std::string(subresource);
  return key;
}

// "manager/operation[/subresource]" -> its parts.
std::vector<std::string_view> SplitManagerKey(std::string_view key) {
  std::vector<std::string_view> parts = Split(key, '/');
  if (parts.size() > 3) parts.resize(3);
  return parts;
}

// The part that generation tracks: everything but metadata (and status with a subresource).
json SpecOf(const json& object, bool status_subresource) {
  json spec = object;
  spec.erase("metadata");
  if (status_subresource) spec.erase("status");
  return spec;
}

json KubeStatus(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
          {"status", "Failure"}, {"message", message}, {"reason", reason},
          {"code", code}};
}

}  // namespace

kube::ResourceType PrometheusRuleResource() {
  return {"monitoring.coreos.com", "v1", "prometheusrules", /*namespaced=*/true};
}
kube::ResourceType ServiceLevelObjectiveResource() {
  return {"nines.dev", "v1alpha1", "servicelevelobjectives", /*namespaced=*/true};
}
kube::ResourceType LeaseResource() {
  return {"coordination.k8s.io", "v1", "leases", /*namespaced=*/true};
}
kube::ResourceType GrafanaDashboardResource() {
  return {"grafana.integreatly.org", "v1beta1", "grafanadashboards", /*namespaced=*/true};
}

// ---- Internal types ----

// NOLINTNEXTLINE(bugprone-exception-escape): json's members are analysed as throwing; they do not.
struct FakeApiServer::StoredObject {
  json object;
  Ownership ownership;
};

namespace {

struct HistoryEvent {
  int64_t resource_version = 0;
  const char* type = "";
  json object;
  json previous;  // null for ADDED
};

}  // namespace

struct FakeApiServer::TypeInfo {
  kube::ResourceType type;
  std::string kind;
  std::string api_version;
  bool status_subresource = false;
  bool custom = false;
  std::map<ObjectKey, StoredObject> objects;
  std::vector<HistoryEvent> history;

  bool tracks_generation() const { return custom || status_subresource; }
  // "configmaps", "servicelevelobjectives.nines.dev": how the server names the resource.
  std::string resource() const {
    return type.group.empty() ? type.plural : type.plural + "." + type.group;
  }
};

struct FakeApiServer::Route {
  TypeInfo* type = nullptr;
  std::string namespace_name;
  std::string name;
  std::string subresource;
  std::map<std::string, std::string> query;
  std::string verb;

  std::string Param(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? "" : it->second;
  }
  ObjectKey key() const { return {type->type.namespaced ? namespace_name : "", name}; }
};

struct FakeApiServer::Watcher {
  TypeInfo* type = nullptr;
  std::string namespace_name;
  std::vector<LabelRequirement> labels;
  std::vector<FieldRequirement> fields;
  bool bookmarks = false;
  std::deque<std::string> lines;  // guarded by the server's mu_
  bool closed = false;            // guarded by the server's mu_
  std::atomic<bool> cancelled{false};

  bool Matches(const json& object) const {
    if (!namespace_name.empty() && MetaString(object, "namespace") != namespace_name) return false;
    return MatchesLabels(labels, object) && MatchesFields(fields, object);
  }

  // The event as this watcher sees it: an object that leaves its selection is DELETED, one that
  // enters it ADDED.
  void Offer(const HistoryEvent& event) {
    const bool now = Matches(event.object);
    const char* type = nullptr;
    if (std::string_view(event.type) == "MODIFIED") {
      const bool before = !event.previous.is_null() && Matches(event.previous);
      if (before && now) type = "MODIFIED";
      if (!before && now) type = "ADDED";
      if (before && !now) type = "DELETED";
    } else if (now) {
      type = event.type;
    }
    if (type != nullptr)
      lines.push_back(json{{"type", type}, {"object", event.object}}.dump() + "\n");
  }
};

struct FakeApiServer::Outcome {
  int status = 200;
  json body;
  std::string retry_after;
};

namespace {

using Outcome = FakeApiServer::Outcome;

}  // namespace

// ---- Construction and registration ----

FakeApiServer::FakeApiServer(FakeApiServerOptions options)
    : options_(std::move(options)), now_(options_.now), watch_expiry_(options_.watch_expiry) {}

FakeApiServer::~FakeApiServer() = default;

void FakeApiServer::AddResourceType(const kube::ResourceType& type, std::string kind,
                                    bool has_status_subresource, bool custom_resource) {
  auto info = std::make_unique<TypeInfo>();
  info->type = type;
  info->kind = std::move(kind);
  info->api_version = type.group.empty() ? type.version : type.group + "/" + type.version;
  info->status_subresource = has_status_subresource;
  info->custom = custom_resource;
  const std::lock_guard<std::mutex> lock(mu_);
  types_[type.group + "/" + type.version + "/" + type.plural] = std::move(info);
}

void FakeApiServer::AddNinesResourceTypes() {
  AddResourceType(kube::ConfigMapResource(), "ConfigMap", false);
  AddResourceType(kube::EventResource(), "Event", false);
  AddResourceType(LeaseResource(), "Lease", false);
  AddResourceType(PrometheusRuleResource(), "PrometheusRule", false, /*custom_resource=*/true);
  AddResourceType(GrafanaDashboardResource(), "GrafanaDashboard", true, /*custom_resource=*/true);
  AddResourceType(ServiceLevelObjectiveResource(), "ServiceLevelObjective", true,
                  /*custom_resource=*/true);
}

FakeApiServer::TypeInfo* FakeApiServer::FindType(const kube::ResourceType& type) const {
  auto it = types_.find(type.group + "/" + type.version + "/" + type.plural);
  return it == types_.end() ? nullptr : it->second.get();
}

// ---- Routing ----

namespace {

std::string VerbOf(const kube::HttpRequest& request, bool has_name,
                   const std::map<std::string, std::string>& query) {
  if (request.method == "GET") {
    if (has_name) return "get";
    auto watch = query.find("watch");
    return watch != query.end() && (watch->second == "1" || watch->second == "true") ? "watch"
                                                                                     : "list";
  }
  if (request.method == "POST") return "create";
  if (request.method == "PUT") return "update";
  if (request.method == "PATCH") {
    return MediaType(request.content_type) == kApplyPatch ? "apply" : "patch";
  }
  if (request.method == "DELETE") return "delete";
  return "unknown";
}

bool IsWrite(std::string_view verb) {
  return verb == "create" || verb == "update" || verb == "patch" || verb == "apply" ||
         verb == "delete";
}

Outcome ErrorOutcome(int code, const std::string& reason, const std::string& message) {
  return {code, KubeStatus(code, reason, message), ""};
}

Outcome NotFoundPath() {
  return ErrorOutcome(404, "NotFound", "the server could not find the requested resource");
}

kube::HttpResponse ToResponse(const Outcome& outcome) {
  return {.status = outcome.status,
          .content_type = "application/json",
          .retry_after = outcome.retry_after,
          .body = outcome.body.dump()};
}

}  // namespace

// ---- Request handling ----

bool FakeApiServer::ParseRoute(const kube::HttpRequest& request, Route* route) const {
  const std::string_view whole = request.path_and_query;
  const size_t question = whole.find('?');
  const std::string_view path = whole.substr(0, question);
  if (question != std::string_view::npos) {
    for (std::string_view pair : Split(whole.substr(question + 1), '&')) {
      if (pair.empty()) continue;
      const size_t equals = pair.find('=');
      route->query[PercentDecode(pair.substr(0, equals))] =
          equals == std::string_view::npos ? "" : PercentDecode(pair.substr(equals + 1));
    }
  }
  std::vector<std::string> segments;
  for (std::string_view segment : Split(path, '/')) {
    if (!segment.empty()) segments.push_back(PercentDecode(segment));
  }
  kube::ResourceType wanted;
  std::vector<std::string> tail;
  if (segments.size() >= 3 && segments[0] == "api") {
    wanted.version = segments[1];
    tail.assign(segments.begin() + 2, segments.end());
  } else if (segments.size() >= 4 && segments[0] == "apis") {
    wanted.group = segments[1];
    wanted.version = segments[2];
    tail.assign(segments.begin() + 3, segments.end());
  } else {
    return false;
  }
  if (tail.size() >= 3 && tail[0] == "namespaces") {
    wanted.plural = tail[2];
    if (TypeInfo* type = FindType(wanted); type != nullptr && type->type.namespaced) {
      route->type = type;
      route->namespace_name = tail[1];
      tail.erase(tail.begin(), tail.begin() + 3);
    }
  }
  if (route->type == nullptr) {
    wanted.plural = tail[0];
    route->type = FindType(wanted);
    tail.erase(tail.begin());
    // A namespaced type's object is only addressed within its namespace.
    if (route->type == nullptr || (route->type->type.namespaced && !tail.empty())) {
      route->type = nullptr;
      return false;
    }
  }
  if (!tail.empty()) route->name = tail[0];
  if (tail.size() >= 2) route->subresource = tail[1];
  if (tail.size() > 2 || (!route->subresource.empty() &&
                          (route->subresource != "status" || !route->type->status_subresource))) {
    route->type = nullptr;
    return false;
  }
  route->verb = VerbOf(request, !route->name.empty(), route->query);
  return true;
}

Result<kube::HttpResponse> FakeApiServer::Send(const kube::HttpRequest& request) {
  const std::lock_guard<std::mutex> lock(mu_);
  RecordedRequest record{
      request.method, request.path_and_query, request.content_type, "unknown", "", 0};

  Route route;
  if (ParseRoute(request, &route)) {
    record.verb = route.verb;
    record.subresource = route.subresource;
  }

  kube::HttpResponse injected;
  if (auto failure = Inject(request, record.verb, &injected)) {
    requests_.push_back(record);
    return UnavailableError(*failure);
  }
  if (injected.status != 0) {
    record.status = injected.status;
    requests_.push_back(record);
    return injected;
  }

  Outcome outcome = route.type == nullptr ? NotFoundPath() : Handle(request, route);
  if (route.type != nullptr && IsWrite(route.verb) && options_.synchronous_garbage_collection) {
    CollectGarbage();
  }
  record.status = outcome.status;
  requests_.push_back(record);
  return ToResponse(outcome);
}

std::optional<std::string> FakeApiServer::Inject(const kube::HttpRequest& request,
                                                 const std::string& verb,
                                                 kube::HttpResponse* response) {
  auto matches = [&](const std::string& method, const std::string& wanted_verb,
                     const std::string& prefix) {
    return (method.empty() || method == request.method) &&
           (wanted_verb.empty() || wanted_verb == verb) &&
           request.path_and_query.rfind(prefix, 0) == 0;
  };
  for (auto it = injected_transport_errors_.begin(); it != injected_transport_errors_.end(); ++it) {
    if (!matches(it->method, it->verb, it->path_prefix)) continue;
    std::string message = it->message;
    if (--it->times <= 0) injected_transport_errors_.erase(it);
    return message;
  }
  for (auto it = injected_errors_.begin(); it != injected_errors_.end(); ++it) {
    if (!matches(it->method, it->verb, it->path_prefix)) continue;
    *response =
        ToResponse({it->status, KubeStatus(it->status, it->reason, it->message), it->retry_after});
    if (--it->times <= 0) injected_errors_.erase(it);
    return std::nullopt;
  }
  return std::nullopt;
}

FakeApiServer::Outcome FakeApiServer::Handle(const kube::HttpRequest& request, const Route& route) {
  const std::string& verb = route.verb;
  if (verb == "get") return HandleGet(route);
  if (verb == "list") return HandleList(route);
  if (verb == "watch") {
    return ErrorOutcome(400, "BadRequest", "a watch must be streamed");
  }
  json body;
  if (!request.body.empty()) {
    body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      return ErrorOutcome(400, "BadRequest", "the body of the request could not be decoded");
    }
  }
  if (verb == "create") {
    if (!route.name.empty()) return ErrorOutcome(405, "MethodNotAllowed", "POST to an object");
    return HandleCreate(route, body);
  }
  if (route.name.empty()) {
    return ErrorOutcome(405, "MethodNotAllowed",
                        "the server does not allow this method on the requested resource");
  }
  if (verb == "update") return HandleUpdate(route, body);
  if (verb == "apply") return HandleApply(route, body);
  if (verb == "patch") {
    if (MediaType(request.content_type) != kMergePatch) {
      return ErrorOutcome(415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - accepted media "
                          "types include: application/merge-patch+json, "
                          "application/apply-patch+yaml");
    }
    const std::string manager = route.Param("fieldManager");
    return HandleMergePatch(route, body,
                            manager.empty() ? options_.default_field_manager : manager);
  }
  if (verb == "delete") {
    if (!route.subresource.empty()) {
      return ErrorOutcome(405, "MethodNotAllowed", "DELETE of a subresource");
    }
    return HandleDelete(route, body);
  }
  return ErrorOutcome(405, "MethodNotAllowed",
                      "the server does not allow this method on the requested resource");
}

namespace {

Outcome NotFound(const std::string& resource, const std::string& name) {
  return ErrorOutcome(404, "NotFound", resource + " \"" + name + "\" not found");
}

Outcome StaleConflict(const std::string& resource, const std::string& name) {
  return ErrorOutcome(409, "Conflict",
                      "Operation cannot be fulfilled on " + resource + " \"" + name +
                          "\": the object has been modified; please apply your changes to the "
                          "latest version and try again");
}

// Checks the body's apiVersion, kind, name and namespace against the URL.
std::optional<Outcome> CheckIdentity(const json& body, const std::string& api_version,
                                     const std::string& kind, const std::string& name,
                                     const std::string& namespace_name, bool namespaced) {
  if (!body.is_object()) {
    return ErrorOutcome(400, "BadRequest", "the body of the request is not an object");
  }
  if (auto it = body.find("apiVersion"); it != body.end() && *it != api_version) {
    return ErrorOutcome(400, "BadRequest",
                        "the API version in the data (" + it->dump() +
                            ") does not match the expected API version (" + api_version + ")");
  }
  if (auto it = body.find("kind"); it != body.end() && *it != kind) {
    return ErrorOutcome(400, "BadRequest",
                        "the kind in the data (" + it->dump() + ") does not match " + kind);
  }
  const std::string body_name = MetaString(body, "name");
  if (!name.empty() && !body_name.empty() && body_name != name) {
    return ErrorOutcome(400, "BadRequest",
                        "the name of the object (" + body_name +
                            ") does not match the name on the URL (" + name + ")");
  }
  const std::string body_namespace = MetaString(body, "namespace");
  if (namespaced && !body_namespace.empty() && body_namespace != namespace_name) {
    return ErrorOutcome(400, "BadRequest",
                        "the namespace of the provided object does not match the namespace "
                        "sent on the request");
  }
  return std::nullopt;
}

// The stored object's resourceVersion against one the client names, if it names one.
bool StaleResourceVersion(const json& body, const json& stored) {
  const std::string wanted = MetaString(body, "resourceVersion");
  return !wanted.empty() && wanted != MetaString(stored, "resourceVersion");
}

// Takes the fields that changed from before to after for `manager`, from everyone else.
void TakeChanged(std::map<std::string, std::set<FieldPath>>& ownership, const std::string& manager,
                 const FieldMap& before, const FieldMap& after) {
  for (const auto& [path, value] : after) {
    auto it = before.find(path);
    if (it != before.end() && it->second == value) continue;
    for (auto& [key, fields] : ownership) {
      if (key != manager) fields.erase(path);
    }
    ownership[manager].insert(path);
  }
}

bool AddsFinalizer(const json& before, const json& after) {
  auto list = [](const json& object) {
    std::set<std::string> values;
    auto it = Metadata(object).find("finalizers");
    if (it == Metadata(object).end() || !it->is_array()) return values;
    for (const json& value : *it) {
      if (value.is_string()) values.insert(value.get<std::string>());
    }
    return values;
  };
  const std::set<std::string> old_values = list(before);
  const std::set<std::string> new_values = list(after);
  return std::any_of(new_values.begin(), new_values.end(),
                     [&](const std::string& value) { return !old_values.contains(value); });
}

}  // namespace

FakeApiServer::Outcome FakeApiServer::HandleGet(const Route& route) {
  TypeInfo& type = *route.type;
  auto it = type.objects.find(route.key());
  if (it == type.objects.end()) return NotFound(type.resource(), route.name);
  return {200, it->second.object, ""};
}

FakeApiServer::Outcome FakeApiServer::HandleList(const Route& route) const {
  TypeInfo& type = *route.type;
  auto labels = ParseLabelSelector(route.Param("labelSelector"));
  if (!labels) {
    return ErrorOutcome(400, "BadRequest",
                        "unable to parse requirement: " + route.Param("labelSelector"));
  }
  std::string unsupported;
  auto fields = ParseFieldSelector(route.Param("fieldSelector"), &unsupported);
  if (!fields) {
    return ErrorOutcome(400, "BadRequest", "field label not supported: " + unsupported);
  }
  const int64_t limit = ParseInt(route.Param("limit")).value_or(0);
  // The token is the namespace/name of the last item given (a namespace has no '/').
  const std::string token = route.Param("continue");
  const size_t slash = token.find('/');
  const std::optional<ObjectKey> after =
      slash == std::string::npos
          ? std::nullopt
          : std::optional<ObjectKey>({token.substr(0, slash), token.substr(slash + 1)});
  json items = json::array();
  std::string next;
  for (const auto& [key, stored] : type.objects) {
    if (!route.namespace_name.empty() && key.first != route.namespace_name) continue;
    if (after && key <= *after) continue;
    if (!MatchesLabels(*labels, stored.object) || !MatchesFields(*fields, stored.object)) continue;
    if (limit > 0 && static_cast<int64_t>(items.size()) == limit) {
      const json& last = items.back();
      next = MetaString(last, "namespace") + "/" + MetaString(last, "name");
      break;
    }
    json item = stored.object;
    if (!type.custom) {
      item.erase("apiVersion");
      item.erase("kind");
    }
    items.push_back(std::move(item));
  }
  json list = {{"apiVersion", type.api_version},
               {"kind", type.kind + "List"},
               {"metadata", {{"resourceVersion", std::to_string(resource_version_)}}},
               {"items", std::move(items)}};
  if (!next.empty()) list["metadata"]["continue"] = next;
  return {200, std::move(list), ""};
}

FakeApiServer::Outcome FakeApiServer::HandleCreate(const Route& route, const json& body) {
  TypeInfo& type = *route.type;
  if (type.type.namespaced && route.namespace_name.empty()) {
    return ErrorOutcome(405, "MethodNotAllowed",
                        "the server does not allow this method on the requested resource");
  }
  if (auto error = CheckIdentity(body, type.api_version, type.kind, "", route.namespace_name,
                                 type.type.namespaced)) {
    return *error;
  }
  std::string name = MetaString(body, "name");
  if (name.empty()) {
    const std::string generate = MetaString(body, "generateName");
    if (generate.empty()) {
      return ErrorOutcome(422, "Invalid",
                          type.kind +
                              " \"\" is invalid: metadata.name: Required value: name or "
                              "generateName is required");
    }
    static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    int64_t n = ++uid_counter_;
    std::string suffix;
    for (int i = 0; i < 5; ++i, n /= 27) suffix.push_back(kAlphabet[n % 27]);
    name = generate + suffix;
  }
  const ObjectKey key{type.type.namespaced ? route.namespace_name : "", name};
  if (type.objects.contains(key)) {
    return ErrorOutcome(409, "AlreadyExists", type.resource() + " \"" + name + "\" already exists");
  }
  json object = body;
  if (type.status_subresource) object.erase("status");
  if (object.contains("metadata")) object["metadata"].erase("deletionTimestamp");
  object["metadata"]["name"] = name;
  const std::string manager = route.Param("fieldManager");
  Ownership ownership;
  TakeChanged(
      ownership,
      ManagerKeyOf(manager.empty() ? options_.default_field_manager : manager, "Update", ""), {},
      Extract(object, Scope::kMain, type.status_subresource));
  return {201, Commit(type, key, std::move(object), std::move(ownership), false), ""};
}

FakeApiServer::Outcome FakeApiServer::HandleUpdate(const Route& route, const json& body) {
  TypeInfo& type = *route.type;
  if (auto error = CheckIdentity(body, type.api_version, type.kind, route.name,
                                 route.namespace_name, type.type.namespaced)) {
    return *error;
  }
  auto it = type.objects.find(route.key());
  if (it == type.objects.end()) return NotFound(type.resource(), route.name);
  const StoredObject& stored = it->second;
  if (StaleResourceVersion(body, stored.object)) return StaleConflict(type.resource(), route.name);
  const bool status = route.subresource == "status";
  json object;
  if (status) {
    object = stored.object;
    if (body.contains("status")) {
      object["status"] = body["status"];
    } else {
      object.erase("status");
    }
  } else {
    object = body;
    if (type.status_subresource) {
      if (stored.object.contains("status")) {
        object["status"] = stored.object["status"];
      } else {
        object.erase("status");
      }
    }
  }
  if (Metadata(stored.object).contains("deletionTimestamp") &&
      AddsFinalizer(stored.object, object)) {
    return ErrorOutcome(422, "Invalid",
                        type.kind + " \"" + route.name +
                            "\" is invalid: metadata.finalizers: Forbidden: no new finalizers can "
                            "be added if the object is being deleted");
  }
  const std::string manager = route.Param("fieldManager");
  const Scope scope = status ? Scope::kStatus : Scope::kMain;
  Ownership ownership = stored.ownership;
  TakeChanged(ownership,
              ManagerKeyOf(manager.empty() ? options_.default_field_manager : manager, "Update",
                           route.subresource),
              Extract(stored.object, scope, type.status_subresource),
              Extract(object, scope, type.status_subresource));
  return {200, Commit(type, route.key(), std::move(object), std::move(ownership), false), ""};
}

FakeApiServer::Outcome FakeApiServer::HandleMergePatch(const Route& route, const json& patch,
                                                       std::string_view manager) {
  TypeInfo& type = *route.type;
  auto it = type.objects.find(route.key());
  if (it == type.objects.end()) return NotFound(type.resource(), route.name);
  if (!patch.is_object()) {
    return ErrorOutcome(400, "BadRequest", "a merge patch must be a JSON object");
  }
  if (StaleResourceVersion(patch, it->second.object)) {
    return StaleConflict(type.resource(), route.name);
  }
  json merged = it->second.object;
  merged.merge_patch(patch);
  // The rest is a PUT of the merged object, without its resourceVersion precondition.
  merged["metadata"].erase("resourceVersion");
  Route as_update = route;
  as_update.query["fieldManager"] = std::string(manager);
  return HandleUpdate(as_update, merged);
}

FakeApiServer::Outcome FakeApiServer::HandleApply(const Route& route, const json& body) {
  TypeInfo& type = *route.type;
  const std::string manager = route.Param("fieldManager");
  if (manager.empty()) {
    return ErrorOutcome(400, "BadRequest", "PATCH: fieldManager is required for apply requests");
  }
  const bool force = route.Param("force") == "true";
  if (!body.is_object() || !body.contains("apiVersion") || !body.contains("kind")) {
    return ErrorOutcome(400, "BadRequest", "an apply patch needs apiVersion and kind");
  }
  if (auto error = CheckIdentity(body, type.api_version, type.kind, route.name,
                                 route.namespace_name, type.type.namespaced)) {
    return *error;
  }
  const bool status = route.subresource == "status";
  const Scope scope = status ? Scope::kStatus : Scope::kMain;
  const std::string manager_key = ManagerKeyOf(manager, "Apply", route.subresource);
  const FieldMap applied = Extract(body, scope, type.status_subresource);
  std::set<FieldPath> applied_paths;
  for (const auto& [path, value] : applied) applied_paths.insert(path);

  auto it = type.objects.find(route.key());
  if (it == type.objects.end()) {
    if (status) return NotFound(type.resource(), route.name);
    json object = {{"metadata", json::object()}};
    for (const auto& [path, value] : applied) SetField(object, path, value);
    Ownership ownership;
    if (!applied_paths.empty()) ownership[manager_key] = applied_paths;
    return {201, Commit(type, route.key(), std::move(object), std::move(ownership), false), ""};
  }
  const StoredObject& stored = it->second;
  if (StaleResourceVersion(body, stored.object)) return StaleConflict(type.resource(), route.name);
  const FieldMap current = Extract(stored.object, scope, type.status_subresource);
  Ownership ownership = stored.ownership;

  // Conflicts: fields another manager owns, which this apply would change.
  std::vector<std::pair<std::string, FieldPath>> conflicts;
  for (const auto& [path, value] : applied) {
    auto now = current.find(path);
    if (now != current.end() && now->second == value) continue;
    for (const auto& [key, fields] : ownership) {
      if (key != manager_key && fields.contains(path)) conflicts.emplace_back(key, path);
    }
  }
  if (!conflicts.empty()) {
    if (!force) {
      std::string message = "Apply failed with " + std::to_string(conflicts.size()) + " conflict" +
                            (conflicts.size() == 1 ? "" : "s") + ":";
      for (const auto& [key, path] : conflicts) {
        message += " conflict with \"" + key.substr(0, key.find('/')) + "\": ." + FieldName(path);
        message += ';';
      }
      message.pop_back();
      return ErrorOutcome(409, "Conflict", message);
    }
    for (const auto& [key, path] : conflicts) ownership[key].erase(path);
  }

  json object = stored.object;
  // Fields this manager applied before and no longer applies go, unless someone else owns them.
  for (const FieldPath& path : ownership[manager_key]) {
    if (applied_paths.contains(path)) continue;
    const bool shared = std::any_of(ownership.begin(), ownership.end(), [&](const auto& entry) {
      return entry.first != manager_key && entry.second.contains(path);
    });
    if (!shared) RemoveField(object, path);
  }
  for (const auto& [path, value] : applied) SetField(object, path, value);
  ownership[manager_key] = applied_paths;
  if (Metadata(stored.object).contains("deletionTimestamp") &&
      AddsFinalizer(stored.object, object)) {
    return ErrorOutcome(422, "Invalid",
                        type.kind + " \"" + route.name +
                            "\" is invalid: metadata.finalizers: Forbidden: no new finalizers can "
                            "be added if the object is being deleted");
  }
  return {200, Commit(type, route.key(), std::move(object), std::move(ownership), false), ""};
}

FakeApiServer::Outcome FakeApiServer::HandleDelete(const Route& route, const json& options) {
  TypeInfo& type = *route.type;
  auto it = type.objects.find(route.key());
  if (it == type.objects.end()) return NotFound(type.resource(), route.name);
  const json& object = it->second.object;
  std::string propagation;
  if (options.is_object()) {
    const json preconditions = options.value("preconditions", json::object());
    const std::string uid = preconditions.value("uid", "");
    if (!uid.empty() && uid != MetaString(object, "uid")) {
      return ErrorOutcome(409, "Conflict",
                          "Precondition failed: UID in precondition: " + uid +
                              ", UID in object meta: " + MetaString(object, "uid"));
    }
    const std::string version = preconditions.value("resourceVersion", "");
    if (!version.empty() && version != MetaString(object, "resourceVersion")) {
      return ErrorOutcome(
          409, "Conflict",
          "Precondition failed: ResourceVersion in precondition: " + version +
              ", ResourceVersion in object meta: " + MetaString(object, "resourceVersion"));
    }
    propagation = options.value("propagationPolicy", "");
  }
  json final_state = DeleteObject(type, route.key(), propagation);
  if (type.custom || Metadata(final_state).contains("deletionTimestamp")) {
    return {200, std::move(final_state), ""};
  }
  return {200,
          {{"kind", "Status"},
           {"apiVersion", "v1"},
           {"metadata", json::object()},
           {"status", "Success"},
           {"details",
            {{"name", route.name},
             {"kind", type.type.plural},
             {"uid", MetaString(final_state, "uid")}}}},
          ""};
}

// ---- Storage ----

int64_t FakeApiServer::NextResourceVersion() { return ++resource_version_; }

json FakeApiServer::Commit(TypeInfo& type, const ObjectKey& key, json object, Ownership ownership,
                           bool server_write) {
  auto it = type.objects.find(key);
  const StoredObject* old = it == type.objects.end() ? nullptr : &it->second;
  const json old_metadata = old != nullptr ? Metadata(old->object) : json::object();
  if (!object.is_object()) object = json::object();
  if (!object["metadata"].is_object()) object["metadata"] = json::object();
  object["apiVersion"] = type.api_version;
  object["kind"] = type.kind;
  json& metadata = object["metadata"];
  metadata["name"] = key.second;
  if (type.type.namespaced) {
    metadata["namespace"] = key.first;
  } else {
    metadata.erase("namespace");
  }
  metadata.erase("resourceVersion");
  metadata.erase("managedFields");
  for (const char* map : {"labels", "annotations"}) {
    if (metadata.contains(map) && metadata[map].empty()) metadata.erase(map);
  }
  for (const char* list : {"finalizers", "ownerReferences"}) {
    if (metadata.contains(list) && (!metadata[list].is_array() || metadata[list].empty())) {
      metadata.erase(list);
    }
  }
  if (!server_write) {
    // What the server owns, the client cannot change.
    for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp",
                              "deletionGracePeriodSeconds", "generation"}) {
      if (old_metadata.contains(field)) {
        metadata[field] = old_metadata[field];
      } else {
        metadata.erase(field);
      }
    }
  }
  if (!metadata.contains("uid")) {
    metadata["uid"] = old_metadata.contains("uid") ? old_metadata["uid"]
                                                   : json("uid-" + std::to_string(++uid_counter_));
  }
  if (!metadata.contains("creationTimestamp")) {
    metadata["creationTimestamp"] =
        old_metadata.contains("creationTimestamp") ? old_metadata["creationTimestamp"] : json(now_);
  }
  if (type.tracks_generation()) {
    if (old == nullptr) {
      if (!server_write || !metadata.contains("generation")) metadata["generation"] = 1;
    } else if (!server_write) {
      int64_t generation = old_metadata.value("generation", int64_t{0});
      if (SpecOf(object, type.status_subresource) != SpecOf(old->object, type.status_subresource)) {
        ++generation;
      }
      metadata["generation"] = generation;
    } else if (!metadata.contains("generation")) {
      const bool changed =
          SpecOf(object, type.status_subresource) != SpecOf(old->object, type.status_subresource);
      metadata["generation"] = old_metadata.value("generation", int64_t{1}) + (changed ? 1 : 0);
    }
  } else if (!server_write) {
    metadata.erase("generation");
  }

  // Fields no longer in the object have no owner; then render managedFields.
  const FieldMap present = Extract(object, Scope::kAll, type.status_subresource);
  for (auto entry = ownership.begin(); entry != ownership.end();) {
    for (auto field = entry->second.begin(); field != entry->second.end();) {
      field = present.contains(*field) ? std::next(field) : entry->second.erase(field);
    }
    entry = entry->second.empty() ? ownership.erase(entry) : std::next(entry);
  }
  if (ownership.empty()) {
    metadata.erase("managedFields");
  } else {
    json managed = json::array();
    for (const auto& [manager_key, fields] : ownership) {
      const std::vector<std::string_view> parts = SplitManagerKey(manager_key);
      json entry = {{"manager", parts[0]},
                    {"operation", parts[1]},
                    {"apiVersion", type.api_version},
                    {"fieldsType", "FieldsV1"},
                    {"fieldsV1", FieldsV1(fields)}};
      if (parts.size() > 2) entry["subresource"] = parts[2];
      managed.push_back(std::move(entry));
    }
    metadata["managedFields"] = std::move(managed);
  }

  if (old != nullptr) {
    json unchanged = object;
    unchanged["metadata"]["resourceVersion"] = old_metadata.value("resourceVersion", "");
    if (unchanged == old->object && ownership == old->ownership) return old->object;
  }
  metadata["resourceVersion"] = std::to_string(NextResourceVersion());
  const bool existed = old != nullptr;
  json previous = existed ? old->object : json();
  type.objects[key] = StoredObject{object, std::move(ownership)};
  Publish(type, existed ? "MODIFIED" : "ADDED", object, existed ? &previous : nullptr);
  const json& stored_metadata = Metadata(object);
  if (stored_metadata.contains("deletionTimestamp") && !stored_metadata.contains("finalizers")) {
    RemoveObject(type, key);
  }
  return object;
}

void FakeApiServer::RemoveObject(TypeInfo& type, const ObjectKey& key) {
  auto it = type.objects.find(key);
  if (it == type.objects.end()) return;
  json object = std::move(it->second.object);
  type.objects.erase(it);
  object["metadata"]["resourceVersion"] = std::to_string(NextResourceVersion());
  removed_uids_.insert(MetaString(object, "uid"));
  Publish(type, "DELETED", object, nullptr);
}

json FakeApiServer::DeleteObject(TypeInfo& type, const ObjectKey& key,
                                 const std::string& propagation) {
  auto it = type.objects.find(key);
  if (it == type.objects.end()) return json();
  json object = it->second.object;
  const std::string uid = MetaString(object, "uid");
  if (propagation == "Orphan") {
    // The dependents lose their reference to this owner instead of following it.
    for (auto& [name, other] : types_) {
      std::vector<ObjectKey> dependents;
      for (const auto& [other_key, stored] : other->objects) {
        if (Extract(stored.object, Scope::kMain, false)
                .contains({"metadata", "ownerReferences", kOwnerRefPrefix + uid})) {
          dependents.push_back(other_key);
        }
      }
      for (const ObjectKey& dependent : dependents) {
        const StoredObject& stored = other->objects[dependent];
        json updated = stored.object;
        RemoveField(updated, {"metadata", "ownerReferences", kOwnerRefPrefix + uid});
        Commit(*other, dependent, std::move(updated), stored.ownership, true);
      }
    }
  }
  if (Metadata(object).contains("finalizers")) {
    if (Metadata(object).contains("deletionTimestamp")) return object;
    object["metadata"]["deletionTimestamp"] = now_;
    object["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (type.tracks_generation()) {
      object["metadata"]["generation"] = Metadata(object).value("generation", int64_t{0}) + 1;
    }
    return Commit(type, key, std::move(object), it->second.ownership, true);
  }
  RemoveObject(type, key);
  return object;
}

void FakeApiServer::CollectGarbage(bool everything) {
  while (true) {
    if (!everything && removed_uids_.empty()) return;
    std::set<std::string> uids;
    for (const auto& [name, type] : types_) {
      for (const auto& [key, stored] : type->objects) uids.insert(MetaString(stored.object, "uid"));
    }
    struct Action {
      TypeInfo* type;
      ObjectKey key;
      std::vector<std::string> dangling;
      bool orphaned;
    };
    std::vector<Action> actions;
    for (const auto& [name, type] : types_) {
      for (const auto& [key, stored] : type->objects) {
        auto refs = Metadata(stored.object).find("ownerReferences");
        if (refs == Metadata(stored.object).end() || !refs->is_array()) continue;
        std::vector<std::string> owners;
        std::vector<std::string> dangling;
        bool relevant = everything;
        for (const json& reference : *refs) {
          if (!reference.is_object() || !reference.contains("uid")) continue;
          const std::string uid = reference.value("uid", "");
          owners.push_back(uid);
          if (!uids.contains(uid)) {
            dangling.push_back(uid);
            relevant = relevant || removed_uids_.contains(uid);
          }
        }
        if (dangling.empty() || !relevant) continue;
        const bool orphaned = dangling.size() == owners.size();
        if (orphaned && Metadata(stored.object).contains("deletionTimestamp")) continue;
        actions.push_back({type.get(), key, std::move(dangling), orphaned});
      }
    }
    removed_uids_.clear();
    if (actions.empty()) return;
    for (Action& action : actions) {
      auto it = action.type->objects.find(action.key);
      if (it == action.type->objects.end()) continue;
      if (action.orphaned) {
        DeleteObject(*action.type, action.key, "Background");
        continue;
      }
      json updated = it->second.object;
      for (const std::string& uid : action.dangling) {
        RemoveField(updated, {"metadata", "ownerReferences", kOwnerRefPrefix + uid});
      }
      Commit(*action.type, action.key, std::move(updated), it->second.ownership, true);
    }
    everything = false;
  }
}

void FakeApiServer::Publish(TypeInfo& type, const char* event_type, const json& object,
                            const json* previous) {
  HistoryEvent event{resource_version_, event_type, object,
                     previous != nullptr ? *previous : json()};
  for (const std::shared_ptr<Watcher>& watcher : watchers_) {
    if (watcher->type == &type && !watcher->closed) watcher->Offer(event);
  }
  type.history.push_back(std::move(event));
  changed_.notify_all();
}

// ---- Watches ----

Result<kube::HttpResponse> FakeApiServer::Stream(const kube::HttpRequest& request,
                                                 const ChunkHandler& on_chunk,
                                                 kube::Cancellation* cancel) {
  // Everything but a watch is answered whole, as one chunk.
  auto is_watch = [&] {
    const size_t question = request.path_and_query.find('?');
    if (request.method != "GET" || question == std::string::npos) return false;
    const std::string query = request.path_and_query.substr(question + 1);
    const std::vector<std::string_view> pairs = Split(query, '&');
    return std::any_of(pairs.begin(), pairs.end(), [](std::string_view pair) {
      return pair == "watch=1" || pair == "watch=true";
    });
  }();
  if (!is_watch) {
    auto response = Send(request);
    if (!response.ok() || response->status < 200 || response->status >= 300) return response;
    on_chunk(response->body);
    response->body.clear();
    return response;
  }

  auto watcher = std::make_shared<Watcher>();
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  {
    std::unique_lock<std::mutex> lock(mu_);
    RecordedRequest record{
        request.method, request.path_and_query, request.content_type, "watch", "", 0};
    Route route;
    const bool routed = ParseRoute(request, &route) && route.verb == "watch";
    TypeInfo* type = routed ? route.type : nullptr;
    watcher->namespace_name = route.namespace_name;
    const std::map<std::string, std::string>& query = route.query;

    kube::HttpResponse injected;
    if (auto failure = Inject(request, "watch", &injected)) {
      requests_.push_back(record);
      return UnavailableError(*failure);
    }
    if (injected.status != 0) {
      record.status = injected.status;
      requests_.push_back(record);
      return injected;
    }
    auto fail = [&](const Outcome& outcome) -> Result<kube::HttpResponse> {
      record.status = outcome.status;
      requests_.push_back(record);
      return ToResponse(outcome);
    };
    if (type == nullptr) return fail(NotFoundPath());
    watcher->type = type;
    auto param = [&](const std::string& key) {
      auto it = query.find(key);
      return it == query.end() ? std::string() : it->second;
    };
    auto labels = ParseLabelSelector(param("labelSelector"));
    if (!labels) {
      return fail(ErrorOutcome(400, "BadRequest",
                               "unable to parse requirement: " + param("labelSelector")));
    }
    std::string unsupported;
    auto fields = ParseFieldSelector(param("fieldSelector"), &unsupported);
    if (!fields) {
      return fail(ErrorOutcome(400, "BadRequest", "field label not supported: " + unsupported));
    }
    watcher->labels = std::move(*labels);
    watcher->fields = std::move(*fields);
    watcher->bookmarks = param("allowWatchBookmarks") == "true";
    if (auto seconds = ParseInt(param("timeoutSeconds")); seconds && *seconds > 0) {
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*seconds);
    }
    const std::string from = param("resourceVersion");
    if (from.empty() || from == "0") {
      // The current state as ADDED events, then what follows.
      for (const auto& [key, stored] : type->objects) {
        watcher->Offer({resource_version_, "ADDED", stored.object, json()});
      }
    } else {
      const std::optional<int64_t> version = ParseInt(from);
      if (!version) {
        return fail(ErrorOutcome(400, "BadRequest", "invalid resource version: " + from));
      }
      if (*version < compacted_through_) {
        const std::string message =
            "too old resource version: " + from + " (" + std::to_string(compacted_through_) + ")";
        if (watch_expiry_ == WatchExpiry::kHttpStatus) {
          return fail(ErrorOutcome(410, "Expired", message));
        }
        record.status = 200;
        requests_.push_back(record);
        lock.unlock();
        on_chunk(json{{"type", "ERROR"}, {"object", KubeStatus(410, "Expired", message)}}.dump() +
                 "\n");
        return kube::HttpResponse{.status = 200, .content_type = "application/json"};
      }
      for (const HistoryEvent& event : type->history) {
        if (event.resource_version > *version) watcher->Offer(event);
      }
    }
    record.status = 200;
    requests_.push_back(record);
    watchers_.push_back(watcher);
    changed_.notify_all();
  }

  if (cancel != nullptr) {
    cancel->SetHook([this, watcher] {
      watcher->cancelled = true;
      const std::lock_guard<std::mutex> lock(mu_);
      changed_.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (!watcher->cancelled) {
      if (!watcher->lines.empty()) {
        std::string line = std::move(watcher->lines.front());
        watcher->lines.pop_front();
        lock.unlock();
        const bool more = on_chunk(line);
        lock.lock();
        if (!more) break;
        continue;
      }
      if (watcher->closed || std::chrono::steady_clock::now() >= deadline) break;
      if (deadline == std::chrono::steady_clock::time_point::max()) {
        changed_.wait(lock);
      } else {
        changed_.wait_until(lock, deadline);
      }
    }
    watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), watcher), watchers_.end());
    changed_.notify_all();
  }
  if (cancel != nullptr) cancel->ClearHook();
  return kube::HttpResponse{.status = 200, .content_type = "application/json"};
}

void FakeApiServer::SendBookmarks() {
  const std::lock_guard<std::mutex> lock(mu_);
  for (const std::shared_ptr<Watcher>& watcher : watchers_) {
    if (!watcher->bookmarks || watcher->closed) continue;
    const json bookmark = {
        {"type", "BOOKMARK"},
        {"object",
         {{"kind", watcher->type->kind},
          {"apiVersion", watcher->type->api_version},
          {"metadata", {{"resourceVersion", std::to_string(resource_version_)}}}}}};
    watcher->lines.push_back(bookmark.dump() + "\n");
  }
  changed_.notify_all();
}

void FakeApiServer::CloseAllWatches() {
  const std::lock_guard<std::mutex> lock(mu_);
  for (const std::shared_ptr<Watcher>& watcher : watchers_) watcher->closed = true;
  changed_.notify_all();
}

void FakeApiServer::CompactHistory() {
  const std::lock_guard<std::mutex> lock(mu_);
  compacted_through_ = resource_version_;
  for (auto& [name, type] : types_) type->history.clear();
}

size_t FakeApiServer::OpenWatches() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

bool FakeApiServer::WaitForOpenWatches(size_t count, std::chrono::milliseconds bound) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, bound, [&] { return watchers_.size() >= count; });
}

// ---- Test helpers ----

json FakeApiServer::Put(const kube::ResourceType& resource, json object) {
  const std::lock_guard<std::mutex> lock(mu_);
  TypeInfo* type = FindType(resource);
  if (type == nullptr || !object.is_object()) return json();
  const ObjectKey key{resource.namespaced ? MetaString(object, "namespace") : "",
                      MetaString(object, "name")};
  auto it = type->objects.find(key);
  Ownership ownership = it != type->objects.end() ? it->second.ownership : Ownership();
  json stored = Commit(*type, key, std::move(object), std::move(ownership), true);
  if (options_.synchronous_garbage_collection) CollectGarbage();
  return stored;
}

Result<json> FakeApiServer::Edit(const kube::ResourceType& resource,
                                 std::string_view namespace_name, std::string_view name,
                                 const json& merge_patch, std::string_view manager) {
  const std::lock_guard<std::mutex> lock(mu_);
  Route route;
  route.type = FindType(resource);
  if (route.type == nullptr) return NotFoundError("unknown resource type");
  route.namespace_name = std::string(namespace_name);
  route.name = std::string(name);
  route.verb = "patch";
  const Outcome outcome = HandleMergePatch(route, merge_patch, manager);
  if (options_.synchronous_garbage_collection) CollectGarbage();
  if (outcome.status >= 300) return kube::StatusFromHttp(outcome.status, outcome.body.dump());
  return outcome.body;
}

std::optional<json> FakeApiServer::Object(const kube::ResourceType& resource,
                                          std::string_view namespace_name,
                                          std::string_view name) const {
  const std::lock_guard<std::mutex> lock(mu_);
  TypeInfo* type = FindType(resource);
  if (type == nullptr) return std::nullopt;
  auto it = type->objects.find(
      {resource.namespaced ? std::string(namespace_name) : "", std::string(name)});
  if (it == type->objects.end()) return std::nullopt;
  return it->second.object;
}

std::map<std::string, std::set<std::string>> FakeApiServer::ManagedFields(
    const kube::ResourceType& resource, std::string_view namespace_name,
    std::string_view name) const {
  const std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::set<std::string>> managed;
  TypeInfo* type = FindType(resource);
  if (type == nullptr) return managed;
  auto it = type->objects.find(
      {resource.namespaced ? std::string(namespace_name) : "", std::string(name)});
  if (it == type->objects.end()) return managed;
  for (const auto& [key, fields] : it->second.ownership) {
    for (const FieldPath& path : fields) managed[key].insert(FieldName(path));
  }
  return managed;
}

std::string FakeApiServer::ResourceVersion() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return std::to_string(resource_version_);
}

void FakeApiServer::SetNow(std::string now) {
  const std::lock_guard<std::mutex> lock(mu_);
  now_ = std::move(now);
}

void FakeApiServer::SetWatchExpiry(WatchExpiry expiry) {
  const std::lock_guard<std::mutex> lock(mu_);
  watch_expiry_ = expiry;
}

void FakeApiServer::RunGarbageCollection() {
  const std::lock_guard<std::mutex> lock(mu_);
  CollectGarbage(/*everything=*/true);
}

void FakeApiServer::InjectError(InjectedError error) {
  const std::lock_guard<std::mutex> lock(mu_);
  injected_errors_.push_back(std::move(error));
}

void FakeApiServer::InjectTransportError(InjectedTransportError error) {
  const std::lock_guard<std::mutex> lock(mu_);
  injected_transport_errors_.push_back(std::move(error));
}

void FakeApiServer::ClearInjectedErrors() {
  const std::lock_guard<std::mutex> lock(mu_);
  injected_errors_.clear();
  injected_transport_errors_.clear();
}

std::vector<RecordedRequest> FakeApiServer::Requests() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int FakeApiServer::Count(std::string_view verb) const {
  const std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(),
                                        [&](const RecordedRequest& r) { return r.verb == verb; }));
}

int FakeApiServer::WriteRequests(std::string_view subresource) const {
  const std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(
      std::count_if(requests_.begin(), requests_.end(), [&](const RecordedRequest& r) {
        return IsWrite(r.verb) && (subresource.empty() || r.subresource == subresource);
      }));
}

void FakeApiServer::ClearRequests() {
  const std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
}

}  // namespace nines::testing
