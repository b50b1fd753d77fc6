// The control methods of a target::Target as JSON-RPC methods (docs/target-config.md lists them
// with their parameters):
//   ns_add {subsystem, namespace:{nsid, backend, size, ...}}   ns_remove {subsystem, nsid}
//   ns_resize {subsystem, nsid, size}                          ana_set {port, group, state}
//   port_enable / port_disable / port_drop {port}              delay {port?, ms}
//   stall {port?, on}                                          late_writes {port, count, delay_ms}
//   fail_next {count, status, dnr?, opcode?, port?, nsid?}     state {}
// Parameters are checked here, with the parameter named in the error ("nsid: expected an integer
// 1..4294967294, got 0"); the Target checks what only it knows (does the subsystem exist).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "nvmpath/status.h"
#include "control/rpc.h"
#include "target/target.h"

namespace nvmpath::target::control {

// REQUIRES: `target` outlives the dispatcher's use; handlers call it directly, so the server must
// run them on the target's reactors[0] (RpcServerOptions::executor = ReactorExecutor(...), both
// in control/rpc_server.h).
void RegisterTargetMethods(nvmpath::control::RpcDispatcher& dispatcher, Target& target);

// An NVMe status for fail_next: a number or numeric string (SCT << 8 | SC, e.g. 0x302) or a name
// ("Asymmetric Access Inaccessible", its slug "asymmetric-access-inaccessible", or
// "ana-inaccessible"). Success is refused.
// Errors: kInvalidArgument "<path>: ...".
Result<uint16_t> ParseNvmeStatusCode(const nlohmann::json& v, std::string_view path);
// An I/O opcode: a number ("0x01", 1) or a name: flush, write, read, write-zeroes, dsm.
Result<uint8_t> ParseIoOpcode(const nlohmann::json& v, std::string_view path);

}  // namespace nvmpath::target::control
