#pragma once
// Process-wide logging on spdlog. Messages are structured as `what happened key=value ...` so
// journald and grep both work: e.g. `charger offline charger=p-101 error="timeout after 500 ms"`.
// Use logfmt() for values that may contain spaces or quotes.
#include <optional>
#include <string>
#include <string_view>

namespace orderly::gateway {

enum class LogLevel { trace, debug, info, warn, error };
enum class LogSink { stdout_sink, journald };

const char* to_string(LogLevel level);
const char* to_string(LogSink sink);
std::optional<LogLevel> log_level_from_string(std::string_view text);
std::optional<LogSink> log_sink_from_string(std::string_view text);

struct LogConfig {
  LogLevel level = LogLevel::info;
  LogSink sink = LogSink::stdout_sink;
};

// Replaces spdlog's default logger. Safe to call again (e.g. after a config reload).
// journald: messages go to the systemd journal with their priority and SYSLOG_IDENTIFIER=orderly;
// no timestamps are added because journald records its own.
void init_logging(const LogConfig& config);

// A value as logfmt writes it: bare when it has no space, quote, '=' or control character,
// otherwise double-quoted with \" and \\ escaped. logfmt("a b") == "\"a b\"".
std::string logfmt(std::string_view value);

}  // namespace orderly::gateway
