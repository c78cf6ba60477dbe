#include "operator/base/http_url.h"

#include <gtest/gtest.h>

namespace nines {
namespace {

TEST(ParseHttpUrlTest, SchemeHostPortAndPrefix) {
  auto url = ParseHttpUrl("https://thanos.example:10902/prometheus/", "url");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_TRUE(url->https);
  EXPECT_EQ(url->host, "thanos.example");
  EXPECT_EQ(url->port, 10902);
  EXPECT_EQ(url->path_prefix, "/prometheus");

  url = ParseHttpUrl("http://prometheus", "url");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_FALSE(url->https);
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path_prefix, "");

  url = ParseHttpUrl("https://[::1]/", "server");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path_prefix, "");
}

TEST(ParseHttpUrlTest, RejectsWhatAClientCannotUseNamingTheSetting) {
  for (const char* bad : {"ftp://h", "https://", "https://h:0", "https://h:x", "https://[::1",
                          "https://[::1]x", "h:9090", "https://h/?a=b", "https://h#top"}) {
    auto url = ParseHttpUrl(bad, "url");
    EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(url.status().message().starts_with("url ")) << url.status().message();
  }
  EXPECT_EQ(ParseHttpUrl("https://h:x", "server").status().message(),
            "server \"https://h:x\": bad port");
}

TEST(ParseHttpUrlTest, UserInformationIsRefusedWithoutQuotingIt) {
  auto url = ParseHttpUrl("https://admin:hunter2@h/", "url");
  EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(url.status().message().find("hunter2"), std::string::npos) << url.status().message();
  EXPECT_EQ(url.status().message(), "url: user information in the URL is not supported");
}

}  // namespace
}  // namespace nines
