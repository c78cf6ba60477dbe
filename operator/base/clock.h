// Time as the code that waits sees it. Backoff, delayed requeues, leases and status projections
// read the time through a Clock so that tests drive a FakeClock instead of sleeping; the process
// uses RealClock().
//
// A thread that sleeps until a time computed from Now() (a delayed requeue falling due) is woken
// on a real clock by its own timeout. A fake clock only moves when a test calls Advance, and
// nothing would wake the sleeper then; so the sleeper registers a jump listener, and Advance calls
// every listener after moving the time. A real clock never jumps and never calls a listener.
//
// Thread-safety: every method of every Clock here may be called from any thread.
#ifndef NINES_BASE_CLOCK_H_
#define NINES_BASE_CLOCK_H_

#include <chrono>
#include <functional>
#include <map>
#include <mutex>

namespace nines {

class Clock {
 public:
  // Steady time: never goes back, unaffected by changes to the wall clock, meaningless across
  // processes. Durations between two Now()s are what it is for.
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  virtual TimePoint Now() const = 0;

  // Calls `listener` after each jump of the time, on the thread that made the jump, until the id
  // returned is removed. A listener may call Now() but must not add or remove listeners.
  virtual int AddJumpListener(std::function<void()> listener) = 0;
  // After this returns the listener is not running and will not run again.
  virtual void RemoveJumpListener(int id) = 0;
};

// The process's clock: std::chrono::steady_clock. Lives for the whole process.
Clock* RealClock();

// Time that moves only when told to. Starts at an arbitrary fixed point, so that tests print the
// same times on every run.
class FakeClock final : public Clock {
 public:
  FakeClock() = default;

  TimePoint Now() const override;
  int AddJumpListener(std::function<void()> listener) override;
  void RemoveJumpListener(int id) override;

  // Moves the time forward by `delta` (a negative delta is ignored: steady time never goes back),
  // then calls the jump listeners.
  void Advance(Duration delta);

 private:
  mutable std::mutex now_mu_;
  TimePoint now_ = TimePoint(std::chrono::hours(1));  // guarded by now_mu_
  // Held while listeners run, so that RemoveJumpListener can promise the listener has finished;
  // never held together with now_mu_, so a listener may read the time.
  std::mutex listeners_mu_;
  std::map<int, std::function<void()>> listeners_;  // guarded by listeners_mu_
  int next_listener_id_ = 1;                        // guarded by listeners_mu_
};

}  // namespace nines

#endif  // NINES_BASE_CLOCK_H_
