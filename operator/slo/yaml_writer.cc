#include "operator/slo/yaml_writer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace nines::slo {
namespace {

using Json = nlohmann::ordered_json;

// Words that YAML 1.1 or 1.2 would read as something other than a string.
bool IsReservedWord(std::string_view s) {
  static constexpr std::array<std::string_view, 22> kWords = {
      "true",  "false", "yes", "no", "on",  "off",  "null", "y",     "n",    "~",   "True",
      "False", "Yes",   "No",  "On", "Off", "Null", "TRUE", "FALSE", "NULL", "YES", "NO"};
  return std::find(kWords.begin(), kWords.end(), s) != kWords.end();
}

// Numbers in any YAML reading (ints, floats, 1.1's sexagesimal `1:30`): digits with at most
// punctuation from ".eE+-_:".
bool LooksNumeric(std::string_view s) {
  const char first = s.front();
  if (!(std::isdigit(static_cast<unsigned char>(first)) || first == '.' || first == '+' ||
        first == '-')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ||
           std::string_view(".eE+-_:xXoObB").find(c) != std::string_view::npos;
  });
}

bool IsPlainSafe(std::string_view s) {
  if (s.empty() || IsReservedWord(s) || LooksNumeric(s)) return false;
  if (std::string_view("-?:,[]{}#&*!|>'\"%@` ").find(s.front()) != std::string_view::npos) {
    return false;
  }
  if (s.back() == ' ' || s.back() == ':') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c >= 0x80) return false;  // keep non-ASCII quoted, escaped
    if (c == ':' && i + 1 < s.size() && s[i + 1] == ' ') return false;
    if (c == '#' && i > 0 && s[i - 1] == ' ') return false;
  }
  return true;
}

std::string Scalar(const Json& value) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    return IsPlainSafe(s) ? s : value.dump(-1, ' ', false, Json::error_handler_t::strict);
  }
  return value.dump();
}

// A multi-line string that a literal block (`|` or `|-`) carries unchanged: printable ASCII and
// newlines only, a first line that does not start with a space (which would need an indentation
// indicator), and at most one trailing newline. Dashboards and other embedded documents then read
// as themselves in a GitOps diff instead of as one escaped line.
bool IsBlockSafe(std::string_view s) {
  if (s.find('\n') == std::string_view::npos || s.front() == ' ' || s.front() == '\n') return false;
  if (s.size() >= 2 && s[s.size() - 1] == '\n' && s[s.size() - 2] == '\n') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '\n' || (u >= 0x20 && u < 0x7f);
  });
}

void WriteBlock(std::string_view s, int indent, std::string& out) {
  out += s.back() == '\n' ? " |\n" : " |-\n";
  if (s.back() == '\n') s.remove_suffix(1);
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) {
      out.append(indent, ' ');
      out.append(s.substr(start, end - start));
    }
    out += '\n';
    start = end + 1;
  }
}

bool IsEmptyCollection(const Json& value) {
  return (value.is_object() || value.is_array()) && value.empty();
}

void Write(const Json& value, int indent, std::string& out);

void WriteMapEntries(const Json& object, int indent, std::string& out, bool first_inline) {
  bool first = true;
  for (const auto& [key, child] : object.items()) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    out += Scalar(Json(key));
    out += ':';
    if (IsEmptyCollection(child)) {
      out += child.is_object() ? " {}\n" : " []\n";
    } else if (child.is_object()) {
      out += '\n';
      WriteMapEntries(child, indent + 2, out, false);
    } else if (child.is_array()) {
      out += '\n';
      Write(child, indent, out);  // lists sit at their key's indent, as kubectl writes them
    } else if (child.is_string() && IsBlockSafe(child.get_ref<const std::string&>())) {
      WriteBlock(child.get_ref<const std::string&>(), indent + 2, out);
    } else {
      out += ' ' + Scalar(child) + '\n';
    }
  }
}

void Write(const Json& value, int indent, std::string& out) {
  if (value.is_object()) {
    if (value.empty()) {
      out.append(indent, ' ');
      out += "{}\n";
      return;
    }
    WriteMapEntries(value, indent, out, false);
  } else if (value.is_array()) {
    for (const auto& item : value) {
      out.append(indent, ' ');
      out += "- ";
      if (item.is_object() && !item.empty()) {
        WriteMapEntries(item, indent + 2, out, true);
      } else if (item.is_array() && !item.empty()) {
        out += '\n';
        Write(item, indent + 2, out);
      } else {
        out += IsEmptyCollection(item) ? (item.is_object() ? "{}" : "[]") : Scalar(item);
        out += '\n';
      }
    }
  } else {
    out.append(indent, ' ');
    out += Scalar(value) + '\n';
  }
}

}  // namespace

std::string RenderYaml(const nlohmann::ordered_json& value) {
  std::string out;
  Write(value, 0, out);
  return out;
}

}  // namespace nines::slo
