#include "operator/api/duration.h"

#include <gtest/gtest.h>

namespace nines::api {
namespace {

TEST(DurationTest, ParsesPrometheusDurations) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  for (const Case& c :
       {Case{"30d", Duration::Days(30).ms}, Case{"1h30m", 5'400'000}, Case{"300ms", 300},
        Case{"1w", Duration::Days(7).ms}, Case{"1y", Duration::Days(365).ms},
        Case{"2d19h12m", 241'920'000}, Case{"0s", 0}}) {
    auto parsed = ParseDuration(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().message();
    EXPECT_EQ(parsed->ms, c.ms) << c.text;
  }
}

TEST(DurationTest, RejectsWhatPrometheusRejects) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"", "empty duration"},
           Case{"30", "invalid duration \"30\": the number 30 needs a unit (ms, s, m, h, d, w, y)"},
           Case{"1.5h",
                "invalid duration \"1.5h\": unknown or misplaced unit \".\" (units are "
                "ms, s, m, h, d, w, y, largest first)"},
           Case{"5m1h",
                "invalid duration \"5m1h\": unknown or misplaced unit \"h\" (units are "
                "ms, s, m, h, d, w, y, largest first)"},
           Case{"1h1h",
                "invalid duration \"1h1h\": unknown or misplaced unit \"h\" (units are "
                "ms, s, m, h, d, w, y, largest first)"},
           Case{"h",
                "invalid duration \"h\": expected a number followed by a unit (ms, s, m, h, "
                "d, w, y)"},
           Case{"-5m",
                "invalid duration \"-5m\": expected a number followed by a unit (ms, s, "
                "m, h, d, w, y)"},
           Case{"99999999999999999999d", "duration \"99999999999999999999d\" is too long"},
       }) {
    auto parsed = ParseDuration(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().message(), c.message);
  }
}

TEST(DurationTest, FormatsWithDaysNotWeeks) {
  EXPECT_EQ(FormatDuration(Duration::Days(7)), "7d");
  EXPECT_EQ(FormatDuration(Duration::Days(30)), "30d");
  EXPECT_EQ(FormatDuration(Duration::Minutes(84)), "1h24m");
  EXPECT_EQ(FormatDuration(Duration::Seconds(280)), "4m40s");
  EXPECT_EQ(FormatDuration(Duration{300}), "300ms");
  EXPECT_EQ(FormatDuration(Duration{0}), "0s");
}

TEST(DurationTest, FormatsSecondsForBucketBoundaries) {
  EXPECT_EQ(FormatSecondsDecimal(Duration{300}), "0.3");
  EXPECT_EQ(FormatSecondsDecimal(Duration{1000}), "1");
  EXPECT_EQ(FormatSecondsDecimal(Duration{1500}), "1.5");
  EXPECT_EQ(FormatSecondsDecimal(Duration{5}), "0.005");
  EXPECT_EQ(FormatSecondsDecimal(Duration{2050}), "2.05");
}

}  // namespace
}  // namespace nines::api
