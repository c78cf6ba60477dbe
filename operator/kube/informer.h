// An informer, as client-go and kube-rs build them: list a kind, then watch it from the list's
// resourceVersion, keep a cache of what the server has, and tell a handler about every change.
//
// The state machine:
//   list (paged) -> swap the cache in one step, reporting what appeared, changed and vanished
//   -> watch from the list's resourceVersion, with bookmarks keeping it fresh
//      -> the server ends the watch (its timeout): watch again from the last resourceVersion
//      -> 410 Gone (the resourceVersion was compacted away): list again
//      -> any other failure: wait (jittered backoff, doubling to a cap), then watch again from
//         the last resourceVersion, or list again if no list has succeeded yet
// Nothing is lost across a relist: the swap reports every object that changed or vanished while
// the watch was down, so a level-triggered controller sees them all.
//
// Thread-safety: Run blocks and belongs to one thread; Stop, HasSynced, Get, List and the
// counters may be called from any thread. The handler runs on the Run thread, never under the
// cache lock, so it may call Get and List.
#ifndef NINES_KUBE_INFORMER_H_
#define NINES_KUBE_INFORMER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "operator/kube/client.h"

namespace nines::kube {

struct InformerOptions {
  ResourceType type;
  std::string namespace_name;  // empty: every namespace
  std::string label_selector;
  int watch_timeout_seconds = 300;
  int64_t list_page_size = 500;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  // Applied to every object before it is cached or handed on, as client-go's SetTransform: the
  // cache then holds only what its user needs (a generated object's metadata, say), which keeps the
  // memory for 10,000 objects small. Must keep metadata.name, namespace and resourceVersion.
  std::function<void(nlohmann::json& object)> transform;
};

class Informer {
 public:
  // Called for every object that was added or changed (deleted == false) or removed (true).
  using Handler = std::function<void(const nlohmann::json& object, bool deleted)>;

  Informer(Client& client, InformerOptions options, Handler handler);

  // Lists and watches until Stop(). Returns at once if stopped before.
  void Run();
  // Ends Run promptly: cancels the open watch and wakes a backoff wait.
  void Stop();

  // Whether a list has filled the cache at least once.
  bool HasSynced() const { return synced_.load(); }

  std::optional<nlohmann::json> Get(const std::string& namespace_name,
                                    const std::string& name) const;
  std::vector<nlohmann::json> List() const;
  // Calls `visit` for every cached object, decoding one at a time: unlike List, it never holds
  // all of them parsed at once (at 10,000 objectives, tens of MiB that malloc then keeps).
  // Objects that change meanwhile are seen as they are when visited; ones deleted are skipped.
  void ForEach(const std::function<void(const nlohmann::json&)>& visit) const;

  // For the operator's metrics.
  int64_t lists() const { return lists_.load(); }
  int64_t watch_restarts() const { return watch_restarts_.load(); }
  // Lists after a watch's resourceVersion expired (410 Gone).
  int64_t relists() const { return relists_.load(); }

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, name
  // A cached object: its resourceVersion, and the object as CBOR, decoded on Get and List. Parsed,
  // an nlohmann::json costs a std::map node per key: a trimmed objective took about 7 KB, the
  // metadata of a generated object about 2 KB, so 10,000 objectives' caches about 90 MiB. As CBOR
  // they take about a sixth of that.
  struct Entry {
    std::string resource_version;
    std::vector<std::uint8_t> cbor;
  };
  static Entry Encode(const nlohmann::json& object);
  static nlohmann::json Decode(const Entry& entry);

  Status ListAndSwap();
  // Watches from resource_version_; OK when the server ended the watch or Stop was called.
  Status WatchOnce();
  void Apply(const nlohmann::json& object, bool deleted);
  // Sleeps for the current backoff unless stopped first; returns false if stopped.
  bool Backoff();

  static Key KeyOf(const nlohmann::json& object);

  Client& client_;
  const InformerOptions options_;
  const Handler handler_;

  std::atomic<bool> stopped_{false};
  std::atomic<bool> synced_{false};
  std::atomic<int64_t> lists_{0};
  std::atomic<int64_t> watch_restarts_{0};
  std::atomic<int64_t> relists_{0};

  mutable std::mutex mu_;
  std::map<Key, Entry> cache_;            // guarded by mu_
  Cancellation* active_watch_ = nullptr;  // guarded by mu_
  std::condition_variable wake_;          // for Backoff, with mu_

  // Only the Run thread touches these.
  std::string resource_version_;
  std::chrono::milliseconds backoff_;
  std::mt19937 random_{std::random_device{}()};
};

}  // namespace nines::kube

#endif  // NINES_KUBE_INFORMER_H_
