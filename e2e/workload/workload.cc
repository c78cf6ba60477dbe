// nines-workload: a synthetic service for demos and end-to-end tests. It serves no real requests:
// it simulates them, and exposes the metrics a real checkout service would, so that nines's rules
// can be watched against a Prometheus that scrapes it. Its behaviour (error ratio, latency, rate)
// changes at run time through POST /control. See e2e/workload/README.md.
#include <httplib.h>
#include <pthread.h>

#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <numbers>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  double error_ratio = 0;   // share of requests that fail with a 500
  double latency_ms = 120;  // median latency
  double rate = 20;         // requests per second
};

// The upper bounds of the latency histogram's buckets, in seconds; +Inf follows. 0.3 is there
// because examples/latency.yaml's threshold is 300ms, and a classic histogram's threshold must be
// a bucket boundary.
constexpr std::array<double, 8> kBuckets = {0.05, 0.1, 0.25, 0.3, 0.5, 1, 2.5, 5};

// Spread of the log-normal latency: with it, 0.1% of requests at a 120ms median take longer than
// 300ms, so the latency objective (99% within 300ms) holds until the median is raised.
constexpr double kLatencySigma = 0.3;

// Shortest text that reads back as the same double, as Prometheus and JSON both accept.
std::string FormatNumber(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::array<char, 32> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return ec == std::errc() ? std::string(buf.data(), end) : "NaN";
}

// from_chars rather than strtod: it ignores the locale and rejects trailing junk.
std::optional<double> ParseNumber(const std::string& s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Empty when `s` is acceptable, else why not, naming the parameter as POST /control spells it.
std::string Validate(const Settings& s) {
  if (!(s.error_ratio >= 0 && s.error_ratio <= 1)) return "error_ratio must be between 0 and 1";
  if (!(s.latency_ms > 0 && s.latency_ms <= 600000)) {
    return "latency_ms must be above 0 and at most 600000";
  }
  if (!(s.rate >= 0 && s.rate <= 100000)) return "rate must be between 0 and 100000";
  return "";
}

// The counters of a service that handles `rate` requests a second, each failing with probability
// `error_ratio` and taking a log-normal latency around `latency_ms`. Requests are simulated one by
// one from a seeded generator, so a run is reproducible request by request and its observed ratios
// converge on the settings; fractional requests carry over between advances, so the long-run rate
// is exact whatever the ticking.
//
// Thread-safe: every public member takes mu_; the ticker thread and the HTTP handlers share one.
class Simulation {
 public:
  Simulation(Settings settings, uint64_t seed, Clock::time_point now)
      : settings_(settings), rng_(seed), last_(now) {}

  Settings settings() const {
    std::lock_guard lock(mu_);
    return settings_;
  }

  // The requests due before `now` ran under the old settings: simulate them first, so that a change
  // affects only what follows it.
  void Apply(const Settings& settings, Clock::time_point now) {
    std::lock_guard lock(mu_);
    AdvanceLocked(now);
    settings_ = settings;
  }

  void AdvanceTo(Clock::time_point now) {
    std::lock_guard lock(mu_);
    AdvanceLocked(now);
  }

  // Both codes are exposed from the start, at 0 if need be: a series that appears only with the
  // first error would lose that error to increase(), which needs two samples.
  std::string Metrics() const {
    std::lock_guard lock(mu_);
    std::ostringstream out;
    out << "# HELP http_requests_total Requests handled (simulated), by status code.\n"
        << "# TYPE http_requests_total counter\n"
        << "http_requests_total{code=\"200\",path=\"/checkout\"} " << ok_ << "\n"
        << "http_requests_total{code=\"500\",path=\"/checkout\"} " << failed_ << "\n"
        << "# HELP http_request_duration_seconds Request latency (simulated).\n"
        << "# TYPE http_request_duration_seconds histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBuckets.size(); ++i) {
      cumulative += bucket_counts_[i];
      std::string le = i < kBuckets.size() ? FormatNumber(kBuckets[i]) : "+Inf";
      out << "http_request_duration_seconds_bucket{path=\"/checkout\",le=\"" << le << "\"} "
          << cumulative << "\n";
    }
    out << "http_request_duration_seconds_sum{path=\"/checkout\"} " << FormatNumber(sum_seconds_)
        << "\n"
        << "http_request_duration_seconds_count{path=\"/checkout\"} " << cumulative << "\n"
        << "# HELP probe_success Whether a health probe of the service succeeds (simulated).\n"
        << "# TYPE probe_success gauge\n"
        << "probe_success " << (settings_.error_ratio >= 0.5 ? 0 : 1) << "\n";
    return out.str();
  }

 private:
  void AdvanceLocked(Clock::time_point now) {
    if (now <= last_) return;
    due_ += settings_.rate * std::chrono::duration<double>(now - last_).count();
    last_ = now;
    for (; due_ >= 1; due_ -= 1) SimulateRequest();
  }

  void SimulateRequest() {
    (Uniform() < settings_.error_ratio ? failed_ : ok_)++;
    double seconds = settings_.latency_ms / 1000 * std::exp(kLatencySigma * Normal());
    size_t bucket = 0;
    while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
    ++bucket_counts_[bucket];
    sum_seconds_ += seconds;
  }

  // Hand-rolled rather than std::uniform_real_distribution and std::normal_distribution, whose
  // output differs between standard libraries: the same seed gives the same run under g++ and
  // clang++ alike.
  double Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Normal() {                                                           // Box-Muller
    double u1 = 1 - Uniform();  // (0, 1]: log is finite
    double u2 = Uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
  }

  mutable std::mutex mu_;
  Settings settings_;
  std::mt19937_64 rng_;
  Clock::time_point last_;
  double due_ = 0;
  uint64_t ok_ = 0;
  uint64_t failed_ = 0;
  std::array<uint64_t, kBuckets.size() + 1> bucket_counts_{};  // not cumulative; last is +Inf
  double sum_seconds_ = 0;
};

std::string SettingsJson(const Settings& s) {
  return "{\"error_ratio\":" + FormatNumber(s.error_ratio) +
         ",\"latency_ms\":" + FormatNumber(s.latency_ms) + ",\"rate\":" + FormatNumber(s.rate) +
         "}\n";
}

// ---- Flags ----

struct Flag {
  std::string name;
  std::string value;  // the default until parsed
  std::string help;
};

constexpr const char* kUsage =
    "Usage: nines-workload [flags]\n\n"
    "A synthetic service for nines's demo and end-to-end tests. It simulates requests to\n"
    "/checkout and serves their metrics at /metrics; POST /control changes its behaviour.\n\n"
    "Flags (each also read from NINES_WORKLOAD_<FLAG>, e.g. NINES_WORKLOAD_ERROR_RATIO):\n";

std::string EnvName(const std::string& flag) {
  std::string env = "NINES_WORKLOAD_";
  for (char c : flag)
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

// Returns false, having said why, on an unknown flag or a missing value. The command line wins
// over the environment, which wins over the defaults.
bool ParseFlags(int argc, char** argv, std::vector<Flag>& flags, bool& help) {
  for (Flag& f : flags) {
    if (const char* env = std::getenv(EnvName(f.name).c_str())) f.value = env;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help = true;
      return true;
    }
    std::string name = arg.rfind("--", 0) == 0 ? arg.substr(2) : "";
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    Flag* flag = nullptr;
    for (Flag& f : flags) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) {
      std::cerr << "nines-workload: unknown flag " << arg << " (see --help)\n";
      return false;
    }
    if (!value) {
      if (i + 1 == argc) {
        std::cerr << "nines-workload: --" << name << " needs a value\n";
        return false;
      }
      value = argv[++i];
    }
    flag->value = *value;
  }
  return true;
}

// ---- HTTP ----

// POST /control: every parameter is checked before any is applied, so a bad request changes
// nothing.
void HandleControl(Simulation& sim, const httplib::Request& req, httplib::Response& res) {
  Settings s = sim.settings();
  const std::map<std::string, double*> fields = {
      {"error_ratio", &s.error_ratio}, {"latency_ms", &s.latency_ms}, {"rate", &s.rate}};
  for (const auto& [key, value] : req.params) {
    auto field = fields.find(key);
    if (field == fields.end()) {
      res.status = 400;
      res.set_content("unknown parameter " + key + " (want error_ratio, latency_ms, rate)\n",
                      "text/plain");
      return;
    }
    std::optional<double> number = ParseNumber(value);
    if (!number) {
      res.status = 400;
      res.set_content(key + ": not a number: \"" + value + "\"\n", "text/plain");
      return;
    }
    *field->second = *number;
  }
  if (std::string problem = Validate(s); !problem.empty()) {
    res.status = 400;
    res.set_content(problem + "\n", "text/plain");
    return;
  }
  sim.Apply(s, Clock::now());
  std::cout << "nines-workload: now " << SettingsJson(s) << std::flush;
  res.set_content(SettingsJson(s), "application/json");
}

void Serve(httplib::Server& server, Simulation& sim) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "nines-workload: GET /metrics, GET /control, "
        "POST /control?error_ratio=R&latency_ms=MS&rate=PER_SECOND\n",
        "text/plain");
  });
  server.Get("/metrics", [&sim](const httplib::Request&, httplib::Response& res) {
    // Up to the scrape, not the last tick: each scrape then sees exactly the requests due.
    sim.AdvanceTo(Clock::now());
    res.set_content(sim.Metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/control", [&sim](const httplib::Request&, httplib::Response& res) {
    res.set_content(SettingsJson(sim.settings()), "application/json");
  });
  server.Post("/control", [&sim](const httplib::Request& req, httplib::Response& res) {
    HandleControl(sim, req, res);
  });
  // httplib 0.11 answers 400 to a POST without Content-Length before routing it, and that is what
  // `curl -X POST URL?error_ratio=...` sends. Such a request has no body to read, so it is
  // answered here, where the query is already parsed and nothing has been read yet.
  server.set_pre_routing_handler([&sim](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "POST" || req.path != "/control" || req.has_header("Content-Length") ||
        req.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    HandleControl(sim, req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Flag> flags = {
      {"listen", "127.0.0.1:9101", "HOST:PORT to serve on; port 0 picks a free one"},
      {"rate", "20", "simulated requests per second"},
      {"error-ratio", "0", "share of requests that fail with a 500, 0 to 1"},
      {"latency-ms", "120", "median latency in milliseconds (log-normal, sigma 0.3)"},
      {"seed", "1", "seed of the pseudo-random generator"},
  };
  bool help = false;
  if (!ParseFlags(argc, argv, flags, help)) return 2;
  if (help) {
    std::cout << kUsage;
    for (const Flag& f : flags) {
      std::printf("  --%-12s %s (default %s)\n", f.name.c_str(), f.help.c_str(), f.value.c_str());
    }
    return 0;
  }
  auto value = [&flags](const std::string& name) {
    for (const Flag& f : flags) {
      if (f.name == name) return f.value;
    }
    return std::string();
  };

  Settings settings;
  for (auto [name, field] :
       {std::pair{"rate", &settings.rate}, std::pair{"error-ratio", &settings.error_ratio},
        std::pair{"latency-ms", &settings.latency_ms}}) {
    std::optional<double> number = ParseNumber(value(name));
    if (!number) {
      std::cerr << "nines-workload: --" << name << ": not a number: " << value(name) << "\n";
      return 2;
    }
    *field = *number;
  }
  if (std::string problem = Validate(settings); !problem.empty()) {
    std::cerr << "nines-workload: " << problem << "\n";
    return 2;
  }
  uint64_t seed = 0;
  std::string seed_text = value("seed");
  if (auto [end, ec] = std::from_chars(seed_text.data(), seed_text.data() + seed_text.size(), seed);
      ec != std::errc() || end != seed_text.data() + seed_text.size()) {
    std::cerr << "nines-workload: --seed: not a non-negative integer: " << seed_text << "\n";
    return 2;
  }
  std::string listen = value("listen");
  auto colon = listen.rfind(':');
  std::optional<double> port =
      colon == std::string::npos ? std::nullopt : ParseNumber(listen.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535 || *port != std::floor(*port)) {
    std::cerr << "nines-workload: --listen: want HOST:PORT, got " << listen << "\n";
    return 2;
  }
  std::string host = listen.substr(0, colon);

  // Blocked here, before any thread starts, so that every thread inherits the mask and only the
  // waiter below receives them: stopping the server is then ordinary code, not a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a scraper that hangs up must not kill the service

  Simulation sim(settings, seed, Clock::now());
  httplib::Server server;
  // stop() waits for idle keep-alive connections (a scraper's) to time out: keep that short, so
  // that SIGTERM takes effect within a second rather than five.
  server.set_keep_alive_timeout(1);
  Serve(server, sim);
  int port_number = static_cast<int>(*port);
  int bound = port_number == 0 ? server.bind_to_any_port(host)
                               : (server.bind_to_port(host, port_number) ? port_number : -1);
  if (bound <= 0) {
    std::cerr << "nines-workload: cannot listen on " << listen << "\n";
    return 1;
  }
  // Scripts that passed port 0 read the port from this line.
  std::cout << "nines-workload: listening on http://" << host << ":" << bound << " "
            << SettingsJson(settings) << std::flush;

  // Ticks keep the counters moving between scrapes, for anyone reading /metrics by other means.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread ticker([&] {
    std::unique_lock lock(stop_mu);
    while (!stop_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping; })) {
      sim.AdvanceTo(Clock::now());
    }
  });
  std::thread signal_waiter([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::cout << "nines-workload: stopping on signal " << signal << "\n" << std::flush;
    server.stop();
  });

  bool served = server.listen_after_bind();
  {
    std::lock_guard lock(stop_mu);
    stopping = true;
  }
  stop_cv.notify_all();
  ticker.join();
  if (!served) {
    // The waiter still blocks in sigwait: wake it so that it can be joined.
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
  }
  signal_waiter.join();
  return served ? 0 : 1;
}
