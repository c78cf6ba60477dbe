#include "operator/controller/own_writes.h"

#include <algorithm>

namespace nines::controller {
namespace {

std::string Metadata(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto value = metadata->find(key);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : "";
}

}  // namespace

void OwnWrites::Remember(const std::string& objective, const std::string& resource,
                         const nlohmann::json& written) {
  const std::string name = Metadata(written, "name");
  const std::string version = Metadata(written, "resourceVersion");
  if (name.empty() || version.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string>& versions = writes_[objective][resource + "/" + name];
  if (std::find(versions.begin(), versions.end(), version) != versions.end()) return;
  versions.push_back(version);
  if (versions.size() > kKept) versions.erase(versions.begin());
}

bool OwnWrites::IsEcho(const std::string& objective, const std::string& resource,
                       const nlohmann::json& object) const {
  const std::string version = Metadata(object, "resourceVersion");
  if (version.empty()) return false;
  const std::string key = resource + "/" + Metadata(object, "name");
  std::lock_guard<std::mutex> lock(mu_);
  auto found = writes_.find(objective);
  if (found == writes_.end()) return false;
  auto written = found->second.find(key);
  return written != found->second.end() && std::find(written->second.begin(), written->second.end(),
                                                     version) != written->second.end();
}

void OwnWrites::RememberApply(const std::string& objective, const std::string& resource,
                              const nlohmann::json& written, size_t fingerprint) {
  Remember(objective, resource, written);
  const std::string name = Metadata(written, "name");
  const std::string version = Metadata(written, "resourceVersion");
  if (name.empty() || version.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  applied_[objective][resource + "/" + name] = {version, fingerprint};
}

bool OwnWrites::AppliedUnchanged(const std::string& objective, const std::string& resource,
                                 const nlohmann::json& cached, size_t fingerprint) const {
  const std::string version = Metadata(cached, "resourceVersion");
  if (version.empty()) return false;
  const std::string key = resource + "/" + Metadata(cached, "name");
  std::lock_guard<std::mutex> lock(mu_);
  auto found = applied_.find(objective);
  if (found == applied_.end()) return false;
  auto applied = found->second.find(key);
  return applied != found->second.end() && applied->second.resource_version == version &&
         applied->second.fingerprint == fingerprint;
}

void OwnWrites::Forget(const std::string& objective) {
  std::lock_guard<std::mutex> lock(mu_);
  writes_.erase(objective);
  applied_.erase(objective);
}

size_t OwnWrites::Objectives() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_.size();
}

}  // namespace nines::controller
