#include "operator/controller/slo_reconciler.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "operator/api/slo_spec.h"
#include "operator/controller/conditions.h"

namespace nines::controller {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxMessageLength = 1024;
constexpr int kStatusWriteAttempts = 5;

std::string Truncate(std::string text) {
  if (text.size() > kMaxMessageLength) {
    text.resize(kMaxMessageLength - 3);
    text += "...";
  }
  return text;
}

// Whether `object` names `uid` as its controller.
bool ControlledBy(const Json& object, const std::string& uid) {
  const Json refs =
      object.value("metadata", Json::object()).value("ownerReferences", Json::array());
  return std::ranges::any_of(refs, [&](const Json& ref) {
    return ref.is_object() && ref.value("controller", false) && ref.value("uid", "") == uid;
  });
}

Json OwnerReference(const Json& slo) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"name", slo["metadata"].value("name", "")},
          {"uid", slo["metadata"].value("uid", "")},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

// ordered_json (generation keeps key order for byte-identical output) to the client's json.
Json ToJson(const nlohmann::ordered_json& value) { return Json::parse(value.dump()); }

Status NotLeader() { return UnavailableError("not the leader: this replica no longer writes"); }

std::string Describe(const std::string& kind, const std::string& ns, const std::string& name) {
  return kind + " " + ns + "/" + name;
}

}  // namespace

kube::ResourceType SloResource() {
  return {"nines.dev", "v1alpha1", "servicelevelobjectives", /*namespaced=*/true};
}
kube::ResourceType PrometheusRuleResource() {
  return {"monitoring.coreos.com", "v1", "prometheusrules", /*namespaced=*/true};
}
kube::ResourceType GrafanaDashboardResource() {
  return {"grafana.integreatly.org", "v1beta1", "grafanadashboards", /*namespaced=*/true};
}

const char* ReconcileOutcomeName(ReconcileOutcome outcome) {
  switch (outcome) {
    case ReconcileOutcome::kGone:
      return "gone";
    case ReconcileOutcome::kApplied:
      return "applied";
    case ReconcileOutcome::kInvalid:
      return "invalid";
    case ReconcileOutcome::kOwnershipConflict:
      return "ownership_conflict";
  }
  return "unknown";
}

SloReconciler::SloReconciler(kube::Client& client, ReconcilerOptions options)
    : client_(client),
      options_(std::move(options)),
      events_(
          client,
          {.instance = options_.instance, .may_write = options_.may_write, .now = options_.now}) {}

bool SloReconciler::StaleCarrierChecked(const std::string& key, const std::string& uid) {
  std::lock_guard<std::mutex> lock(checked_mu_);
  auto found = stale_carrier_checked_.find(key);
  return found != stale_carrier_checked_.end() && found->second == uid;
}

void SloReconciler::SetStaleCarrierChecked(const std::string& key, const std::string& uid) {
  std::lock_guard<std::mutex> lock(checked_mu_);
  stale_carrier_checked_[key] = uid;
}

Result<ReconcileOutcome> SloReconciler::Reconcile(const std::string& namespace_name,
                                                  const std::string& name) {
  const std::string key = namespace_name + "/" + name;
  const auto gone = [&] {
    if (options_.own_writes != nullptr) options_.own_writes->Forget(key);
    std::lock_guard<std::mutex> lock(checked_mu_);
    stale_carrier_checked_.erase(key);
    return ReconcileOutcome::kGone;
  };
  // From the API server, not the informer's cache, revisits included: twice in CI a replica that
  // had just taken over never saw, in its cache, an edit made around its first list, and kept the
  // old rules. A GET puts right whatever the watch missed within one --requeue-period.
  Result<Json> got = client_.Get(SloResource(), namespace_name, name);
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) return gone();
    return got.status();
  }
  const Json& slo = *got;
  if (!slo.is_object() || !slo.contains("metadata") || !slo["metadata"].is_object()) {
    return InternalError("the API server returned " + namespace_name + "/" + name +
                         " without metadata");
  }
  if (slo["metadata"].contains("deletionTimestamp")) return gone();
  // A copy: the condition must outlive the temporaries it is read from.
  const Json conditions = slo.value("status", Json::object()).value("conditions", Json::array());
  const Json* ready_condition = FindCondition(conditions, "Ready");
  const Json ready = ready_condition != nullptr ? *ready_condition : Json();
  const auto ready_is = [&](const char* status, const std::string& reason,
                            const std::string& message) {
    return ready.is_object() && ready.value("status", "") == status &&
           ready.value("reason", "") == reason && ready.value("message", "") == message;
  };

  // Validation: the same parser `nines validate` runs, on the object as the server has it.
  api::ParseOptions parse = options_.parse;
  parse.default_namespace = namespace_name;
  api::ParsedResources parsed = api::ParseResources(slo.dump(), namespace_name + "/" + name, parse);
  if (!parsed.errors.empty() || parsed.slos.size() != 1) {
    std::string message;
    for (const api::FieldError& error : parsed.errors) {
      if (!message.empty()) message += "; ";
      message += (error.path.empty() ? "" : error.path + ": ") + error.message;
    }
    if (message.empty()) message = "not a ServiceLevelObjective";
    message = Truncate(message);
    if (!ready_is("False", "InvalidSpec", message))
      events_.Record(slo, EventType::kWarning, "InvalidSpec", message);
    if (Status s = WriteReady(slo, false, "InvalidSpec", message, "Invalid"); !s.ok()) {
      return s;
    }
    return ReconcileOutcome::kInvalid;
  }
  const api::SloSpec& spec = parsed.slos.front();
  const std::string uid = slo["metadata"].value("uid", "");

  std::vector<Desired> desired;
  Json rule = ToJson(slo::GeneratePrometheusRule(spec, options_.rules));
  rule["metadata"]["ownerReferences"] = Json::array({OwnerReference(slo)});
  desired.push_back({PrometheusRuleResource(), "PrometheusRule", std::move(rule)});
  const auto dashboard = slo::GenerateDashboard(spec, options_.dashboard);
  if (auto object = slo::GenerateDashboardObject(spec, dashboard, options_.dashboard_objects)) {
    Json carrier = ToJson(*object);
    carrier["metadata"]["ownerReferences"] = Json::array({OwnerReference(slo)});
    const bool config_map = options_.dashboard_objects.mode == slo::DashboardMode::kConfigMap;
    desired.push_back({config_map ? kube::ConfigMapResource() : GrafanaDashboardResource(),
                       config_map ? "ConfigMap" : "GrafanaDashboard", std::move(carrier)});
  }

  // Ownership: an object of the same name that this objective does not control is somebody
  // else's, and stays byte for byte as it is.
  for (Desired& d : desired) {
    const std::string object_name = d.object["metadata"]["name"];
    if (options_.cached) {
      // Ours by the cache: no need to ask. Anything else (not cached: absent, or not labelled as
      // ours; cached but controlled by another) is asked for.
      d.cached = options_.cached(d.type, namespace_name, object_name);
      if (d.cached && ControlledBy(*d.cached, uid)) continue;
      d.cached.reset();
    }
    Result<Json> current = client_.Get(d.type, namespace_name, object_name);
    if (current.ok()) {
      if (ControlledBy(*current, uid)) continue;
      const std::string message =
          Truncate(Describe(d.kind, namespace_name, object_name) +
                   " exists and is not controlled by this ServiceLevelObjective; nines leaves it "
                   "untouched: delete or rename it, or rename the objective");
      if (!ready_is("False", "OwnershipConflict", message)) {
        events_.Record(slo, EventType::kWarning, "OwnershipConflict", message);
      }
      if (Status s = WriteReady(slo, false, "OwnershipConflict", message, nullptr); !s.ok()) {
        return s;
      }
      return ReconcileOutcome::kOwnershipConflict;
    }
    if (current.status().code() != StatusCode::kNotFound) return current.status();
  }

  for (const Desired& d : desired) {
    const size_t fingerprint = std::hash<std::string>{}(d.object.dump());
    if (d.cached && options_.own_writes != nullptr &&
        options_.own_writes->AppliedUnchanged(key, d.type.plural, *d.cached, fingerprint)) {
      continue;  // as our last apply left it, and it would send the same
    }
    if (!options_.may_write()) return NotLeader();
    Result<Json> applied = client_.Apply(d.type, namespace_name, d.object, "", kFieldManager);
    if (!applied.ok()) {
      return Status(applied.status().code(),
                    "applying " + Describe(d.kind, namespace_name, d.object["metadata"]["name"]) +
                        ": " + applied.status().message());
    }
    if (options_.own_writes != nullptr) {
      options_.own_writes->RememberApply(key, d.type.plural, *applied, fingerprint);
    }
  }

  // A dashboard carrier of the kind no longer configured (the mode changed): ours, so removed.
  const std::string dashboard_name = slo::DashboardObjectName(spec);
  const bool stale_checked = StaleCarrierChecked(key, uid);
  bool looked = true;  // every kind answered: absent (or no such kind), not ours, or deleted
  for (const auto& [type, kind] : {std::pair{kube::ConfigMapResource(), "ConfigMap"},
                                   std::pair{GrafanaDashboardResource(), "GrafanaDashboard"}}) {
    if (stale_checked) break;
    bool wanted = false;
    for (const Desired& d : desired) wanted = wanted || d.kind == kind;
    if (wanted) continue;
    Result<Json> stale = client_.Get(type, namespace_name, dashboard_name);
    if (!stale.ok() && stale.status().code() != StatusCode::kNotFound) looked = false;
    if (!stale.ok() || !ControlledBy(*stale, uid)) continue;  // absent, no such kind, or not ours
    if (!options_.may_write()) return NotLeader();
    kube::DeleteOptions precondition{.precondition_uid = (*stale)["metadata"].value("uid", "")};
    if (Status s = client_.Delete(type, namespace_name, dashboard_name, precondition);
        !s.ok() && s.code() != StatusCode::kNotFound) {
      return s;
    }
  }
  if (!stale_checked && looked) SetStaleCarrierChecked(key, uid);

  const std::string message = desired.size() > 1
                                  ? "PrometheusRule and dashboard " + desired[1].kind + " applied"
                                  : std::string("PrometheusRule applied");
  if (ready.is_object() && ready.value("status", "") == "False") {
    events_.Record(slo, EventType::kNormal, "Reconciled", message);
  }
  if (Status s = WriteReady(slo, true, "Reconciled", message, nullptr); !s.ok()) {
    return s;
  }
  return ReconcileOutcome::kApplied;
}

Status SloReconciler::WriteReady(const Json& read, bool ready, const std::string& reason,
                                 const std::string& message, const char* state) {
  const std::string namespace_name = read["metadata"].value("namespace", "");
  const std::string name = read["metadata"].value("name", "");
  const std::string key = namespace_name + "/" + name;
  Status last;
  for (int attempt = 0; attempt < kStatusWriteAttempts; ++attempt) {
    // First onto what this reconcile read; after a conflict (the status loop writes the same
    // object) re-read.
    Json slo;
    if (attempt == 0) {
      slo = read;
    } else {
      Result<Json> got = client_.Get(SloResource(), namespace_name, name);
      if (!got.ok()) {
        return got.status().code() == StatusCode::kNotFound ? Status::Ok() : got.status();
      }
      slo = std::move(*got);
    }
    Json status = slo.value("status", Json::object());
    const int64_t generation = slo["metadata"].value("generation", int64_t{0});
    const Json before = status;
    Json conditions = status.value("conditions", Json::array());
    SetCondition(conditions,
                 {.type = "Ready",
                  .status = ready ? ConditionStatus::kTrue : ConditionStatus::kFalse,
                  .reason = reason,
                  .message = message,
                  .observed_generation = generation},
                 options_.now());
    status["conditions"] = std::move(conditions);
    status["observedGeneration"] = generation;
    if (state != nullptr) {
      status["state"] = state;
    } else if (!status.contains("state") || status["state"] == "Invalid") {
      status["state"] = "Pending";  // valid now; the status loop brings the budget state
    }
    if (status == before) return Status::Ok();
    if (!options_.may_write()) return NotLeader();
    slo["status"] = std::move(status);
    Result<Json> written = client_.UpdateStatus(SloResource(), namespace_name, slo);
    if (written.ok()) {
      if (options_.own_writes != nullptr) {
        options_.own_writes->Remember(key, SloResource().plural, *written);
      }
      return Status::Ok();
    }
    last = written.status();
    if (last.code() == StatusCode::kNotFound) return Status::Ok();
    if (last.code() != StatusCode::kConflict) return last;
  }
  return last;
}

}  // namespace nines::controller
