#include "operator/controller/leader_election.h"

#include <gtest/gtest.h>

#include <memory>

#include "tests/testing/fake_api_server.h"

namespace nines::controller {
namespace {

using std::chrono::seconds;

class LeaderElectionTest : public ::testing::Test {
 protected:
  LeaderElectionTest() { server_->AddNinesResourceTypes(); }

  LeaderElectionOptions Options(const std::string& identity) {
    return {.namespace_name = "nines",
            .identity = identity,
            .lease_duration = seconds(15),
            .renew_deadline = seconds(10),
            .retry_period = seconds(2),
            .clock = &clock_};
  }

  nlohmann::json Lease() {
    auto lease = server_->Object(LeaseResource(), "nines", "nines-operator");
    return lease ? *lease : nlohmann::json();
  }

  std::shared_ptr<testing::FakeApiServer> server_ = std::make_shared<testing::FakeApiServer>();
  kube::Client client_{server_};
  FakeClock clock_;
};

TEST_F(LeaderElectionTest, ExactlyOneLeads) {
  LeaderElector a(client_, Options("a"));
  LeaderElector b(client_, Options("b"));
  EXPECT_TRUE(a.Step());
  EXPECT_FALSE(b.Step());
  for (int i = 0; i < 20; ++i) {  // a renews every retry period; b never gets it
    clock_.Advance(seconds(2));
    EXPECT_TRUE(a.Step());
    EXPECT_FALSE(b.Step());
  }
  EXPECT_EQ(Lease()["spec"]["holderIdentity"], "a");
  EXPECT_EQ(Lease()["spec"]["leaseDurationSeconds"], 15);
}

// A leader that dies stops renewing; the other takes over once a whole lease duration has passed
// on its own clock since it last saw the Lease change, and not before.
TEST_F(LeaderElectionTest, TheOtherTakesOverWhenTheLeaderStopsRenewing) {
  LeaderElector a(client_, Options("a"));
  LeaderElector b(client_, Options("b"));
  ASSERT_TRUE(a.Step());
  EXPECT_FALSE(b.Step());
  clock_.Advance(seconds(14));
  EXPECT_FALSE(b.Step()) << "not before the lease duration";
  clock_.Advance(seconds(1));
  EXPECT_TRUE(b.Step());
  EXPECT_EQ(Lease()["spec"]["holderIdentity"], "b");
  EXPECT_EQ(Lease()["spec"]["leaseTransitions"], 1);
  EXPECT_FALSE(a.Step()) << "the old leader sees the new holder and stands down";
  EXPECT_FALSE(a.IsLeader());
}

TEST_F(LeaderElectionTest, ReleaseHandsOverAtOnce) {
  LeaderElector a(client_, Options("a"));
  LeaderElector b(client_, Options("b"));
  ASSERT_TRUE(a.Step());
  EXPECT_FALSE(b.Step());
  a.Release();
  EXPECT_FALSE(a.IsLeader());
  EXPECT_TRUE(b.Step()) << "no need to wait for the lease to expire";
}

// A leader that cannot renew stops leading once the renew deadline passes, which is before the
// lease duration lets another replica take over: never two leaders.
TEST_F(LeaderElectionTest, ALeaderThatCannotRenewStopsBeforeAnyoneElseMayStart) {
  LeaderElector a(client_, Options("a"));
  ASSERT_TRUE(a.Step());
  server_->InjectError({.path_prefix = "/apis/coordination.k8s.io", .status = 503, .times = 100});
  clock_.Advance(seconds(2));
  EXPECT_TRUE(a.Step()) << "a failed renewal within the deadline keeps leadership";
  clock_.Advance(seconds(8));
  EXPECT_FALSE(a.Step()) << "10s without renewing: the renew deadline";
  EXPECT_FALSE(a.IsLeader());
  server_->ClearInjectedErrors();
  LeaderElector b(client_, Options("b"));
  EXPECT_FALSE(b.Step()) << "b must still wait the lease out";
}

// Two candidates for an expired Lease: the first one's write is a change the second sees, and
// waits out. (Were their writes to interleave, the update's resourceVersion makes it a
// compare-and-swap: the second would lose with a conflict.)
TEST_F(LeaderElectionTest, OnlyOneTakesOverAnExpiredLease) {
  LeaderElector a(client_, Options("a"));
  LeaderElector b(client_, Options("b"));
  LeaderElector c(client_, Options("c"));
  ASSERT_TRUE(a.Step());
  EXPECT_FALSE(b.Step());
  EXPECT_FALSE(c.Step());
  clock_.Advance(seconds(16));
  const bool b_leads = b.Step();
  const bool c_leads = c.Step();
  EXPECT_NE(b_leads, c_leads);
}

}  // namespace
}  // namespace nines::controller
