#include "operator/base/clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace nines {
namespace {

using std::chrono::seconds;

TEST(FakeClockTest, MovesOnlyWhenAdvancedAndNeverBack) {
  FakeClock clock;
  const Clock::TimePoint start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(seconds(5));
  EXPECT_EQ(clock.Now() - start, seconds(5));
  clock.Advance(-seconds(3));
  EXPECT_EQ(clock.Now() - start, seconds(5));
}

TEST(FakeClockTest, TellsListenersAfterEachJumpUntilRemoved) {
  FakeClock clock;
  const Clock::TimePoint start = clock.Now();
  int calls = 0;
  Clock::Duration seen{};
  const int id = clock.AddJumpListener([&] {
    ++calls;
    seen = clock.Now() - start;  // the time has already moved when a listener runs
  });
  clock.Advance(seconds(2));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, seconds(2));
  clock.RemoveJumpListener(id);
  clock.Advance(seconds(2));
  EXPECT_EQ(calls, 1);
}

TEST(RealClockTest, IsSteady) {
  const Clock::TimePoint first = RealClock()->Now();
  EXPECT_LE(first, RealClock()->Now());
}

}  // namespace
}  // namespace nines
