#include "operator/controller/work_queue.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "operator/base/clock.h"

namespace nines::controller {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// How long a test waits for something that should happen at once before it calls it a failure. Far
// beyond any scheduling delay on a loaded machine; a passing test never waits this long.
constexpr auto kPatience = seconds(30);

WorkQueueOptions WithoutJitter() {
  WorkQueueOptions options;
  options.jitter = 0;
  return options;
}

// Get, for a test that expects a key now: fails instead of hanging if Get blocks.
std::optional<std::string> GetWithin(WorkQueue& queue) {
  auto got = std::async(std::launch::async, [&queue] { return queue.Get(); });
  if (got.wait_for(kPatience) != std::future_status::ready) {
    ADD_FAILURE() << "Get blocked";
    queue.ShutDown();
  }
  return got.get();
}

bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

TEST(WorkQueueTest, AKeyWaitsOnce) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  queue.Add("ns/b");
  queue.Add("ns/a");
  EXPECT_EQ(queue.Len(), 2U);
  EXPECT_EQ(GetWithin(queue), "ns/a");
  EXPECT_EQ(GetWithin(queue), "ns/b");
  EXPECT_EQ(queue.Len(), 0U);
  EXPECT_EQ(queue.Stats().adds, 2U);
}

TEST(WorkQueueTest, KeyAddedWhileHeldRunsOnceMoreAfterDone) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  ASSERT_EQ(GetWithin(queue), "ns/a");
  queue.Add("ns/a");
  queue.Add("ns/a");
  queue.Add("ns/a");
  EXPECT_EQ(queue.Len(), 0U) << "a held key is not handed out again";
  queue.Done("ns/a");
  EXPECT_EQ(queue.Len(), 1U);
  EXPECT_EQ(GetWithin(queue), "ns/a");
  queue.Done("ns/a");
  EXPECT_EQ(queue.Len(), 0U);
}

TEST(WorkQueueTest, DoneWithoutAnAddDoesNotRequeue) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  ASSERT_EQ(GetWithin(queue), "ns/a");
  queue.Done("ns/a");
  queue.Done("ns/a");      // twice: ignored
  queue.Done("ns/never");  // never handed out: ignored
  EXPECT_EQ(queue.Len(), 0U);
}

// Several workers and several adders on a few keys. Every event gets a number from one counter,
// so "after" means a larger number.
TEST(WorkQueueTest, OneWorkerPerKeyAndEveryAddIsFollowedByAProcessing) {
  constexpr int kAdders = 4;
  constexpr int kWorkers = 4;
  constexpr int kAddsPerAdder = 300;
  const std::array<std::string, 3> keys = {"ns/a", "ns/b", "ns/c"};

  WorkQueue queue;
  std::mutex mu;
  std::condition_variable changed;
  uint64_t counter = 0;
  std::map<std::string, bool> held;
  std::map<std::string, uint64_t> last_add;
  std::map<std::string, uint64_t> last_start;
  int overlaps = 0;
  int processed = 0;

  std::vector<std::thread> workers;
  workers.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (std::optional<std::string> key = queue.Get()) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (held[*key]) ++overlaps;
          held[*key] = true;
          last_start[*key] = ++counter;
        }
        std::this_thread::yield();  // a reconcile, long enough for other threads to run
        {
          std::lock_guard<std::mutex> lock(mu);
          held[*key] = false;  // before Done: once Done, another worker may get the key
          ++processed;
          changed.notify_all();
        }
        queue.Done(*key);
      }
    });
  }
  std::vector<std::thread> adders;
  adders.reserve(kAdders);
  for (int a = 0; a < kAdders; ++a) {
    adders.emplace_back([&, a] {
      for (int i = 0; i < kAddsPerAdder; ++i) {
        const std::string& key = keys[(a + i) % keys.size()];
        {
          std::lock_guard<std::mutex> lock(mu);
          // Numbered before the Add, so that a processing that saw the Add has a larger number.
          last_add[key] = ++counter;
        }
        queue.Add(key);
      }
    });
  }
  for (std::thread& adder : adders) adder.join();

  bool all_seen = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    all_seen = changed.wait_for(lock, kPatience, [&] {
      for (const std::string& key : keys) {
        if (last_start[key] <= last_add[key]) return false;
      }
      return true;
    });
  }
  queue.ShutDown();
  for (std::thread& worker : workers) worker.join();

  EXPECT_TRUE(all_seen) << "an Add was not followed by a processing of its key";
  EXPECT_EQ(overlaps, 0) << "two workers held one key at once";
  EXPECT_GE(processed, static_cast<int>(keys.size()));
  EXPECT_LE(static_cast<uint64_t>(processed), queue.Stats().gets);
}

TEST(WorkQueueTest, ParkedKeyWaitsForTheClock) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.AddAfter("ns/a", seconds(10));
  EXPECT_EQ(queue.Len(), 0U);
  clock.Advance(seconds(9));
  EXPECT_EQ(queue.Len(), 0U);
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.Len(), 1U);
  EXPECT_EQ(GetWithin(queue), "ns/a");
}

TEST(WorkQueueTest, BlockedGetWakesWhenTheClockJumps) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.AddAfter("ns/a", seconds(10));
  auto got = std::async(std::launch::async, [&queue] { return queue.Get(); });
  clock.Advance(seconds(10));
  ASSERT_EQ(got.wait_for(kPatience), std::future_status::ready) << "Get slept through the jump";
  EXPECT_EQ(got.get(), "ns/a");
}

TEST(WorkQueueTest, EarliestDueTimeWins) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.AddAfter("ns/a", seconds(10));
  queue.AddAfter("ns/a", seconds(5));
  queue.AddAfter("ns/a", seconds(20));
  clock.Advance(seconds(5));
  EXPECT_EQ(queue.Len(), 1U);
  ASSERT_EQ(GetWithin(queue), "ns/a");
  queue.Done("ns/a");
  clock.Advance(seconds(20));
  EXPECT_EQ(queue.Len(), 0U) << "the later due times were dropped";
}

TEST(WorkQueueTest, ParkedKeysComeOutInDueOrder) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.AddAfter("ns/b", seconds(2));
  queue.AddAfter("ns/a", seconds(1));
  queue.AddAfter("ns/c", seconds(3));
  clock.Advance(seconds(3));
  EXPECT_EQ(queue.Len(), 3U);
  EXPECT_EQ(GetWithin(queue), "ns/a");
  EXPECT_EQ(GetWithin(queue), "ns/b");
  EXPECT_EQ(GetWithin(queue), "ns/c");
}

TEST(WorkQueueTest, ZeroDelayIsAnAdd) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.AddAfter("ns/a", seconds(0));
  queue.AddAfter("ns/b", -seconds(1));
  EXPECT_EQ(queue.Len(), 2U);
}

TEST(WorkQueueTest, ParkedKeyThatFallsDueWhileHeldRunsAfterDone) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  ASSERT_EQ(GetWithin(queue), "ns/a");
  queue.AddAfter("ns/a", seconds(1));
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.Len(), 0U);
  queue.Done("ns/a");
  EXPECT_EQ(queue.Len(), 1U);
  EXPECT_EQ(GetWithin(queue), "ns/a");
}

TEST(WorkQueueTest, BackoffDoublesUpToTheCapAndForgetResetsIt) {
  FakeClock clock;
  WorkQueueOptions options = WithoutJitter();
  options.base_delay = milliseconds(100);
  options.backoff_factor = 2;
  options.max_delay = seconds(1);
  WorkQueue queue(options, &clock);

  std::vector<Clock::Duration> delays;
  delays.reserve(6);
  for (int i = 0; i < 6; ++i) delays.push_back(queue.AddRateLimited("ns/a"));
  EXPECT_EQ(delays,
            (std::vector<Clock::Duration>{milliseconds(100), milliseconds(200), milliseconds(400),
                                          milliseconds(800), seconds(1), seconds(1)}));
  EXPECT_EQ(queue.NumRequeues("ns/a"), 6);
  EXPECT_EQ(queue.NumRequeues("ns/b"), 0);
  EXPECT_EQ(queue.AddRateLimited("ns/b"), milliseconds(100)) << "each key has its own backoff";

  queue.Forget("ns/a");
  EXPECT_EQ(queue.NumRequeues("ns/a"), 0);
  EXPECT_EQ(queue.AddRateLimited("ns/a"), milliseconds(100));
  EXPECT_EQ(queue.Stats().retries, 8U);
}

TEST(WorkQueueTest, DefaultBackoffIsCappedAtFiveMinutesAfterManyFailures) {
  FakeClock clock;
  WorkQueue queue(WithoutJitter(), &clock);
  EXPECT_EQ(queue.AddRateLimited("ns/a"), milliseconds(100));
  for (int i = 0; i < 2000; ++i) (void)queue.AddRateLimited("ns/a");  // 2^2000 is infinite
  EXPECT_EQ(queue.AddRateLimited("ns/a"), std::chrono::minutes(5));
}

TEST(WorkQueueTest, RateLimitedKeyFallsDueAfterItsBackoff) {
  FakeClock clock;
  WorkQueue queue(WithoutJitter(), &clock);
  ASSERT_EQ(queue.AddRateLimited("ns/a"), milliseconds(100));
  clock.Advance(milliseconds(99));
  EXPECT_EQ(queue.Len(), 0U);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(queue.Len(), 1U);
}

TEST(WorkQueueTest, JitterStaysWithinItsBoundsAndRepeatsUnderASeed) {
  FakeClock clock;
  WorkQueueOptions options;
  options.base_delay = seconds(1);
  options.backoff_factor = 2;
  options.max_delay = seconds(60);
  options.jitter = 0.5;
  options.jitter_seed = 7;
  WorkQueue queue(options, &clock);
  WorkQueue twin(options, &clock);

  int jittered = 0;
  for (int n = 0; n < 12; ++n) {
    const Clock::Duration nominal = std::min<Clock::Duration>(seconds(1) * (1 << n), seconds(60));
    const Clock::Duration delay = queue.AddRateLimited("ns/a");
    EXPECT_GE(delay, nominal / 2) << "failure " << n;
    EXPECT_LE(delay, std::min<Clock::Duration>(nominal * 3 / 2, seconds(60))) << "failure " << n;
    if (delay != nominal) ++jittered;
    EXPECT_EQ(twin.AddRateLimited("ns/a"), delay) << "same seed, same delays";
  }
  EXPECT_GT(jittered, 6);
}

TEST(WorkQueueTest, ShutDownWakesBlockedGets) {
  WorkQueue queue;
  std::vector<std::future<std::optional<std::string>>> gets;
  gets.reserve(3);
  for (int i = 0; i < 3; ++i) {
    gets.push_back(std::async(std::launch::async, [&queue] { return queue.Get(); }));
  }
  queue.ShutDown();
  for (auto& got : gets) {
    ASSERT_EQ(got.wait_for(kPatience), std::future_status::ready);
    EXPECT_EQ(got.get(), std::nullopt);
  }
}

TEST(WorkQueueTest, ShutDownDropsWaitingKeysAndIgnoresLaterAdds) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  queue.AddAfter("ns/b", seconds(1));
  queue.ShutDown();
  EXPECT_TRUE(queue.ShuttingDown());
  EXPECT_EQ(GetWithin(queue), std::nullopt);
  queue.Add("ns/c");
  queue.AddAfter("ns/d", seconds(1));
  EXPECT_EQ(queue.AddRateLimited("ns/e"), Clock::Duration::zero());
  clock.Advance(seconds(2));
  EXPECT_EQ(queue.Len(), 0U);
  EXPECT_EQ(queue.NumRequeues("ns/e"), 0);
  EXPECT_EQ(queue.Stats().adds, 1U);
  EXPECT_EQ(GetWithin(queue), std::nullopt);
}

TEST(WorkQueueTest, HeldKeyAddedBeforeShutDownIsNotRequeued) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  ASSERT_EQ(GetWithin(queue), "ns/a");
  queue.Add("ns/a");
  queue.ShutDown();
  queue.Done("ns/a");
  EXPECT_EQ(queue.Len(), 0U);
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForHeldKeys) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  queue.Add("ns/b");
  ASSERT_EQ(GetWithin(queue), "ns/a");
  auto drained = std::async(std::launch::async, [&queue] { queue.ShutDownWithDrain(); });
  ASSERT_TRUE(Eventually([&] { return queue.ShuttingDown(); }));
  EXPECT_EQ(GetWithin(queue), std::nullopt) << "waiting keys are dropped, not drained";
  queue.Add("ns/c");
  EXPECT_EQ(queue.Len(), 0U);
  EXPECT_EQ(drained.wait_for(milliseconds(0)), std::future_status::timeout)
      << "returned while ns/a was held";
  queue.Done("ns/a");
  EXPECT_EQ(drained.wait_for(kPatience), std::future_status::ready);
}

TEST(WorkQueueTest, ShutDownWithDrainReturnsAtOnceWhenNothingIsHeld) {
  WorkQueue queue;
  queue.Add("ns/a");
  auto drained = std::async(std::launch::async, [&queue] { queue.ShutDownWithDrain(); });
  EXPECT_EQ(drained.wait_for(kPatience), std::future_status::ready);
}

TEST(WorkQueueTest, StatsMeasureHowLongKeysWaited) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/a");
  clock.Advance(seconds(3));
  queue.Add("ns/b");
  queue.Add("ns/a");  // already waiting: neither an add nor a later start
  clock.Advance(seconds(1));
  ASSERT_EQ(GetWithin(queue), "ns/a");  // waited 4s
  ASSERT_EQ(GetWithin(queue), "ns/b");  // waited 1s
  queue.AddAfter("ns/c", seconds(2));
  clock.Advance(seconds(5));
  EXPECT_EQ(queue.Stats().depth, 1U);
  ASSERT_EQ(GetWithin(queue), "ns/c");  // due 3s ago

  const WorkQueueStats stats = queue.Stats();
  EXPECT_EQ(stats.depth, 0U);
  EXPECT_EQ(stats.adds, 3U);
  EXPECT_EQ(stats.gets, 3U);
  EXPECT_EQ(stats.retries, 0U);
  EXPECT_EQ(stats.total_wait, seconds(8));
  EXPECT_EQ(stats.longest_wait, seconds(4));
}

TEST(WorkQueueTest, LenCountsOnlyKeysWaitingForAWorker) {
  FakeClock clock;
  WorkQueue queue({}, &clock);
  queue.Add("ns/held");
  ASSERT_EQ(GetWithin(queue), "ns/held");
  queue.Add("ns/a");
  queue.Add("ns/b");
  queue.AddAfter("ns/later", seconds(1));
  EXPECT_EQ(queue.Len(), 2U);
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.Len(), 3U);
}

}  // namespace
}  // namespace nines::controller
