#include "operator/kube/watch_event.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace nines::kube {
namespace {

// Three events as the API server sends them, with a multi-byte UTF-8 character that a split can
// cut in half.
const std::string kStream =
    R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"1"},"data":{"k":"caf\u00e9 ☕"}}})"
    "\n"
    R"({"type":"MODIFIED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"2"}}})"
    "\n"
    R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"3"}}})"
    "\n"
    R"({"type":"DELETED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"4"}}})"
    "\n";

const std::string_view kStreamView = kStream;

struct Seen {
  std::vector<std::string> types;
  std::vector<std::string> versions;
};

Seen Parse(const std::vector<std::string_view>& chunks) {
  Seen seen;
  WatchEventParser parser([&](const WatchEvent& event) {
    seen.types.emplace_back(WatchEventTypeName(event.type));
    seen.versions.push_back(event.object["metadata"]["resourceVersion"].get<std::string>());
    return true;
  });
  for (std::string_view chunk : chunks) EXPECT_TRUE(parser.Feed(chunk).ok());
  EXPECT_TRUE(parser.Finish().ok());
  return seen;
}

const std::vector<std::string> kTypes = {"ADDED", "MODIFIED", "BOOKMARK", "DELETED"};
const std::vector<std::string> kVersions = {"1", "2", "3", "4"};

TEST(WatchEventParserTest, OneChunk) {
  const Seen seen = Parse({kStream});
  EXPECT_EQ(seen.types, kTypes);
  EXPECT_EQ(seen.versions, kVersions);
}

TEST(WatchEventParserTest, OneByteAtATime) {
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < kStream.size(); ++i) chunks.push_back(kStreamView.substr(i, 1));
  const Seen seen = Parse(chunks);
  EXPECT_EQ(seen.types, kTypes);
  EXPECT_EQ(seen.versions, kVersions);
}

TEST(WatchEventParserTest, EverySplitInTwoAndRandomSplits) {
  for (size_t at = 0; at <= kStream.size(); ++at) {
    const std::string_view all = kStream;
    const Seen seen = Parse({all.substr(0, at), all.substr(at)});
    ASSERT_EQ(seen.types, kTypes) << "split at " << at;
  }
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> chunks;
    size_t at = 0;
    while (at < kStream.size()) {
      const size_t size = std::uniform_int_distribution<size_t>(0, 40)(random);
      chunks.push_back(kStreamView.substr(at, size));
      at += size;
    }
    ASSERT_EQ(Parse(chunks).versions, kVersions) << "round " << round;
  }
}

TEST(WatchEventParserTest, ALastLineWithoutNewlineIsParsedAtFinish) {
  std::string stream = kStream;
  stream.pop_back();
  EXPECT_EQ(Parse({stream}).types, kTypes);
}

TEST(WatchEventParserTest, SkipsBlankLinesAndCarriageReturns) {
  EXPECT_EQ(Parse({"\n\r\n", R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}})",
                   "\r\n\n"})
                .versions,
            std::vector<std::string>{"1"});
}

TEST(WatchEventParserTest, DeliversErrorEvents) {
  std::vector<WatchEvent> events;
  WatchEventParser parser([&](WatchEvent event) {
    events.push_back(std::move(event));
    return true;
  });
  ASSERT_TRUE(
      parser
          .Feed(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})"
                "\n")
          .ok());
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].type, WatchEventType::kError);
  EXPECT_EQ(events[0].object["code"], 410);
}

TEST(WatchEventParserTest, StopsWhenTheHandlerSaysSo) {
  int count = 0;
  WatchEventParser parser([&](const WatchEvent& /*event*/) { return ++count < 2; });
  EXPECT_TRUE(parser.Feed(kStream).ok());
  EXPECT_TRUE(parser.stopped());
  EXPECT_EQ(count, 2);
  EXPECT_TRUE(parser.Feed(kStream).ok());
  EXPECT_EQ(count, 2);
}

TEST(WatchEventParserTest, RejectsWhatIsNotAnEvent) {
  const struct {
    std::string line;
    std::string message;
  } cases[] = {
      {"not json\n", "watch stream: a line is not a JSON object"},
      {"[1]\n", "watch stream: a line is not a JSON object"},
      {R"({"object":{}})"
       "\n",
       "watch stream: an event has no \"type\""},
      {R"({"type":"RENAMED","object":{}})"
       "\n",
       "watch stream: unknown event type \"RENAMED\""},
      {R"({"type":"ADDED"})"
       "\n",
       "watch stream: an event of type ADDED has no \"object\""},
  };
  for (const auto& c : cases) {
    WatchEventParser parser([](const WatchEvent& /*event*/) { return true; });
    const Status status = parser.Feed(c.line);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.line;
    EXPECT_EQ(status.message(), c.message);
  }
}

}  // namespace
}  // namespace nines::kube
