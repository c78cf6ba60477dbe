#include "tests/testing/fake_api_server.h"

#include <gtest/gtest.h>

namespace nines::testing {
namespace {
TEST(FakeApiServerTest, Placeholder) {}
}  // namespace
}  // namespace nines::testing
