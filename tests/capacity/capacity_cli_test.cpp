// `orderly capacity` as an operator runs it: the built binary on a small community's config with
// a temporary store, judged by exit code, stdout (JSON or the summary) and stderr.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"

namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using namespace std::chrono;

// Shaped like packaging/orderly.toml, scaled down to an 80 kW limit so a sweep takes a second.
std::string config_text(const std::filesystem::path& store) {
  return R"(
[site]
name = "测试小区"
utc_offset = "+08:00"
[site.transformer]
id = "transformer"
limit_kw = 80
[[tariff.schedule]]
effective_from = 2024-01-01
  [[tariff.schedule.season]]
  name = "all year"
  months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
  price_yuan_per_kwh = { peak = 1.0, flat = 0.6, valley = 0.3 }
  hours = { valley = ["23:00-07:00"], flat = ["07:00-08:00", "11:00-18:00"], peak = ["08:00-11:00", "18:00-23:00"] }
[[charger]]
id = "p-1"
kind = "private"
household = "1-1-101"
phase = "A"
max_power_kw = 7
[[charger]]
id = "p-2"
kind = "private"
household = "1-1-102"
phase = "B"
max_power_kw = 7
[[meter]]
id = "m-transformer"
role = "transformer"
[control]
safety_margin_kw = 2
[store]
path = ")" + store.string() + "\"\n";
}

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Run run_capacity(const orderly::test::TempDir& dir, const std::string& arguments) {
  const auto out = dir / "stdout";
  const auto err = dir / "stderr";
  const std::string command = "'" + orderly::test::orderly_binary().string() + "' capacity " +
                              arguments + " >'" + out.string() + "' 2>'" + err.string() + "'";
  const int status = std::system(command.c_str());
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = orderly::test::read_file(out);
  r.err = orderly::test::read_file(err);
  return r;
}

struct Site {
  orderly::test::TempDir dir;
  std::filesystem::path config;
  Site() { config = orderly::test::write_file(dir / "orderly.toml", config_text(dir / "orderly.db")); }
  std::string args(const std::string& more) const { return "--config '" + config.string() + "' " + more; }
};

TEST(CapacityCli, WithoutHistoryWarnsAndOrdersTheAnswers) {
  Site site;
  const auto r = run_capacity(site.dir, site.args("--days 4 --seed 3 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("SYNTHETIC base load"));
  EXPECT_FALSE(std::filesystem::exists(site.dir / "orderly.db")) << "a read-only estimate must not create the store";
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["base_load"]["source"], "synthetic");
  EXPECT_EQ(j["existing_piles"], 2);
  EXPECT_GE(j["uncontrolled_new_piles"].get<int>(), 0);
  EXPECT_GT(j["orderly_new_piles"].get<int>(), j["uncontrolled_new_piles"].get<int>());
  EXPECT_EQ(j["orderly_by_day"].size(), 4u);
}

TEST(CapacityCli, SameSeedSameOutputAndConfidenceNeverRaisesTheAnswer) {
  Site site;
  const auto a = run_capacity(site.dir, site.args("--days 4 --seed 5 --confidence 0.95 --json"));
  const auto b = run_capacity(site.dir, site.args("--days 4 --seed 5 --confidence 0.95 --json"));
  const auto low = run_capacity(site.dir, site.args("--days 4 --seed 5 --confidence 0.5 --json"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(low.exit_code, 0) << low.err;
  EXPECT_EQ(a.out, b.out);
  const auto ja = json::parse(a.out);
  const auto jl = json::parse(low.out);
  EXPECT_LE(ja["orderly_new_piles"].get<int>(), jl["orderly_new_piles"].get<int>());
  EXPECT_LE(ja["uncontrolled_new_piles"].get<int>(), jl["uncontrolled_new_piles"].get<int>());
}

// `days` complete local days of a flat 30 kW transformer load, one sample per 15 minutes.
void write_history(const std::filesystem::path& db, int days) {
  orderly::gateway::Store store(db);
  std::vector<orderly::gateway::StoreRecord> records;
  const auto start = orderly::TimePoint(sys_days(2025y / June / 1)) - hours(8);
  for (int i = 0; i < days * 96; ++i) {
    orderly::gateway::MeterSample s;
    s.meter_id = "m-transformer";
    s.at = start + minutes(15 * i);
    s.power_w = 30000;
    records.emplace_back(s);
  }
  store.write(records);
}

TEST(CapacityCli, UsesTheTransformerMetersHistoryFromTheStore) {
  Site site;
  write_history(site.dir / "orderly.db", 8);
  const auto r = run_capacity(site.dir, site.args("--days 3 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("SYNTHETIC")));
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["base_load"]["source"], "store");
  EXPECT_EQ(j["base_load"]["history_days"], 8);
  EXPECT_GT(j["orderly_new_piles"].get<int>(), j["uncontrolled_new_piles"].get<int>());
}

TEST(CapacityCli, TooShortAHistoryFallsBackToTheSyntheticProfileAndSaysWhy) {
  Site site;
  write_history(site.dir / "orderly.db", 3);
  const auto r = run_capacity(site.dir, site.args("--days 2 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("holds 3 complete day(s) of meter 'm-transformer' (7 needed)"));
  EXPECT_EQ(json::parse(r.out)["base_load"]["source"], "synthetic");
}

TEST(CapacityCli, PrintsAShortSummary) {
  Site site;
  const auto r = run_capacity(site.dir, site.args("--days 2 --confidence 0.9"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("orderly: +"));
  EXPECT_THAT(r.out, HasSubstr("uncontrolled: +"));
  EXPECT_THAT(r.out, HasSubstr("at 90% confidence over 2 sampled days"));
}

TEST(CapacityCli, BadOptionsExitTwoWithAClearMessage) {
  Site site;
  struct Case {
    std::string args;
    std::string message;
  };
  for (const Case& c : {Case{site.args("--confidence 1.5"), "--confidence '1.5' must be a number in (0, 1]"},
                        Case{site.args("--days many"), "--days 'many' must be 1-10000"},
                        Case{site.args("--pile-kw -7"), "--pile-kw '-7' must be a power in kW"},
                        Case{site.args("--frobnicate 1"), "unknown option '--frobnicate'"},
                        Case{site.args("--seed"), "--seed needs a value"},
                        Case{site.args("--verbose"), "unknown option '--verbose'"},
                        Case{site.args("extra.toml"), "unknown argument 'extra.toml'"},
                        Case{"--config '" + (site.dir / "missing.toml").string() + "'", "missing.toml"}}) {
    SCOPED_TRACE(c.args);
    const auto r = run_capacity(site.dir, c.args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
