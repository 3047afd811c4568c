#include "orderly/gateway/log.hpp"

#include <memory>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

namespace orderly::gateway {

namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

const char* to_string(LogSink sink) {
  return sink == LogSink::journald ? "journald" : "stdout";
}

std::optional<LogLevel> log_level_from_string(std::string_view text) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                     LogLevel::error}) {
    if (text == to_string(l)) return l;
  }
  return std::nullopt;
}

std::optional<LogSink> log_sink_from_string(std::string_view text) {
  if (text == "stdout") return LogSink::stdout_sink;
  if (text == "journald") return LogSink::journald;
  return std::nullopt;
}

void init_logging(const LogConfig& config) {
  std::shared_ptr<spdlog::logger> logger;
  if (config.sink == LogSink::journald) {
    auto sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("orderly", false);
    logger = std::make_shared<spdlog::logger>("orderly", std::move(sink));
  } else {
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    logger = std::make_shared<spdlog::logger>("orderly", std::move(sink));
    // ISO 8601 with milliseconds and offset: the box's log is compared with platform logs.
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }
  logger->set_level(to_spdlog(config.level));
  // Warnings and errors reach the disk at once; chatter is flushed by the sink's own buffering.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

std::string logfmt(std::string_view value) {
  bool needs_quotes = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace orderly::gateway
