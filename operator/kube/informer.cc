#include "operator/kube/informer.h"

#include <algorithm>

namespace nines::kube {

Informer::Informer(Client& client, InformerOptions options, Handler handler)
    : client_(client),
      options_(std::move(options)),
      handler_(std::move(handler)),
      backoff_(options_.initial_backoff) {}

Informer::Entry Informer::Encode(const nlohmann::json& object) {
  const nlohmann::json& metadata = object.value("metadata", nlohmann::json::object());
  return {metadata.value("resourceVersion", ""), nlohmann::json::to_cbor(object)};
}

nlohmann::json Informer::Decode(const Entry& entry) {
  return nlohmann::json::from_cbor(entry.cbor);
}

Informer::Key Informer::KeyOf(const nlohmann::json& object) {
  const nlohmann::json& metadata = object.value("metadata", nlohmann::json::object());
  return {metadata.value("namespace", ""), metadata.value("name", "")};
}

void Informer::Run() {
  bool listed = false;
  while (!stopped_.load()) {
    if (!listed) {
      if (Status s = ListAndSwap(); !s.ok()) {
        if (!Backoff()) return;
        continue;
      }
      listed = true;
      backoff_ = options_.initial_backoff;
    }
    const Status s = WatchOnce();
    if (stopped_.load()) return;
    if (s.ok()) continue;  // the server's timeout: watch again from where it ended
    watch_restarts_.fetch_add(1);
    if (s.code() == StatusCode::kGone) {
      relists_.fetch_add(1);
      listed = false;  // the resourceVersion was compacted away: only a list can catch up
      continue;
    }
    if (!Backoff()) return;
  }
}

void Informer::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_.store(true);
  if (active_watch_ != nullptr) active_watch_->Cancel();
  wake_.notify_all();
}

bool Informer::Backoff() {
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const auto wait = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff_.count()) * jitter(random_)));
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, wait, [this] { return stopped_.load(); });
  return !stopped_.load();
}

Status Informer::ListAndSwap() {
  std::map<Key, Entry> fresh;
  ListOptions list{.label_selector = options_.label_selector, .limit = options_.list_page_size};
  std::string version;
  do {
    Result<nlohmann::json> page = client_.List(options_.type, options_.namespace_name, list);
    if (!page.ok()) return page.status();
    for (nlohmann::json& item : (*page)["items"]) {
      if (options_.transform) options_.transform(item);
      fresh[KeyOf(item)] = Encode(item);
    }
    const nlohmann::json& metadata = (*page)["metadata"];
    version = metadata.value("resourceVersion", "");
    list.continue_token = metadata.value("continue", "");
  } while (!list.continue_token.empty());

  // One swap, then the differences: what vanished while nobody watched is reported as deleted.
  // What is reported is read back from the cache's entries, so that only one copy of the list
  // is ever held.
  std::map<Key, Entry> old;
  std::vector<std::pair<Key, bool>> changes;  // key, deleted
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(cache_);
    cache_.swap(fresh);
    for (const auto& [key, entry] : old) {
      if (!cache_.contains(key)) changes.emplace_back(key, true);
    }
    for (const auto& [key, entry] : cache_) {
      auto it = old.find(key);
      if (it == old.end() || it->second.resource_version != entry.resource_version) {
        changes.emplace_back(key, false);
      }
    }
  }
  resource_version_ = version;
  lists_.fetch_add(1);
  synced_.store(true);
  for (const auto& [key, deleted] : changes) {
    if (deleted) {
      handler_(Decode(old.at(key)), true);
      continue;
    }
    std::optional<nlohmann::json> object;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) object = Decode(it->second);
    }
    if (object) handler_(*object, false);
  }
  return Status::Ok();
}

Status Informer::WatchOnce() {
  Cancellation cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_.load()) return Status::Ok();
    active_watch_ = &cancel;
  }
  WatchOptions watch{.resource_version = resource_version_,
                     .label_selector = options_.label_selector,
                     .timeout_seconds = options_.watch_timeout_seconds,
                     .allow_bookmarks = true};
  Status status = client_.Watch(
      options_.type, options_.namespace_name, watch,
      [this](const WatchEvent& event) {
        const std::string version =
            event.object.value("metadata", nlohmann::json::object()).value("resourceVersion", "");
        if (event.type == WatchEventType::kBookmark) {
          if (!version.empty()) resource_version_ = version;
          return true;
        }
        if (options_.transform) {
          nlohmann::json object = event.object;
          options_.transform(object);
          Apply(object, event.type == WatchEventType::kDeleted);
        } else {
          Apply(event.object, event.type == WatchEventType::kDeleted);
        }
        if (!version.empty()) resource_version_ = version;
        backoff_ = options_.initial_backoff;  // the connection works
        return !stopped_.load();
      },
      &cancel);
  std::lock_guard<std::mutex> lock(mu_);
  active_watch_ = nullptr;
  return status;
}

void Informer::Apply(const nlohmann::json& object, bool deleted) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (deleted) {
      cache_.erase(KeyOf(object));
    } else {
      cache_[KeyOf(object)] = Encode(object);
    }
  }
  handler_(object, deleted);
}

// Entries are copied under the lock (bytes) and decoded outside it, so that a List of thousands
// of objects never holds up the watch.
std::optional<nlohmann::json> Informer::Get(const std::string& namespace_name,
                                            const std::string& name) const {
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find({namespace_name, name});
    if (it == cache_.end()) return std::nullopt;
    entry = it->second;
  }
  return Decode(entry);
}

std::vector<nlohmann::json> Informer::List() const {
  std::vector<Entry> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries.reserve(cache_.size());
    for (const auto& [key, entry] : cache_) entries.push_back(entry);
  }
  std::vector<nlohmann::json> out;
  out.reserve(entries.size());
  for (const Entry& entry : entries) out.push_back(Decode(entry));
  return out;
}

void Informer::ForEach(const std::function<void(const nlohmann::json&)>& visit) const {
  std::vector<Key> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.reserve(cache_.size());
    for (const auto& [key, entry] : cache_) keys.push_back(key);
  }
  for (const Key& key : keys) {
    Entry entry;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cache_.find(key);
      if (it == cache_.end()) continue;
      entry = it->second;
    }
    visit(Decode(entry));
  }
}

}  // namespace nines::kube
