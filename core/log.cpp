// Logging: level filter and a replaceable sink (see log.h).
#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace hdv::core {
namespace {

std::atomic<LogLevel> g_level{LogLevel::Info};
std::mutex g_mutex;
LogSink g_sink;  // empty = default stderr sink

void stderr_sink(LogLevel level, std::string_view message) {
  switch (level) {
    case LogLevel::Debug: std::fprintf(stderr, "debug: %.*s\n", int(message.size()), message.data()); break;
    case LogLevel::Info: std::fprintf(stderr, "%.*s\n", int(message.size()), message.data()); break;
    case LogLevel::Warning: std::fprintf(stderr, "warning: %.*s\n", int(message.size()), message.data()); break;
    case LogLevel::Error: std::fprintf(stderr, "error: %.*s\n", int(message.size()), message.data()); break;
  }
  std::fflush(stderr);
}

}  // namespace

void set_log_level(LogLevel level) { g_level.store(level); }
LogLevel log_level() { return g_level.load(); }

void set_log_sink(LogSink sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
  }
  return "?";
}

void log_message(LogLevel level, std::string_view message) {
  if (level < g_level.load()) return;
  std::lock_guard lock(g_mutex);
  if (g_sink) {
    g_sink(level, message);
  } else {
    stderr_sink(level, message);
  }
}

}  // namespace hdv::core
