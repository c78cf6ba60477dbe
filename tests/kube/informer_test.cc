#include "operator/kube/informer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "tests/testing/fake_api_server.h"

namespace nines::kube {
namespace {

using Json = nlohmann::json;

Json ConfigMap(const std::string& name, const std::string& value,
               const std::string& label = "yes") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "shop"}, {"labels", {{"watched", label}}}}},
          {"data", {{"v", value}}}};
}

// What the handler was told, and a way to wait for it without timing anything.
class Recorder {
 public:
  void Record(const Json& object, bool deleted) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string name = object["metadata"].value("name", "");
    const std::string value = object.value("data", Json::object()).value("v", "");
    events_.push_back((deleted ? "deleted " : "seen ") + name + (deleted ? "" : "=" + value));
    changed_.notify_all();
  }

  // Waits (bounded generously) until `event` has been recorded.
  bool WaitFor(const std::string& event) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] {
      return std::find(events_.begin(), events_.end(), event) != events_.end();
    });
  }

  int Count(const std::string& event) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count(events_.begin(), events_.end(), event));
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> events_;
};

class InformerTest : public ::testing::Test {
 protected:
  InformerTest() { server_->AddNinesResourceTypes(); }

  ~InformerTest() override {
    if (informer_) informer_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  void Start(const std::string& selector = "",
             std::function<void(nlohmann::json&)> transform = nullptr) {
    informer_ = std::make_unique<Informer>(
        client_,
        InformerOptions{.type = ConfigMapResource(),
                        .namespace_name = "shop",
                        .label_selector = selector,
                        .initial_backoff = std::chrono::milliseconds(10),
                        .max_backoff = std::chrono::milliseconds(50),
                        .transform = std::move(transform)},
        [this](const Json& object, bool deleted) { recorder_.Record(object, deleted); });
    thread_ = std::thread([this] { informer_->Run(); });
  }

  void RelistsOnGone(testing::WatchExpiry expiry);

  void Create(const Json& object) {
    ASSERT_TRUE(client_.Create(ConfigMapResource(), "", object).ok());
  }
  void Change(const std::string& name, const std::string& value) {
    ASSERT_TRUE(server_->Edit(ConfigMapResource(), "shop", name, {{"data", {{"v", value}}}}).ok());
  }

  std::shared_ptr<testing::FakeApiServer> server_ = std::make_shared<testing::FakeApiServer>();
  Client client_{server_};
  Recorder recorder_;
  std::unique_ptr<Informer> informer_;
  std::thread thread_;
};

TEST_F(InformerTest, ListsThenWatchesAndKeepsACache) {
  Create(ConfigMap("a", "1"));
  Start();
  ASSERT_TRUE(recorder_.WaitFor("seen a=1"));
  EXPECT_TRUE(informer_->HasSynced());
  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  Create(ConfigMap("b", "1"));
  Change("a", "2");
  ASSERT_TRUE(client_.Delete(ConfigMapResource(), "shop", "b").ok());
  ASSERT_TRUE(recorder_.WaitFor("deleted b"));
  EXPECT_TRUE(recorder_.WaitFor("seen a=2"));
  EXPECT_EQ(informer_->Get("shop", "a").value()["data"]["v"], "2");
  EXPECT_FALSE(informer_->Get("shop", "b").has_value());
  EXPECT_EQ(informer_->List().size(), 1U);
}

// ForEach visits what List returns, one decoded object at a time.
TEST_F(InformerTest, ForEachVisitsEveryCachedObject) {
  Create(ConfigMap("a", "1"));
  Create(ConfigMap("b", "2"));
  Start();
  ASSERT_TRUE(recorder_.WaitFor("seen b=2"));
  std::vector<Json> visited;
  informer_->ForEach([&](const Json& object) { visited.push_back(object); });
  EXPECT_EQ(visited, informer_->List());
  ASSERT_EQ(visited.size(), 2U);
  EXPECT_EQ(visited[1]["data"]["v"], "2");
}

TEST_F(InformerTest, ALabelSelectorFiltersListAndWatch) {
  Create(ConfigMap("ours", "1"));
  Create(ConfigMap("theirs", "1", "no"));
  Start("watched=yes");
  ASSERT_TRUE(recorder_.WaitFor("seen ours=1"));
  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  Change("theirs", "2");
  Change("ours", "2");
  ASSERT_TRUE(recorder_.WaitFor("seen ours=2"));
  EXPECT_EQ(recorder_.Count("seen theirs=1") + recorder_.Count("seen theirs=2"), 0);
}

// A transform keeps only what the user needs, from the list and from the watch alike; the cache
// holds the transformed objects.
TEST_F(InformerTest, ATransformShapesWhatIsCachedAndHandedOn) {
  Create(ConfigMap("a", "1"));
  Start("", [](nlohmann::json& object) {
    object["data"]["v"] = "trimmed-" + object["data"].value("v", "");
    object["metadata"].erase("labels");
  });
  ASSERT_TRUE(recorder_.WaitFor("seen a=trimmed-1"));
  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  Change("a", "2");
  ASSERT_TRUE(recorder_.WaitFor("seen a=trimmed-2"));
  const Json cached = informer_->Get("shop", "a").value();
  EXPECT_EQ(cached["data"]["v"], "trimmed-2");
  EXPECT_FALSE(cached["metadata"].contains("labels"));
  EXPECT_FALSE(cached["metadata"].value("resourceVersion", "").empty());
}

// The cache keeps objects compactly (CBOR) and gives back exactly what the server sent, through
// the list and through the watch: integers stay integers, floats floats, strings byte for byte.
TEST_F(InformerTest, TheCacheGivesBackExactlyWhatTheServerSent) {
  Json object = ConfigMap("a", "1");
  object["data"] = {{"v", "1"}, {"text", "ünïcode ✓ \"quoted\"\n"}, {"empty", ""}};
  object["metadata"]["annotations"] = {{"nines.dev/x", "{\"n\": 53, \"f\": 0.1}"}};
  Create(object);
  Start();
  ASSERT_TRUE(recorder_.WaitFor("seen a=1"));
  // Items of a built-in kind's list carry no apiVersion and kind (as the real server sends them).
  const auto served = [this](const std::string& name) {
    Json object = server_->Object(ConfigMapResource(), "shop", name).value();
    object.erase("apiVersion");
    object.erase("kind");
    return object;
  };
  EXPECT_EQ(informer_->Get("shop", "a").value(), served("a")) << "as listed";
  ASSERT_EQ(informer_->List().size(), 1U);
  EXPECT_EQ(informer_->List()[0], served("a"));

  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  ASSERT_TRUE(server_
                  ->Edit(ConfigMapResource(), "shop", "a",
                         {{"data", {{"v", "2"}}}, {"metadata", {{"labels", {{"n", "53"}}}}}})
                  .ok());
  ASSERT_TRUE(recorder_.WaitFor("seen a=2"));
  const Json watched = informer_->Get("shop", "a").value();
  EXPECT_EQ(watched, server_->Object(ConfigMapResource(), "shop", "a").value())
      << "as watched (events carry apiVersion and kind)";
  EXPECT_EQ(watched["data"]["text"].get<std::string>(), "ünïcode ✓ \"quoted\"\n");

  // Numbers, in a custom resource's spec: integers stay integers, floats floats.
  const ResourceType slos = testing::ServiceLevelObjectiveResource();
  Informer numbers(client_, {.type = slos, .namespace_name = "shop"}, [](const Json&, bool) {});
  std::thread thread([&numbers] { numbers.Run(); });
  Json slo = {{"apiVersion", "nines.dev/v1alpha1"},
              {"kind", "ServiceLevelObjective"},
              {"metadata", {{"name", "n"}, {"namespace", "shop"}}},
              {"spec",
               {{"int", 53},
                {"negative", -7},
                {"float", 0.1},
                {"big", 1e300},
                {"whole_float", 2.0},
                {"flag", true},
                {"none", nullptr},
                {"list", {1, "two", 3.5}}}}};
  ASSERT_TRUE(client_.Create(slos, "shop", slo).ok());
  std::optional<Json> cached;
  for (int i = 0; i < 500 && !cached; ++i) {
    cached = numbers.Get("shop", "n");
    if (!cached) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  numbers.Stop();
  thread.join();
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(*cached, server_->Object(slos, "shop", "n").value());
  EXPECT_TRUE((*cached)["spec"]["int"].is_number_integer());
  EXPECT_TRUE((*cached)["spec"]["whole_float"].is_number_float());
  EXPECT_EQ((*cached)["spec"]["float"].get<double>(), 0.1);
  EXPECT_TRUE((*cached)["metadata"]["generation"].is_number_integer());
}

// The server ends watches at its timeout; the informer resumes from the last resourceVersion,
// which bookmarks keep fresh, without a new list and without replaying anything.
TEST_F(InformerTest, ResumesAfterTheServerEndsTheWatchWithoutRelisting) {
  Create(ConfigMap("a", "1"));
  Start();
  ASSERT_TRUE(recorder_.WaitFor("seen a=1"));
  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  server_->SendBookmarks();
  server_->CloseAllWatches();
  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  Change("a", "2");
  ASSERT_TRUE(recorder_.WaitFor("seen a=2"));
  EXPECT_EQ(informer_->lists(), 1);
  EXPECT_EQ(recorder_.Count("seen a=1"), 1) << "nothing replayed";
}

// 410 Gone: the resourceVersion was compacted away. The informer lists again and swaps its cache,
// reporting what changed and what vanished while it could not watch: nothing is lost.
void InformerTest::RelistsOnGone(testing::WatchExpiry expiry) {
  server_->SetWatchExpiry(expiry);
  Create(ConfigMap("stays", "1"));
  Create(ConfigMap("changes", "1"));
  Create(ConfigMap("goes", "1"));
  Start();
  ASSERT_TRUE(recorder_.WaitFor("seen goes=1"));
  ASSERT_TRUE(server_->WaitForOpenWatches(1));

  // An outage: no watch can be opened while things change and the history is compacted.
  server_->InjectTransportError({.verb = "watch", .times = 1000000});
  server_->CloseAllWatches();
  Change("changes", "2");
  ASSERT_TRUE(client_.Delete(ConfigMapResource(), "shop", "goes").ok());
  server_->CompactHistory();
  server_->ClearInjectedErrors();

  ASSERT_TRUE(recorder_.WaitFor("deleted goes"));
  ASSERT_TRUE(recorder_.WaitFor("seen changes=2"));
  EXPECT_EQ(recorder_.Count("seen stays=1"), 1) << "unchanged objects are not reported again";
  EXPECT_EQ(informer_->lists(), 2);
  EXPECT_EQ(informer_->relists(), 1);
  EXPECT_GE(informer_->watch_restarts(), 1);
  EXPECT_EQ(informer_->List().size(), 2U);
}

TEST_F(InformerTest, RelistsOnGoneAsAnErrorEvent) {
  RelistsOnGone(testing::WatchExpiry::kErrorEvent);
}
TEST_F(InformerTest, RelistsOnGoneAsHttp410) { RelistsOnGone(testing::WatchExpiry::kHttpStatus); }

// Errors (a dropped connection, a 500) are retried with backoff, from the last resourceVersion.
TEST_F(InformerTest, RetriesAfterErrorsWithBackoff) {
  server_->InjectError({.verb = "list", .status = 500, .times = 3});
  Create(ConfigMap("a", "1"));
  Start();
  ASSERT_TRUE(recorder_.WaitFor("seen a=1"));
  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  server_->InjectError({.verb = "watch", .status = 503, .times = 2});
  server_->CloseAllWatches();
  Change("a", "2");
  ASSERT_TRUE(recorder_.WaitFor("seen a=2"));
  EXPECT_EQ(informer_->lists(), 1) << "a failed watch resumes; only 410 relists";
}

TEST_F(InformerTest, StopEndsRunPromptly) {
  Start();
  ASSERT_TRUE(server_->WaitForOpenWatches(1));
  informer_->Stop();
  thread_.join();  // would hang if Stop did not cancel the open watch
  SUCCEED();
}

}  // namespace
}  // namespace nines::kube
