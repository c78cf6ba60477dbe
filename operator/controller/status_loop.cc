#include "operator/controller/status_loop.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "operator/controller/budget_status.h"
#include "operator/controller/conditions.h"
#include "operator/controller/slo_reconciler.h"

namespace nines::controller {
namespace {

using Json = nlohmann::json;

constexpr int kWriteAttempts = 3;

// Whether the reconciler has applied the objective's current generation: only then do its rules,
// and so its series, describe the spec as it is.
bool ReadyForGeneration(const Json& slo, const Json& status) {
  const Json conditions = status.value("conditions", Json::array());
  const Json* ready = FindCondition(conditions, "Ready");
  if (ready == nullptr || ready->value("status", "") != "True") return false;
  const int64_t generation = slo["metadata"].value("generation", int64_t{0});
  return ready->value("observedGeneration", int64_t{-1}) == generation;
}

}  // namespace

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

StatusLoop::StatusLoop(kube::Client& client, prometheus::QueryClient& prometheus,
                       ObjectiveLister list, StatusLoopOptions options)
    : client_(client),
      prometheus_(prometheus),
      list_(std::move(list)),
      options_(std::move(options)),
      events_(client, {.instance = options_.instance,
                       .action = "EvaluateBudget",
                       .may_write = options_.may_write,
                       .now = options_.now}) {}

const api::SloSpec* StatusLoop::SpecOf(const Json& slo, std::map<std::string, CachedSpec>& next) {
  const Json& metadata = slo["metadata"];
  const std::string uid = metadata.value("uid", "");
  const int64_t generation = metadata.value("generation", int64_t{0});
  auto cached = specs_.find(uid);
  if (cached != specs_.end() && cached->second.generation == generation) {
    auto& kept = next[uid] = std::move(cached->second);
    return kept.spec ? &*kept.spec : nullptr;
  }
  api::ParseOptions parse = options_.parse;
  parse.default_namespace = metadata.value("namespace", "");
  api::ParsedResources parsed = api::ParseResources(slo.dump(), uid, parse);
  CachedSpec& entry = next[uid];
  entry.generation = generation;
  if (parsed.errors.empty() && parsed.slos.size() == 1) entry.spec = std::move(parsed.slos.front());
  return entry.spec ? &*entry.spec : nullptr;
}

StatusCycle StatusLoop::RunOnce() {
  const auto start = std::chrono::steady_clock::now();
  StatusCycle cycle;
  // Each answer is grouped as it comes and then dropped: one answer parsed at a time.
  std::map<ObjectiveKey, ObjectiveSeries> series;
  const std::vector<std::string> queries = StatusQueries(options_.namespaces);
  for (size_t i = 0; i < queries.size(); ++i) {
    ++cycle.queries;
    Result<prometheus::QueryResult> answer = prometheus_.Query(queries[i]);
    if (!answer.ok()) {
      cycle.prometheus =
          Status(answer.status().code(), queries[i] + ": " + answer.status().message());
      break;
    }
    for (const std::string& warning : answer->warnings) cycle.warnings.push_back(warning);
    GroupAnswer(i, *answer, series);
  }
  const auto now = options_.now();

  std::map<std::string, CachedSpec> next_specs;
  list_([&](const Json& slo) {
    if (!slo.is_object() || !slo.contains("metadata") || !slo["metadata"].is_object()) return;
    const Json status = slo.value("status", Json::object());
    const std::string state = status.value("state", "");
    if (!ReadyForGeneration(slo, status) || !options_.may_write()) {
      ++cycle.states[state];
      return;
    }
    const api::SloSpec* spec = SpecOf(slo, next_specs);
    if (spec == nullptr) {  // the reconciler will say why; it owns Invalid
      ++cycle.states[state];
      return;
    }
    auto found = series.find({spec->namespace_name, spec->name});
    // A partial answer (a Thanos store that did not reply) may lack an objective that has data:
    // leave such an objective as it is rather than call it Pending.
    if (found == series.end() && cycle.prometheus.ok() && !cycle.warnings.empty()) {
      ++cycle.states[state];
      return;
    }
    const BudgetStatus budget = ComputeBudgetStatus(
        *spec, found == series.end() ? nullptr : &found->second, cycle.prometheus, now);
    ++cycle.evaluated;
    ++cycle.states[budget.state];
    if (Status s = Write(slo, budget, cycle); !s.ok()) ++cycle.write_errors;
  });
  specs_ = std::move(next_specs);
  cycle.took = std::chrono::steady_clock::now() - start;
  return cycle;
}

Status StatusLoop::Write(Json slo, const BudgetStatus& budget, StatusCycle& cycle) {
  const std::string ns = slo["metadata"].value("namespace", "");
  const std::string name = slo["metadata"].value("name", "");
  const std::string key = ns + "/" + name;
  if (options_.begin_write) options_.begin_write(key);
  Status status = WriteOnce(std::move(slo), budget, cycle);
  if (options_.end_write) options_.end_write(key);
  return status;
}

Status StatusLoop::WriteOnce(Json slo, const BudgetStatus& budget, StatusCycle& cycle) {
  const std::string ns = slo["metadata"].value("namespace", "");
  const std::string name = slo["metadata"].value("name", "");
  const std::string key = ns + "/" + name;
  Status last;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    Json status = slo.value("status", Json::object());
    const int64_t generation = slo["metadata"].value("generation", int64_t{0});
    std::vector<BudgetTransition> transitions;
    if (!MergeBudgetStatus(status, budget, generation, options_.now(), &transitions)) {
      return Status::Ok();
    }
    if (!options_.may_write()) return UnavailableError("not the leader");
    slo["status"] = std::move(status);
    Result<Json> written = client_.UpdateStatus(SloResource(), ns, slo);
    if (written.ok()) {
      ++cycle.writes;
      if (options_.own_writes != nullptr) {
        options_.own_writes->Remember(key, SloResource().plural, *written);
      }
      for (const BudgetTransition& t : transitions) {
        events_.Record(slo, t.type, t.reason, t.note);
        ++cycle.events;
      }
      return Status::Ok();
    }
    last = written.status();
    if (last.code() == StatusCode::kNotFound) return Status::Ok();  // deleted meanwhile
    if (last.code() != StatusCode::kConflict) return last;
    // The reconciler (or a spec change) wrote first: merge into what is there now.
    ++cycle.conflicts;
    Result<Json> fresh = client_.Get(SloResource(), ns, name);
    if (!fresh.ok()) {
      return fresh.status().code() == StatusCode::kNotFound ? Status::Ok() : fresh.status();
    }
    slo = std::move(*fresh);
    if (!ReadyForGeneration(slo, slo.value("status", Json::object()))) return Status::Ok();
  }
  return last;
}

void StatusLoop::Run(const std::function<void(const StatusCycle&)>& on_cycle) {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
    }
    const StatusCycle cycle = RunOnce();
    ReleaseFreeMemory();
    if (on_cycle) on_cycle(cycle);
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, options_.interval, [this] { return stopped_; });
  }
}

void StatusLoop::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  wake_.notify_all();
}

}  // namespace nines::controller
