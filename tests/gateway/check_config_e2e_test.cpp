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

// The shipped example's piles: three 6 A native piles (1.38 kW each), a 6 A Heidelberg on phase
// A, and a 22 kW ABB without a failsafe (counted at its maximum, a third on each phase).
TEST(CheckConfig, ShippedExampleReportsItsFailsafeBudget) {
  orderly::test::TempDir dir;
  const auto example = (orderly::test::source_dir() / "packaging" / "orderly.toml").string();
  const Outcome run = check_config(dir, example);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out,
              AllOf(HasSubstr("failsafe:    if the gateway died now: base load peak 180 kW ([site.transformer] "
                              "base_load_peak_kw) + every pile at its failsafe current"),
                    HasSubstr("transformer 'transformer': 207.5 of 500 kW (piles 27.52 kW, base 180 kW)\n"),
                    HasSubstr("transformer 'transformer' phase A: 70.09 of 170 kW (piles 10.09 kW, base 60 kW)\n"),
                    HasSubstr("transformer 'transformer' phase B: 68.71 of 170 kW"),
                    // No meter nor assumed load: its share by default, limit_kw over the transformer's (80 / 500 x 180 kW).
                    HasSubstr("capacity node 'feeder-2': 50.8 of 80 kW (piles 22 kW, base 28.8 kW)\n"),
                    HasSubstr("without a failsafe: s-01 22 kW")));
  EXPECT_EQ(run.err, "") << "within budget: no warning";
}

TEST(CheckConfig, FailsafeBudgetOverALimitWarnsWithThePilesToFix) {
  orderly::test::TempDir dir;
  const auto [file, line] = example_with(dir, "base_load_peak_kw = 180", "base_load_peak_kw = 490");
  const Outcome run = check_config(dir, file);
  EXPECT_EQ(run.exit_code, 0) << "a warning, not an error: the site may still run: " << run.err;
  EXPECT_THAT(run.out, HasSubstr("transformer 'transformer': 517.5 of 500 kW (piles 27.52 kW, base 490 kW) OVER"));
  // 17.52 kW over: the ABB alone (22 kW at its maximum) covers it. Phase A carries a third of the
  // base (163.3 kW) plus 10.09 kW of piles: 3.43 kW over its 170 kW.
  EXPECT_THAT(run.err,
              AllOf(HasSubstr(file + ": warning: failsafe budget: transformer 'transformer' would carry 517.5 kW of "
                                     "its 500 kW limit if the gateway died now (17.52 kW over); fix first: s-01 22 kW "
                                     "(no failsafe: counted at its maximum) - give them a failsafe or a lower "
                                     "failsafe_current_a\n"),
                    HasSubstr("failsafe budget: transformer 'transformer' phase A would carry 173.4 kW of its 170 kW "
                              "limit if the gateway died now (3.43 kW over); fix first: s-01 7.33 kW")));
}

TEST(CheckConfig, FailsafeBudgetWithoutABaseLoadFigureSaysItIsLeftOut) {
  orderly::test::TempDir dir;
  const auto [file, line] = example_with(dir, "base_load_peak_kw = 180\n", "");
  const Outcome run = check_config(dir, file);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, AllOf(HasSubstr("base load NOT included (set [site.transformer] base_load_peak_kw to the peak "
                                       "non-EV load to include it)"),
                             HasSubstr("transformer 'transformer': 27.52 of 500 kW (piles 27.52 kW, piles only)")));
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
