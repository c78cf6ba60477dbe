#include "operator/kube/informer.h"

#include <algorithm>

namespace nines::kube {

Informer::Informer(Client& client, InformerOptions options, Handler handler)
    : client_(client),
      options_(std::move(options)),
      handler_(std::move(handler)),
      backoff_(options_.initial_backoff) {}

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
  std::map<Key, nlohmann::json> fresh;
  ListOptions list{.label_selector = options_.label_selector, .limit = options_.list_page_size};
  std::string version;
  do {
    Result<nlohmann::json> page = client_.List(options_.type, options_.namespace_name, list);
    if (!page.ok()) return page.status();
    for (nlohmann::json& item : (*page)["items"]) {
      if (options_.transform) options_.transform(item);
      Key key = KeyOf(item);
      fresh[std::move(key)] = std::move(item);
    }
    const nlohmann::json& metadata = (*page)["metadata"];
    version = metadata.value("resourceVersion", "");
    list.continue_token = metadata.value("continue", "");
  } while (!list.continue_token.empty());

  // One swap, then the differences: what vanished while nobody watched is reported as deleted.
  std::map<Key, nlohmann::json> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(cache_);
    cache_ = fresh;
  }
  resource_version_ = version;
  lists_.fetch_add(1);
  synced_.store(true);
  for (const auto& [key, object] : old) {
    if (!fresh.contains(key)) handler_(object, true);
  }
  for (const auto& [key, object] : fresh) {
    auto it = old.find(key);
    const auto rv = [](const nlohmann::json& o) {
      return o["metadata"].value("resourceVersion", "");
    };
    if (it == old.end() || rv(it->second) != rv(object)) handler_(object, false);
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
      cache_[KeyOf(object)] = object;
    }
  }
  handler_(object, deleted);
}

std::optional<nlohmann::json> Informer::Get(const std::string& namespace_name,
                                            const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find({namespace_name, name});
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> Informer::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<nlohmann::json> out;
  out.reserve(cache_.size());
  for (const auto& [key, object] : cache_) out.push_back(object);
  return out;
}

}  // namespace nines::kube
