// nines-workload: a synthetic service for demos and end-to-end tests. It serves no real requests:
// it simulates them, and exposes the metrics a real checkout service would, so that nines's rules
// can be watched against a Prometheus that scrapes it. Its behaviour (error ratio, latency, rate)
// changes at run time through POST /control. See e2e/workload/README.md.
#include <httplib.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <bit>
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
#include <utility>
#include <variant>
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

// ---- Metrics model ----
//
// A scrape is first taken as a snapshot of families, then written in the format the scraper asked
// for: Prometheus's text format or its protobuf format. Both writers read the same snapshot, so the
// two formats carry the same series and values, except the native histogram, which only protobuf
// can carry.

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kGauge, kHistogram };

// A classic histogram: cumulative counts at each of kBuckets; the +Inf bucket is `count`.
struct ClassicHistogram {
  std::array<uint64_t, kBuckets.size()> cumulative{};
  uint64_t count = 0;
  double sum = 0;
};

// A native (sparse, exponential) histogram: bucket i of schema s holds the observations in
// (2^((i-1)/2^s), 2^(i/2^s)]; `buckets` holds the non-empty ones by index.
struct NativeHistogram {
  int32_t schema = 0;
  double zero_threshold = 0;
  uint64_t zero_count = 0;
  uint64_t count = 0;
  double sum = 0;
  std::map<int32_t, uint64_t> buckets;
};

struct Sample {
  Labels labels;
  std::variant<double, ClassicHistogram, NativeHistogram> value;
};

struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<Sample> samples;
};

// The native histogram's resolution: schema 3 splits each power of two into 8 buckets, each about
// 9% wider than the last. Its zero bucket, [-2^-128, 2^-128], is client_golang's default: no
// simulated latency falls in it.
constexpr int32_t kNativeSchema = 3;
constexpr double kNativeZeroThreshold = 0x1.0p-128;

// The index of the schema-kNativeSchema bucket that holds `v` > 0: the smallest i with
// v <= 2^(i/8). frexp splits v exactly into frac * 2^exp with frac in [0.5, 1), so only frac needs
// comparing with the bounds 2^(j/8 - 1), j = 0..7, as client_golang does.
int32_t NativeBucketIndex(double v) {
  constexpr int32_t kPerPowerOfTwo = 1 << kNativeSchema;
  int exp = 0;
  double frac = std::frexp(v, &exp);
  int32_t j = 0;
  while (j < kPerPowerOfTwo && frac > std::exp2(static_cast<double>(j) / kPerPowerOfTwo - 1)) {
    ++j;
  }
  return (exp - 1) * kPerPowerOfTwo + j;
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

  // Every series a scrape exposes. Each simulated request is also one gRPC call to auth.Login, one
  // request through the ingress "gateway" and one through the gateway's /api route, with the same
  // outcome and latency: a failure is grpc_code Unavailable, ingress status 500 or 503 (in turn)
  // and gateway code 500. Every series, the failed ones too, is exposed from the start, at 0 if
  // need be: a series that appears only with the first error would lose that error to increase(),
  // which needs two samples.
  std::vector<Family> Snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<Family> families;
    families.push_back({"http_requests_total",
                        "Requests handled (simulated), by status code.",
                        MetricType::kCounter,
                        {{{{"code", "200"}, {"path", "/checkout"}}, Count(ok_)},
                         {{{"code", "500"}, {"path", "/checkout"}}, Count(failed_)}}});
    families.push_back({"http_request_duration_seconds",
                        "Request latency (simulated).",
                        MetricType::kHistogram,
                        {{{{"path", "/checkout"}}, Classic(bucket_counts_, sum_seconds_)}}});
    families.push_back({"probe_success",
                        "Whether a health probe of the service succeeds (simulated).",
                        MetricType::kGauge,
                        {{{}, settings_.error_ratio >= 0.5 ? 0.0 : 1.0}}});

    auto grpc = [](const char* code) {
      return Labels{{"grpc_code", code},
                    {"grpc_method", "Login"},
                    {"grpc_service", "auth.Login"},
                    {"grpc_type", "unary"}};
    };
    families.push_back({"grpc_server_handled_total",
                        "RPCs completed on the server (simulated), by gRPC status code.",
                        MetricType::kCounter,
                        {{grpc("OK"), Count(ok_)}, {grpc("Unavailable"), Count(failed_)}}});

    auto ingress = [](const char* status) {
      return Labels{{"ingress", "gateway"}, {"method", "GET"},      {"namespace", "edge"},
                    {"path", "/api"},       {"service", "gateway"}, {"status", status}};
    };
    families.push_back({"nginx_ingress_controller_requests",
                        "Client requests through the ingress (simulated), by status.",
                        MetricType::kCounter,
                        {{ingress("200"), Count(ok_)},
                         {ingress("500"), Count(failed_ - failed_ / 2)},
                         {ingress("503"), Count(failed_ / 2)}}});

    families.push_back(
        {"gateway_request_duration_seconds",
         "Gateway request latency (simulated), by route and status code.",
         MetricType::kHistogram,
         {{{{"code", "200"}, {"route", "/api"}}, Classic(gateway_[0].buckets, gateway_[0].sum)},
          {{{"code", "500"}, {"route", "/api"}}, Classic(gateway_[1].buckets, gateway_[1].sum)}}});

    NativeHistogram search;
    search.schema = kNativeSchema;
    search.zero_threshold = kNativeZeroThreshold;
    search.count = ok_ + failed_;
    search.sum = sum_seconds_;
    search.buckets = native_buckets_;
    families.push_back({"search_request_duration_seconds",
                        "Search latency (simulated), a native histogram.",
                        MetricType::kHistogram,
                        {{{}, std::move(search)}}});
    return families;
  }

 private:
  void AdvanceLocked(Clock::time_point now) {
    if (now <= last_) return;
    due_ += settings_.rate * std::chrono::duration<double>(now - last_).count();
    last_ = now;
    for (; due_ >= 1; due_ -= 1) SimulateRequest();
  }

  void SimulateRequest() {
    bool failed = Uniform() < settings_.error_ratio;
    (failed ? failed_ : ok_)++;
    double seconds = settings_.latency_ms / 1000 * std::exp(kLatencySigma * Normal());
    size_t bucket = 0;
    while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
    ++bucket_counts_[bucket];
    sum_seconds_ += seconds;
    Latencies& gateway = gateway_[failed ? 1 : 0];
    ++gateway.buckets[bucket];
    gateway.sum += seconds;
    ++native_buckets_[NativeBucketIndex(seconds)];
  }

  using BucketCounts = std::array<uint64_t, kBuckets.size() + 1>;  // not cumulative; last is +Inf

  static double Count(uint64_t n) { return static_cast<double>(n); }

  static ClassicHistogram Classic(const BucketCounts& counts, double sum) {
    ClassicHistogram h;
    for (size_t i = 0; i < counts.size(); ++i) {
      h.count += counts[i];
      if (i < h.cumulative.size()) h.cumulative[i] = h.count;
    }
    h.sum = sum;
    return h;
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
  BucketCounts bucket_counts_{};
  double sum_seconds_ = 0;
  // The gateway's latencies by outcome, [0] success and [1] failure: its histogram has a code
  // label.
  struct Latencies {
    BucketCounts buckets{};
    double sum = 0;
  };
  std::array<Latencies, 2> gateway_{};
  std::map<int32_t, uint64_t> native_buckets_;  // search's, by schema-kNativeSchema index
};

std::string SettingsJson(const Settings& s) {
  return "{\"error_ratio\":" + FormatNumber(s.error_ratio) +
         ",\"latency_ms\":" + FormatNumber(s.latency_ms) + ",\"rate\":" + FormatNumber(s.rate) +
         "}\n";
}

// ---- Text format ----

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

// `{a="1",b="2"}`, or nothing for no labels; `extra` (le) goes last.
std::string LabelText(const Labels& labels, const Labels& extra = {}) {
  std::string out;
  for (const Labels* set : {&labels, &extra}) {
    for (const auto& [name, value] : *set) {
      out += (out.empty() ? "{" : ",") + name + "=\"" + EscapeLabelValue(value) + "\"";
    }
  }
  return out.empty() ? out : out + "}";
}

// Prometheus's text format, version 0.0.4. It cannot carry a native histogram's buckets: those
// families are left out, with a comment that says so (Prometheus ignores comments).
std::string TextExposition(const std::vector<Family>& families) {
  std::ostringstream out;
  for (const Family& f : families) {
    if (!f.samples.empty() && std::holds_alternative<NativeHistogram>(f.samples[0].value)) {
      out << "# " << f.name
          << " is a native histogram: only the protobuf format carries it, not this one.\n";
      continue;
    }
    const char* type = f.type == MetricType::kCounter ? "counter"
                       : f.type == MetricType::kGauge ? "gauge"
                                                      : "histogram";
    out << "# HELP " << f.name << " " << f.help << "\n# TYPE " << f.name << " " << type << "\n";
    for (const Sample& s : f.samples) {
      if (const auto* v = std::get_if<double>(&s.value)) {
        out << f.name << LabelText(s.labels) << " " << FormatNumber(*v) << "\n";
        continue;
      }
      const auto& h = std::get<ClassicHistogram>(s.value);
      for (size_t i = 0; i <= kBuckets.size(); ++i) {
        bool inf = i == kBuckets.size();
        out << f.name << "_bucket"
            << LabelText(s.labels, {{"le", inf ? "+Inf" : FormatNumber(kBuckets[i])}}) << " "
            << (inf ? h.count : h.cumulative[i]) << "\n";
      }
      out << f.name << "_sum" << LabelText(s.labels) << " " << FormatNumber(h.sum) << "\n"
          << f.name << "_count" << LabelText(s.labels) << " " << h.count << "\n";
    }
  }
  return out.str();
}

// ---- Protobuf format ----
//
// Prometheus's protobuf exposition: a stream of io.prometheus.client.MetricFamily messages (see
// metrics.proto in prometheus/client_model), each preceded by its length as a varint. The only
// format in which Prometheus 2.x scrapes native histograms. Written by hand: the wire format needs
// no more than varints, zigzag, little-endian doubles and length-delimited fields.

class ProtoWriter {
 public:
  const std::string& bytes() const { return out_; }

  void Varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) out_ += static_cast<char>((v & 0x7f) | 0x80);
    out_ += static_cast<char>(v);
  }
  void Uint(int field, uint64_t v) {
    Tag(field, kVarint);
    Varint(v);
  }
  void Sint(int field, int64_t v) {
    Tag(field, kVarint);
    Varint(ZigZag(v));
  }
  void Double(int field, double v) {
    Tag(field, kFixed64);
    auto bits = std::bit_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  void Raw(const std::string& v) { out_ += v; }
  void Bytes(int field, const std::string& v) {
    Tag(field, kLengthDelimited);
    Varint(v.size());
    out_ += v;
  }
  // A repeated sint64 field, packed into one length-delimited field as proto3 does.
  void PackedSint(int field, const std::vector<int64_t>& values) {
    ProtoWriter packed;
    for (int64_t v : values) packed.Varint(ZigZag(v));
    Bytes(field, packed.bytes());
  }

  static uint64_t ZigZag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }

 private:
  static constexpr int kVarint = 0;
  static constexpr int kFixed64 = 1;
  static constexpr int kLengthDelimited = 2;
  void Tag(int field, int wire_type) { Varint((static_cast<uint64_t>(field) << 3) | wire_type); }

  std::string out_;
};

// Field numbers of metrics.proto.
namespace pb {
constexpr int kFamilyName = 1, kFamilyHelp = 2, kFamilyType = 3, kFamilyMetric = 4;
constexpr int kMetricLabel = 1, kMetricGauge = 2, kMetricCounter = 3, kMetricHistogram = 7;
constexpr int kLabelName = 1, kLabelValue = 2;
constexpr int kValue = 1;  // Counter.value, Gauge.value
constexpr int kSampleCount = 1, kSampleSum = 2, kBucket = 3, kSchema = 5, kZeroThreshold = 6,
              kZeroCount = 7, kPositiveSpan = 12, kPositiveDelta = 13;
constexpr int kCumulativeCount = 1, kUpperBound = 2;          // Bucket
constexpr int kSpanOffset = 1, kSpanLength = 2;               // BucketSpan
constexpr uint64_t kCounter = 0, kGauge = 1, kHistogram = 4;  // MetricType
}  // namespace pb

std::string ProtoClassic(const ClassicHistogram& h) {
  ProtoWriter w;
  w.Uint(pb::kSampleCount, h.count);
  w.Double(pb::kSampleSum, h.sum);
  // The +Inf bucket is left out, as client_golang does: it is sample_count.
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    ProtoWriter bucket;
    bucket.Uint(pb::kCumulativeCount, h.cumulative[i]);
    bucket.Double(pb::kUpperBound, kBuckets[i]);
    w.Bytes(pb::kBucket, bucket.bytes());
  }
  return w.bytes();
}

// Spans of consecutive non-empty buckets (each offset from the end of the last, the first from
// index 0), then each bucket's count as a delta from the one before. No classic buckets: that and
// the zero threshold tell Prometheus it is native.
std::string ProtoNative(const NativeHistogram& h) {
  ProtoWriter w;
  w.Uint(pb::kSampleCount, h.count);
  w.Double(pb::kSampleSum, h.sum);
  w.Sint(pb::kSchema, h.schema);
  w.Double(pb::kZeroThreshold, h.zero_threshold);
  w.Uint(pb::kZeroCount, h.zero_count);
  std::vector<std::pair<int64_t, uint64_t>> spans;  // offset, length
  std::vector<int64_t> deltas;
  int64_t next = 0;  // the index after the last span
  int64_t previous_count = 0;
  for (const auto& [index, count] : h.buckets) {
    if (spans.empty() || index != next) spans.emplace_back(index - next, 0);
    ++spans.back().second;
    next = index + 1;
    deltas.push_back(static_cast<int64_t>(count) - previous_count);
    previous_count = static_cast<int64_t>(count);
  }
  for (const auto& [offset, length] : spans) {
    ProtoWriter span;
    span.Sint(pb::kSpanOffset, offset);
    span.Uint(pb::kSpanLength, length);
    w.Bytes(pb::kPositiveSpan, span.bytes());
  }
  if (!deltas.empty()) w.PackedSint(pb::kPositiveDelta, deltas);
  return w.bytes();
}

std::string ProtobufExposition(const std::vector<Family>& families) {
  ProtoWriter out;
  for (const Family& f : families) {
    ProtoWriter family;
    family.Bytes(pb::kFamilyName, f.name);
    family.Bytes(pb::kFamilyHelp, f.help);
    family.Uint(pb::kFamilyType, f.type == MetricType::kCounter ? pb::kCounter
                                 : f.type == MetricType::kGauge ? pb::kGauge
                                                                : pb::kHistogram);
    for (const Sample& s : f.samples) {
      ProtoWriter metric;
      for (const auto& [name, value] : s.labels) {
        ProtoWriter label;
        label.Bytes(pb::kLabelName, name);
        label.Bytes(pb::kLabelValue, value);
        metric.Bytes(pb::kMetricLabel, label.bytes());
      }
      if (const auto* v = std::get_if<double>(&s.value)) {
        ProtoWriter value;
        value.Double(pb::kValue, *v);
        metric.Bytes(f.type == MetricType::kGauge ? pb::kMetricGauge : pb::kMetricCounter,
                     value.bytes());
      } else if (const auto* classic = std::get_if<ClassicHistogram>(&s.value)) {
        metric.Bytes(pb::kMetricHistogram, ProtoClassic(*classic));
      } else {
        metric.Bytes(pb::kMetricHistogram, ProtoNative(std::get<NativeHistogram>(s.value)));
      }
      family.Bytes(pb::kFamilyMetric, metric.bytes());
    }
    out.Varint(family.bytes().size());
    out.Raw(family.bytes());
  }
  return out.bytes();
}

// Whether an Accept header prefers Prometheus's delimited protobuf format to the text format, as
// Prometheus's scrapes do with native histograms enabled. Media ranges are weighed by their q (1 if
// not given); the text format counts as text/plain, text/* and */*. On a tie, protobuf.
bool WantsProtobuf(const std::string& accept) {
  auto trim = [](const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  double protobuf_q = 0;
  double text_q = 0;
  std::istringstream ranges(accept);
  for (std::string range; std::getline(ranges, range, ',');) {
    std::istringstream parts(range);
    std::string part;
    std::getline(parts, part, ';');
    std::string type = lower(trim(part));
    std::map<std::string, std::string> params;
    while (std::getline(parts, part, ';')) {
      auto eq = part.find('=');
      if (eq != std::string::npos)
        params[lower(trim(part.substr(0, eq)))] = trim(part.substr(eq + 1));
    }
    double q = 1;
    if (auto it = params.find("q"); it != params.end()) q = ParseNumber(it->second).value_or(0);
    if (type == "application/vnd.google.protobuf" &&
        params["proto"] == "io.prometheus.client.MetricFamily" &&
        params["encoding"] == "delimited") {
      protobuf_q = std::max(protobuf_q, q);
    } else if (type == "text/plain" || type == "text/*" || type == "*/*") {
      text_q = std::max(text_q, q);
    }
  }
  return protobuf_q > 0 && protobuf_q >= text_q;
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
      std::string message = key;
      message += ": not a number: \"" + value + "\"\n";
      res.set_content(message, "text/plain");
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
  server.Get("/metrics", [&sim](const httplib::Request& req, httplib::Response& res) {
    // Up to the scrape, not the last tick: each scrape then sees exactly the requests due.
    sim.AdvanceTo(Clock::now());
    res.set_header("Vary", "Accept");
    if (WantsProtobuf(req.get_header_value("Accept"))) {
      res.set_content(ProtobufExposition(sim.Snapshot()),
                      "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
                      "encoding=delimited");
    } else {
      res.set_content(TextExposition(sim.Snapshot()), "text/plain; version=0.0.4; charset=utf-8");
    }
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
    // The waiter still blocks in sigwait: wake it so that it can be joined. SIGTERM is blocked in
    // every thread, so it ends the sigwait and kills nothing.
    // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread)
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
  }
  signal_waiter.join();
  return served ? 0 : 1;
}
