#include "operator/controller/controller.h"

#include <iterator>
#include <thread>

namespace nines::controller {
namespace {

// What the caches keep. Of an objective: all but managedFields and kubectl's copy of the last
// applied object, which the reconciler and the status loop never read (both write through the
// status subresource, which ignores metadata). Of a generated object: the metadata that leads to
// its objective and says whose it is; a change to the rest shows as a new resourceVersion, which
// is all the controller needs to reconcile the objective again, or to know that our last apply
// of it still stands (OwnWrites::AppliedUnchanged).
void TrimObjective(nlohmann::json& object) {
  if (!object.is_object() || !object.contains("metadata")) return;
  nlohmann::json& metadata = object["metadata"];
  metadata.erase("managedFields");
  if (metadata.contains("annotations") && metadata["annotations"].is_object()) {
    metadata["annotations"].erase("kubectl.kubernetes.io/last-applied-configuration");
    if (metadata["annotations"].empty()) metadata.erase("annotations");
  }
}

void KeepMetadataOnly(nlohmann::json& object) {
  if (!object.is_object() || !object.contains("metadata")) return;
  nlohmann::json kept = nlohmann::json::object();
  const nlohmann::json& metadata = object["metadata"];
  for (const char* key :
       {"name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences"}) {
    if (metadata.contains(key)) kept[key] = metadata[key];
  }
  object = {{"metadata", std::move(kept)}};
}

std::string KeyOf(const std::string& namespace_name, const std::string& name) {
  return namespace_name + "/" + name;
}

}  // namespace

ControllerOptions Controller::WithHooks(ControllerOptions options) {
  options.reconciler.own_writes = &own_writes_;
  options.status.own_writes = &own_writes_;
  // Called by workers only, once the informers exist.
  options.reconciler.cached = [this](const kube::ResourceType& type, const std::string& ns,
                                     const std::string& name) { return Cached(type, ns, name); };
  return options;
}

std::optional<nlohmann::json> Controller::Cached(const kube::ResourceType& type,
                                                 const std::string& namespace_name,
                                                 const std::string& name) const {
  for (const Cache& cache : caches_) {
    if (cache.plural != type.plural) continue;
    if (!cache.namespace_name.empty() && cache.namespace_name != namespace_name) continue;
    return cache.informer->Get(namespace_name, name);
  }
  return std::nullopt;
}

Controller::Controller(kube::Client& client, ControllerOptions options)
    : client_(client),
      options_(WithHooks(std::move(options))),
      reconciler_(client, options_.reconciler),
      queue_(options_.queue) {
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.emplace_back();  // "" is every namespace
  const std::string generated = std::string(kManagedByLabel) + "=nines";
  std::vector<kube::ResourceType> generated_types = {PrometheusRuleResource()};
  switch (options_.reconciler.dashboard_objects.mode) {
    case slo::DashboardMode::kConfigMap:
      generated_types.push_back(kube::ConfigMapResource());
      break;
    case slo::DashboardMode::kGrafanaOperator:
      generated_types.push_back(GrafanaDashboardResource());
      break;
    case slo::DashboardMode::kNone:
      break;
  }
  if (options_.prometheus != nullptr) {
    StatusLoopOptions status = options_.status;
    status.namespaces = options_.namespaces;
    status.parse = options_.reconciler.parse;
    status.instance = options_.reconciler.instance;
    status.may_write = options_.reconciler.may_write;
    status.now = options_.reconciler.now;
    status.begin_write = [this](const std::string& key) { BeginFlight(key); };
    status.end_write = [this](const std::string& key) {
      if (EndFlight(key)) queue_.Add(key);
    };
    status_loop_ = std::make_unique<StatusLoop>(
        client_, *options_.prometheus,
        [this](const StatusLoop::ObjectiveVisitor& visit) { ForEachObjective(visit); },
        std::move(status));
  }
  for (const std::string& ns : namespaces) {
    slo_informers_.push_back(std::make_unique<kube::Informer>(
        client_,
        kube::InformerOptions{
            .type = SloResource(), .namespace_name = ns, .transform = TrimObjective},
        [this](const nlohmann::json& object, bool deleted) {
          RecordState(object, deleted);
          Enqueue(object, false, SloResource().plural, deleted);
        }));
    caches_.push_back({SloResource().plural, ns, slo_informers_.back().get()});
    for (const kube::ResourceType& type : generated_types) {
      generated_informers_.push_back(std::make_unique<kube::Informer>(
          client_,
          kube::InformerOptions{.type = type,
                                .namespace_name = ns,
                                .label_selector = generated,
                                // A dashboard is about 32 KiB: pages of 500 were 16 MiB of JSON.
                                .list_page_size = 100,
                                .transform = KeepMetadataOnly},
          [this, plural = type.plural](const nlohmann::json& object, bool deleted) {
            Enqueue(object, true, plural, deleted);
          }));
      caches_.push_back({type.plural, ns, generated_informers_.back().get()});
    }
  }
}

Controller::~Controller() { Stop(); }

void Controller::Enqueue(const nlohmann::json& object, bool from_generated,
                         const std::string& resource, bool deleted) {
  const nlohmann::json& metadata = object.value("metadata", nlohmann::json::object());
  const std::string ns = metadata.value("namespace", "");
  std::string name = metadata.value("name", "");
  if (from_generated) {
    // A generated object names its objective in a label; a changed or deleted one sends the
    // objective back through the reconciler, which puts it back as generated.
    name = metadata.value("labels", nlohmann::json::object()).value(kSloLabel, "");
  }
  if (ns.empty() || name.empty()) return;
  const std::string key = KeyOf(ns, name);
  if (!deleted) {
    // Both under the flight lock: a flight ends (EndFlight) only after its writes are remembered,
    // so an event that finds none in flight either is the echo of a remembered write or a change.
    std::lock_guard<std::mutex> lock(flight_mu_);
    auto flight = in_flight_.find(key);
    if (flight != in_flight_.end()) {
      // A write of this objective may not be remembered yet: held until its flight ends.
      flight->second.held.push_back({resource,
                                     {{"name", metadata.value("name", "")},
                                      {"resourceVersion", metadata.value("resourceVersion", "")}}});
      return;
    }
    // Our own write coming back: the objective is as the reconciler (or the status loop) left it.
    if (own_writes_.IsEcho(key, resource, object)) {
      echoes_skipped_.fetch_add(1);
      return;
    }
  }
  queue_.Add(key);
}

void Controller::BeginFlight(const std::string& key) {
  std::lock_guard<std::mutex> lock(flight_mu_);
  ++in_flight_[key].flights;
}

bool Controller::EndFlight(const std::string& key) {
  std::vector<HeldEvent> held;
  {
    std::lock_guard<std::mutex> lock(flight_mu_);
    auto flight = in_flight_.find(key);
    if (flight == in_flight_.end()) return false;
    if (--flight->second.flights > 0) return false;  // the last flight judges what was held
    held = std::move(flight->second.held);
    in_flight_.erase(flight);
  }
  bool changed = false;
  for (const HeldEvent& event : held) {
    if (own_writes_.IsEcho(key, event.resource, {{"metadata", event.metadata}})) {
      echoes_skipped_.fetch_add(1);
    } else {
      changed = true;
    }
  }
  return changed;
}

void Controller::Work() {
  while (std::optional<std::string> key = queue_.Get()) {
    const size_t slash = key->find('/');
    const auto start = std::chrono::steady_clock::now();
    BeginFlight(*key);
    Result<ReconcileOutcome> result =
        reconciler_.Reconcile(key->substr(0, slash), key->substr(slash + 1));
    // A change that came while it ran: again (the queue runs it after Done).
    if (EndFlight(*key)) queue_.Add(*key);
    const auto took = std::chrono::steady_clock::now() - start;
    if (options_.on_reconcile) options_.on_reconcile(*key, result, took);
    if (result.ok()) {
      queue_.Forget(*key);
      if (*result != ReconcileOutcome::kGone) queue_.AddAfter(*key, options_.requeue_period);
    } else {
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

void Controller::Run() {
  std::vector<std::thread> threads;
  for (auto& informer : slo_informers_) threads.emplace_back([&informer] { informer->Run(); });
  for (auto& informer : generated_informers_) {
    threads.emplace_back([&informer] { informer->Run(); });
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) threads.emplace_back([this] { Work(); });
  threads.emplace_back([this] {
    // Once every cache has its first list, the pages it parsed are handed back to the system. The
    // status loop's first cycle waits for the caches too: before they have synced, objectives
    // would look gone.
    const auto all_synced = [this] {
      for (const auto& informer : generated_informers_) {
        if (!informer->HasSynced()) return false;
      }
      return Synced();
    };
    while (!all_synced() && !stopped_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ReleaseFreeMemory();
    if (status_loop_ != nullptr && !stopped_.load()) status_loop_->Run(options_.on_status_cycle);
  });
  for (std::thread& t : threads) t.join();
}

void Controller::Stop() {
  if (stopped_.exchange(true)) return;
  for (auto& informer : slo_informers_) informer->Stop();
  for (auto& informer : generated_informers_) informer->Stop();
  if (status_loop_ != nullptr) status_loop_->Stop();
  // Let a reconcile in flight finish its writes; the workers then see the queue closed.
  queue_.ShutDown();
}

bool Controller::Synced() const {
  for (const auto& informer : slo_informers_) {
    if (!informer->HasSynced()) return false;
  }
  return true;
}

void Controller::ForEachObjective(const std::function<void(const nlohmann::json&)>& visit) const {
  for (const auto& informer : slo_informers_) informer->ForEach(visit);
}

void Controller::RecordState(const nlohmann::json& object, bool deleted) {
  const nlohmann::json& metadata = object.value("metadata", nlohmann::json::object());
  const std::string key = KeyOf(metadata.value("namespace", ""), metadata.value("name", ""));
  std::lock_guard<std::mutex> lock(states_mu_);
  if (deleted) {
    states_.erase(key);
    return;
  }
  const nlohmann::json& status = object.value("status", nlohmann::json::object());
  states_[key] = status.is_object() ? status.value("state", "") : "";
}

std::map<std::string, int64_t> Controller::CountObjectivesByState() const {
  std::map<std::string, int64_t> out;
  std::lock_guard<std::mutex> lock(states_mu_);
  for (const auto& [key, state] : states_) ++out[state];
  return out;
}

int64_t Controller::Relists() const {
  int64_t total = 0;
  for (const auto& informer : slo_informers_) total += informer->relists();
  for (const auto& informer : generated_informers_) total += informer->relists();
  return total;
}

int64_t Controller::WatchRestarts() const {
  int64_t total = 0;
  for (const auto& informer : slo_informers_) total += informer->watch_restarts();
  for (const auto& informer : generated_informers_) total += informer->watch_restarts();
  return total;
}

}  // namespace nines::controller
