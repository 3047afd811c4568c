// `orderly check-config` as an installer runs it: the built binary, real files, exit codes,
// stdout and stderr kept apart.
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/test/support.hpp"

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Outcome check_config(const orderly::test::TempDir& dir, const std::string& file) {
  const auto out = dir / "stdout.txt";
  const auto err = dir / "stderr.txt";
  const std::string command = "'" + orderly::test::orderly_binary().string() + "' check-config '" +
                              file + "' >'" + out.string() + "' 2>'" + err.string() + "'";
  const int status = std::system(command.c_str());
  Outcome run;
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  run.out = orderly::test::read_file(out);
  run.err = orderly::test::read_file(err);
  return run;
}

// The shipped example with the first `from` replaced by `to`, written to dir/orderly.toml.
// Returns the file and the 1-based line of the change.
std::pair<std::string, long> example_with(const orderly::test::TempDir& dir,
                                          const std::string& from, const std::string& to) {
  std::string text =
      orderly::test::read_file(orderly::test::source_dir() / "packaging" / "orderly.toml");
  const auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos == std::string::npos) return {};
  text.replace(pos, from.size(), to);
  const long line = std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n') + 1;
  return {orderly::test::write_file(dir / "orderly.toml", text).string(), line};
}

TEST(CheckConfig, ShippedExampleIsOk) {
  orderly::test::TempDir dir;
  const auto example = (orderly::test::source_dir() / "packaging" / "orderly.toml").string();
  const Outcome run = check_config(dir, example);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, AllOf(StartsWith(example + ": OK\n"), HasSubstr("5 (4 private, 1 shared)"),
                             HasSubstr("limit 500 kW")));
  EXPECT_EQ(run.err, "");
}

TEST(CheckConfig, TypoIsReportedWithFileLineAndKey) {
  orderly::test::TempDir dir;
  const auto [file, line] = example_with(dir, "\nlimit_kw = 500\n", "\nlimit_kww = 500\n");
  const Outcome run = check_config(dir, file);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err,
              AllOf(HasSubstr(file + ":" + std::to_string(line + 1) +
                              ":1: unknown key 'limit_kww'"),
                    HasSubstr("did you mean 'limit_kw'?"),
                    HasSubstr("site.transformer: missing required key 'limit_kw'")));
}

TEST(CheckConfig, UnknownDeviceProfileIsCaught) {
  orderly::test::TempDir dir;
  const auto [file, line] = example_with(dir, "profile = \"heidelberg-energy-control\"",
                                         "profile = \"heidelberg-energy-contrl\"");
  const Outcome run = check_config(dir, file);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, AllOf(HasSubstr(file + ":" + std::to_string(line) + ":11: charger[4]"
                                       ".profile: unknown profile 'heidelberg-energy-contrl'"),
                             HasSubstr("heidelberg-energy-control")));
}

TEST(CheckConfig, MissingFileExitsTwoWithAClearMessage) {
  orderly::test::TempDir dir;
  const auto file = (dir / "absent.toml").string();
  const Outcome run = check_config(dir, file);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr(file + ": no such file"));
}

}  // namespace
