#include "operator/api/selector.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nines::api {
namespace {

constexpr size_t kNone = std::string_view::npos;
constexpr char32_t kMaxRune = 0x10FFFF;

// ----------------------------------------------------------------------------------------------
// Characters and UTF-8.

bool IsAsciiLetter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char32_t c) { return IsAsciiLetter(c) || IsAsciiDigit(c); }
bool IsOctalDigit(char32_t c) { return c >= '0' && c <= '7'; }
bool IsPrintableAscii(char32_t c) { return c >= 0x20 && c < 0x7f; }
bool IsSurrogate(char32_t c) { return c >= 0xD800 && c <= 0xDFFF; }

// White space as the PromQL lexer defines it.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int HexDigitValue(char32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}

bool IsContinuationByte(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the well-formed UTF-8 sequence that starts `text`, or 0 if it does not start with
// one. Overlong forms, surrogates and code points past U+10FFFF are not well formed (as in Go).
size_t Utf8SequenceLength(std::string_view text) {
  if (text.empty()) return 0;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!IsContinuationByte(byte(i))) return 0;
  }
  return length;
}

// Decodes the rune at `*pos` of `text`, which must be valid UTF-8, and advances `*pos` past it.
char32_t DecodeRune(std::string_view text, size_t* pos) {
  const size_t length = Utf8SequenceLength(text.substr(*pos));
  const auto byte = [&](size_t i) { return static_cast<char32_t>(text[*pos + i]) & 0xFF; };
  char32_t rune = 0;
  switch (length) {
    case 1:
      rune = byte(0);
      break;
    case 2:
      rune = ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
      break;
    case 3:
      rune = ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
      break;
    case 4:
      rune = ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) |
             (byte(3) & 0x3F);
      break;
    default:  // not UTF-8: callers check first, but progress through the byte regardless
      ++*pos;
      return byte(0);
  }
  *pos += length;
  return rune;
}

void AppendUtf8(char32_t rune, std::string* out) {
  if (rune < 0x80) {
    out->push_back(static_cast<char>(rune));
  } else if (rune < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (rune >> 6)));
    out->push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  } else if (rune < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (rune >> 12)));
    out->push_back(static_cast<char>(0x80 | ((rune >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (rune >> 18)));
    out->push_back(static_cast<char>(0x80 | ((rune >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((rune >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  }
}

// The escape that QuotePromQLString writes for `c`, if it has a short one.
std::string_view ShortEscape(unsigned char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return {};
  }
}

void AppendHexByte(unsigned char byte, std::string* out) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  out->append("\\x");
  out->push_back(kDigits[byte >> 4]);
  out->push_back(kDigits[byte & 0xF]);
}

// ----------------------------------------------------------------------------------------------
// Names Go's regexp/syntax knows.

// The Unicode classes for \p{...}: the general categories and scripts of Go's unicode package
// (Unicode 15.0.0, Go 1.21 and later) plus "Any". Go 1.25 also accepts Cn, LC, ASCII, Assigned,
// long category names and loose spelling; Prometheus builds with older Go reject those, so a rule
// that uses them might not load, and they are rejected here.
constexpr std::array<std::string_view, 36> kUnicodeCategories = {
    "C",  "Cc", "Cf", "Co", "Cs", "L",  "Ll", "Lm", "Lo", "Lt", "Lu", "M",
    "Mc", "Me", "Mn", "N",  "Nd", "Nl", "No", "P",  "Pc", "Pd", "Pe", "Pf",
    "Pi", "Po", "Ps", "S",  "Sc", "Sk", "Sm", "So", "Z",  "Zl", "Zp", "Zs",
};

// clang-format off
constexpr std::array<std::string_view, 163> kUnicodeScripts = {
    "Adlam", "Ahom", "Anatolian_Hieroglyphs", "Arabic", "Armenian", "Avestan", "Balinese", "Bamum",
    "Bassa_Vah", "Batak", "Bengali", "Bhaiksuki", "Bopomofo", "Brahmi", "Braille", "Buginese",
    "Buhid", "Canadian_Aboriginal", "Carian", "Caucasian_Albanian", "Chakma", "Cham", "Cherokee",
    "Chorasmian", "Common", "Coptic", "Cuneiform", "Cypriot", "Cypro_Minoan", "Cyrillic", "Deseret",
    "Devanagari", "Dives_Akuru", "Dogra", "Duployan", "Egyptian_Hieroglyphs", "Elbasan", "Elymaic",
    "Ethiopic", "Georgian", "Glagolitic", "Gothic", "Grantha", "Greek", "Gujarati", "Gunjala_Gondi",
    "Gurmukhi", "Han", "Hangul", "Hanifi_Rohingya", "Hanunoo", "Hatran", "Hebrew", "Hiragana",
    "Imperial_Aramaic", "Inherited", "Inscriptional_Pahlavi", "Inscriptional_Parthian", "Javanese",
    "Kaithi", "Kannada", "Katakana", "Kawi", "Kayah_Li", "Kharoshthi", "Khitan_Small_Script",
    "Khmer", "Khojki", "Khudawadi", "Lao", "Latin", "Lepcha", "Limbu", "Linear_A", "Linear_B",
    "Lisu", "Lycian", "Lydian", "Mahajani", "Makasar", "Malayalam", "Mandaic", "Manichaean",
    "Marchen", "Masaram_Gondi", "Medefaidrin", "Meetei_Mayek", "Mende_Kikakui", "Meroitic_Cursive",
    "Meroitic_Hieroglyphs", "Miao", "Modi", "Mongolian", "Mro", "Multani", "Myanmar", "Nabataean",
    "Nag_Mundari", "Nandinagari", "New_Tai_Lue", "Newa", "Nko", "Nushu", "Nyiakeng_Puachue_Hmong",
    "Ogham", "Ol_Chiki", "Old_Hungarian", "Old_Italic", "Old_North_Arabian", "Old_Permic",
    "Old_Persian", "Old_Sogdian", "Old_South_Arabian", "Old_Turkic", "Old_Uyghur", "Oriya", "Osage",
    "Osmanya", "Pahawh_Hmong", "Palmyrene", "Pau_Cin_Hau", "Phags_Pa", "Phoenician",
    "Psalter_Pahlavi", "Rejang", "Runic", "Samaritan", "Saurashtra", "Sharada", "Shavian",
    "Siddham", "SignWriting", "Sinhala", "Sogdian", "Sora_Sompeng", "Soyombo", "Sundanese",
    "Syloti_Nagri", "Syriac", "Tagalog", "Tagbanwa", "Tai_Le", "Tai_Tham", "Tai_Viet", "Takri",
    "Tamil", "Tangsa", "Tangut", "Telugu", "Thaana", "Thai", "Tibetan", "Tifinagh", "Tirhuta",
    "Toto", "Ugaritic", "Vai", "Vithkuqi", "Wancho", "Warang_Citi", "Yezidi", "Yi",
    "Zanabazar_Square",
};
// clang-format on

constexpr std::array<std::string_view, 14> kPosixClasses = {
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph",
    "lower", "print", "punct", "space", "upper", "word",  "xdigit",
};

template <size_t N>
bool Contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// `name` as written in \p{name}, after any leading ^ (negation) has been removed.
bool IsUnicodeClassName(std::string_view name) {
  return name == "Any" || Contains(kUnicodeCategories, name) || Contains(kUnicodeScripts, name);
}

// `text` is a whole `[:name:]` or `[:^name:]`.
bool IsPosixClass(std::string_view text) {
  std::string_view name = text.substr(2, text.size() - 4);
  if (!name.empty() && name.front() == '^') name.remove_prefix(1);
  return Contains(kPosixClasses, name);
}

bool IsPerlClassLetter(char c) {
  return c == 'd' || c == 'D' || c == 's' || c == 'S' || c == 'w' || c == 'W';
}

// [A-Za-z0-9_]+, as Go accepts for (?P<name>re).
bool IsValidCaptureName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return c == '_' || IsAsciiAlnum(static_cast<unsigned char>(c));
  });
}

// ----------------------------------------------------------------------------------------------
// Regular expressions: a syntax check that follows Go's regexp/syntax parser with the Perl flags
// that regexp.Compile (and so Prometheus) uses. It keeps only what decides validity: which groups
// are open, whether a repetition has something to repeat, and how many copies of an atom nested
// counted repetitions would make. It never recurses, so deep nesting cannot exhaust the stack.

constexpr int kMaxRepeat = 1000;
// Go rejects parse trees more than 1000 levels deep. Each capturing group is a level of its own
// (non-capturing ones make no node), so 1000 nested captures are always too deep. Other structure
// adds levels too, but following it would mean rebuilding Go's tree; counting captures alone never
// rejects a pattern that Go accepts.
constexpr int kMaxCaptureDepth = 1000;

// The weight of an expression is the largest number of copies of one atom that the counted
// repetitions in it make (Go's repeatIsValid). {n,m} or {n} on an expression of weight w weighs
// m*w or n*w, and {n,} weighs n*w; Go rejects a counted repetition that would weigh over 1000.
int RepeatedWeight(int min, int max, int sub_weight) {
  if (max == 0) return 1;  // x{0} matches only the empty string: its insides do not count
  const int times = max < 0 ? min : max;
  return times == 0 ? sub_weight : times * sub_weight;
}

class RegexChecker {
 public:
  explicit RegexChecker(std::string_view pattern) : pattern_(pattern) {}

  Status Check();

 private:
  // The state of one open group (or the whole pattern) that later items depend on.
  struct Frame {
    int alternation_weight = 1;  // heaviest finished alternative
    int concat_weight = 1;       // heaviest item of the current alternative, except the last
    int last_weight = 1;         // the last item's weight
    bool has_last = false;       // whether there is a last item for a repetition to apply to
    bool capturing = false;      // whether the group is ( or (?P<name>, rather than (?: or the root
    int Weight() const { return std::max({alternation_weight, concat_weight, last_weight}); }
  };

  struct RepeatCount {
    int min = 0;
    int max = 0;  // -1 for {n,}
  };

  bool AtEnd() const { return pos_ >= pattern_.size(); }
  bool NextIs(char c, size_t ahead = 0) const {
    return pos_ + ahead < pattern_.size() && pattern_[pos_ + ahead] == c;
  }
  unsigned char Byte(size_t pos) const { return static_cast<unsigned char>(pattern_[pos]); }
  std::string_view Rest() const { return pattern_.substr(pos_); }
  std::string_view Since(size_t start) const { return pattern_.substr(start, pos_ - start); }
  static Status Error(std::string_view what, std::string_view expression = "") {
    std::string message(what);
    if (!expression.empty()) message.append(" ").append(expression);
    return InvalidArgumentError(std::move(message));
  }

  void PushAtom(int weight = 1);
  Status OpenGroup(size_t prefix_length, bool capturing);
  Status ParseOpenParen();
  Status ParseGroupExtension();
  Status ParseCloseParen();
  void ParseVerticalBar();
  Status ParseRepetition(size_t op_start, int min, int max, bool counted);
  bool TryParseRepeatCount(RepeatCount* count);
  int ParseRepeatNumber();
  Status ParseBackslash();
  void ParseQuotedLiteral();
  Status ParseUnicodeClass();
  Result<bool> TryParseNamedClass();
  Status ParseClass();
  Result<char32_t> ParseClassChar();
  Result<char32_t> ParseEscape();
  Result<char32_t> ParseHexEscape(size_t backslash);

  std::string_view pattern_;
  size_t pos_ = 0;
  std::vector<Frame> frames_ = {Frame{}};
  int capture_depth_ = 0;
  // Where the previous item's repetition operator starts, if the previous item was one: Go
  // rejects a repetition of a repetition (a**, a{2}*) rather than guess what it means.
  size_t last_repetition_ = kNone;
};

Status RegexChecker::Check() {
  // Go reports invalid UTF-8 wherever it meets it; checking up front also keeps the messages below,
  // which quote parts of the pattern, valid UTF-8.
  if (!IsValidUtf8(pattern_)) return Error("invalid UTF-8");
  while (!AtEnd()) {
    const size_t start = pos_;
    size_t repetition = kNone;
    Status status;
    switch (pattern_[pos_]) {
      case '(':
        status = ParseOpenParen();
        break;
      case ')':
        status = ParseCloseParen();
        break;
      case '|':
        ParseVerticalBar();
        break;
      case '[':
        status = ParseClass();
        break;
      case '*':
      case '+':
      case '?':
        ++pos_;
        status = ParseRepetition(start, 0, 0, /*counted=*/false);
        repetition = start;
        break;
      case '{': {
        RepeatCount count;
        if (!TryParseRepeatCount(&count)) {  // then Go takes the { literally
          ++pos_;
          PushAtom();
          break;
        }
        if (count.min > kMaxRepeat || count.max > kMaxRepeat ||
            (count.max >= 0 && count.min > count.max)) {
          return Error("invalid repeat count", Since(start));
        }
        status = ParseRepetition(start, count.min, count.max, /*counted=*/true);
        repetition = start;
        break;
      }
      case '\\':
        status = ParseBackslash();
        break;
      default:  // a literal rune, or one of . ^ $, all of which are atoms
        DecodeRune(pattern_, &pos_);
        PushAtom();
        break;
    }
    if (!status.ok()) return status;
    last_repetition_ = repetition;
  }
  if (frames_.size() > 1) return Error("missing closing )");
  return Status::Ok();
}

void RegexChecker::PushAtom(int weight) {
  Frame& frame = frames_.back();
  if (frame.has_last) frame.concat_weight = std::max(frame.concat_weight, frame.last_weight);
  frame.last_weight = weight;
  frame.has_last = true;
}

// `prefix_length` is the length of the group's opening: 1 for (, 3 for (?:, and so on.
Status RegexChecker::OpenGroup(size_t prefix_length, bool capturing) {
  if (capturing && ++capture_depth_ >= kMaxCaptureDepth) {
    return Error("expression nests too deeply");
  }
  pos_ += prefix_length;
  frames_.emplace_back().capturing = capturing;
  return Status::Ok();
}

Status RegexChecker::ParseOpenParen() {
  if (NextIs('?', 1)) return ParseGroupExtension();
  return OpenGroup(1, /*capturing=*/true);
}

// (?P<name>re), (?<name>re), (?flags), (?flags:re); the caller has seen "(?".
Status RegexChecker::ParseGroupExtension() {
  const std::string_view rest = Rest();
  const bool p_name = rest.size() > 4 && rest[2] == 'P' && rest[3] == '<';
  const bool bare_name = rest.size() > 3 && rest[2] == '<';
  if (p_name || bare_name) {
    const size_t name_start = p_name ? 4 : 3;
    const size_t name_end = rest.find('>');
    if (name_end == kNone) return Error("invalid named capture", rest);
    const std::string_view name = rest.substr(name_start, name_end - name_start);
    if (!IsValidCaptureName(name)) {
      return Error("invalid named capture", rest.substr(0, name_end + 1));
    }
    return OpenGroup(name_end + 1, /*capturing=*/true);
  }

  // Flags: any of imsU, optionally followed by - and at least one more, then ) or :.
  bool negated = false;
  bool saw_flag = false;
  size_t i = 2;
  while (i < rest.size()) {
    const char c = rest[i];
    DecodeRune(rest, &i);
    if (c == 'i' || c == 'm' || c == 's' || c == 'U') {
      saw_flag = true;
    } else if (c == '-' && !negated) {
      negated = true;
      saw_flag = false;
    } else if ((c == ')' || c == ':') && (saw_flag || !negated)) {
      if (c == ':') return OpenGroup(i, /*capturing=*/false);
      pos_ += i;  // the flags apply to the rest of the group; they do not affect validity
      return Status::Ok();
    } else {
      break;  // lookarounds (?= (?! (?<=, atomic groups (?>, conditionals, ...
    }
  }
  return Error("invalid or unsupported Perl syntax", rest.substr(0, i));
}

Status RegexChecker::ParseCloseParen() {
  if (frames_.size() == 1) return Error("unexpected )");
  const int weight = frames_.back().Weight();
  if (frames_.back().capturing) --capture_depth_;
  frames_.pop_back();
  ++pos_;
  PushAtom(weight);
  return Status::Ok();
}

void RegexChecker::ParseVerticalBar() {
  Frame& frame = frames_.back();
  frame.alternation_weight = frame.Weight();
  frame.concat_weight = 1;
  frame.last_weight = 1;
  frame.has_last = false;
  ++pos_;
}

// `op_start` is where the operator starts; pos_ is just past it.
Status RegexChecker::ParseRepetition(size_t op_start, int min, int max, bool counted) {
  if (NextIs('?')) ++pos_;  // non-greedy
  if (last_repetition_ != kNone) {
    return Error("invalid nested repetition operator", Since(last_repetition_));
  }
  Frame& frame = frames_.back();
  if (!frame.has_last) return Error("missing argument to repetition operator", Since(op_start));
  if (!counted) return Status::Ok();  // * + ? do not multiply the weight
  const int weight = RepeatedWeight(min, max, frame.last_weight);
  // Go only checks repetitions that can make copies; {0,1}, {1} and {1,} cannot.
  if ((min >= 2 || max >= 2) && weight > kMaxRepeat) {
    return Error("invalid repeat count", Since(op_start));
  }
  frame.last_weight = weight;
  return Status::Ok();
}

// {n}, {n,} or {n,m} at pos_; on success advances past it. Anything else leaves pos_ alone.
bool RegexChecker::TryParseRepeatCount(RepeatCount* count) {
  const size_t start = pos_;
  ++pos_;  // {
  count->min = ParseRepeatNumber();
  if (count->min < 0) {
    pos_ = start;
    return false;
  }
  count->max = count->min;
  if (NextIs(',')) {
    ++pos_;
    if (NextIs('}')) {
      count->max = -1;
    } else if ((count->max = ParseRepeatNumber()) < 0) {
      pos_ = start;
      return false;
    }
  }
  if (!NextIs('}')) {
    pos_ = start;
    return false;
  }
  ++pos_;
  return true;
}

// A decimal number without leading zeros at pos_, or -1 (consuming nothing) if there is none.
// Numbers past kMaxRepeat saturate at kMaxRepeat + 1, which is all the caller needs to know.
int RegexChecker::ParseRepeatNumber() {
  if (AtEnd() || !IsAsciiDigit(Byte(pos_))) return -1;
  if (pattern_[pos_] == '0' && pos_ + 1 < pattern_.size() && IsAsciiDigit(Byte(pos_ + 1))) {
    return -1;
  }
  int value = 0;
  while (!AtEnd() && IsAsciiDigit(Byte(pos_))) {
    value = std::min(value * 10 + (pattern_[pos_] - '0'), kMaxRepeat + 1);
    ++pos_;
  }
  return value;
}

Status RegexChecker::ParseBackslash() {
  if (pos_ + 1 < pattern_.size()) {
    const char c = pattern_[pos_ + 1];
    if (c == 'A' || c == 'b' || c == 'B' || c == 'z' || IsPerlClassLetter(c)) {
      pos_ += 2;  // assertions \A \b \B \z and classes \d \D \s \S \w \W
      PushAtom();
      return Status::Ok();
    }
    if (c == 'Q') {
      ParseQuotedLiteral();
      return Status::Ok();
    }
    if (c == 'p' || c == 'P') {
      Status status = ParseUnicodeClass();
      if (status.ok()) PushAtom();
      return status;
    }
  }
  Result<char32_t> rune = ParseEscape();
  if (!rune.ok()) return rune.status();
  PushAtom();
  return Status::Ok();
}

// \Q...\E (or \Q... to the end): everything in between is literal.
void RegexChecker::ParseQuotedLiteral() {
  pos_ += 2;
  const size_t end = pattern_.find("\\E", pos_);
  const size_t literal_end = end == kNone ? pattern_.size() : end;
  // An empty \Q\E adds nothing, so a repetition right after it has no argument.
  if (literal_end > pos_) PushAtom();
  pos_ = end == kNone ? pattern_.size() : end + 2;
}

// \pL, \p{Greek}, \p{^Greek}, \PL ...; pos_ is at the backslash.
Status RegexChecker::ParseUnicodeClass() {
  const std::string_view rest = Rest();
  std::string_view sequence;
  std::string_view name;
  if (rest.size() > 2 && rest[2] == '{') {
    const size_t close = rest.find('}');
    if (close == kNone) return Error("invalid character class range", rest);
    sequence = rest.substr(0, close + 1);
    name = rest.substr(3, close - 3);
  } else {
    size_t end = 2;
    if (end < rest.size()) DecodeRune(rest, &end);  // a one-letter name
    sequence = rest.substr(0, end);
    name = sequence.substr(2);
  }
  if (!name.empty() && name.front() == '^') name.remove_prefix(1);
  if (!IsUnicodeClassName(name)) return Error("invalid character class range", sequence);
  pos_ += sequence.size();
  return Status::Ok();
}

// [:alpha:] or [:^alpha:] inside a class. False (consuming nothing) if there is no ":]" to end it,
// in which case the [ is an ordinary class member.
Result<bool> RegexChecker::TryParseNamedClass() {
  const std::string_view rest = Rest();
  const size_t close = rest.find(":]", 2);
  if (close == kNone) return false;
  const std::string_view name = rest.substr(0, close + 2);
  if (!IsPosixClass(name)) return Error("invalid character class range", name);
  pos_ += name.size();
  return true;
}

// [...] and [^...]; pos_ is at the [.
Status RegexChecker::ParseClass() {
  ++pos_;
  if (NextIs('^')) ++pos_;
  // A ] right after [ or [^ is a member, not the end.
  for (bool first = true; first || !NextIs(']'); first = false) {
    const std::string_view rest = Rest();
    if (rest.size() > 2 && rest[0] == '[' && rest[1] == ':') {
      Result<bool> named = TryParseNamedClass();
      if (!named.ok()) return named.status();
      if (*named) continue;
    }
    if (rest.size() >= 2 && rest[0] == '\\' && (rest[1] == 'p' || rest[1] == 'P')) {
      Status status = ParseUnicodeClass();
      if (!status.ok()) return status;
      continue;
    }
    if (rest.size() >= 2 && rest[0] == '\\' && IsPerlClassLetter(rest[1])) {
      pos_ += 2;
      continue;
    }
    const size_t range_start = pos_;
    Result<char32_t> low = ParseClassChar();
    if (!low.ok()) return low.status();
    // A - before the closing ] is a member: [a-] is a or -.
    if (NextIs('-') && pos_ + 1 < pattern_.size() && !NextIs(']', 1)) {
      ++pos_;
      Result<char32_t> high = ParseClassChar();
      if (!high.ok()) return high.status();
      if (*high < *low) return Error("invalid character class range", Since(range_start));
    }
  }
  ++pos_;  // ]
  PushAtom();
  return Status::Ok();
}

Result<char32_t> RegexChecker::ParseClassChar() {
  if (AtEnd()) return Error("missing closing ]");
  if (pattern_[pos_] == '\\') return ParseEscape();
  return DecodeRune(pattern_, &pos_);
}

// A single-character escape at pos_ (the backslash): \n, \x41, \x{263a}, \101, \. and so on.
// Backreferences (\1) and unknown letters (\i) are errors, as in Go.
Result<char32_t> RegexChecker::ParseEscape() {
  const size_t backslash = pos_++;
  if (AtEnd()) return Error("trailing backslash at end of expression");
  const char32_t c = DecodeRune(pattern_, &pos_);
  if (c < 0x80 && !IsAsciiAlnum(c)) return c;  // escaped punctuation is itself
  switch (c) {
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
      // A lone digit would be a backreference, which RE2 does not support.
      if (AtEnd() || !IsOctalDigit(Byte(pos_))) break;
      [[fallthrough]];
    case '0': {
      char32_t value = c - '0';
      for (int digits = 1; digits < 3 && !AtEnd() && IsOctalDigit(Byte(pos_)); ++digits) {
        value = value * 8 + (pattern_[pos_++] - '0');
      }
      return value;
    }
    case 'x':
      return ParseHexEscape(backslash);
    case 'a':
      return U'\a';
    case 'f':
      return U'\f';
    case 'n':
      return U'\n';
    case 'r':
      return U'\r';
    case 't':
      return U'\t';
    case 'v':
      return U'\v';
    default:
      break;
  }
  return Error("invalid escape sequence", Since(backslash));
}

// \x41 or \x{263a}; pos_ is just past the x.
Result<char32_t> RegexChecker::ParseHexEscape(size_t backslash) {
  const auto invalid = [&] { return Error("invalid escape sequence", Since(backslash)); };
  if (AtEnd()) return invalid();
  const char32_t first = DecodeRune(pattern_, &pos_);
  if (first == '{') {
    char32_t value = 0;
    int digits = 0;
    while (true) {
      if (AtEnd()) return invalid();
      const char32_t c = DecodeRune(pattern_, &pos_);
      if (c == '}') break;
      const int digit = HexDigitValue(c);
      if (digit < 0) return invalid();
      value = value * 16 + static_cast<char32_t>(digit);
      if (value > kMaxRune) return invalid();
      ++digits;
    }
    if (digits == 0) return invalid();
    return value;
  }
  if (AtEnd()) return invalid();
  const int high = HexDigitValue(first);
  const int low = HexDigitValue(DecodeRune(pattern_, &pos_));
  if (high < 0 || low < 0) return invalid();
  return static_cast<char32_t>(high * 16 + low);
}

// ----------------------------------------------------------------------------------------------
// Selectors.

constexpr std::string_view kExpressionHint =
    "a selector is a metric name with label matchers, not an expression";

// Words that the PromQL lexer turns into keywords (case-insensitively), so that a metric with
// such a name cannot be written bare: `rate(sum[5m])` does not parse.
constexpr std::string_view kPromQLKeywords[] = {
    "and",         "or",      "unless",  "atan2",       "sum",      "avg",
    "count",       "min",     "max",     "group",       "stddev",   "stdvar",
    "topk",        "bottomk", "limitk",  "limit_ratio", "quantile", "count_values",
    "offset",      "by",      "without", "on",          "ignoring", "group_left",
    "group_right", "bool",    "start",   "end",         "inf",      "nan",
};

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; };
           return lower(x) == lower(y);
         });
}

bool IsPromQLKeyword(std::string_view word) {
  return std::any_of(
      std::begin(kPromQLKeywords), std::end(kPromQLKeywords),
      [&](std::string_view keyword) { return EqualsIgnoringAsciiCase(word, keyword); });
}

// Bytes that make up a name-like word. Wider than any valid name (dots, non-ASCII) so that an
// invalid name is reported whole, `invalid metric name "http.requests"`, not by its first bad byte.
bool IsWordByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return IsAsciiAlnum(byte) || c == '_' || c == ':' || c == '.' || byte >= 0x80;
}

class SelectorParser {
 public:
  explicit SelectorParser(std::string_view text) : text_(text) {}

  Result<Selector> Parse();

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  bool NextIs(char c) const { return !AtEnd() && text_[pos_] == c; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
  }
  std::string_view WordAt(size_t pos) const;

  // Messages.
  static std::string Column(size_t pos) { return " at column " + std::to_string(pos + 1); }
  static std::string LabelValue(std::string_view label) {
    return "the value of label " + QuotePromQLString(label);
  }
  std::string Describe(size_t pos) const;
  Status Unexpected(size_t pos, std::string_view hint) const;
  static Status Unclosed(size_t brace);
  static Status InvalidEscape(size_t backslash, std::string_view label, std::string_view reason);

  Status ParseMetricName(std::string* metric);
  Status ParseMatchers(std::vector<LabelMatcher>* matchers);
  Status ParseMatcher(size_t brace, LabelMatcher* matcher);
  Status ParseLabelName(std::string* name);
  Status ParseMatchOp(std::string_view label, MatchOp* op);
  Status ParseValue(std::string_view label, std::string* value);
  Status ParseEscape(char quote, size_t open_quote, std::string_view label, std::string* value);
  Status ParseNumericEscape(size_t backslash, std::string_view label, std::string* value);
  bool ReadDigits(int count, char32_t base, char32_t* number);
  Status RejectTrailing() const;

  std::string_view text_;
  size_t pos_ = 0;
};

Result<Selector> SelectorParser::Parse() {
  SkipSpace();
  if (AtEnd()) return InvalidArgumentError("empty selector");
  Selector selector;
  if (Status status = ParseMetricName(&selector.metric); !status.ok()) return status;
  SkipSpace();
  if (NextIs('{')) {
    if (Status status = ParseMatchers(&selector.matchers); !status.ok()) return status;
    SkipSpace();
  }
  if (!AtEnd()) return RejectTrailing();
  return selector;
}

std::string_view SelectorParser::WordAt(size_t pos) const {
  size_t end = pos;
  while (end < text_.size() && IsWordByte(text_[end])) ++end;
  return text_.substr(pos, end - pos);
}

// The token at `pos` for a message, quoted (and so escaped, keeping messages valid UTF-8).
std::string SelectorParser::Describe(size_t pos) const {
  if (pos >= text_.size()) return "end of input";
  const std::string_view word = WordAt(pos);
  return QuotePromQLString(word.empty() ? text_.substr(pos, 1) : word);
}

Status SelectorParser::Unexpected(size_t pos, std::string_view hint) const {
  return InvalidArgumentError("unexpected " + Describe(pos) + Column(pos) + ": " +
                              std::string(hint));
}

Status SelectorParser::Unclosed(size_t brace) {
  return InvalidArgumentError("unclosed \"{\"" + Column(brace));
}

Status SelectorParser::ParseMetricName(std::string* metric) {
  const size_t start = pos_;
  if (NextIs('{')) return InvalidArgumentError("missing metric name before \"{\"" + Column(start));
  const std::string_view word = WordAt(start);
  if (word.empty()) return Unexpected(start, "expected a metric name");
  if (!IsValidMetricName(word)) {
    return InvalidArgumentError("invalid metric name " + QuotePromQLString(word) + Column(start) +
                                ": a metric name matches [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  pos_ += word.size();
  // `rate(x[5m])` and `sum(x)` are calls; say so before complaining that sum is a keyword.
  SkipSpace();
  if (NextIs('(')) return Unexpected(pos_, kExpressionHint);
  if (IsPromQLKeyword(word)) {
    return InvalidArgumentError("invalid metric name " + QuotePromQLString(word) + Column(start) +
                                ": it is a PromQL keyword");
  }
  *metric = std::string(word);
  return Status::Ok();
}

// {matcher, matcher, ...}, with an optional trailing comma; pos_ is at the {.
Status SelectorParser::ParseMatchers(std::vector<LabelMatcher>* matchers) {
  const size_t brace = pos_++;
  while (true) {
    SkipSpace();
    if (AtEnd()) return Unclosed(brace);
    if (NextIs('}')) break;
    LabelMatcher matcher;
    if (Status status = ParseMatcher(brace, &matcher); !status.ok()) return status;
    matchers->push_back(std::move(matcher));
    SkipSpace();
    if (AtEnd()) return Unclosed(brace);
    if (NextIs('}')) break;
    if (!NextIs(',')) {
      return Unexpected(pos_, R"(expected "," or "}" after )" + LabelValue(matchers->back().name));
    }
    ++pos_;
  }
  ++pos_;  // }
  return Status::Ok();
}

Status SelectorParser::ParseMatcher(size_t brace, LabelMatcher* matcher) {
  if (Status status = ParseLabelName(&matcher->name); !status.ok()) return status;
  SkipSpace();
  if (AtEnd()) return Unclosed(brace);
  if (Status status = ParseMatchOp(matcher->name, &matcher->op); !status.ok()) return status;
  SkipSpace();
  if (AtEnd()) return Unclosed(brace);
  if (Status status = ParseValue(matcher->name, &matcher->value); !status.ok()) return status;
  if (matcher->op == MatchOp::kRegexMatch || matcher->op == MatchOp::kRegexNoMatch) {
    if (Status status = CheckRegex(matcher->value); !status.ok()) {
      return InvalidArgumentError("invalid regular expression in " + LabelValue(matcher->name) +
                                  ": " + status.message());
    }
  }
  return Status::Ok();
}

Status SelectorParser::ParseLabelName(std::string* name) {
  const size_t start = pos_;
  const std::string_view word = WordAt(start);
  if (word.empty()) return Unexpected(start, "expected a label name");
  if (!IsValidLabelName(word)) {
    return InvalidArgumentError("invalid label name " + QuotePromQLString(word) + Column(start) +
                                ": a label name matches [a-zA-Z_][a-zA-Z0-9_]*");
  }
  // The metric name is structure: a matcher on it could select other metrics or none.
  if (word == "__name__") {
    return InvalidArgumentError("label \"__name__\"" + Column(start) +
                                " cannot be matched: write the metric name before the braces");
  }
  pos_ += word.size();
  *name = std::string(word);
  return Status::Ok();
}

Status SelectorParser::ParseMatchOp(std::string_view label, MatchOp* op) {
  const std::string_view rest = text_.substr(pos_);
  // Longest first, so that =~ is not read as = followed by ~.
  constexpr std::array<std::pair<std::string_view, MatchOp>, 4> kOps = {{
      {"=~", MatchOp::kRegexMatch},
      {"!~", MatchOp::kRegexNoMatch},
      {"!=", MatchOp::kNotEqual},
      {"=", MatchOp::kEqual},
  }};
  for (const auto& [text, match_op] : kOps) {
    if (rest.substr(0, text.size()) == text) {
      *op = match_op;
      pos_ += text.size();
      return Status::Ok();
    }
  }
  return Unexpected(pos_, "expected =, !=, =~ or !~ after label " + QuotePromQLString(label));
}

// A double-, single- or back-quoted string at pos_; `*value` receives it unescaped.
Status SelectorParser::ParseValue(std::string_view label, std::string* value) {
  const size_t open_quote = pos_;
  const char quote = text_[pos_];
  if (quote != '"' && quote != '\'' && quote != '`') {
    return Unexpected(pos_, "expected a quoted value for label " + QuotePromQLString(label));
  }
  ++pos_;
  while (true) {
    if (AtEnd()) {
      return InvalidArgumentError("unbalanced quote in " + LabelValue(label) + Column(open_quote));
    }
    const char c = text_[pos_];
    if (c == quote) break;
    if (quote != '`' && c == '\n') {  // only back-quoted strings span lines
      return InvalidArgumentError("line break in " + LabelValue(label) + Column(pos_) +
                                  ": write \\n, or back-quote the value");
    }
    if (quote != '`' && c == '\\') {
      if (Status status = ParseEscape(quote, open_quote, label, value); !status.ok()) {
        return status;
      }
      continue;
    }
    value->push_back(c);
    ++pos_;
  }
  ++pos_;  // closing quote
  // Escapes such as \xff can make bytes that are not text; Prometheus stores only UTF-8.
  if (!IsValidUtf8(*value)) {
    return InvalidArgumentError("invalid UTF-8 in " + LabelValue(label) + Column(open_quote));
  }
  return Status::Ok();
}

// One escape sequence of a double- or single-quoted PromQL string (Go's escapes: \a \b \f \n \r
// \t \v \\ \" or \' for the enclosing quote, \ooo, \xhh, \uhhhh, \Uhhhhhhhh); pos_ is at the
// backslash.
Status SelectorParser::ParseEscape(char quote, size_t open_quote, std::string_view label,
                                   std::string* value) {
  const size_t backslash = pos_++;
  if (AtEnd()) {
    return InvalidArgumentError("unbalanced quote in " + LabelValue(label) + Column(open_quote));
  }
  const char c = text_[pos_++];
  if (c == quote || c == '\\') {
    value->push_back(c);
    return Status::Ok();
  }
  constexpr std::string_view kLetters = "abfnrtv";
  constexpr std::string_view kControls = "\a\b\f\n\r\t\v";
  if (const size_t letter = kLetters.find(c); letter != kNone) {
    value->push_back(kControls[letter]);
    return Status::Ok();
  }
  if (c == 'x' || c == 'u' || c == 'U' || IsOctalDigit(static_cast<unsigned char>(c))) {
    return ParseNumericEscape(backslash, label, value);
  }
  // The usual mistake is a regular expression escape such as \d in a double-quoted string.
  if (IsPrintableAscii(static_cast<unsigned char>(c))) {
    return InvalidEscape(backslash, label,
                         std::string("\\") + c + " is not a string escape; write \\\\" + c +
                             ", or back-quote the value");
  }
  return InvalidEscape(backslash, label, "unknown escape");
}

// \ooo, \xhh, \uhhhh or \Uhhhhhhhh at `backslash`. Octal and \x escapes make a byte (possibly
// half of a UTF-8 sequence), \u and \U a code point.
Status SelectorParser::ParseNumericEscape(size_t backslash, std::string_view label,
                                          std::string* value) {
  pos_ = backslash + 1;
  const char kind = text_[pos_];
  if (IsOctalDigit(static_cast<unsigned char>(kind))) {
    char32_t byte = 0;
    if (!ReadDigits(3, 8, &byte) || byte > 0xFF) {
      return InvalidEscape(backslash, label, "an octal escape needs 3 digits up to \\377");
    }
    value->push_back(static_cast<char>(byte));
    return Status::Ok();
  }
  ++pos_;
  if (kind == 'x') {
    char32_t byte = 0;
    if (!ReadDigits(2, 16, &byte)) return InvalidEscape(backslash, label, "\\x needs 2 hex digits");
    value->push_back(static_cast<char>(byte));
    return Status::Ok();
  }
  const int count = kind == 'u' ? 4 : 8;
  char32_t rune = 0;
  if (!ReadDigits(count, 16, &rune)) {
    return InvalidEscape(backslash, label,
                         kind == 'u' ? "\\u needs 4 hex digits" : "\\U needs 8 hex digits");
  }
  if (rune > kMaxRune || IsSurrogate(rune)) {
    return InvalidEscape(backslash, label, "not a Unicode code point");
  }
  AppendUtf8(rune, value);
  return Status::Ok();
}

// Reads exactly `count` digits in `base` (8 or 16) into `*number`.
bool SelectorParser::ReadDigits(int count, char32_t base, char32_t* number) {
  *number = 0;
  for (int i = 0; i < count; ++i) {
    const int digit = AtEnd() ? -1 : HexDigitValue(static_cast<unsigned char>(text_[pos_]));
    if (digit < 0 || static_cast<char32_t>(digit) >= base) return false;
    *number = *number * base + static_cast<char32_t>(digit);
    ++pos_;
  }
  return true;
}

Status SelectorParser::InvalidEscape(size_t backslash, std::string_view label,
                                     std::string_view reason) {
  return InvalidArgumentError("invalid escape sequence in " + LabelValue(label) +
                              Column(backslash) + ": " + std::string(reason));
}

Status SelectorParser::RejectTrailing() const {
  if (NextIs('[')) return Unexpected(pos_, "a selector cannot have a range");
  if (NextIs('@')) return Unexpected(pos_, "a selector cannot have an @ modifier");
  if (EqualsIgnoringAsciiCase(WordAt(pos_), "offset")) {
    return Unexpected(pos_, "a selector cannot have an offset");
  }
  return Unexpected(pos_, kExpressionHint);
}

}  // namespace

const char* MatchOpText(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual:
      return "=";
    case MatchOp::kNotEqual:
      return "!=";
    case MatchOp::kRegexMatch:
      return "=~";
    case MatchOp::kRegexNoMatch:
      return "!~";
  }
  return "=";
}

Result<Selector> ParseSelector(std::string_view text) { return SelectorParser(text).Parse(); }

std::string RenderSelector(const Selector& selector, std::string_view metric_suffix,
                           const std::vector<LabelMatcher>& extra) {
  std::string out = selector.metric;
  out.append(metric_suffix);
  if (selector.matchers.empty() && extra.empty()) return out;
  out.push_back('{');
  bool first = true;
  for (const std::vector<LabelMatcher>* matchers : {&selector.matchers, &extra}) {
    for (const LabelMatcher& matcher : *matchers) {
      if (!first) out.push_back(',');
      first = false;
      out.append(matcher.name).append(MatchOpText(matcher.op));
      out.append(QuotePromQLString(matcher.value));
    }
  }
  out.push_back('}');
  return out;
}

std::string QuotePromQLString(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('"');
  size_t pos = 0;
  while (pos < value.size()) {
    const auto c = static_cast<unsigned char>(value[pos]);
    if (const std::string_view escape = ShortEscape(c); !escape.empty()) {
      out.append(escape);
      ++pos;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {  // other control characters
      AppendHexByte(c, &out);
      ++pos;
      continue;
    }
    const size_t length = Utf8SequenceLength(value.substr(pos));
    if (length == 0) {  // not UTF-8: keep the byte, escaped, so the literal stays valid UTF-8
      AppendHexByte(c, &out);
      ++pos;
      continue;
    }
    // The PromQL lexer reads U+FFFD as a decoding error and rejects it, so spell it out.
    if (value.substr(pos, length) == "\xEF\xBF\xBD") {
      out.append("\\ufffd");
    } else {
      out.append(value.substr(pos, length));
    }
    pos += length;
  }
  out.push_back('"');
  return out;
}

Status CheckRegex(std::string_view pattern) { return RegexChecker(pattern).Check(); }

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  const auto is_first = [](char c) {
    return IsAsciiLetter(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  };
  const auto is_rest = [&](char c) { return is_first(c) || IsAsciiDigit(c); };
  return is_first(name.front()) && std::all_of(name.begin() + 1, name.end(), is_rest);
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  const auto is_first = [](char c) {
    return IsAsciiLetter(static_cast<unsigned char>(c)) || c == '_';
  };
  const auto is_rest = [&](char c) { return is_first(c) || IsAsciiDigit(c); };
  return is_first(name.front()) && std::all_of(name.begin() + 1, name.end(), is_rest);
}

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t length = Utf8SequenceLength(text.substr(pos));
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

}  // namespace nines::api
