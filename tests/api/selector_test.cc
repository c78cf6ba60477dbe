#include "operator/api/selector.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace nines::api {
namespace {

LabelMatcher Eq(std::string name, std::string value) {
  return {std::move(name), MatchOp::kEqual, std::move(value)};
}
LabelMatcher Ne(std::string name, std::string value) {
  return {std::move(name), MatchOp::kNotEqual, std::move(value)};
}
LabelMatcher Re(std::string name, std::string value) {
  return {std::move(name), MatchOp::kRegexMatch, std::move(value)};
}
LabelMatcher Nre(std::string name, std::string value) {
  return {std::move(name), MatchOp::kRegexNoMatch, std::move(value)};
}

std::string Describe(const Selector& selector) { return RenderSelector(selector); }

TEST(ParseSelectorTest, ParsesSelectors) {
  struct Case {
    std::string text;
    Selector expected;
  };
  const std::vector<Case> cases = {
      {"up", {"up", {}}},
      {"up{}", {"up", {}}},
      {"http_requests_total{job=\"checkout\"}", {"http_requests_total", {Eq("job", "checkout")}}},
      {"x{code!=\"200\"}", {"x", {Ne("code", "200")}}},
      {"x{code=~\"5..\"}", {"x", {Re("code", "5..")}}},
      {"x{code!~\"2..|3..\"}", {"x", {Nre("code", "2..|3..")}}},
      {"http_requests_total{job=\"checkout\",code=~\"5..\",method!=\"GET\",path!~\"/health.*\"}",
       {"http_requests_total",
        {Eq("job", "checkout"), Re("code", "5.."), Ne("method", "GET"), Nre("path", "/health.*")}}},
      // Matchers keep their order and may repeat a label, as in PromQL.
      {"x{b=\"1\",a=\"2\",a!=\"3\"}", {"x", {Eq("b", "1"), Eq("a", "2"), Ne("a", "3")}}},
      {"  x  {  job  =  \"a\"  ,  code  =~  \"5..\"  }  ",
       {"x", {Eq("job", "a"), Re("code", "5..")}}},
      {"\tx\n{\r\njob=\"a\"\n}\n", {"x", {Eq("job", "a")}}},
      {"x{job=\"a\",}", {"x", {Eq("job", "a")}}},
      {"x{job=\"a\" , }", {"x", {Eq("job", "a")}}},
      {"x {}", {"x", {}}},
      {"job:http_requests:rate5m{job=\"a\"}", {"job:http_requests:rate5m", {Eq("job", "a")}}},
      {":starts_with_colon", {":starts_with_colon", {}}},
      {"_under{_label=\"\"}", {"_under", {Eq("_label", "")}}},
      {"x{a='single'}", {"x", {Eq("a", "single")}}},
      {"x{a=`back`}", {"x", {Eq("a", "back")}}},
      {"x{a=\"\"}", {"x", {Eq("a", "")}}},
      // A keyword is fine as part of a name, and any case of a label name is fine.
      {"sum_total{by=\"x\",OFFSET=\"y\"}", {"sum_total", {Eq("by", "x"), Eq("OFFSET", "y")}}},
      {"x{a=\"é ü 日本\"}", {"x", {Eq("a", "é ü 日本")}}},
  };
  for (const Case& c : cases) {
    Result<Selector> parsed = ParseSelector(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().message();
    EXPECT_EQ(*parsed, c.expected) << c.text << " parsed as " << Describe(*parsed);
  }
}

TEST(ParseSelectorTest, UnescapesValuesAsPromQLDoes) {
  struct Case {
    std::string text;
    std::string value;
  };
  const std::vector<Case> cases = {
      // Double-quoted: Go escapes.
      {R"(x{a="say \"hi\""})", "say \"hi\""},
      {R"(x{a="back\\slash"})", "back\\slash"},
      {R"(x{a="line\nbreak\ttab\rret"})", "line\nbreak\ttab\rret"},
      {R"(x{a="\a\b\f\v"})", "\a\b\f\v"},
      {R"(x{a="\x41\x62"})", "Ab"},
      {R"(x{a="\xc3\xa9"})", "é"},  // bytes that together are UTF-8
      {R"(x{a="\101\142"})", "Ab"},
      {R"(x{a="\u00e9\u263a"})", "é☺"},
      {R"(x{a="\U0001F600"})", "\U0001F600"},
      {R"(x{a="it's"})", "it's"},
      {R"(x{a="a\\d+"})", "a\\d+"},
      // Single-quoted: the same escapes, with \' instead of \".
      {R"(x{a='it\'s'})", "it's"},
      {R"(x{a='say "hi"'})", "say \"hi\""},
      {R"(x{a='\x41\n\u00e9\\'})", "A\né\\"},
      // Back-quoted: raw, across lines, no escapes at all.
      {R"(x{a=`\d+\.\n"'`})", R"(\d+\.\n"')"},
      {"x{a=`two\nlines`}", "two\nlines"},
  };
  for (const Case& c : cases) {
    Result<Selector> parsed = ParseSelector(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().message();
    ASSERT_EQ(parsed->matchers.size(), 1u) << c.text;
    EXPECT_EQ(parsed->matchers[0].value, c.value) << c.text;
  }
}

TEST(ParseSelectorTest, RejectsWhatIsNotASelector) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string kNotExpression =
      ": a selector is a metric name with label matchers, not an expression";
  const std::vector<Case> cases = {
      {"", "empty selector"},
      {"   \n\t", "empty selector"},
      // The metric name is required, before the braces, and not as a matcher.
      {R"({job="x"})", R"(missing metric name before "{" at column 1)"},
      {R"(  {job="x"})", R"(missing metric name before "{" at column 3)"},
      {R"(x{__name__="y"})",
       R"(label "__name__" at column 3 cannot be matched: write the metric name before the )"
       "braces"},
      {R"(x{job="a",__name__=~"y.*"})",
       R"(label "__name__" at column 11 cannot be matched: write the metric name before the )"
       "braces"},
      // Expressions.
      {"rate(x[5m])", R"(unexpected "(" at column 5)" + kNotExpression},
      {"sum(x)", R"(unexpected "(" at column 4)" + kNotExpression},
      {"sum (x)", R"(unexpected "(" at column 5)" + kNotExpression},
      {"(x)", R"(unexpected "(" at column 1: expected a metric name)"},
      {"x + 1", R"(unexpected "+" at column 3)" + kNotExpression},
      {"x > 0", R"(unexpected ">" at column 3)" + kNotExpression},
      {"x{a=\"b\"}>0", R"(unexpected ">" at column 9)" + kNotExpression},
      {"x or y", R"(unexpected "or" at column 3)" + kNotExpression},
      {"x and on(job) y", R"(unexpected "and" at column 3)" + kNotExpression},
      {"x{} y", R"(unexpected "y" at column 5)" + kNotExpression},
      {"x{}{}", R"(unexpected "{" at column 4)" + kNotExpression},
      {"-x", R"(unexpected "-" at column 1: expected a metric name)"},
      {"x # comment", R"(unexpected "#" at column 3)" + kNotExpression},
      {"sum", R"(invalid metric name "sum" at column 1: it is a PromQL keyword)"},
      {"OFFSET{a=\"b\"}", R"(invalid metric name "OFFSET" at column 1: it is a PromQL keyword)"},
      // Ranges, offsets and @.
      {"x[5m]", R"(unexpected "[" at column 2: a selector cannot have a range)"},
      {R"(x{a="b"}[5m])", R"(unexpected "[" at column 9: a selector cannot have a range)"},
      {"x offset 5m", R"(unexpected "offset" at column 3: a selector cannot have an offset)"},
      {"x OFFSET 5m", R"(unexpected "OFFSET" at column 3: a selector cannot have an offset)"},
      {"x @ 1609746000", R"(unexpected "@" at column 3: a selector cannot have an @ modifier)"},
      {"x @ start()", R"(unexpected "@" at column 3: a selector cannot have an @ modifier)"},
      // Quotes and braces.
      {R"(http_requests_total{job="a",code="5)",
       R"(unbalanced quote in the value of label "code" at column 34)"},
      {R"(x{a='b})", R"(unbalanced quote in the value of label "a" at column 5)"},
      {R"(x{a=`b})", R"(unbalanced quote in the value of label "a" at column 5)"},
      {R"(x{a="b\"})", R"(unbalanced quote in the value of label "a" at column 5)"},
      {R"(x{a="b\)", R"(unbalanced quote in the value of label "a" at column 5)"},
      {"x{a=\"b\nc\"}",
       R"(line break in the value of label "a" at column 7: write \n, or back-quote the value)"},
      {"x{", R"(unclosed "{" at column 2)"},
      {R"(x{a="b")", R"(unclosed "{" at column 2)"},
      {R"(x{a="b",)", R"(unclosed "{" at column 2)"},
      {"x{a", R"(unclosed "{" at column 2)"},
      {"x{a=", R"(unclosed "{" at column 2)"},
      {R"(x{a="b" c="d"})",
       R"(unexpected "c" at column 9: expected "," or "}" after the value of label "a")"},
      {R"(x{a="b";c="d"})",
       R"(unexpected ";" at column 8: expected "," or "}" after the value of label "a")"},
      {R"(x{,})", R"(unexpected "," at column 3: expected a label name)"},
      {R"(x{a="b",,})", R"(unexpected "," at column 9: expected a label name)"},
      // Names.
      {R"(x{1a="b"})",
       R"(invalid label name "1a" at column 3: a label name matches [a-zA-Z_][a-zA-Z0-9_]*)"},
      {R"(x{job.name="b"})", R"(invalid label name "job.name" at column 3: a label name matches )"
                             "[a-zA-Z_][a-zA-Z0-9_]*"},
      {R"(x{a:b="c"})",
       R"(invalid label name "a:b" at column 3: a label name matches [a-zA-Z_][a-zA-Z0-9_]*)"},
      {R"(x{"quoted"="c"})", R"(unexpected "\"" at column 3: expected a label name)"},
      {R"(x{a-b="c"})", R"(unexpected "-" at column 4: expected =, !=, =~ or !~ after label "a")"},
      {"1x", R"(invalid metric name "1x" at column 1: a metric name matches )"
             "[a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"http.requests", R"(invalid metric name "http.requests" at column 1: a metric name matches )"
                        "[a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"x\xff", R"(invalid metric name "x\xff" at column 1: a metric name matches )"
                "[a-zA-Z_:][a-zA-Z0-9_:]*"},
      // Operators and values.
      {R"(x{a=="b"})", R"(unexpected "=" at column 5: expected a quoted value for label "a")"},
      {R"(x{a~"b"})", R"(unexpected "~" at column 4: expected =, !=, =~ or !~ after label "a")"},
      {R"(x{a!"b"})", R"(unexpected "!" at column 4: expected =, !=, =~ or !~ after label "a")"},
      {R"(x{a "b"})", R"(unexpected "\"" at column 5: expected =, !=, =~ or !~ after label "a")"},
      {R"(x{a=b})", R"(unexpected "b" at column 5: expected a quoted value for label "a")"},
      {R"(x{a=5})", R"(unexpected "5" at column 5: expected a quoted value for label "a")"},
      // Escapes.
      {R"(x{code=~"5\d\d"})",
       R"(invalid escape sequence in the value of label "code" at column 11: \d is not a string )"
       R"(escape; write \\d, or back-quote the value)"},
      {R"(x{a="it\'s"})",
       R"(invalid escape sequence in the value of label "a" at column 8: \' is not a string )"
       R"(escape; write \\', or back-quote the value)"},
      {R"(x{a='say \"hi\"'})",
       R"(invalid escape sequence in the value of label "a" at column 10: \" is not a string )"
       R"(escape; write \\", or back-quote the value)"},
      {"x{a=\"\\\x01\"}",
       R"(invalid escape sequence in the value of label "a" at column 6: unknown escape)"},
      {R"(x{a="\x4"})",
       R"(invalid escape sequence in the value of label "a" at column 6: \x needs 2 hex digits)"},
      {R"(x{a="\xg0"})",
       R"(invalid escape sequence in the value of label "a" at column 6: \x needs 2 hex digits)"},
      {R"(x{a="\u12"})",
       R"(invalid escape sequence in the value of label "a" at column 6: \u needs 4 hex digits)"},
      {R"(x{a="\U0001F60"})",
       R"(invalid escape sequence in the value of label "a" at column 6: \U needs 8 hex digits)"},
      {R"(x{a="\ud800"})",
       R"(invalid escape sequence in the value of label "a" at column 6: not a Unicode code )"
       "point"},
      {R"(x{a="\U00110000"})",
       R"(invalid escape sequence in the value of label "a" at column 6: not a Unicode code )"
       "point"},
      {R"(x{a="\12"})",
       R"(invalid escape sequence in the value of label "a" at column 6: an octal escape needs 3 )"
       R"(digits up to \377)"},
      {R"(x{a="\400"})",
       R"(invalid escape sequence in the value of label "a" at column 6: an octal escape needs 3 )"
       R"(digits up to \377)"},
      // Values must be UTF-8, written or escaped.
      {"x{a=\"\xff\"}", R"(invalid UTF-8 in the value of label "a" at column 5)"},
      {"x{a=`\xc3`}", R"(invalid UTF-8 in the value of label "a" at column 5)"},
      {"x{a=\"\xed\xa0\x80\"}", R"(invalid UTF-8 in the value of label "a" at column 5)"},
      {R"(x{a="\xff"})", R"(invalid UTF-8 in the value of label "a" at column 5)"},
      {R"(x{a="\377"})", R"(invalid UTF-8 in the value of label "a" at column 5)"},
      {R"(x{a="\xc3"})", R"(invalid UTF-8 in the value of label "a" at column 5)"},
      // Regular expressions.
      {R"(http_requests_total{code=~"5(.."})",
       R"(invalid regular expression in the value of label "code": missing closing ))"},
      {R"(x{a!~"[a-"})", R"(invalid regular expression in the value of label "a": missing )"
                         "closing ]"},
      {R"(x{a=~"*a"})", R"(invalid regular expression in the value of label "a": missing )"
                        "argument to repetition operator *"},
      {R"(x{a=~`(?=x)`})", R"(invalid regular expression in the value of label "a": invalid or )"
                           "unsupported Perl syntax (?="},
      {R"(x{a=~`(a)\1`})",
       R"(invalid regular expression in the value of label "a": invalid escape sequence \1)"},
  };
  for (const Case& c : cases) {
    Result<Selector> parsed = ParseSelector(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text << " parsed as " << Describe(*parsed);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(parsed.status().message(), c.message) << c.text;
  }
}

TEST(ParseSelectorTest, EqualityMatchersDoNotCheckRegexSyntax) {
  Result<Selector> parsed = ParseSelector(R"(x{a="5(..",b!="[a-"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->matchers, (std::vector<LabelMatcher>{Eq("a", "5(.."), Ne("b", "[a-")}));
}

TEST(ParseSelectorTest, RoundTripsThroughTheCanonicalForm) {
  struct Case {
    std::string text;
    std::string canonical;
  };
  const std::vector<Case> cases = {
      {"up", "up"},
      {"up{}", "up"},
      {" up { } ", "up"},
      {"x{ a = 'b' , c =~ `d.*` , }", R"(x{a="b",c=~"d.*"})"},
      {R"(x{a!="b",c!~"d"})", R"(x{a!="b",c!~"d"})"},
      {R"(x{a='say "hi"'})", R"(x{a="say \"hi\""})"},
      {R"(x{a=`C:\path`})", R"(x{a="C:\\path"})"},
      {"x{a=`two\nlines\ttab`}", R"(x{a="two\nlines\ttab"})"},
      {R"(x{a="\x01\x7f\r"})", R"(x{a="\x01\x7f\r"})"},
      {R"(x{a="\u00e9\x41\101"})", R"(x{a="éAA"})"},
      {R"(x{a="\ufffd"})", R"(x{a="\ufffd"})"},
      {"x{a=\"\xef\xbf\xbd\"}", R"(x{a="\ufffd"})"},
      {R"(ns:x:rate5m{code=~`5\d\d|4(?:29)`})", R"re(ns:x:rate5m{code=~"5\\d\\d|4(?:29)"})re"},
  };
  for (const Case& c : cases) {
    Result<Selector> parsed = ParseSelector(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().message();
    const std::string rendered = RenderSelector(*parsed);
    EXPECT_EQ(rendered, c.canonical) << c.text;
    Result<Selector> reparsed = ParseSelector(rendered);
    ASSERT_TRUE(reparsed.ok()) << rendered << ": " << reparsed.status().message();
    EXPECT_EQ(*reparsed, *parsed) << rendered;
    EXPECT_EQ(RenderSelector(*reparsed), rendered);
  }
}

TEST(RenderSelectorTest, AppendsSuffixAndExtraMatchers) {
  struct Case {
    Selector selector;
    std::string suffix;
    std::vector<LabelMatcher> extra;
    std::string rendered;
  };
  const std::vector<Case> cases = {
      {{"x", {}}, "", {}, "x"},
      {{"x", {}}, "_bucket", {}, "x_bucket"},
      {{"http_request_duration_seconds", {Eq("job", "api")}},
       "_bucket",
       {Eq("le", "0.25")},
       R"(http_request_duration_seconds_bucket{job="api",le="0.25"})"},
      {{"x", {}}, "_count", {Re("code", "5..")}, R"(x_count{code=~"5.."})"},
      {{"x", {Ne("a", "b"), Nre("c", "d|e")}},
       "",
       {Eq("f", "g\"h")},
       R"(x{a!="b",c!~"d|e",f="g\"h"})"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RenderSelector(c.selector, c.suffix, c.extra), c.rendered);
  }
}

TEST(QuotePromQLStringTest, EscapesWhatPromQLNeedsEscaped) {
  struct Case {
    std::string value;
    std::string quoted;
  };
  const std::vector<Case> cases = {
      {"", R"("")"},
      {"plain", R"("plain")"},
      {"a\"b\\c\n", R"("a\"b\\c\n")"},
      {"tab\there\r", R"("tab\there\r")"},
      {"it's `raw`", R"("it's `raw`")"},
      {std::string("nul\0bell\a", 9), R"("nul\x00bell\x07")"},
      {"del\x7f", R"("del\x7f")"},
      {"é ☺ \U0001F600", "\"é ☺ \U0001F600\""},
      {"\xff\xc3", R"("\xff\xc3")"},    // not UTF-8: every byte escaped
      {"\xef\xbf\xbd", R"("\ufffd")"},  // the PromQL lexer rejects a literal U+FFFD
  };
  for (const Case& c : cases) {
    EXPECT_EQ(QuotePromQLString(c.value), c.quoted);
    // What PromQL reads back is the original bytes.
    Result<Selector> parsed = ParseSelector("x{a=" + c.quoted + "}");
    if (IsValidUtf8(c.value)) {
      ASSERT_TRUE(parsed.ok()) << c.quoted << ": " << parsed.status().message();
      EXPECT_EQ(parsed->matchers[0].value, c.value);
    }
  }
}

TEST(CheckRegexTest, AcceptsGoSyntax) {
  for (const char* pattern : {
           "",
           "abc",
           "5..",
           "a|b|",
           "|",
           "(a|b)*c+d?",
           "a*?b+?c??",
           "a{2}b{2,}c{2,5}d{0}e{0,}f{2,5}?",
           "a{1000}",
           "(a{10}){100}",
           "((a{10}){10}){10}",
           "(a{1000}){0}",
           "(?:a{2}){1,}",
           "a{",
           "a{x}",
           "a{,5}",
           "a{01}",
           "a{1",
           "{",
           "}",
           "]",
           "x{2}y",
           "(?:x)",
           "(?i)abc",
           "(?i:abc)",
           "(?s).",
           "(?m)^a$",
           "(?U)a*",
           "(?im-sU:x)",
           "(?i-s)x",
           "(?)",
           "a(?i)*",  // Go applies the * to the a
           "(?P<name>x)",
           "(?<name>x)",
           "(?P<_9>x)(?P<name>y)",
           "()",
           "(?:)*",
           "^*$+",
           "\\b+",
           "[abc]",
           "[^abc]",
           "[a-z0-9_]",
           "[]a]",
           "[^]a]",
           "[a-]",
           "[-a]",
           "[a-a]",
           "[[:alpha:]]",
           "[[:^digit:][:space:]x]",
           "[[:word:]-]",
           "[[]",
           "[\\d\\s\\W]",
           "[\\pL\\p{Greek}]",
           "[\\x00-\\x{10FFFF}]",
           "[\\]\\-\\\\]",
           "[é-ü]",
           "[:alpha:]",
           "\\d\\D\\s\\S\\w\\W\\b\\B\\A\\z",
           "\\pL\\PL\\pN\\p{Greek}\\p{^Greek}\\P{Han}\\p{Lu}\\p{Any}\\p{Latin}",
           "\\Qa.b*c\\E",
           "\\Q(unclosed",
           "\\Q\\E",
           "\\x41\\x{263a}\\x{10FFFF}\\x{D800}",
           "\\0\\07\\101\\12",
           "\\a\\f\\n\\r\\t\\v",
           "\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\\\/\\-\\_\\ \\#\\:",
           "日本語+",
       }) {
    Status status = CheckRegex(pattern);
    EXPECT_TRUE(status.ok()) << pattern << ": " << status.message();
  }
}

TEST(CheckRegexTest, RejectsWhatGoRejects) {
  struct Case {
    std::string pattern;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"5(..", "missing closing )"},
      {"((a)", "missing closing )"},
      {"(?:a", "missing closing )"},
      {"a)", "unexpected )"},
      {")(", "unexpected )"},
      {"[a-", "missing closing ]"},
      {"[a", "missing closing ]"},
      {"[]", "missing closing ]"},
      {"[^]", "missing closing ]"},
      {"[[:alpha:]", "missing closing ]"},
      {"*a", "missing argument to repetition operator *"},
      {"+", "missing argument to repetition operator +"},
      {"??", "missing argument to repetition operator ??"},
      {"{2}", "missing argument to repetition operator {2}"},
      {"a|*", "missing argument to repetition operator *"},
      {"(*)", "missing argument to repetition operator *"},
      {"(?i)*", "missing argument to repetition operator *"},
      {"\\Q\\E*", "missing argument to repetition operator *"},
      {"a**", "invalid nested repetition operator **"},
      {"a*+", "invalid nested repetition operator *+"},
      {"a{2}*", "invalid nested repetition operator {2}*"},
      {"a*?{2}", "invalid nested repetition operator *?{2}"},
      {"a{2,1}", "invalid repeat count {2,1}"},
      {"a{1001}", "invalid repeat count {1001}"},
      {"a{0,1001}", "invalid repeat count {0,1001}"},
      {"a{99999999999}", "invalid repeat count {99999999999}"},
      {"(a{10}){101}", "invalid repeat count {101}"},
      {"((a{10}){10}){11}", "invalid repeat count {11}"},
      {"(a{2,}){501}?", "invalid repeat count {501}?"},
      {"[z-a]", "invalid character class range z-a"},
      {"[a\\x{10}-\\x{1}]", "invalid character class range \\x{10}-\\x{1}"},
      {"[[:foo:]]", "invalid character class range [:foo:]"},
      {"\\p{Foo}", "invalid character class range \\p{Foo}"},
      {"\\pX", "invalid character class range \\pX"},
      {"\\p{Greek", "invalid character class range \\p{Greek"},
      {"\\p", "invalid character class range \\p"},
      {"[\\p{Nope}]", "invalid character class range \\p{Nope}"},
      // Go 1.25 accepts these; older Go (and so many Prometheus builds) does not.
      {"\\p{LC}", "invalid character class range \\p{LC}"},
      {"\\p{Letter}", "invalid character class range \\p{Letter}"},
      {"\\p{greek}", "invalid character class range \\p{greek}"},
      {"\\i", "invalid escape sequence \\i"},
      {"\\1", "invalid escape sequence \\1"},
      {"(a)\\1", "invalid escape sequence \\1"},
      {"\\8", "invalid escape sequence \\8"},
      {"\\C", "invalid escape sequence \\C"},
      {"\\E", "invalid escape sequence \\E"},
      {"\\x", "invalid escape sequence \\x"},
      {"\\x4", "invalid escape sequence \\x4"},
      {"\\xg1", "invalid escape sequence \\xg1"},
      {"\\x{}", "invalid escape sequence \\x{}"},
      {"\\x{110000}", "invalid escape sequence \\x{110000"},
      {"\\x{12", "invalid escape sequence \\x{12"},
      {"\\é", "invalid escape sequence \\é"},
      {"[\\b]", "invalid escape sequence \\b"},
      {"[\\Q]", "invalid escape sequence \\Q"},
      {"a\\", "trailing backslash at end of expression"},
      {"(?=x)", "invalid or unsupported Perl syntax (?="},
      {"(?!x)", "invalid or unsupported Perl syntax (?!"},
      {"(?>x)", "invalid or unsupported Perl syntax (?>"},
      {"(?#comment)", "invalid or unsupported Perl syntax (?#"},
      {"(?P=name)", "invalid or unsupported Perl syntax (?P"},
      {"(?x)", "invalid or unsupported Perl syntax (?x"},
      {"(?i", "invalid or unsupported Perl syntax (?i"},
      {"(?-)", "invalid or unsupported Perl syntax (?-)"},
      {"(?i-)", "invalid or unsupported Perl syntax (?i-)"},
      {"(?i--s)", "invalid or unsupported Perl syntax (?i--"},
      {"(?<=x)", "invalid named capture (?<=x)"},
      {"(?<!x)", "invalid named capture (?<!x)"},
      {"(?P<>x)", "invalid named capture (?P<>"},
      {"(?P<a-b>x)", "invalid named capture (?P<a-b>"},
      {"(?P<name", "invalid named capture (?P<name"},
      {"\xff", "invalid UTF-8"},
      {"a\xc3(", "invalid UTF-8"},
      {std::string(1000, '(') + "a" + std::string(1000, ')'), "expression nests too deeply"},
      {std::string(500, '(') + "(?P<n>" + std::string(499, '(') + "a" + std::string(1000, ')'),
       "expression nests too deeply"},
  };
  for (const Case& c : cases) {
    Status status = CheckRegex(c.pattern);
    ASSERT_FALSE(status.ok()) << c.pattern;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.pattern;
    EXPECT_EQ(status.message(), c.message) << c.pattern;
  }
}

TEST(CheckRegexTest, HandlesDeepNestingWithoutRecursion) {
  const std::string deep = std::string(999, '(') + "a" + std::string(999, ')');
  EXPECT_TRUE(CheckRegex(deep).ok());
  // Non-capturing groups make no node of Go's parse tree, so they may nest further.
  std::string non_capturing;
  for (int i = 0; i < 5000; ++i) non_capturing += "(?:";
  non_capturing.append("a").append(5000, ')');
  EXPECT_TRUE(CheckRegex(non_capturing).ok());
  EXPECT_EQ(CheckRegex(std::string(100000, '(')).message(), "expression nests too deeply");
  EXPECT_EQ(CheckRegex("(?:" + std::string(100000, '(')).message(), "expression nests too deeply");
  EXPECT_TRUE(CheckRegex(std::string(100000, 'a')).ok());
}

TEST(NamesTest, ValidatesMetricAndLabelNames) {
  struct Case {
    std::string name;
    bool metric;
    bool label;
  };
  const std::vector<Case> cases = {
      {"up", true, true},          {"http_requests_total", true, true},
      {"_x", true, true},          {"X9", true, true},
      {"job:rate5m", true, false}, {":x", true, false},
      {"", false, false},          {"9x", false, false},
      {"a-b", false, false},       {"a.b", false, false},
      {"é", false, false},         {"a b", false, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsValidMetricName(c.name), c.metric) << c.name;
    EXPECT_EQ(IsValidLabelName(c.name), c.label) << c.name;
  }
}

TEST(NamesTest, ValidatesUtf8) {
  struct Case {
    std::string text;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"", true},
      {"ascii", true},
      {"é☺\U0001F600\U0010FFFF", true},
      {std::string("\0", 1), true},
      {"\xff", false},
      {"\xc3", false},              // truncated
      {"\xc3(", false},             // bad continuation
      {"\xc0\xaf", false},          // overlong
      {"\xe0\x80\xaf", false},      // overlong
      {"\xed\xa0\x80", false},      // surrogate
      {"\xf4\x90\x80\x80", false},  // past U+10FFFF
      {"\xf8\x88\x80\x80\x80", false},
  };
  for (const Case& c : cases) EXPECT_EQ(IsValidUtf8(c.text), c.valid) << QuotePromQLString(c.text);
}

TEST(MatchOpTest, HasPromQLText) {
  EXPECT_STREQ(MatchOpText(MatchOp::kEqual), "=");
  EXPECT_STREQ(MatchOpText(MatchOp::kNotEqual), "!=");
  EXPECT_STREQ(MatchOpText(MatchOp::kRegexMatch), "=~");
  EXPECT_STREQ(MatchOpText(MatchOp::kRegexNoMatch), "!~");
}

}  // namespace
}  // namespace nines::api
