// The by-class counters of the client API (OpCounters, ErrorCounters) as name → field tables, so
// every reader that lists them (`host-ctl stats`, the metrics' `op` and `class` labels) walks one
// list in one order with the names the API documents.
#pragma once

#include "nvmpath/client.h"

namespace nvmpath::exports {

struct OpField {
  const char* name;  // "read", "write", "other"
  IoCount OpCounters::*field;
};
inline constexpr OpField kOpFields[] = {
    {"read", &OpCounters::read}, {"write", &OpCounters::write}, {"other", &OpCounters::other}};

struct ErrorClassField {
  const char* name;  // the ErrorCounters field name
  uint64_t ErrorCounters::*field;
  bool head_only;  // never counted on a path (no NVMe status)
};
inline constexpr ErrorClassField kErrorClassFields[] = {
    {"generic", &ErrorCounters::generic, false},
    {"command_specific", &ErrorCounters::command_specific, false},
    {"media", &ErrorCounters::media, false},
    {"ana", &ErrorCounters::ana, false},
    {"path", &ErrorCounters::path, false},
    {"host_aborted", &ErrorCounters::host_aborted, false},
    {"vendor", &ErrorCounters::vendor, false},
    {"no_path", &ErrorCounters::no_path, true},
    {"rejected", &ErrorCounters::rejected, true},
};

}  // namespace nvmpath::exports
