// Minimal leveled logging to stderr. Off the data path; the level is process-wide and set once
// at start-up (NVMPATH_LOG=debug|info|warn|error, default warn).
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace nvmpath::base {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

LogLevel CurrentLogLevel();
void SetLogLevel(LogLevel level);
void LogLine(LogLevel level, std::string_view line);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  if (level < CurrentLogLevel()) return;
  LogLine(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace nvmpath::base

#define NVMP_LOG_DEBUG(...) ::nvmpath::base::Log(::nvmpath::base::LogLevel::kDebug, __VA_ARGS__)
#define NVMP_LOG_INFO(...) ::nvmpath::base::Log(::nvmpath::base::LogLevel::kInfo, __VA_ARGS__)
#define NVMP_LOG_WARN(...) ::nvmpath::base::Log(::nvmpath::base::LogLevel::kWarn, __VA_ARGS__)
#define NVMP_LOG_ERROR(...) ::nvmpath::base::Log(::nvmpath::base::LogLevel::kError, __VA_ARGS__)
