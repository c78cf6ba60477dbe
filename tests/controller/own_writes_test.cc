#include "operator/controller/own_writes.h"

#include <gtest/gtest.h>

namespace nines::controller {
namespace {

using Json = nlohmann::json;

Json Object(const std::string& name, const std::string& version) {
  return {{"metadata", {{"name", name}, {"namespace", "shop"}, {"resourceVersion", version}}}};
}

TEST(OwnWritesTest, AnEventIsAnEchoOnlyAtTheVersionWeWrote) {
  OwnWrites writes;
  writes.Remember("shop/checkout", "prometheusrules", Object("checkout", "10"));
  writes.Remember("shop/checkout", "configmaps", Object("checkout-slo-dashboard", "11"));
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "10")));
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "configmaps", Object("checkout-slo-dashboard", "11")));
  EXPECT_FALSE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "12")))
      << "somebody else's change";
  EXPECT_FALSE(writes.IsEcho("shop/checkout", "configmaps", Object("checkout", "10")))
      << "another kind, same name";
  EXPECT_FALSE(writes.IsEcho("shop/other", "prometheusrules", Object("checkout", "10")));
  EXPECT_FALSE(writes.IsEcho("shop/checkout", "prometheusrules", Json::object()))
      << "no resourceVersion: never an echo";

  // The last three writes of an object are kept: an echo may arrive after a later write of ours
  // (the reconciler's Ready, then the status loop's budget) has been remembered.
  writes.Remember("shop/checkout", "prometheusrules", Object("checkout", "13"));
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "10")));
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "13")));
  writes.Remember("shop/checkout", "prometheusrules", Object("checkout", "13"));  // no duplicate
  writes.Remember("shop/checkout", "prometheusrules", Object("checkout", "14"));
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "10")));
  writes.Remember("shop/checkout", "prometheusrules", Object("checkout", "15"));
  EXPECT_FALSE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "10")));
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "13")));
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "15")));
  EXPECT_FALSE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "16")));

  writes.Remember("shop/checkout", "prometheusrules", Json::object());  // ignored
  EXPECT_EQ(writes.Objectives(), 1U);
  writes.Forget("shop/checkout");
  EXPECT_EQ(writes.Objectives(), 0U);
  EXPECT_FALSE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "13")));
}

TEST(OwnWritesTest, AnApplyIsUnchangedOnlyAtItsVersionAndWithTheSameContent) {
  OwnWrites writes;
  EXPECT_FALSE(
      writes.AppliedUnchanged("shop/checkout", "prometheusrules", Object("checkout", "10"), 42))
      << "never applied (a restarted operator applies once)";
  writes.RememberApply("shop/checkout", "prometheusrules", Object("checkout", "10"), 42);
  EXPECT_TRUE(writes.IsEcho("shop/checkout", "prometheusrules", Object("checkout", "10")));
  EXPECT_TRUE(
      writes.AppliedUnchanged("shop/checkout", "prometheusrules", Object("checkout", "10"), 42));
  EXPECT_FALSE(
      writes.AppliedUnchanged("shop/checkout", "prometheusrules", Object("checkout", "10"), 43))
      << "the objective changed what would be applied";
  EXPECT_FALSE(
      writes.AppliedUnchanged("shop/checkout", "prometheusrules", Object("checkout", "11"), 42))
      << "somebody changed it since";
  EXPECT_FALSE(
      writes.AppliedUnchanged("shop/checkout", "configmaps", Object("checkout", "10"), 42));
  writes.Forget("shop/checkout");
  EXPECT_FALSE(
      writes.AppliedUnchanged("shop/checkout", "prometheusrules", Object("checkout", "10"), 42));
}

}  // namespace
}  // namespace nines::controller
