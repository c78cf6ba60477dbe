#include "operator/base/clock.h"

#include <utility>

namespace nines {
namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  // The steady clock never jumps, so there is nothing to tell a listener.
  int AddJumpListener(std::function<void()> /*listener*/) override { return 0; }
  void RemoveJumpListener(int /*id*/) override {}
};

}  // namespace

Clock* RealClock() {
  static auto* const clock = new SteadyClock();  // never destroyed: threads may outlive main
  return clock;
}

Clock::TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(now_mu_);
  return now_;
}

int FakeClock::AddJumpListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const int id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void FakeClock::RemoveJumpListener(int id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(id);
}

void FakeClock::Advance(Duration delta) {
  if (delta <= Duration::zero()) return;
  {
    std::lock_guard<std::mutex> lock(now_mu_);
    now_ += delta;
  }
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener();
}

}  // namespace nines
