#include "control/json_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <vector>

#include "base/size_text.h"

namespace nvmpath::control {

std::string FieldPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string IndexPath(std::string_view parent, size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

std::string DescribeValue(const Json& value) {
  constexpr size_t kMaxBytes = 60;
  // `replace` keeps dump() from throwing on a string that is not UTF-8 (built in code, not parsed).
  std::string s = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > kMaxBytes) s = s.substr(0, kMaxBytes) + "...";
  return s;
}

Status FieldError(std::string_view path, std::string_view what) {
  if (path.empty()) return InvalidArgument(std::string(what));
  return InvalidArgument(fmt::format("{}: {}", path, what));
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {

// Tracks where the parser is (object keys, array indexes) so a repeated key can be reported with
// its path. nlohmann's parser callback sees every key and value in document order.
class DuplicateKeyFinder {
 public:
  bool OnEvent(int /*depth*/, Json::parse_event_t event, const Json& parsed) {
    using E = Json::parse_event_t;
    switch (event) {
      case E::object_start:
        frames_.push_back({.object = true});
        break;
      case E::array_start:
        frames_.push_back({.object = false});
        break;
      case E::key: {
        if (frames_.empty() || !parsed.is_string()) break;
        Frame& top = frames_.back();
        top.key = parsed.get_ref<const std::string&>();
        if (!top.keys.insert(top.key).second && first_.empty()) {
          first_ = FieldPath(ContainerPath(), top.key);
        }
        break;
      }
      case E::value:
        ElementDone();
        break;
      case E::object_end:
      case E::array_end:
        if (!frames_.empty()) frames_.pop_back();
        ElementDone();
        break;
    }
    return true;
  }
  // The path of the first repeated key, or empty.
  const std::string& first_duplicate() const { return first_; }

 private:
  struct Frame {
    bool object = true;
    std::set<std::string> keys;
    std::string key;
    size_t index = 0;
  };
  void ElementDone() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }
  // The path of the innermost open container.
  std::string ContainerPath() const {
    std::string path;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      path =
          frames_[i].object ? FieldPath(path, frames_[i].key) : IndexPath(path, frames_[i].index);
    }
    return path;
  }

  std::vector<Frame> frames_;
  std::string first_;
};

}  // namespace

Result<Json> ParseJsonText(std::string_view text) {
  DuplicateKeyFinder finder;
  Json j;
  try {
    j = Json::parse(text.begin(), text.end(),
                    [&finder](int depth, Json::parse_event_t event, Json& parsed) {
                      return finder.OnEvent(depth, event, parsed);
                    });
  } catch (const Json::parse_error& e) {
    // e.byte counts the bytes read up to the error; turn it into a line and column a person can
    // find in an editor, and keep nlohmann's explanation after its "column N: " prefix.
    size_t byte = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    size_t line = 1 + std::count(text.begin(), text.begin() + byte, '\n');
    size_t line_start = text.rfind('\n', byte == 0 ? 0 : byte - 1);
    line_start = (line_start == std::string_view::npos || byte == 0) ? 0 : line_start + 1;
    size_t column = byte - line_start + 1;
    std::string what = e.what();
    size_t col = what.find("column ");
    size_t colon = col == std::string::npos ? std::string::npos : what.find(": ", col);
    std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) detail = "the text is empty";
    return InvalidArgument(
        fmt::format("malformed JSON at line {}, column {}: {}", line, column, detail));
  } catch (const Json::exception& e) {
    return InvalidArgument(fmt::format("malformed JSON: {}", e.what()));
  }
  if (!finder.first_duplicate().empty()) {
    return FieldError(finder.first_duplicate(), "duplicate field (each field may appear once)");
  }
  return j;
}

Status CheckObject(const Json& j, std::string_view path,
                   std::initializer_list<std::string_view> known) {
  if (!j.is_object()) {
    return FieldError(path, fmt::format("expected an object, got {}", DescribeValue(j)));
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string_view best;
    size_t best_distance = SIZE_MAX;
    for (std::string_view k : known) {
      size_t d = EditDistance(key, k);
      if (d < best_distance) best_distance = d, best = k;
    }
    // Suggest only near misses: a typo, not a different word.
    if (!best.empty() && best_distance <= std::max<size_t>(2, best.size() / 3)) {
      return FieldError(FieldPath(path, key),
                        fmt::format("unknown field (did you mean \"{}\"?)", best));
    }
    std::string list;
    for (std::string_view k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
    return FieldError(FieldPath(path, key), fmt::format("unknown field (known: {})", list));
  }
  return Status::Ok();
}

const Json* Member(const Json& j, std::string_view key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

Result<uint64_t> ReadUint(const Json& v, std::string_view path, uint64_t min, uint64_t max) {
  if (v.is_number_unsigned()) {
    uint64_t x = v.get<uint64_t>();
    if (x >= min && x <= max) return x;
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    uint64_t x = static_cast<uint64_t>(v.get<int64_t>());
    if (x >= min && x <= max) return x;
  }
  return FieldError(path,
                    fmt::format("expected an integer {}..{}, got {}", min, max, DescribeValue(v)));
}

namespace {

// Parses all of `s` as an unsigned integer, decimal or 0x-hex.
std::optional<uint64_t> ParseUintText(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  uint64_t x = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return x;
}

}  // namespace

Result<uint64_t> ReadUintOrHexString(const Json& v, std::string_view path, uint64_t min,
                                     uint64_t max) {
  if (v.is_string()) {
    std::optional<uint64_t> x = ParseUintText(v.get_ref<const std::string&>());
    if (x && *x >= min && *x <= max) return *x;
    return FieldError(path, fmt::format("expected an integer {}..{} (decimal or 0x hex), got {}",
                                        min, max, DescribeValue(v)));
  }
  return ReadUint(v, path, min, max);
}

Result<std::string> ReadString(const Json& v, std::string_view path) {
  if (!v.is_string()) {
    return FieldError(path, fmt::format("expected a string, got {}", DescribeValue(v)));
  }
  return v.get<std::string>();
}

Result<bool> ReadBool(const Json& v, std::string_view path) {
  if (!v.is_boolean()) {
    return FieldError(path, fmt::format("expected true or false, got {}", DescribeValue(v)));
  }
  return v.get<bool>();
}

Result<uint64_t> ParseSizeString(std::string_view text, std::string_view path) {
  auto n = ParseSizeText(text);
  if (!n.ok()) return FieldError(path, n.status().message());
  return *n;
}

Result<uint64_t> ReadSize(const Json& v, std::string_view path) {
  if (v.is_string()) return ParseSizeString(v.get_ref<const std::string&>(), path);
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) {
    return ReadUint(v, path, 0, UINT64_MAX);
  }
  return FieldError(path, fmt::format("expected a size in bytes or a string like \"64MiB\", got {}",
                                      DescribeValue(v)));
}

std::string FormatSize(uint64_t bytes) { return FormatSizeText(bytes); }

}  // namespace nvmpath::control
