// The token and password files: trimmed, re-read after the refresh interval on a fake clock and
// at once after a rejection, and kept through a rotation caught half way.
#include "operator/prometheus/secret_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace nines::prometheus {
namespace {

namespace fs = std::filesystem;

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("nines-secret-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove(path_); }

  void Write(const std::string& text) const { std::ofstream(path_, std::ios::trunc) << text; }

  std::unique_ptr<SecretFile> Open() {
    auto file = SecretFile::Open(path_.string(), "bearer_token_file", &clock_);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.ok() ? std::move(*file) : nullptr;
  }

  fs::path path_;
  FakeClock clock_;
};

TEST_F(SecretFileTest, TrimsTheTrailingNewline) {
  Write("  token-1\r\n");
  EXPECT_EQ(Open()->Get(), "token-1");
}

TEST_F(SecretFileTest, AMissingOrEmptyFileNamesTheSettingAndPathOnly) {
  auto missing = SecretFile::Open(path_.string(), "bearer_token_file", &clock_);
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "bearer_token_file: cannot read " + path_.string());
  Write("\n");
  auto empty = SecretFile::Open(path_.string(), "basic_auth_password_file", &clock_);
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "basic_auth_password_file: " + path_.string() + " is empty");
}

TEST_F(SecretFileTest, ARotationIsPickedUpOnceTheRefreshIntervalHasPassed) {
  Write("old\n");
  auto file = Open();
  Write("new\n");
  clock_.Advance(std::chrono::seconds(59));
  EXPECT_EQ(file->Get(), "old");  // not re-read yet: at most once a minute
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(file->Get(), "new");
}

TEST_F(SecretFileTest, AHalfWrittenRotationKeepsTheOldSecret) {
  Write("old");
  auto file = Open();
  Write("");
  clock_.Advance(std::chrono::minutes(2));
  EXPECT_EQ(file->Get(), "old");
  fs::remove(path_);
  EXPECT_EQ(file->Get(), "old");
  Write("new");  // whole again: picked up at the next Get, not a minute later
  EXPECT_EQ(file->Get(), "new");
}

TEST_F(SecretFileTest, ARejectionRereadsAtOnceAndSaysWhetherThereIsSomethingNew) {
  Write("old");
  auto file = Open();
  EXPECT_FALSE(file->RereadAfterRejection("old"));  // unchanged: nothing new to try
  Write("new");
  EXPECT_TRUE(file->RereadAfterRejection("old"));  // no clock advance needed
  EXPECT_EQ(file->Get(), "new");
  // A second request rejected with the old secret finds the new one already read.
  EXPECT_TRUE(file->RereadAfterRejection("old"));
  EXPECT_FALSE(file->RereadAfterRejection("new"));
}

}  // namespace
}  // namespace nines::prometheus
