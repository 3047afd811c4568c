#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "orderly/gateway/log.hpp"

namespace orderly::gateway {
namespace {

using ::testing::ContainsRegex;

TEST(Log, LogfmtQuotesOnlyWhenNeeded) {
  EXPECT_EQ(logfmt("p-101"), "p-101");
  EXPECT_EQ(logfmt("timeout after 500 ms"), "\"timeout after 500 ms\"");
  EXPECT_EQ(logfmt(""), "\"\"");
  EXPECT_EQ(logfmt("a=b"), "\"a=b\"");
  EXPECT_EQ(logfmt("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
  EXPECT_EQ(logfmt("two\nlines"), "\"two\\nlines\"");
}

TEST(Log, LevelAndSinkNamesRoundTrip) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                     LogLevel::error}) {
    EXPECT_EQ(log_level_from_string(to_string(l)), l);
  }
  EXPECT_EQ(log_level_from_string("verbose"), std::nullopt);
  EXPECT_EQ(log_sink_from_string("journald"), LogSink::journald);
  EXPECT_EQ(log_sink_from_string("syslog"), std::nullopt);
}

TEST(Log, StdoutSinkWritesTimestampLevelAndFields) {
  init_logging({LogLevel::debug, LogSink::stdout_sink});
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
  ::testing::internal::CaptureStdout();
  spdlog::trace("hidden below the level");
  spdlog::warn("charger offline charger={} error={}", "p-101", logfmt("timeout after 500 ms"));
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(out, ContainsRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
                                 "[+-][0-9]{2}:?[0-9]{2} warning charger offline charger=p-101 "
                                 "error=\"timeout after 500 ms\"\n$"));
}

TEST(Log, JournaldSinkInstallsWithItsLevel) {
  init_logging({LogLevel::warn, LogSink::journald});
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  EXPECT_EQ(spdlog::default_logger()->name(), "orderly");
  init_logging({});  // back to stdout/info for the other tests in this binary
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::info);
}

}  // namespace
}  // namespace orderly::gateway
