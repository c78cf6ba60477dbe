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

// Embedded documents (a dashboard in a ConfigMap) read as themselves in a diff, and read back
// byte for byte: with and without a trailing newline, with blank and indented lines.
TEST(YamlWriterTest, WritesMultiLineStringsAsLiteralBlocks) {
  const std::string json = "{\n  \"a\": [\n    1\n  ],\n\n  \"b\": \"x: #y\"\n}";
  EXPECT_EQ(RenderYaml(Json{{"data", {{"d.json", json}}}}),
            "data:\n"
            "  d.json: |-\n"
            "    {\n"
            "      \"a\": [\n"
            "        1\n"
            "      ],\n"
            "\n"
            "      \"b\": \"x: #y\"\n"
            "    }\n");
  for (const std::string& text : {json, json + "\n", std::string("a\n b\n"), std::string("-\n")}) {
    const std::string yaml = RenderYaml(Json{{"k", text}, {"after", 1}});
    const YAML::Node back = YAML::Load(yaml);
    EXPECT_EQ(back["k"].as<std::string>(), text) << yaml;
    EXPECT_EQ(back["after"].as<int>(), 1) << yaml;
  }
  // What a literal block cannot carry exactly stays a quoted string.
  for (const char* text : {"\n", " lead\nx", "x\n\n", "tab\there\nx", "caf\xc3\xa9\nx"}) {
    const std::string yaml = RenderYaml(Json{{"k", text}});
    EXPECT_EQ(yaml.rfind("k: \"", 0), 0U) << yaml;
    EXPECT_EQ(YAML::Load(yaml)["k"].as<std::string>(), text) << yaml;
  }
}

}  // namespace
}  // namespace nines::slo
