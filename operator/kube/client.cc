#include "operator/kube/client.h"

#include <utility>

#include "operator/kube/api_error.h"

namespace nines::kube {
namespace {

constexpr const char* kJson = "application/json";

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string Escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (Unreserved(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

// Builds "?a=1&b=2" from the parameters that are set.
class Query {
 public:
  Query& Add(std::string_view key, std::string_view value) {
    if (value.empty()) return *this;
    text_ += text_.empty() ? '?' : '&';
    text_ += key;
    text_ += '=';
    text_ += EscapeQueryValue(value);
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::string MetadataField(const nlohmann::json& object, const char* key) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto value = metadata->find(key);
  if (value == metadata->end() || !value->is_string()) return "";
  return value->get<std::string>();
}

Result<std::string> NameOf(const nlohmann::json& object) {
  std::string name = object.is_object() ? MetadataField(object, "name") : "";
  if (name.empty()) return InvalidArgumentError("the object has no metadata.name");
  return name;
}

std::string NamespaceFor(std::string_view namespace_name, const nlohmann::json& object) {
  if (!namespace_name.empty()) return std::string(namespace_name);
  return object.is_object() ? MetadataField(object, "namespace") : "";
}

}  // namespace

ResourceType NamespaceResource() { return {"", "v1", "namespaces", /*namespaced=*/false}; }
ResourceType ConfigMapResource() { return {"", "v1", "configmaps", /*namespaced=*/true}; }
ResourceType EventResource() { return {"events.k8s.io", "v1", "events", /*namespaced=*/true}; }

std::string ResourcePath(const ResourceType& type, std::string_view namespace_name,
                         std::string_view name, std::string_view subresource) {
  std::string path =
      type.group.empty() ? "/api/" + type.version : "/apis/" + type.group + "/" + type.version;
  if (type.namespaced && !namespace_name.empty()) path += "/namespaces/" + Escape(namespace_name);
  path += "/" + type.plural;
  if (!name.empty()) {
    path += "/" + Escape(name);
    if (!subresource.empty()) path += "/" + Escape(subresource);
  }
  return path;
}

std::string EscapeQueryValue(std::string_view value) { return Escape(value); }

Client::Client(std::shared_ptr<HttpTransport> transport) : transport_(std::move(transport)) {}

Result<nlohmann::json> Client::Call(const char* method, const std::string& path_and_query,
                                    const std::string& content_type, const std::string& body) {
  auto response = transport_->Send({method, path_and_query, content_type, body});
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status >= 300) {
    return StatusFromHttp(response->status, response->body, response->retry_after);
  }
  nlohmann::json parsed =
      nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return InternalError(std::string(method) + " " + path_and_query + ": the answer is not JSON");
  }
  return parsed;
}

Result<nlohmann::json> Client::Get(const ResourceType& type, std::string_view namespace_name,
                                   std::string_view name) {
  if (name.empty()) return InvalidArgumentError("Get: no name");
  return Call("GET", ResourcePath(type, namespace_name, name), "", "");
}

Result<nlohmann::json> Client::List(const ResourceType& type, std::string_view namespace_name,
                                    const ListOptions& options) {
  Query query;
  query.Add("labelSelector", options.label_selector)
      .Add("fieldSelector", options.field_selector)
      .Add("limit", options.limit > 0 ? std::to_string(options.limit) : "")
      .Add("continue", options.continue_token)
      .Add("resourceVersion", options.resource_version);
  return Call("GET", ResourcePath(type, namespace_name) + query.text(), "", "");
}

Result<nlohmann::json> Client::Create(const ResourceType& type, std::string_view namespace_name,
                                      const nlohmann::json& object) {
  return Call("POST", ResourcePath(type, NamespaceFor(namespace_name, object)), kJson,
              object.dump());
}

Result<nlohmann::json> Client::Update(const ResourceType& type, std::string_view namespace_name,
                                      const nlohmann::json& object) {
  auto name = NameOf(object);
  if (!name.ok()) return name.status();
  return Call("PUT", ResourcePath(type, NamespaceFor(namespace_name, object), *name), kJson,
              object.dump());
}

Result<nlohmann::json> Client::UpdateStatus(const ResourceType& type,
                                            std::string_view namespace_name,
                                            const nlohmann::json& object) {
  auto name = NameOf(object);
  if (!name.ok()) return name.status();
  return Call("PUT", ResourcePath(type, NamespaceFor(namespace_name, object), *name, "status"),
              kJson, object.dump());
}

Result<nlohmann::json> Client::MergePatch(const ResourceType& type, std::string_view namespace_name,
                                          std::string_view name, const nlohmann::json& patch,
                                          std::string_view subresource) {
  if (name.empty()) return InvalidArgumentError("MergePatch: no name");
  return Call("PATCH", ResourcePath(type, namespace_name, name, subresource),
              "application/merge-patch+json", patch.dump());
}

Result<nlohmann::json> Client::Apply(const ResourceType& type, std::string_view namespace_name,
                                     const nlohmann::json& object, std::string_view subresource,
                                     std::string_view field_manager) {
  auto name = NameOf(object);
  if (!name.ok()) return name.status();
  if (!object.contains("apiVersion") || !object.contains("kind")) {
    return InvalidArgumentError("Apply: the object needs apiVersion and kind");
  }
  Query query;
  query.Add("fieldManager", field_manager).Add("force", "true");
  return Call(
      "PATCH",
      ResourcePath(type, NamespaceFor(namespace_name, object), *name, subresource) + query.text(),
      "application/apply-patch+yaml", object.dump());
}

Status Client::Delete(const ResourceType& type, std::string_view namespace_name,
                      std::string_view name, const DeleteOptions& options) {
  if (name.empty()) return InvalidArgumentError("Delete: no name");
  std::string body;
  if (!options.precondition_uid.empty() || !options.precondition_resource_version.empty() ||
      !options.propagation_policy.empty()) {
    nlohmann::json delete_options = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
    if (!options.precondition_uid.empty()) {
      delete_options["preconditions"]["uid"] = options.precondition_uid;
    }
    if (!options.precondition_resource_version.empty()) {
      delete_options["preconditions"]["resourceVersion"] = options.precondition_resource_version;
    }
    if (!options.propagation_policy.empty()) {
      delete_options["propagationPolicy"] = options.propagation_policy;
    }
    body = delete_options.dump();
  }
  auto result =
      Call("DELETE", ResourcePath(type, namespace_name, name), body.empty() ? "" : kJson, body);
  return result.ok() ? Status::Ok() : result.status();
}

Result<nlohmann::json> Client::CreateEvent(std::string_view namespace_name,
                                           const nlohmann::json& event) {
  return Create(EventResource(), namespace_name, event);
}

Status Client::Watch(const ResourceType& type, std::string_view namespace_name,
                     const WatchOptions& options, const std::function<bool(WatchEvent)>& on_event,
                     Cancellation* cancel) {
  Query query;
  query.Add("watch", "1")
      .Add("allowWatchBookmarks", options.allow_bookmarks ? "true" : "")
      .Add("resourceVersion", options.resource_version)
      .Add("timeoutSeconds",
           options.timeout_seconds > 0 ? std::to_string(options.timeout_seconds) : "")
      .Add("labelSelector", options.label_selector)
      .Add("fieldSelector", options.field_selector);
  Status error_event;
  WatchEventParser parser([&](WatchEvent event) {
    if (event.type == WatchEventType::kError) {
      error_event = StatusFromKubeStatus(event.object);
      return false;
    }
    return on_event(std::move(event));
  });
  Status stream_error;
  auto response = transport_->Stream(
      {"GET", ResourcePath(type, namespace_name) + query.text(), "", ""},
      [&](std::string_view chunk) {
        stream_error = parser.Feed(chunk);
        return stream_error.ok() && !parser.stopped();
      },
      cancel);
  if (!stream_error.ok()) return stream_error;
  if (!error_event.ok()) return error_event;
  if (cancel != nullptr && cancel->cancelled()) return Status::Ok();
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status >= 300) {
    return StatusFromHttp(response->status, response->body, response->retry_after);
  }
  if (parser.stopped()) return Status::Ok();
  if (Status status = parser.Finish(); !status.ok()) return status;
  return error_event;
}

}  // namespace nines::kube
