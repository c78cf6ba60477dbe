// `nines operator`: the controller, in a pod (in-cluster configuration) or from a kubeconfig.
#include <httplib.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "operator/api/duration.h"
#include "operator/cli/commands.h"
#include "operator/cli/flags.h"
#include "operator/cli/generation_flags.h"
#include "operator/controller/conditions.h"
#include "operator/controller/controller.h"
#include "operator/controller/leader_election.h"
#include "operator/kube/config.h"
#include "operator/kube/http_transport.h"
#include "operator/kube/request_counter.h"
#include "operator/prometheus/query_client.h"

namespace nines::cli {
namespace {

// Structured log lines: one JSON object or one `key=value` line each, never a token.
class Logger {
 public:
  Logger(std::ostream& out, bool json) : out_(out), json_(json) {}

  void Log(const char* level, const std::string& message,
           const std::map<std::string, std::string>& fields = {}) {
    const std::string time = controller::FormatMicroTime(std::chrono::system_clock::now());
    std::string line;
    if (json_) {
      nlohmann::json entry = {{"time", time}, {"level", level}, {"msg", message}};
      for (const auto& [key, value] : fields) entry[key] = value;
      line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = time + " " + level + " " + message;
      for (const auto& [key, value] : fields)
        line += " " + key + "=" + nlohmann::json(value).dump();
    }
    std::lock_guard<std::mutex> lock(mu_);
    out_ << line << "\n" << std::flush;
  }

 private:
  std::mutex mu_;
  std::ostream& out_;
  const bool json_;
};

// The operator's own metrics, in Prometheus's text format.
class Metrics {
 public:
  void Reconciled(const std::string& outcome, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    ++reconciles_[outcome];
    duration_sum_ += seconds;
    ++duration_count_;
  }

  void StatusCycle(const controller::StatusCycle& cycle, double unix_seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_cycles_[cycle.prometheus.ok() ? "ok" : "prometheus_error"];
    status_queries_ += cycle.queries;
    status_writes_ += cycle.writes;
    status_write_errors_ += cycle.write_errors;
    status_events_ += cycle.events;
    last_cycle_seconds_ = std::chrono::duration<double>(cycle.took).count();
    if (cycle.prometheus.ok()) last_success_ = unix_seconds;
  }

  // Counters of a leadership term that ended carry over into the next one's.
  void EndTerm(const controller::Controller& controller) {
    std::lock_guard<std::mutex> lock(mu_);
    past_watch_restarts_ += controller.WatchRestarts();
    past_relists_ += controller.Relists();
  }

  std::string Render(const controller::Controller* controller, bool leading) const {
    std::ostringstream out;
    std::lock_guard<std::mutex> lock(mu_);
    out << "# HELP nines_reconcile_total Reconciles of ServiceLevelObjectives, by outcome.\n"
        << "# TYPE nines_reconcile_total counter\n";
    for (const auto& [outcome, count] : reconciles_) {
      out << "nines_reconcile_total{outcome=\"" << outcome << "\"} " << count << "\n";
    }
    out << "# HELP nines_reconcile_duration_seconds Time spent reconciling.\n"
        << "# TYPE nines_reconcile_duration_seconds summary\n"
        << "nines_reconcile_duration_seconds_sum " << duration_sum_ << "\n"
        << "nines_reconcile_duration_seconds_count " << duration_count_ << "\n"
        << "# HELP nines_queue_depth Objectives waiting for a worker.\n"
        << "# TYPE nines_queue_depth gauge\n"
        << "nines_queue_depth " << (controller != nullptr ? controller->QueueDepth() : 0) << "\n"
        << "# HELP nines_watch_restarts_total Watches that ended in an error and were restarted.\n"
        << "# TYPE nines_watch_restarts_total counter\n"
        << "nines_watch_restarts_total "
        << past_watch_restarts_ + (controller != nullptr ? controller->WatchRestarts() : 0) << "\n"
        << "# HELP nines_watch_relists_total Lists made because a watch's resourceVersion "
           "expired (410 Gone).\n"
        << "# TYPE nines_watch_relists_total counter\n"
        << "nines_watch_relists_total "
        << past_relists_ + (controller != nullptr ? controller->Relists() : 0) << "\n"
        << "# HELP nines_leader Whether this replica leads (and so writes).\n"
        << "# TYPE nines_leader gauge\n"
        << "nines_leader " << (leading ? 1 : 0) << "\n";
    // Objectives by state, from the leader's cache: what `kubectl get slo -A` would count.
    if (controller != nullptr) {
      std::map<std::string, int64_t> states = {{"Pending", 0},   {"Healthy", 0}, {"Burning", 0},
                                               {"Exhausted", 0}, {"NoData", 0},  {"Invalid", 0}};
      // Counted as the watch goes: a scrape parses no objective (decoding 10,000 of them on each
      // scrape cost 0.2 s, and tens of MiB that malloc kept per server thread).
      for (const auto& [state, count] : controller->CountObjectivesByState()) {
        states[state.empty() ? "Pending" : state] += count;
      }
      out << "# HELP nines_objectives ServiceLevelObjectives by state.\n"
          << "# TYPE nines_objectives gauge\n";
      for (const auto& [state, count] : states) {
        out << "nines_objectives{state=" << nlohmann::json(state).dump() << "} " << count << "\n";
      }
    }
    out << "# HELP nines_status_cycles_total Status loop cycles, by outcome.\n"
        << "# TYPE nines_status_cycles_total counter\n";
    for (const auto& [outcome, count] : status_cycles_) {
      out << "nines_status_cycles_total{outcome=\"" << outcome << "\"} " << count << "\n";
    }
    out << "# HELP nines_status_queries_total Prometheus queries made by the status loop.\n"
        << "# TYPE nines_status_queries_total counter\n"
        << "nines_status_queries_total " << status_queries_ << "\n"
        << "# HELP nines_status_writes_total Status writes made by the status loop.\n"
        << "# TYPE nines_status_writes_total counter\n"
        << "nines_status_writes_total " << status_writes_ << "\n"
        << "# HELP nines_status_write_errors_total Status writes that failed.\n"
        << "# TYPE nines_status_write_errors_total counter\n"
        << "nines_status_write_errors_total " << status_write_errors_ << "\n"
        << "# HELP nines_status_events_total Events recorded for budget transitions.\n"
        << "# TYPE nines_status_events_total counter\n"
        << "nines_status_events_total " << status_events_ << "\n"
        << "# HELP nines_status_cycle_seconds How long the last status cycle took.\n"
        << "# TYPE nines_status_cycle_seconds gauge\n"
        << "nines_status_cycle_seconds " << last_cycle_seconds_ << "\n"
        << "# HELP nines_status_last_success_timestamp_seconds When Prometheus last answered.\n"
        << "# TYPE nines_status_last_success_timestamp_seconds gauge\n"
        << "nines_status_last_success_timestamp_seconds " << last_success_ << "\n";
    return out.str();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> reconciles_;
  double duration_sum_ = 0;
  int64_t past_watch_restarts_ = 0;
  int64_t past_relists_ = 0;
  int64_t duration_count_ = 0;
  std::map<std::string, int64_t> status_cycles_;
  int64_t status_queries_ = 0;
  int64_t status_writes_ = 0;
  int64_t status_write_errors_ = 0;
  int64_t status_events_ = 0;
  double last_cycle_seconds_ = 0;
  double last_success_ = 0;
};

std::vector<std::string> SplitList(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find(',', start);
      if (end == std::string::npos) end = value.size();
      if (end > start) out.push_back(value.substr(start, end - start));
      start = end + 1;
    }
  }
  return out;
}

bool SplitHostPort(const std::string& address, std::string& host, int& port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  return port >= 0 && port <= 65535;
}

}  // namespace

int RunOperator(const std::vector<std::string>& args, Io& io) {
  FlagSet flags("operator", "[flags]",
                "Watches ServiceLevelObjectives and keeps each one's PrometheusRule and dashboard\n"
                "as `nines generate` renders them, and its Ready condition up to date. Runs\n"
                "in-cluster, or with a kubeconfig. Stops cleanly on SIGTERM.");
  flags.Add({.name = "kubeconfig",
             .help = "kubeconfig file; default $KUBECONFIG, else ~/.kube/config, else in-cluster",
             .value_name = "PATH"});
  flags.Add({.name = "context", .help = "kubeconfig context; default its current-context"});
  flags.Add({.name = "namespaces",
             .help = "namespaces to watch, comma-separated or repeated; default every namespace",
             .is_list = true,
             .value_name = "NAME"});
  flags.Add({.name = "workers",
             .help = "objectives reconciled at once",
             .default_value = "4",
             .value_name = "N"});
  flags.Add({.name = "requeue-period",
             .help = "how often every objective is revisited without an event",
             .default_value = "10m",
             .value_name = "DURATION"});
  flags.Add({.name = "min-rate-window",
             .help = "shortest alert window allowed; at least two scrape intervals",
             .default_value = "2m",
             .value_name = "DURATION"});
  flags.Add({.name = "metrics-address",
             .help = "HOST:PORT for /metrics, /healthz and /readyz; empty to serve none",
             .default_value = ":8080",
             .value_name = "HOST:PORT"});
  flags.Add({.name = "log-format",
             .help = "json or text",
             .default_value = "json",
             .value_name = "FORMAT"});
  flags.Add({.name = "instance",
             .help = "this replica's name in Events; default $POD_NAME, else the host name",
             .value_name = "NAME"});
  flags.Add({.name = "leader-elect",
             .help = "lead on a Lease, so that of several replicas exactly one writes",
             .default_value = "true",
             .is_bool = true});
  flags.Add({.name = "leader-election-namespace",
             .help = "the Lease's namespace; default the pod's, or the kubeconfig context's",
             .value_name = "NAME"});
  flags.Add({.name = "leader-election-id",
             .help = "the Lease's name",
             .default_value = "nines-operator",
             .value_name = "NAME"});
  flags.Add({.name = "prometheus-url",
             .help = "Prometheus, Thanos Query or Mimir to read the budgets from; empty: none",
             .value_name = "URL"});
  flags.Add({.name = "prometheus-bearer-token-file",
             .help = "file holding a bearer token for Prometheus; re-read as it rotates",
             .value_name = "PATH"});
  flags.Add({.name = "prometheus-basic-auth-username",
             .help = "basic-auth user for Prometheus",
             .value_name = "NAME"});
  flags.Add({.name = "prometheus-basic-auth-password-file",
             .help = "file holding the basic-auth password; re-read as it rotates",
             .value_name = "PATH"});
  flags.Add({.name = "prometheus-ca-file",
             .help = "PEM bundle to verify Prometheus's certificate with",
             .value_name = "PATH"});
  flags.Add({.name = "prometheus-cert-file",
             .help = "client certificate (PEM) for mutual TLS with Prometheus",
             .value_name = "PATH"});
  flags.Add({.name = "prometheus-key-file",
             .help = "the client certificate's key (PEM)",
             .value_name = "PATH"});
  flags.Add({.name = "prometheus-insecure-skip-tls-verify",
             .help = "do not verify Prometheus's certificate (never in production)",
             .default_value = "false",
             .is_bool = true});
  flags.Add({.name = "prometheus-header",
             .help = "extra request header NAME=VALUE, e.g. X-Scope-OrgID=team-a; repeatable",
             .is_list = true,
             .value_name = "NAME=VALUE"});
  flags.Add({.name = "prometheus-timeout",
             .help = "timeout of one Prometheus query",
             .default_value = "30s",
             .value_name = "DURATION"});
  flags.Add({.name = "status-interval",
             .help = "how often the budgets are read from Prometheus and written to the status",
             .default_value = "1m",
             .value_name = "DURATION"});
  AddGenerationFlags(flags);
  if (int rc = ParseFlags(flags, args, io); rc >= 0) return rc;

  GenerationSettings generation;
  if (!ReadGenerationFlags(flags, "prometheusrule", false, generation, io.err)) return 2;
  const std::string log_format = flags.Get("log-format");
  if (log_format != "json" && log_format != "text") {
    io.err << "nines: --log-format must be json or text, not \"" << log_format << "\"\n";
    return 2;
  }
  Logger log(io.err, log_format == "json");
  auto requeue = api::ParseDuration(flags.Get("requeue-period"));
  auto min_rate_window = api::ParseDuration(flags.Get("min-rate-window"));
  if (!requeue.ok() || !min_rate_window.ok()) {
    io.err << "nines: --requeue-period and --min-rate-window take durations like 10m\n";
    return 2;
  }
  auto status_interval = api::ParseDuration(flags.Get("status-interval"));
  auto prometheus_timeout = api::ParseDuration(flags.Get("prometheus-timeout"));
  if (!status_interval.ok() || status_interval->ms < 1000 || !prometheus_timeout.ok() ||
      prometheus_timeout->ms < 1000) {
    io.err << "nines: --status-interval and --prometheus-timeout take durations of at least 1s, "
              "like 1m\n";
    return 2;
  }
  std::unique_ptr<prometheus::QueryClient> prometheus;
  if (const std::string url = flags.Get("prometheus-url"); !url.empty()) {
    prometheus::QueryClientOptions prometheus_options{
        .url = url,
        .bearer_token_file = flags.Get("prometheus-bearer-token-file"),
        .basic_auth_username = flags.Get("prometheus-basic-auth-username"),
        .basic_auth_password_file = flags.Get("prometheus-basic-auth-password-file"),
        .ca_file = flags.Get("prometheus-ca-file"),
        .cert_file = flags.Get("prometheus-cert-file"),
        .key_file = flags.Get("prometheus-key-file"),
        .insecure_skip_tls_verify = flags.GetBool("prometheus-insecure-skip-tls-verify"),
        .timeout = std::chrono::milliseconds(prometheus_timeout->ms)};
    for (const std::string& header : flags.GetList("prometheus-header")) {
      std::string name;
      std::string value;
      if (!SplitKeyValue(header, name, value) || name.empty()) {
        io.err << "nines: --prometheus-header takes NAME=VALUE, not \"" << header << "\"\n";
        return 2;
      }
      prometheus_options.headers.emplace_back(name, value);
    }
    auto client = prometheus::NewHttpQueryClient(prometheus_options);
    if (!client.ok()) {
      io.err << "nines: " << client.status().message() << "\n";
      return 2;
    }
    prometheus = std::move(*client);
  }
  int workers = 0;
  try {
    workers = std::stoi(flags.Get("workers"));
  } catch (const std::exception&) {
  }
  if (workers < 1 || workers > 64) {
    io.err << "nines: --workers must be from 1 to 64\n";
    return 2;
  }

  // Where the API server is: a kubeconfig when one is named or found, else the pod's own.
  const std::string kubeconfig = kube::KubeconfigPath(flags.Get("kubeconfig"), io.getenv);
  Result<kube::ClusterConfig> cluster =
      !kubeconfig.empty() && access(kubeconfig.c_str(), R_OK) == 0
          ? kube::LoadKubeconfig({.path = kubeconfig, .context = flags.Get("context")})
          : kube::LoadInClusterConfig({});
  if (!cluster.ok()) {
    log.Log("error", "no Kubernetes configuration", {{"error", cluster.status().message()}});
    return 2;
  }
  auto transport = kube::NewHttpTransport(*cluster);
  if (!transport.ok()) {
    log.Log("error", "cannot reach the API server", {{"error", transport.status().message()}});
    return 2;
  }
  // Every request counted for /metrics: the API server's own counts do not say whose they are.
  auto requests = std::make_shared<kube::CountingTransport>(
      std::shared_ptr<kube::HttpTransport>(std::move(*transport)));
  kube::Client client(requests);

  std::string instance = flags.Get("instance");
  if (instance.empty() && io.getenv("POD_NAME") != nullptr) instance = io.getenv("POD_NAME");
  if (instance.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    instance = host;
  }

  Metrics metrics;
  controller::ControllerOptions options;
  options.reconciler.parse.min_rate_window = *min_rate_window;
  options.reconciler.rules = generation.rules;
  options.reconciler.dashboard = generation.dashboards.options;
  options.reconciler.dashboard_objects = generation.dashboards.object_options;
  options.reconciler.instance = instance;
  options.namespaces = SplitList(flags.GetList("namespaces"));
  options.workers = workers;
  options.requeue_period = std::chrono::milliseconds(requeue->ms);
  options.prometheus = prometheus.get();
  options.status.interval = std::chrono::milliseconds(status_interval->ms);
  options.on_status_cycle = [&](const controller::StatusCycle& cycle) {
    const auto now = std::chrono::system_clock::now();
    metrics.StatusCycle(cycle, std::chrono::duration<double>(now.time_since_epoch()).count());
    std::map<std::string, std::string> fields = {
        {"queries", std::to_string(cycle.queries)},
        {"evaluated", std::to_string(cycle.evaluated)},
        {"writes", std::to_string(cycle.writes)},
        {"events", std::to_string(cycle.events)},
        {"seconds", std::to_string(std::chrono::duration<double>(cycle.took).count())}};
    if (!cycle.prometheus.ok()) {
      fields["error"] = cycle.prometheus.ToString();
      log.Log("error", "cannot read the budgets from Prometheus: objectives are NoData", fields);
      return;
    }
    for (const std::string& warning : cycle.warnings) {
      log.Log("warning", "Prometheus answered with a warning", {{"warning", warning}});
    }
    if (cycle.write_errors > 0) {
      fields["write_errors"] = std::to_string(cycle.write_errors);
      log.Log("error", "some status writes failed; they are tried again next cycle", fields);
    } else if (cycle.writes > 0) {
      log.Log("info", "budgets written", fields);
    }
  };
  options.on_reconcile = [&](const std::string& key,
                             const Result<controller::ReconcileOutcome>& result,
                             std::chrono::nanoseconds took) {
    const double seconds = std::chrono::duration<double>(took).count();
    if (result.ok()) {
      metrics.Reconciled(controller::ReconcileOutcomeName(*result), seconds);
      log.Log("info", "reconciled",
              {{"slo", key}, {"outcome", controller::ReconcileOutcomeName(*result)}});
    } else {
      metrics.Reconciled("error", seconds);
      log.Log("error", "reconcile failed; retrying with backoff",
              {{"slo", key}, {"error", result.status().ToString()}});
    }
  };

  // SIGTERM and SIGINT go to one thread that stops everything; the others never see them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const bool leader_elect = flags.GetBool("leader-elect");
  std::string lease_namespace = flags.Get("leader-election-namespace");
  if (lease_namespace.empty()) lease_namespace = cluster->namespace_name;
  controller::LeaderElector elector(client, {.namespace_name = lease_namespace,
                                             .name = flags.Get("leader-election-id"),
                                             .identity = instance});
  if (leader_elect) options.reconciler.may_write = [&elector] { return elector.IsLeader(); };

  // The controller of the current leadership term; none while this replica waits to lead. A new
  // term starts a fresh controller, whose first lists catch up on whatever happened meanwhile.
  std::mutex term_mu;
  std::shared_ptr<controller::Controller> term;
  const auto current = [&] {
    std::lock_guard<std::mutex> lock(term_mu);
    return term;
  };
  const auto set_current = [&](std::shared_ptr<controller::Controller> next) {
    std::lock_guard<std::mutex> lock(term_mu);
    term = std::move(next);
  };

  httplib::Server server;
  std::thread server_thread;
  const std::string metrics_address = flags.Get("metrics-address");
  if (!metrics_address.empty()) {
    std::string host;
    int port = 0;
    if (!SplitHostPort(metrics_address, host, port)) {
      io.err << "nines: --metrics-address takes HOST:PORT, not \"" << metrics_address << "\"\n";
      return 2;
    }
    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    // A replica waiting to lead is ready: it is a healthy standby. A leader is ready once its
    // caches have synced.
    server.Get("/readyz", [&](const httplib::Request&, httplib::Response& res) {
      auto controller = current();
      const bool ready = controller == nullptr || controller->Synced();
      res.status = ready ? 200 : 503;
      res.set_content(ready ? "ok\n" : "the caches have not synced yet\n", "text/plain");
    });
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.Render(current().get(), elector.IsLeader() || !leader_elect) +
                          requests->RenderMetrics(),
                      "text/plain; version=0.0.4");
    });
    if (!server.bind_to_port(host, port)) {
      log.Log("error", "cannot listen", {{"address", metrics_address}});
      return 2;
    }
    server_thread = std::thread([&server] { server.listen_after_bind(); });
  }

  std::atomic<bool> stopping{false};
  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    if (stopping.exchange(true)) return;
    log.Log("info", "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    elector.Stop();
    if (auto controller = current()) controller->Stop();
  });

  if (prometheus == nullptr) {
    log.Log("warning", "no --prometheus-url: budgets are not read, and objectives stay Pending");
  } else if (flags.GetBool("prometheus-insecure-skip-tls-verify")) {
    log.Log("warning",
            "Prometheus's certificate is not verified (--prometheus-insecure-skip-tls-verify)");
  }
  // The URL holds no password: NewHttpQueryClient refuses one there.
  log.Log("info", "starting",
          {{"api_server", cluster->server},
           {"config", cluster->source},
           {"instance", instance},
           {"metrics_address", metrics_address},
           {"prometheus", flags.Get("prometheus-url")}});
  const auto run_term = [&] {
    auto controller = std::make_shared<controller::Controller>(client, options);
    set_current(controller);
    if (stopping.load()) controller->Stop();  // a signal between the check and set_current
    controller->Run();
    metrics.EndTerm(*controller);
    set_current(nullptr);
  };
  if (!leader_elect) {
    run_term();
  } else {
    const std::string lease = lease_namespace + "/" + flags.Get("leader-election-id");
    while (!stopping.load()) {
      log.Log("info", "waiting to lead", {{"lease", lease}});
      if (!elector.WaitToLead()) break;
      log.Log("info", "leading", {{"lease", lease}, {"identity", instance}});
      // Renewing runs beside the controller. Losing the Lease stops every write at once (through
      // may_write) and then the controller; this replica then campaigns again.
      std::atomic<bool> lost{false};
      std::thread keeper([&] {
        if (!elector.KeepLeading()) {
          lost.store(true);
          log.Log("error", "lost the lease: stopping the controller");
          if (auto controller = current()) controller->Stop();
        }
      });
      run_term();
      if (!lost.load()) elector.Stop();
      keeper.join();
      if (!lost.load()) {
        elector.Release();
        break;
      }
    }
  }
  if (!stopping.exchange(true)) {
    // The loop ended on its own: wake the signal thread, the only one that takes SIGTERM.
    kill(getpid(), SIGTERM);
  }
  signal_thread.join();
  server.stop();
  if (server_thread.joinable()) server_thread.join();
  log.Log("info", "stopped");
  return 0;
}

}  // namespace nines::cli
