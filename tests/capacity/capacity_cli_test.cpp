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
  EXPECT_EQ(j["sessions"]["source"], "fitted");
  EXPECT_THAT(r.err, HasSubstr("does not exist yet; drawing cars from statistics FITTED"));
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

// `days` complete local days of a 30 kW transformer load, one meter sample every 15 minutes. With
// `p1_charges_evenings`, p-1 also charged at 7 kW every evening 19:00-21:00 (one charger sample a
// minute, 0 W otherwise), which the meter read on top; p-2 never reported.
void write_history(const std::filesystem::path& db, int days, bool p1_charges_evenings = false) {
  orderly::gateway::Store store(db);
  std::vector<orderly::gateway::StoreRecord> records;
  const auto start = orderly::TimePoint(sys_days(2025y / June / 1)) - hours(8);
  for (int m = 0; m < days * 1440; ++m) {
    const bool charging = p1_charges_evenings && m % 1440 >= 19 * 60 && m % 1440 < 21 * 60;
    if (p1_charges_evenings) {
      orderly::gateway::ChargerSample c;
      c.charger_id = "p-1";
      c.at = start + minutes(m);
      c.state = charging ? "charging" : "idle";
      c.power_w = charging ? 7000 : 0;
      records.emplace_back(c);
    }
    if (m % 15 == 0) {
      orderly::gateway::MeterSample s;
      s.meter_id = "m-transformer";
      s.at = start + minutes(m);
      s.power_w = charging ? 37000 : 30000;
      records.emplace_back(s);
    }
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

// A community that has run for 8 days (write_history with p-1's evening charging) and has
// `sessions` closed private sessions of 2 kWh each, plugged in between 17:00 and 22:50 and staying
// 10 hours, in the two months before.
void write_community(const std::filesystem::path& db, int sessions) {
  write_history(db, 8, true);
  std::vector<orderly::gateway::StoreRecord> records;
  const auto before = orderly::TimePoint(sys_days(2025y / April / 2)) - hours(8);
  for (int i = 0; i < sessions; ++i) {
    orderly::gateway::SessionRecord r;
    r.id = "s-" + std::to_string(i);
    r.charger_id = i % 2 == 0 ? "p-1" : "p-2";
    r.household = i % 2 == 0 ? "1-1-101" : "1-1-102";
    r.is_private = true;
    r.max_power_w = 7000;
    r.started_at = before + days(i) + hours(17) + minutes((i * 37) % 350);
    r.ended_at = r.started_at + hours(10);
    r.energy_wh = 2000;
    records.emplace_back(r);
  }
  orderly::gateway::Store(db).write(records);
}

TEST(CapacityCli, DrawsCarsFromTheStoredSessionsAndTakesTheMeteredPilesOffTheBaseLoad) {
  Site stored;
  write_community(stored.dir / "orderly.db", 40);
  Site fitted;
  write_community(fitted.dir / "orderly.db", 20);
  const std::string options = "--days 3 --seed 2 --max-piles 60 --json";
  const auto s = run_capacity(stored.dir, stored.args(options));
  const auto f = run_capacity(fitted.dir, fitted.args(options));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_THAT(s.err, Not(HasSubstr("FITTED")));
  EXPECT_THAT(f.err, HasSubstr("20 plausible closed session(s) of private piles (30 needed"));
  const auto js = json::parse(s.out);
  const auto jf = json::parse(f.out);
  EXPECT_EQ(js["sessions"]["source"], "store");
  EXPECT_EQ(js["sessions"]["count"], 40);
  EXPECT_EQ(jf["sessions"]["source"], "fitted");
  EXPECT_THAT(jf["sessions"]["warning"].get<std::string>(), HasSubstr("30 needed"));
  // 7 kW x 2 h a day over 8 days came off the meter's 37 kW evenings; p-2's slots had no data.
  const auto& sub = js["base_load"]["existing_piles_subtracted"];
  EXPECT_EQ(js["base_load"]["source"], "store");
  EXPECT_NEAR(sub["energy_kwh"].get<double>(), 8 * 14.0, 1e-6);
  EXPECT_EQ(sub["pile_slots"], 2 * 8 * 96);
  EXPECT_EQ(sub["pile_slots_without_data"], 8 * 96);
  EXPECT_EQ(sub["slots_clamped"], 0);
  // 2 kWh cars are an evening slot's worth of charge; the fitted ones want about 10 kWh over
  // overlapping evening hours. The same transformer hosts more of the small ones.
  EXPECT_GT(js["uncontrolled_new_piles"].get<int>(), jf["uncontrolled_new_piles"].get<int>());
  EXPECT_GE(js["orderly_new_piles"].get<int>(), jf["orderly_new_piles"].get<int>());

  const auto text = run_capacity(stored.dir, stored.args("--days 1 --max-piles 20"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("sessions from store (40 sessions)"));
  EXPECT_THAT(text.out, HasSubstr("existing piles' metered charging taken off the base load: "
                                  "112.0 kWh (768 of 1536 pile-slots without charger data"));
  const auto fallback = run_capacity(fitted.dir, fitted.args("--days 1 --max-piles 20"));
  EXPECT_THAT(fallback.out, HasSubstr("sessions from fitted statistics"));
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
