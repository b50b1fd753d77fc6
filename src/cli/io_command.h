// `nvmpath io read|write`: one transfer between a namespace (a multipath head) and a file, or
// stdin/stdout. The transfer is split into pieces of at most max_io_blocks, sent one after the
// other with the synchronous Device calls.
#pragma once

#include <CLI/CLI.hpp>

namespace nvmpath::cli {

void AddIoCommand(CLI::App& app, int& exit_code);

}  // namespace nvmpath::cli
