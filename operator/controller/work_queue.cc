#include "operator/controller/work_queue.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

namespace nines::controller {
namespace {

// Bounds one sleep of Get. A fake clock's due time may be far off in real terms, and a wait_for
// of years overflows inside the standard library; waking once an hour to look again costs nothing.
constexpr Clock::Duration kLongestSleep = std::chrono::hours(1);

std::mt19937_64 SeededRng(const std::optional<uint64_t>& seed) {
  if (seed.has_value()) return std::mt19937_64(*seed);
  std::random_device device;
  return std::mt19937_64((static_cast<uint64_t>(device()) << 32) | device());
}

// Uniform in [0, 1), the same on every standard library (std::uniform_real_distribution is not).
double UniformUnit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

WorkQueue::WorkQueue(WorkQueueOptions options, Clock* clock)
    : options_(options), clock_(clock), rng_(SeededRng(options_.jitter_seed)) {
  // Get sleeps on cv_ until the next due time by the clock; a fake clock's jump must wake it to
  // look again. Taking mu_ orders the notify after any Get that is between reading the time and
  // starting to wait, so the wake is not lost.
  jump_listener_id_ = clock_->AddJumpListener([this] {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  });
}

WorkQueue::~WorkQueue() { clock_->RemoveJumpListener(jump_listener_id_); }

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(key, clock_->Now());
}

void WorkQueue::AddLocked(const std::string& key, Clock::TimePoint now) {
  if (shutting_down_) return;
  if (!waiting_.emplace(key, now).second) return;
  ++stats_.adds;
  if (processing_.contains(key)) return;  // Done puts it in line
  line_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, Clock::Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::TimePoint now = clock_->Now();
  if (delay <= Clock::Duration::zero()) {
    AddLocked(key, now);
    return;
  }
  AddAfterLocked(key, now + delay);
}

void WorkQueue::AddAfterLocked(const std::string& key, Clock::TimePoint due) {
  if (shutting_down_) return;
  auto [it, inserted] = due_.emplace(key, due);
  if (!inserted) {
    if (it->second <= due) return;
    parked_.erase({it->second, key});
    it->second = due;
  }
  parked_.emplace(due, key);
  // A sleeping Get may be waiting for a later due time than this one.
  cv_.notify_one();
}

Clock::Duration WorkQueue::AddRateLimited(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return Clock::Duration::zero();
  int& failures = failures_[key];
  const Clock::Duration delay = BackoffLocked(failures);
  ++failures;
  ++stats_.retries;
  AddAfterLocked(key, clock_->Now() + delay);
  return delay;
}

Clock::Duration WorkQueue::BackoffLocked(int failures) {
  // In double nanoseconds, where factor^failures may grow to infinity and still compare right.
  const auto max = static_cast<double>(options_.max_delay.count());
  double nominal = static_cast<double>(options_.base_delay.count()) *
                   std::pow(options_.backoff_factor, failures);
  nominal = std::min(nominal, max);
  const double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  double delay = nominal;
  if (jitter > 0) delay = nominal * (1.0 + jitter * (2.0 * UniformUnit(rng_) - 1.0));
  if (delay >= max) return options_.max_delay;  // also keeps the conversion below in range
  delay = std::max(delay, 0.0);
  return Clock::Duration(static_cast<Clock::Duration::rep>(delay));
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked(Clock::TimePoint now) {
  while (!parked_.empty() && parked_.begin()->first <= now) {
    auto node = parked_.extract(parked_.begin());
    auto& [due, key] = node.value();
    due_.erase(key);
    // The key has been waiting since it fell due, whenever a worker came to look.
    AddLocked(key, due);
  }
}

std::optional<std::string> WorkQueue::Get() {
  Lock lock(mu_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    const Clock::TimePoint now = clock_->Now();
    PromoteDueLocked(now);
    if (!line_.empty()) {
      std::string key = std::move(line_.front());
      line_.pop_front();
      auto waiting = waiting_.find(key);
      const Clock::Duration waited = now - waiting->second;
      waiting_.erase(waiting);
      processing_.insert(key);
      ++stats_.gets;
      stats_.total_wait += waited;
      stats_.longest_wait = std::max(stats_.longest_wait, waited);
      // Each key put in line woke one waiter; this one may have found several due at once.
      if (!line_.empty()) cv_.notify_one();
      return key;
    }
    if (parked_.empty()) {
      cv_.wait(lock);
    } else {
      cv_.wait_for(lock, std::min(parked_.begin()->first - now, kLongestSleep));
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (processing_.erase(key) == 0) return;
  if (shutting_down_) {
    if (processing_.empty()) cv_.notify_all();  // ShutDownWithDrain may be waiting for this
    return;
  }
  if (waiting_.contains(key)) {
    line_.push_back(key);
    cv_.notify_one();
  }
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return LenLocked(clock_->Now());
}

size_t WorkQueue::LenLocked(Clock::TimePoint now) const {
  // Parked keys that fell due are waiting although no Get has moved them in line yet.
  size_t due = 0;
  for (auto it = parked_.begin(); it != parked_.end() && it->first <= now; ++it) {
    const std::string& key = it->second;
    if (!waiting_.contains(key) && !processing_.contains(key)) ++due;
  }
  return line_.size() + due;
}

WorkQueueStats WorkQueue::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  WorkQueueStats stats = stats_;
  stats.depth = LenLocked(clock_->Now());
  return stats;
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  ShutDownLocked();
}

void WorkQueue::ShutDownWithDrain() {
  Lock lock(mu_);
  ShutDownLocked();
  cv_.wait(lock, [this] { return processing_.empty(); });
}

void WorkQueue::ShutDownLocked() {
  shutting_down_ = true;
  waiting_.clear();
  line_.clear();
  parked_.clear();
  due_.clear();
  cv_.notify_all();
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutting_down_;
}

}  // namespace nines::controller
