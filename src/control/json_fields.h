// Reading JSON input field by field, with errors that name the field.
//
// Config files and RPC requests are typed by people; a mistake must come back as one line that
// says where and what: `subsystems[0].namespaces[1].nsid: expected an integer 1..4294967294, got
// "x"`. These helpers carry the field path (`a.b[2].c`), check types and ranges without letting a
// nlohmann::json exception escape, and reject unknown keys with a did-you-mean suggestion.
//
// Every error is kInvalidArgument with the message "<path>: <what is wrong>".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "nvmpath/status.h"

namespace nvmpath::control {

using Json = nlohmann::json;

// "parent.key", or "key" at the top level.
std::string FieldPath(std::string_view parent, std::string_view key);
// "parent[index]".
std::string IndexPath(std::string_view parent, size_t index);

// A short rendering of a value for messages: strings quoted, long values cut at ~60 bytes.
std::string DescribeValue(const Json& value);

// kInvalidArgument "<path>: <what>" (just "<what>" when path is empty).
Status FieldError(std::string_view path, std::string_view what);

// Levenshtein distance, for did-you-mean suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// Parses JSON text. Errors: kInvalidArgument "malformed JSON at line L, column C: <detail>", or
// "<path>: duplicate field" when an object repeats a key (nlohmann would silently keep the last).
Result<Json> ParseJsonText(std::string_view text);

// Checks that `j` is an object whose keys are all in `known`. Errors: "<path>: expected an
// object, got ...", "<path>.<key>: unknown field (did you mean "<known key>"?)".
Status CheckObject(const Json& j, std::string_view path,
                   std::initializer_list<std::string_view> known);

// The member `key` of object `j`, or nullptr when absent. REQUIRES: j.is_object().
const Json* Member(const Json& j, std::string_view key);

// An unsigned integer in [min, max]. Errors: "<path>: expected an integer min..max, got <value>".
Result<uint64_t> ReadUint(const Json& v, std::string_view path, uint64_t min, uint64_t max);
// Same, but also accepts a string holding a decimal or 0x-prefixed hex integer ("0x302").
Result<uint64_t> ReadUintOrHexString(const Json& v, std::string_view path, uint64_t min,
                                     uint64_t max);
Result<std::string> ReadString(const Json& v, std::string_view path);
Result<bool> ReadBool(const Json& v, std::string_view path);

// A byte count: an integer, or a string with a binary unit ("4096", "64MiB", "1GiB", "512K").
// Errors: "<path>: ..." naming the bad unit or number.
Result<uint64_t> ReadSize(const Json& v, std::string_view path);
// The same rule on a bare string (CLI arguments). `path` only prefixes the message.
Result<uint64_t> ParseSizeString(std::string_view text, std::string_view path);
// "64MiB" for 64 << 20, "4096" when no unit divides evenly; the inverse of ParseSizeString.
std::string FormatSize(uint64_t bytes);

}  // namespace nvmpath::control
