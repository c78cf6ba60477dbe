#include "operator/slo/yaml_writer.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace nines::slo {
namespace {

using Json = nlohmann::ordered_json;

TEST(YamlWriterTest, WritesBlockStyleInInsertionOrder) {
  Json value = {{"b", 1},
                {"a", {{"list", {"x", {{"k", "v"}, {"k2", "v2"}}}}, {"empty", Json::object()}}}};
  EXPECT_EQ(RenderYaml(value),
            "b: 1\n"
            "a:\n"
            "  list:\n"
            "  - x\n"
            "  - k: v\n"
            "    k2: v2\n"
            "  empty: {}\n");
}

TEST(YamlWriterTest, QuotesWhatYamlWouldReadAsSomethingElse) {
  for (const char* text :
       {"1",    "0.999", "true",        "no",          "on",   "null", "~",  "1e3", "-1",
        "1:30", "",      " lead",       "trail ",      "a: b", "a #b", "#x", "- x", "{x}",
        "[x]",  "*x",    "&x",          "!x",          "%x",   "@x",   "`x", "'x",  "\"x",
        "|x",   ">x",    "line\nbreak", "caf\xc3\xa9", "?x",   "x:"}) {
    const std::string yaml = RenderYaml(Json{{"k", text}});
    const YAML::Node back = YAML::Load(yaml);
    EXPECT_EQ(back["k"].as<std::string>(), text) << yaml;
    EXPECT_EQ(back["k"].Tag(), "!") << "must be quoted: " << yaml;
  }
}

TEST(YamlWriterTest, LeavesPromQLAndDurationsPlain) {
  for (const char* text : {"30s", "1h24m", "sum(rate(x{a=\"b\"}[5m])) > 0", "slo:sli:ratio",
                           "nines/shop/checkout/short", "https://runbooks.example/a"}) {
    const std::string yaml = RenderYaml(Json{{"k", text}});
    EXPECT_EQ(yaml, std::string("k: ") + text + "\n");
    EXPECT_EQ(YAML::Load(yaml)["k"].as<std::string>(), text);
  }
}

}  // namespace
}  // namespace nines::slo
