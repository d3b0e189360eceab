// Logging for every hdvila library and program.
//
// Library code never prints to stdout: it logs here. The default sink writes to stderr
// ("warning: ...", "error: ..." prefixes, plain lines for info); the studio installs its own sink
// to feed its log panel. --verbose shows debug lines, --quiet hides everything below warnings.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>

namespace hdv::core {

enum class LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3 };

using LogSink = std::function<void(LogLevel level, std::string_view message)>;

// Lines below `level` are dropped. Default: Info.
void set_log_level(LogLevel level);
LogLevel log_level();

// Replaces the sink; an empty function restores the default stderr sink. Thread-safe: the sink
// is called under a lock, one line at a time.
void set_log_sink(LogSink sink);

// "debug", "info", "warning", "error".
std::string_view log_level_name(LogLevel level);

void log_message(LogLevel level, std::string_view message);

template <typename... Args>
void log_debug(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() <= LogLevel::Debug) log_message(LogLevel::Debug, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() <= LogLevel::Info) log_message(LogLevel::Info, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warning(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() <= LogLevel::Warning) log_message(LogLevel::Warning, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> format, Args&&... args) {
  log_message(LogLevel::Error, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace hdv::core
