// The target's whole state as JSON (`nvmpath target-ctl state`): ports with their connections and
// ANA states, subsystems and namespaces, controllers, faults, and the change counters.
// docs/target-config.md describes the fields.
#pragma once

#include <nlohmann/json.hpp>

#include "target/core.h"

namespace nvmpath::target {

// Thread: reactors[0].
nlohmann::json DescribeState(const Core& core);

}  // namespace nvmpath::target
