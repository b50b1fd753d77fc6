// How a demo result is shown: each event's timeline block (printed as the demo goes), the final
// table with its verdict line, and the same as one JSON object for `nvmpath demo --json`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/demo_tcp.h"

namespace nvmpath::cli {

std::string FormatEvent(const TcpDemoResult& result, const DemoEvent& event);
std::string FormatSummary(const TcpDemoResult& result);
nlohmann::json DemoResultJson(const TcpDemoResult& result);

}  // namespace nvmpath::cli
