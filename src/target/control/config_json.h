// The target's JSON configuration (`nvmpath target --config FILE`; schema and example in
// docs/target-config.md) to and from target::TargetConfig.
//
// Parsing is strict because a typo in a config must not silently become a default: unknown
// fields, duplicate fields, duplicate port IDs / NQNs / NSIDs, malformed NQNs and identifiers,
// out-of-range numbers are all errors. Every error is kInvalidArgument and its message starts with
// the field path: `subsystems[0].namespaces[1].nsid: expected an integer 1..4294967294, got "x"`.
// What the parser accepts, target::Target::Create accepts too (it may still fail to bind ports).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "nvme/ana_log.h"
#include "nvmpath/status.h"
#include "target/config.h"

namespace nvmpath::target::control {

// Errors: kInvalidArgument "malformed JSON at line L, column C: ..." or "<field path>: ...".
Result<TargetConfig> ParseTargetConfig(std::string_view json_text);
// Errors: as ParseTargetConfig, prefixed with the path ("two-ports.json: ports[0]..."); the
// ErrnoStatus of open/read when the file cannot be read.
Result<TargetConfig> LoadTargetConfig(const std::string& path);
// Every field, defaults included; ParseTargetConfig(ToJson(c).dump()) gives back `c`.
nlohmann::json ToJson(const TargetConfig& config);

// ---- Pieces shared with the RPC methods (ns_add takes the same namespace object). ----

// One namespace object. `path` prefixes errors ("namespace.nsid: ..."); `ana_groups_max` bounds
// ana_group (the config's ANAGRPMAX; the RPC passes UINT32_MAX and leaves the check to Target).
Result<NamespaceConfig> ParseNamespaceConfig(const nlohmann::json& j, std::string_view path,
                                             uint32_t ana_groups_max);
nlohmann::json ToJson(const NamespaceConfig& ns);

// "optimized", "non-optimized", "inaccessible", "persistent-loss", "change".
Result<nvme::AnaState> ParseAnaStateName(std::string_view name, std::string_view path);
std::string_view AnaStateConfigName(nvme::AnaState state);

// Validators: OK or kInvalidArgument "<path>: ...".
Status CheckNqn(std::string_view nqn, std::string_view path);
Status CheckBlockSize(uint64_t block_size, std::string_view path);

}  // namespace nvmpath::target::control
