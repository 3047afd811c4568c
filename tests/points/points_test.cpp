// Decoded point values become the snapshots the core sees the same way for every transport.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "orderly/base/units.hpp"
#include "orderly/drivers/points.hpp"

namespace orderly::drivers {
namespace {

ChargerState state_of(const std::map<std::string, std::string>& words) {
  PointValues v;
  v.words = words;
  return charger_snapshot(v, 1).state;
}

TEST(ChargerSnapshotFromPoints, EveryNamedValueLandsInItsField) {
  PointValues v;
  v.numbers = {{"power_w", 7200},         {"current_l1_a", 10.5},     {"current_l3_a", 10.1},
               {"voltage_l2_v", 229.5},   {"session_energy_wh", 812}, {"total_energy_wh", 1.5e6},
               {"applied_current_a", 16}, {"temperature_c", 41}};
  v.words = {{"state", "charging"}, {"rfid", "04A1B2C3"}};
  const ChargerSnapshot s = charger_snapshot(v, 3);
  EXPECT_EQ(s.state, ChargerState::charging);
  EXPECT_EQ(s.power_w, 7200);
  EXPECT_EQ(s.current_a[0], 10.5);
  EXPECT_TRUE(std::isnan(s.current_a[1])) << "a point the pile does not have is not measured";
  EXPECT_EQ(s.current_a[2], 10.1);
  EXPECT_TRUE(std::isnan(s.voltage_v[0]));
  EXPECT_EQ(s.voltage_v[1], 229.5);
  EXPECT_EQ(s.session_energy_wh, 812);
  EXPECT_EQ(s.total_energy_wh, 1.5e6);
  EXPECT_EQ(s.applied_limit_w, 16 * power_w_at_nominal(1.0, 3)) << "the applied current on three phases at 230 V";
  EXPECT_EQ(s.rfid, "04A1B2C3");
}

TEST(ChargerSnapshotFromPoints, NothingKnownIsNothingMeasured) {
  const ChargerSnapshot s = charger_snapshot(PointValues{}, 1);
  EXPECT_EQ(s.state, ChargerState::unknown);
  EXPECT_TRUE(std::isnan(s.power_w));
  EXPECT_TRUE(std::isnan(s.applied_limit_w));
  EXPECT_TRUE(std::isnan(s.session_energy_wh));
  EXPECT_TRUE(s.rfid.empty());
}

TEST(ChargerSnapshotFromPoints, PlugTellsWhatTheStateCannot) {
  EXPECT_EQ(state_of({{"state", "fault"}, {"plug", "unplugged"}}), ChargerState::unplugged);
  EXPECT_EQ(state_of({{"state", "unplugged"}, {"plug", "plugged"}}), ChargerState::plugged);
  EXPECT_EQ(state_of({{"plug", "plugged"}}), ChargerState::plugged);
  EXPECT_EQ(state_of({{"state", "charging"}, {"plug", "plugged"}}), ChargerState::charging)
      << "plugged says less than charging";
  EXPECT_EQ(state_of({{"state", "fault"}, {"plug", "plugged"}}), ChargerState::fault);
  EXPECT_EQ(state_of({{"state", "sleeping"}}), ChargerState::unknown) << "a map word that is no charger state";
}

TEST(ChargerSnapshotFromPoints, ValuesArrivingOneByOneGiveTheSameSnapshotInAnyOrder) {
  PointValues plug_first, state_first;
  plug_first.words["plug"] = "plugged";
  plug_first.words["state"] = "unplugged";
  state_first.words["state"] = "unplugged";
  state_first.words["plug"] = "plugged";
  EXPECT_EQ(charger_snapshot(plug_first, 1).state, ChargerState::plugged);
  EXPECT_EQ(charger_snapshot(state_first, 1).state, ChargerState::plugged);

  // A newer value of one point replaces only that point.
  plug_first.numbers["power_w"] = 3000;
  plug_first.numbers["current_l1_a"] = 13;
  plug_first.numbers["power_w"] = 2900;
  const ChargerSnapshot s = charger_snapshot(plug_first, 1);
  EXPECT_EQ(s.power_w, 2900);
  EXPECT_EQ(s.current_a[0], 13);
}

TEST(MeterSnapshotFromPoints, EveryNamedValueLandsInItsField) {
  PointValues v;
  v.numbers = {{"power_w", 41000},      {"power_l1_w", 14000},     {"power_l2_w", 13000},
               {"power_l3_w", 14000},   {"current_l2_a", 56.5},    {"voltage_l3_v", 231},
               {"import_energy_wh", 9e8}, {"export_energy_wh", 1200}, {"frequency_hz", 50}};
  const MeterSnapshot s = meter_snapshot(v);
  EXPECT_EQ(s.power_w, 41000);
  EXPECT_EQ(s.power_w_phase[0], 14000);
  EXPECT_EQ(s.power_w_phase[1], 13000);
  EXPECT_EQ(s.power_w_phase[2], 14000);
  EXPECT_TRUE(std::isnan(s.current_a[0]));
  EXPECT_EQ(s.current_a[1], 56.5);
  EXPECT_EQ(s.voltage_v[2], 231);
  EXPECT_EQ(s.import_energy_wh, 9e8);
  EXPECT_EQ(s.export_energy_wh, 1200);
}

TEST(PhaseCurrentPoints, EveryPhaseOfThePileMustBeReadable) {
  auto readable = [](std::set<std::string> names) {
    return [names](const std::string& n) { return names.count(n) > 0; };
  };
  EXPECT_TRUE(reads_phase_currents(1, readable({"current_l1_a"})));
  EXPECT_TRUE(reads_phase_currents(3, readable({"current_l1_a", "current_l2_a", "current_l3_a"})));
  EXPECT_FALSE(reads_phase_currents(3, readable({"current_l1_a", "current_l2_a"})));
  EXPECT_FALSE(reads_phase_currents(1, readable({"power_w"})));
}

TEST(WordPoints, AreTheStatesAndTheCard) {
  EXPECT_TRUE(is_word_point("state"));
  EXPECT_TRUE(is_word_point("plug"));
  EXPECT_TRUE(is_word_point("rfid"));
  EXPECT_FALSE(is_word_point("power_w"));
}

// A pile with only a lifetime counter still gets a session energy: the counter's rise since
// the car came; a session counter of its own wins; unplugging starts the next session afresh.
TEST(SessionEnergyFromTotal, IsTheLifetimeCountersRiseSincePlugIn) {
  SessionEnergyFromTotal from_total;
  auto snap = [&](ChargerState state, double total_wh, double session_wh = kNotMeasured) {
    ChargerSnapshot s;
    s.state = state;
    s.total_energy_wh = total_wh;
    s.session_energy_wh = session_wh;
    from_total.apply(s);
    return s.session_energy_wh;
  };
  EXPECT_TRUE(std::isnan(snap(ChargerState::unplugged, 1000)));
  EXPECT_EQ(snap(ChargerState::plugged, 1000), 0);
  EXPECT_EQ(snap(ChargerState::charging, 1750), 750);
  EXPECT_TRUE(std::isnan(snap(ChargerState::unknown, kNotMeasured))) << "offline: nothing to say";
  EXPECT_EQ(snap(ChargerState::charging, 2000), 1000) << "an offline spell does not start a new session";
  EXPECT_EQ(snap(ChargerState::charging, 2000, 321), 321) << "the pile's own session counter wins";
  EXPECT_EQ(snap(ChargerState::charging, 50), 0) << "a counter that went back (meter swapped) counts on from there";
  EXPECT_EQ(snap(ChargerState::charging, 80), 30);
  EXPECT_TRUE(std::isnan(snap(ChargerState::unplugged, 80)));
  EXPECT_EQ(snap(ChargerState::plugged, 80), 0) << "the next car starts at 0";
}

}  // namespace
}  // namespace orderly::drivers
