// The controller on plain structs: what the limiter, the plan's ceilings, the fallbacks and the
// not-following check decide, with no store, no socket and no broker. Time is passed in.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <map>
#include <string>

#include "config_text.hpp"
#include "orderly/base/units.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/controller.hpp"
#include "orderly/gateway/meter_check.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using ::testing::HasSubstr;

TimePoint local(int day, int hour, int minute, int second = 0) { return testing::january_2026(day, hour, minute, second); }

const std::string kSite = R"(
[site]
name = "Controller test"
[site.transformer]
id = "tx"
limit_kw = 30

[[capacity]]
id = "f1"
limit_kw = 10

)" + testing::kSimpleTariff + R"(

[control]
safety_margin_kw = 2
limit_validity_s = 60

[[meter]]
id = "tm"
role = "transformer"

[[meter]]
id = "fm"
role = "feeder"
node = "f1"

[[charger]]
id = "p1"
kind = "private"
household = "1-101"
phase = "A"
max_power_kw = 7

[[charger]]
id = "p2"
kind = "private"
household = "1-102"
phase = "B"
max_power_kw = 7

[[charger]]
id = "p3"
kind = "private"
household = "1-103"
phase = "C"
node = "f1"
max_power_kw = 7
)";

// One controller, driven as the gateway core drives it, with the devices played by the test.
// The test's times are the true time; the controller sees them as an Instant whose wall part
// carries `wall_step` (a clock step the test makes) and whose monotonic part never steps.
class Rig {
 public:
  Instant at(TimePoint t) const {
    return {t + wall_step, MonoPoint{} + days(30) + duration_cast<MonoClock::duration>(t - local(5, 0, 0))};
  }

  // Every pile answers, with no car, from midnight on.
  explicit Rig(const std::string& text = kSite, bool measures_phase_currents = false)
      : config_(parse_config(text, "controller_test.toml")), controller(config_, 1.0) {
    drivers::Capabilities declared;
    declared.failsafe = true;
    declared.measures_phase_currents = measures_phase_currents;
    for (const auto& c : config_.chargers) {
      const std::string& id = c.id;
      controller.attach_driver(id, declared);
      online(id, local(5, 0, 0));
      car(id, drivers::ChargerState::unplugged, 0, local(5, 0, 0));
    }
  }

  void online(const std::string& id, TimePoint now, bool on = true) {
    drivers::Health h;
    h.online = on;
    h.last_good = now;
    controller.on_health(id, h, at(now));
  }
  bool car(const std::string& id, drivers::ChargerState state, double power_w, TimePoint now) {
    drivers::ChargerSnapshot s;
    s.at = now + wall_step;
    s.state = state;
    s.power_w = power_w;
    return controller.on_charger_snapshot(id, s, at(now));
  }
  void plug(const std::string& id, TimePoint now) {
    online(id, now);
    car(id, drivers::ChargerState::plugged, 0, now);
  }
  bool meter(const std::string& id, double kw, TimePoint now) {
    drivers::MeterSnapshot m;
    m.at = now + wall_step;
    m.power_w = kw * 1000.0;
    return controller.on_meter_snapshot(id, m, at(now));
  }
  bool meter_phases(const std::string& id, std::array<double, 3> kw, TimePoint now) {
    drivers::MeterSnapshot m;
    m.at = now + wall_step;
    m.power_w = (kw[0] + kw[1] + kw[2]) * 1000.0;
    for (std::size_t ph = 0; ph < 3; ++ph) m.power_w_phase[ph] = kw[ph] * 1000.0;
    return controller.on_meter_snapshot(id, m, at(now));
  }
  // A plan of the given kW per slot from the slot `now` falls in; `asap` cars charge at once.
  void plan(TimePoint now, const std::map<std::string, std::vector<double>>& kw, bool asap = false) {
    ActivePlan p;
    p.grid = make_slot_grid(now, minutes(15), hours(8), std::nullopt);
    p.grid.first_slot_fraction = 1;  // the test's kW are the powers, unscaled
    p.created_at = now;
    p.algorithm = "optimal";
    for (const auto& [id, v] : kw) p.chargers[id] = ChargerPlan{id + "-s", v, 7, asap};
    p.base_kw.assign(static_cast<std::size_t>(p.grid.slots), 10.0);
    controller.set_plan(std::move(p), milliseconds(5));
  }
  // One step: due re-plans are noted (the test plans itself), then the limits.
  Controller::Limits step(TimePoint now) {
    last_due = controller.due_replans(at(now));
    return controller.limit(at(now));
  }
  static const LimitCommand* command(const Controller::Limits& l, const std::string& id) {
    for (const auto& c : l.commands)
      if (c.charger_id == id) return &c;
    return nullptr;
  }

  Config config_;
  Controller controller;
  ReplanReasons last_due;
  Duration wall_step{};
};

TEST(Controller, PlanCeilingIsTheLimitWhileThereIsHeadroom) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {3.0, 3.0}}});
  ASSERT_TRUE(rig.meter("tm", 10, t)) << "a transformer sample asks for a step at once";
  const auto out = rig.step(t);
  const auto* p1 = Rig::command(out, "p1");
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(p1->limit.power_w, 3000);
  EXPECT_EQ(p1->reason, LimitReason::plan);
  EXPECT_EQ(p1->limit.valid_for, seconds(60));
  EXPECT_EQ(Rig::command(out, "p2"), nullptr) << "an unplugged pile gets nothing";
}

TEST(Controller, AnOverloadIsCutInTheStepThatSeesIt) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {7.0}}}, /*asap=*/true);
  rig.car("p1", drivers::ChargerState::charging, 7000, t);
  rig.meter("tm", 12, t);  // 5 kW base + the car
  auto out = rig.step(t);
  ASSERT_NE(Rig::command(out, "p1"), nullptr);
  EXPECT_EQ(Rig::command(out, "p1")->limit.power_w, 7000);
  EXPECT_EQ(Rig::command(out, "p1")->reason, LimitReason::asap);

  // Base load steps up: 33 kW measured with the car at 7 kW. 30 - 2 - 26 = 2 kW is left.
  const TimePoint later = t + seconds(1);
  rig.meter("tm", 33, later);
  out = rig.step(later);
  const auto* cut = Rig::command(out, "p1");
  ASSERT_NE(cut, nullptr);
  EXPECT_LE(cut->limit.power_w, 2000 + 1);
  EXPECT_GE(cut->limit.power_w, power_w_at_nominal(6, 1) - 1) << "6 A still fits in 2 kW";
  EXPECT_EQ(cut->reason, LimitReason::cut);
}

// The events noted under `source` whose message starts with `state`.
int events_of(const Controller::Limits& l, const std::string& source, const std::string& state) {
  int n = 0;
  for (const auto& e : l.events) n += e.source == source && e.message.rfind(state, 0) == 0;
  return n;
}

TEST(Controller, AStaleMeterRunsOnTheForecastThenTheFailsafe) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {5.0, 5.0, 5.0}}});
  rig.meter("tm", 10, t);
  auto out = rig.step(t);
  ASSERT_EQ(Rig::command(out, "p1")->limit.power_w, 5000);
  EXPECT_EQ(rig.controller.load_source(), LoadSource::meter);
  EXPECT_TRUE(rig.controller.alarms().empty());
  EXPECT_TRUE(rig.controller.meter_fresh(rig.at(t + seconds(10)).mono));

  // Silent for 11 s: the plan's forecast (10 kW) + the 10 kW margin stands in: 28 - 20 = 8 kW
  // still carry p1's 5 kW.
  const TimePoint stale = t + seconds(11);
  EXPECT_FALSE(rig.controller.meter_fresh(rig.at(stale).mono));
  out = rig.step(stale);
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast);
  EXPECT_EQ(Rig::command(out, "p1"), nullptr) << "unchanged";
  EXPECT_EQ(rig.controller.chargers().at("p1").setpoint_w, 5000);
  ASSERT_TRUE(rig.controller.alarms().count("control:load"));
  const Alarm& load = rig.controller.alarms().at("control:load");
  EXPECT_EQ(load.state, "running-on-forecast");
  EXPECT_EQ(load.reason, "stale");
  EXPECT_EQ(load.meter_id, "tm");
  EXPECT_EQ(load.since, rig.at(stale).wall);
  EXPECT_THAT(load.message, HasSubstr("forecast base load 10.0 kW + meter_fallback_margin_kw 10.0 kW"));
  ASSERT_TRUE(rig.controller.alarms().count("meter:tm"));
  EXPECT_EQ(rig.controller.alarms().at("meter:tm").reason, "silent");
  EXPECT_EQ(events_of(out, "control:load", "running-on-forecast"), 1);
  EXPECT_EQ(events_of(rig.step(stale + seconds(1)), "control:load", "running-on-forecast"), 0) << "noted once";

  // A higher base than the margin covers is for the meter to see: the forecast is what it is.
  // After meter_fallback_s (900 s) of it, the failsafe: no headroom.
  out = rig.step(stale + seconds(899));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast);
  out = rig.step(stale + seconds(900));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::failsafe);
  ASSERT_NE(Rig::command(out, "p1"), nullptr);
  EXPECT_EQ(Rig::command(out, "p1")->limit.power_w, 0);
  EXPECT_EQ(Rig::command(out, "p1")->reason, LimitReason::no_meter);
  EXPECT_EQ(rig.controller.alarms().at("control:load").state, "failsafe");
  EXPECT_EQ(rig.controller.alarms().at("control:load").level, "error");
  EXPECT_EQ(events_of(out, "control:load", "failsafe"), 1);

  // The meter answers again: believed at once (silence is no fault of the readings), alarms end.
  const TimePoint back = stale + seconds(901);
  rig.meter("tm", 10, back);
  out = rig.step(back);
  EXPECT_EQ(rig.controller.load_source(), LoadSource::meter);
  EXPECT_EQ(Rig::command(out, "p1")->limit.power_w, 5000);
  EXPECT_TRUE(rig.controller.alarms().empty());
  EXPECT_EQ(events_of(out, "control:load", "ok"), 1);
  EXPECT_EQ(events_of(out, "meter:tm", "ok"), 1);
}

TEST(Controller, WithoutAForecastTheAssumedLoadStandsIn) {
  // A fresh install: no history, so no forecast; the transformer's assumed load + margin.
  std::string text = kSite;
  text.replace(text.find("limit_kw = 30\n"), 14, "limit_kw = 30\nassumed_load_kw = 8\n");
  Rig fresh(text);
  const TimePoint t = local(5, 20, 0);
  fresh.plug("p1", t);
  fresh.plan(t, {{"p1", {7.0}}});
  // No meter reading ever: quiet failsafe during the first 10 s, then on the assumed load.
  auto out = fresh.step(t);
  EXPECT_EQ(fresh.controller.load_source(), LoadSource::failsafe);
  EXPECT_EQ(Rig::command(out, "p1")->limit.power_w, 0);
  EXPECT_TRUE(fresh.controller.alarms().empty()) << "a start is no alarm";
  out = fresh.step(t + seconds(11));
  EXPECT_EQ(fresh.controller.load_source(), LoadSource::forecast);
  // 28 - (8 + 10) = 10 kW: p1's 7 kW fit.
  EXPECT_EQ(Rig::command(out, "p1")->limit.power_w, 7000);
  EXPECT_EQ(Rig::command(out, "p1")->reason, LimitReason::forecast);
  EXPECT_EQ(fresh.controller.alarms().at("control:load").reason, "stale");
  EXPECT_THAT(fresh.controller.alarms().at("control:load").message, HasSubstr("assumed load 8.0 kW"));

  // Not configured: the limit itself, so no headroom.
  Rig bare;
  bare.plug("p1", t);
  bare.plan(t, {{"p1", {7.0}}});
  bare.step(t);
  out = bare.step(t + seconds(11));
  EXPECT_EQ(bare.controller.load_source(), LoadSource::forecast);
  EXPECT_EQ(bare.controller.chargers().at("p1").setpoint_w, 0) << "no headroom";
  EXPECT_EQ(Rig::command(out, "p1"), nullptr) << "stopped at the start already";
}

TEST(Controller, ANegativeTransformerReadingIsNotBelieved) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {7.0}}}, true);
  rig.car("p1", drivers::ChargerState::charging, 7000, t);
  rig.meter("tm", 17, t);  // 10 kW base + the car
  ASSERT_EQ(Rig::command(rig.step(t), "p1")->limit.power_w, 7000);

  // A reversed CT: -50 kW. Believed, the base would be -57 kW and every pile would get full
  // power; instead the forecast (10 + 10 margin) keeps p1 at 28 - 20 = 8 >= 7 kW.
  const TimePoint bad = t + seconds(1);
  EXPECT_TRUE(rig.meter("tm", -50, bad)) << "still a step at once";
  auto out = rig.step(bad);
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast);
  EXPECT_NEAR(rig.controller.base_load_w(), 10000, 1e-6) << "the base load is not taught the fault";
  const auto* p1 = Rig::command(out, "p1");
  if (p1) {
    EXPECT_LE(p1->limit.power_w, 8000 + 1);
  }
  const Alarm& meter = rig.controller.alarms().at("meter:tm");
  EXPECT_EQ(meter.state, "suspect");
  EXPECT_EQ(meter.reason, "negative");
  EXPECT_THAT(meter.message, HasSubstr("reads -50.0 kW"));
  EXPECT_EQ(rig.controller.alarms().at("control:load").reason, "negative");
  EXPECT_EQ(events_of(out, "meter:tm", "suspect"), 1);
  EXPECT_FALSE(rig.controller.planning_input(rig.at(bad), {}).measured_base_kw.has_value());

  // Plausible again: believed after 10 s of plausible readings, not at the first one.
  rig.meter("tm", 17, bad + seconds(1));
  out = rig.step(bad + seconds(5));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast) << "plausible for 10 s before it is believed";
  for (int s = 2; s <= 12; ++s) rig.meter("tm", 17 + 0.01 * s, bad + seconds(s));
  out = rig.step(bad + seconds(12));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::meter);
  EXPECT_FALSE(rig.controller.alarms().count("meter:tm"));
  EXPECT_EQ(events_of(out, "meter:tm", "ok"), 1);
}

TEST(Controller, ATransformerReadingBeyondItsRatingIsNotBelieved) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.meter("tm", 10, t);
  rig.step(t);
  rig.meter("tm", 46, t + seconds(1));  // 1.5 x 30 kW = 45 kW
  rig.step(t + seconds(1));
  EXPECT_EQ(rig.controller.alarms().at("meter:tm").reason, "out-of-range");
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast);
}

TEST(Controller, AFrozenMeterIsFoundWhenTheChargersBelowItMove) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plug("p2", t);
  rig.plan(t, {{"p1", {7.0}}, {"p2", {7.0}}}, true);
  // The same 12 kW for a minute while nothing below moves: a quiet evening, believed.
  for (int s = 0; s <= 70; ++s) rig.meter("tm", 12, t + seconds(s));
  rig.step(t + seconds(70));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::meter);
  // The cars start (14 kW) and the reading does not move for 60 s: frozen.
  const TimePoint t2 = t + seconds(71);
  rig.car("p1", drivers::ChargerState::charging, 7000, t2);
  rig.car("p2", drivers::ChargerState::charging, 7000, t2);
  for (int s = 0; s < 59; ++s) rig.meter("tm", 26.5, t2 + seconds(s));
  rig.step(t2 + seconds(58));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::meter) << "26.5 is a new value: 58 s unchanged so far";
  rig.car("p2", drivers::ChargerState::charging, 0, t2 + seconds(59));
  rig.meter("tm", 26.5, t2 + seconds(59));
  rig.meter("tm", 26.5, t2 + seconds(60));
  const auto out = rig.step(t2 + seconds(60));
  ASSERT_TRUE(rig.controller.alarms().count("meter:tm"));
  EXPECT_EQ(rig.controller.alarms().at("meter:tm").reason, "stuck");
  EXPECT_THAT(rig.controller.alarms().at("meter:tm").message, HasSubstr("unchanged for 60 s"));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast);
  EXPECT_EQ(events_of(out, "meter:tm", "suspect"), 1);
}

TEST(Controller, ATransformerReadingBelowTheChargersIsNotBelieved) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plug("p2", t);
  rig.plan(t, {{"p1", {7.0}}, {"p2", {7.0}}}, true);
  rig.car("p1", drivers::ChargerState::charging, 7000, t);
  rig.car("p2", drivers::ChargerState::charging, 7000, t);
  // 14 kW charging, the meter shows 6 kW: a car that just started is fine for a few samples
  // (meter and piles are read at different moments), 5 s of it is a fault.
  for (int s = 0; s < 5; ++s) rig.meter("tm", 6, t + seconds(s));
  rig.step(t + seconds(4));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::meter);
  rig.meter("tm", 6, t + seconds(5));
  rig.step(t + seconds(5));
  EXPECT_EQ(rig.controller.alarms().at("meter:tm").reason, "below-chargers");
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast);
}

// Meter checks judge samples on the monotonic clock; any origin will do.
constexpr MonoPoint kMono0 = MonoPoint{} + std::chrono::hours(24);

TEST(Controller, MeterCheckLimitsFollowTheRatingV2gAndPv) {
  std::string text = kSite;
  text.replace(text.find("limit_kw = 30\n"), 14, "limit_kw = 30\nrated_kva = 40\npv_peak_kw = 20\n");
  text += "\n[[charger]]\nid = \"v2g\"\nkind = \"shared\"\nphase = \"ABC\"\nnode = \"f1\"\nmax_power_kw = 11\nbidirectional = true\n";
  const Config config = parse_config(text, "v2g.toml");
  const auto tx = meter_check_limits(config, "tx", 1.0);
  EXPECT_DOUBLE_EQ(tx.range_kw, 60) << "1.5 x rated_kva";
  EXPECT_DOUBLE_EQ(tx.export_allowed_kw, 1 + 20 + 11) << "tolerance + PV + the V2G pile";
  const auto f1 = meter_check_limits(config, "f1", 1.0);
  EXPECT_DOUBLE_EQ(f1.range_kw, 15);
  EXPECT_DOUBLE_EQ(f1.export_allowed_kw, 1 + 11) << "no PV on a feeder";
  EXPECT_EQ(meter_check_limits(config, "tx", 60.0).stuck_after, seconds(3600)) << "real seconds at demo speed";

  MeterCheck check(tx);
  EXPECT_TRUE(check.add(kMono0, -31, 0).plausible);
  EXPECT_EQ(check.add(kMono0 + seconds(1), -33, 0).fault, MeterFault::negative);
  EXPECT_STREQ(to_string(MeterFault::below_chargers), "below-chargers");
}

TEST(MeterCheck, EachRuleOnItsOwnSamples) {
  MeterCheckLimits l;
  l.range_kw = 100;
  l.export_allowed_kw = 1;
  l.stuck_after = seconds(60);
  l.stuck_charger_change_kw = 3;
  l.below_chargers_kw = 2;
  l.below_chargers_confirm = seconds(5);
  l.recover_after = seconds(10);
  const MonoPoint t = kMono0;

  MeterCheck below(l);
  for (int s = 0; s < 4; ++s) EXPECT_TRUE(below.add(t + seconds(s), 5, 10).plausible);
  EXPECT_TRUE(below.add(t + seconds(4), 9, 10).plausible) << "within the tolerance: the count starts again";
  for (int s = 5; s < 10; ++s) EXPECT_TRUE(below.add(t + seconds(s), 5, 10).plausible) << s;
  EXPECT_EQ(below.add(t + seconds(10), 5, 10).fault, MeterFault::below_chargers);
  // Once implausible, 10 s of plausible samples before it is believed again.
  for (int s = 11; s < 21; ++s) EXPECT_FALSE(below.add(t + seconds(s), 12, 10).plausible) << s;
  EXPECT_TRUE(below.add(t + seconds(21), 12, 10).plausible);

  MeterCheck quiet(l);
  for (int s = 0; s <= 600; s += 10) EXPECT_TRUE(quiet.add(t + seconds(s), 40, 12 + (s % 20 == 0 ? 1 : 0)).plausible)
      << "unchanged while the chargers move less than 3 kW: believed";
  MeterCheck frozen(l);
  for (int s = 0; s < 60; ++s) EXPECT_TRUE(frozen.add(t + seconds(s), 40, s < 30 ? 12 : 20).plausible) << s;
  EXPECT_EQ(frozen.add(t + seconds(60), 40, 20).fault, MeterFault::stuck);
  EXPECT_EQ(frozen.add(t + seconds(61), 40, 20).fault, MeterFault::stuck) << "still the same value";

  MeterCheck range(l);
  EXPECT_EQ(range.add(t, 101, 0).fault, MeterFault::out_of_range);
  EXPECT_EQ(range.add(t + seconds(1), -1.5, 0).fault, MeterFault::negative);
  EXPECT_THAT(range.verdict().reason, HasSubstr("reads -1.5 kW"));
}

TEST(Controller, AnUnmeteredFeederCarriesItsAssumedLoad) {
  std::string text = kSite;
  text.replace(text.find("id = \"f1\"\nlimit_kw = 10\n"), 24,
               "id = \"f1\"\nlimit_kw = 10\n\n[[capacity]]\nid = \"f2\"\nlimit_kw = 12\nassumed_load_kw = 5\n"
               "\n[[capacity]]\nid = \"f3\"\nlimit_kw = 15\n");
  text += "\n[[charger]]\nid = \"p4\"\nkind = \"private\"\nhousehold = \"1-104\"\nphase = \"A\"\nnode = \"f2\"\nmax_power_kw = 7\n";
  text += "\n[[charger]]\nid = \"p5\"\nkind = \"private\"\nhousehold = \"1-105\"\nphase = \"B\"\nnode = \"f3\"\nmax_power_kw = 7\n";
  Rig rig(text);
  EXPECT_THAT(rig.config_.warnings, ::testing::Contains(HasSubstr("'f3': no feeder [[meter]]")));
  EXPECT_THAT(rig.config_.warnings, ::testing::Not(::testing::Contains(HasSubstr("'f2'"))));
  const TimePoint t = local(5, 20, 0);
  rig.plug("p4", t);
  rig.plug("p5", t);
  rig.plan(t, {{"p4", {7.0}}, {"p5", {7.0}}}, true);
  rig.meter("tm", 19, t);
  const auto out = rig.step(t);
  // f2: 12 - 2 margin - 5 assumed = 5 kW. f3: 15 - 2 - (15/30 of the 19 kW base) = 3.5 kW.
  ASSERT_NE(Rig::command(out, "p4"), nullptr);
  EXPECT_LE(Rig::command(out, "p4")->limit.power_w, 5000 + 1);
  EXPECT_GE(Rig::command(out, "p4")->limit.power_w, 5000 - 1);
  ASSERT_NE(Rig::command(out, "p5"), nullptr);
  EXPECT_LE(Rig::command(out, "p5")->limit.power_w, 3500 + 1);
  EXPECT_GE(Rig::command(out, "p5")->limit.power_w, 3500 - 1);
}

TEST(Controller, AnImplausibleFeederMeterLeavesItsNodeOnTheAssumedLoad) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p3", t);
  rig.plan(t, {{"p3", {7.0}}}, true);
  rig.meter("tm", 12, t);
  rig.meter("fm", -20, t);  // f1 has no V2G pile: a reversed CT
  const auto out = rig.step(t);
  EXPECT_EQ(rig.controller.alarms().at("meter:fm").reason, "negative");
  EXPECT_THAT(rig.controller.alarms().at("meter:fm").message, HasSubstr("node f1 is counted at its assumed load"));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::meter) << "a feeder meter does not stop the transformer's";
  // 10 - 2 - 10/30 x 12 = 4 kW for p3.
  ASSERT_NE(Rig::command(out, "p3"), nullptr);
  EXPECT_NEAR(Rig::command(out, "p3")->limit.power_w, 4000, 1.5);
}

TEST(Controller, WhenLimitsCannotHoldTheOthersArePausedAndThePilesAtFaultNamed) {
  std::string text = kSite +
                     "\n[[charger]]\nid = \"p4\"\nkind = \"private\"\nhousehold = \"1-104\"\nphase = \"A\"\nnode = \"f1\"\n"
                     "max_power_kw = 7\n";
  Rig rig(text);
  const TimePoint t = local(5, 20, 0);
  rig.plug("p3", t);
  rig.plug("p4", t);
  rig.plan(t, {{"p3", {2.0}}, {"p4", {2.0}}});
  rig.meter("tm", 12, t);
  rig.meter("fm", 3, t);
  auto out = rig.step(t);
  ASSERT_EQ(Rig::command(out, "p3")->limit.power_w, 2000);
  ASSERT_EQ(Rig::command(out, "p4")->limit.power_w, 2000);

  // p3 takes 7 kW whatever it is told: f1 carries 3 + 7 = 10 kW fixed, over its 8 kW.
  rig.car("p3", drivers::ChargerState::charging, 2000, t);
  for (int s = 6; s <= 8; ++s) rig.car("p3", drivers::ChargerState::charging, 7000, t + seconds(s));
  ASSERT_TRUE(rig.controller.chargers().at("p3").not_following);
  const TimePoint t2 = t + seconds(9);
  rig.meter("fm", 10, t2);
  rig.meter("tm", 19, t2);
  out = rig.step(t2);
  ASSERT_TRUE(rig.controller.alarms().count("node:f1"));
  const Alarm& a = rig.controller.alarms().at("node:f1");
  EXPECT_EQ(a.state, "limits-cannot-hold");
  EXPECT_EQ(a.level, "error");
  EXPECT_EQ(a.node_id, "f1");
  EXPECT_EQ(a.piles, std::vector<std::string>{"p3"});
  EXPECT_THAT(a.message, HasSubstr("p3 (not following, draws 7.0 kW)"));
  EXPECT_EQ(events_of(out, "node:f1", "limits-cannot-hold"), 1);
  ASSERT_NE(Rig::command(out, "p4"), nullptr);
  EXPECT_EQ(Rig::command(out, "p4")->limit.power_w, 0) << "the pile that can pause is paused";
  ASSERT_NE(Rig::command(out, "p3"), nullptr) << "the one at fault is told to stop";
  EXPECT_EQ(Rig::command(out, "p3")->limit.power_w, 0);
  EXPECT_EQ(Rig::command(out, "p3")->reason, LimitReason::cut);
  EXPECT_FALSE(rig.controller.alarms().count("node:tx")) << "the transformer still holds";

  // p3 stops: it follows again, the limits hold, the alarm ends.
  rig.car("p3", drivers::ChargerState::charging, 0, t2 + seconds(1));
  EXPECT_FALSE(rig.controller.chargers().at("p3").not_following);
  rig.meter("fm", 3, t2 + seconds(1));
  rig.meter("tm", 12, t2 + seconds(1));
  out = rig.step(t2 + seconds(1));
  EXPECT_FALSE(rig.controller.alarms().count("node:f1"));
  EXPECT_EQ(events_of(out, "node:f1", "ok"), 1);
}

TEST(Controller, WhenOnlyOneCarFitsAtItsMinimumThePauseRotates) {
  Rig rig;
  const TimePoint t0 = local(5, 20, 0);
  rig.plug("p1", t0);
  rig.plug("p2", t0);
  rig.plan(t0, {{"p1", std::vector<double>(32, 7.0)}, {"p2", std::vector<double>(32, 7.0)}});
  // 30 - 2 margin - 25.5 base leaves 2.5 kW: one car at 6 A (1.38 kW), not two.
  constexpr double kBaseKw = 25.5;
  std::map<std::string, double> limit_w{{"p1", 0}, {"p2", 0}};
  std::map<std::string, int> paused_steps{{"p1", 0}, {"p2", 0}};
  std::string paused_before;
  std::vector<int> turn_changes_at_s;
  for (int s = 0; s <= 30 * 60; s += 30) {
    const TimePoint now = t0 + seconds(s);
    // The cars draw what they were last allowed; the meter sees the base plus the cars.
    double cars_kw = 0;
    for (const auto& [id, w] : limit_w) {
      rig.car(id, drivers::ChargerState::charging, w, now);
      cars_kw += w / 1000.0;
    }
    rig.meter("tm", kBaseKw + cars_kw, now);
    const auto out = rig.step(now);
    for (const auto& c : out.commands) limit_w[c.charger_id] = c.limit.power_w;
    ASSERT_LE(limit_w["p1"] + limit_w["p2"], 2500 + 1) << "at " << s << " s";
    std::string paused;
    for (const auto& [id, w] : limit_w)
      if (w == 0) {
        paused = id;
        ++paused_steps[id];
      }
    ASSERT_FALSE(paused.empty()) << "one of the two must pause at " << s << " s";
    ASSERT_TRUE(limit_w["p1"] > 0 || limit_w["p2"] > 0) << "one of the two charges at " << s << " s";
    if (!paused_before.empty() && paused != paused_before) turn_changes_at_s.push_back(s);
    paused_before = paused;
  }
  // Turns of 5 minutes: the pause moves at 5, 10, ... 30 minutes, never sooner.
  ASSERT_GE(turn_changes_at_s.size(), 5u);
  for (std::size_t k = 1; k < turn_changes_at_s.size(); ++k)
    EXPECT_GE(turn_changes_at_s[k] - turn_changes_at_s[k - 1], 5 * 60);
  EXPECT_GE(paused_steps["p1"], 25) << "both take turns, not the last listed only";
  EXPECT_GE(paused_steps["p2"], 25);
}

TEST(Controller, OfflinePilesCountedAtTheirMaximumCanBreakALimit) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.controller.attach_driver("p3", drivers::Capabilities{});  // declares no failsafe
  rig.online("p3", t, false);
  rig.meter("tm", 12, t);
  rig.meter("fm", 3, t);
  rig.step(t);
  // f1: 3 kW non-EV + p3 at its 7 kW maximum = 10 > 8.
  ASSERT_TRUE(rig.controller.alarms().count("node:f1"));
  EXPECT_EQ(rig.controller.alarms().at("node:f1").piles, std::vector<std::string>{"p3"});
  EXPECT_THAT(rig.controller.alarms().at("node:f1").message, HasSubstr("p3 (offline, counted at 7.0 kW)"));
}

TEST(Controller, APileThatIgnoresItsLimitIsCountedAtItsPowerAndTheOthersCut) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plug("p2", t);
  rig.plan(t, {{"p1", {4.0}}, {"p2", {7.0}}});
  rig.meter("tm", 10, t);
  auto out = rig.step(t);
  ASSERT_EQ(Rig::command(out, "p1")->limit.power_w, 4000);
  ASSERT_EQ(Rig::command(out, "p2")->limit.power_w, 7000);
  EXPECT_TRUE(rig.car("p1", drivers::ChargerState::charging, 4000, t)) << "a state change asks for a step";

  // Within the 5 s a car has to follow (IEC 61851-1), drawing more is not judged.
  EXPECT_FALSE(rig.car("p1", drivers::ChargerState::charging, 7000, t + seconds(3)));
  // After the grace, 2 s over the limit (more than max(300 W, 10 %)) confirms it.
  EXPECT_FALSE(rig.car("p1", drivers::ChargerState::charging, 7000, t + seconds(6)));
  EXPECT_TRUE(rig.car("p1", drivers::ChargerState::charging, 7000, t + seconds(8)));
  EXPECT_TRUE(rig.controller.chargers().at("p1").not_following);

  // Counted at its 7 kW: 30 - 2 - 10 base - 7 leaves 11 kW for p2's planned 7: still fits. With the
  // base at 17 kW only 4 kW are left for p2.
  const TimePoint t2 = t + seconds(9);
  rig.car("p2", drivers::ChargerState::charging, 7000, t2);
  rig.meter("tm", 17 + 7 + 7, t2);
  out = rig.step(t2);
  EXPECT_TRUE(rig.last_due.contains(ReplanReason::not_following));
  ASSERT_NE(Rig::command(out, "p2"), nullptr);
  EXPECT_LE(Rig::command(out, "p2")->limit.power_w, 4000 + 1);
  EXPECT_EQ(Rig::command(out, "p1"), nullptr) << "no new target for a pile that ignores it";
  bool warned = false;
  for (const auto& e : out.events) warned = warned || (e.level == "warn" && e.source == "charger:p1");
  EXPECT_TRUE(warned);

  // It follows again: judged at once, and planned for again.
  EXPECT_TRUE(rig.car("p1", drivers::ChargerState::charging, 3900, t2 + seconds(1)));
  EXPECT_FALSE(rig.controller.chargers().at("p1").not_following);
}

TEST(Controller, ADemandResponseWindowLowersTheLimitAtOnceAndIsPlannedForAtItsEdges) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {7.0, 7.0, 7.0, 7.0, 7.0, 7.0}}}, true);
  rig.car("p1", drivers::ChargerState::charging, 7000, t);
  rig.meter("tm", 12, t);
  EXPECT_EQ(Rig::command(rig.step(t), "p1")->limit.power_w, 7000);

  // From now for an hour the site may draw 12 kW: 12 - 2 margin - 5 base leaves 5 kW.
  rig.controller.dr_book().add({"dr-1", t, t + hours(1), 12, "platform"});
  EXPECT_EQ(rig.controller.transformer_limit_kw(t), 12);
  auto out = rig.step(t + seconds(1));
  EXPECT_TRUE(rig.last_due.contains(ReplanReason::dr_event)) << rig.last_due.to_string();
  EXPECT_LE(Rig::command(out, "p1")->limit.power_w, 5000 + 1);

  // One that starts later is planned for when it starts, and dropped when it ends.
  rig.controller.dr_book().add({"dr-2", t + minutes(30), t + minutes(40), 20, "operator"});
  rig.meter("tm", 10, t + minutes(30));
  out = rig.step(t + minutes(30));
  EXPECT_TRUE(rig.last_due.contains(ReplanReason::dr_event));
  rig.meter("tm", 10, t + minutes(41));
  out = rig.step(t + minutes(41));
  EXPECT_TRUE(rig.last_due.contains(ReplanReason::dr_event));
  bool ended = false;
  for (const auto& e : out.events) ended = ended || (e.source == "dr:dr-2" && e.message == "ended");
  EXPECT_TRUE(ended);
  ASSERT_EQ(rig.controller.dr_book().events().size(), 1u);
  EXPECT_EQ(rig.controller.dr_book().events()[0].id, "dr-1");
  EXPECT_THROW(rig.controller.dr_book().add({"", t, t + hours(1), 10, ""}), std::invalid_argument);
  EXPECT_THROW(rig.controller.dr_book().add({"x", t, t, 10, ""}), std::invalid_argument);
  EXPECT_THROW(rig.controller.dr_book().add({"x", t, t + hours(1), 0, ""}), std::invalid_argument);
}

TEST(Controller, AFeederMeterHoldsItsNode) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p3", t);
  rig.plan(t, {{"p3", {7.0}}}, true);
  rig.meter("tm", 10, t);
  EXPECT_FALSE(rig.meter("fm", 5, t)) << "a feeder reading waits for the next step";
  // f1 may carry 10 - 2 = 8 kW; its meter shows 5 kW of other load: 3 kW are left for p3.
  const auto out = rig.step(t);
  ASSERT_NE(Rig::command(out, "p3"), nullptr);
  EXPECT_LE(Rig::command(out, "p3")->limit.power_w, 3000 + 1);
  EXPECT_EQ(Rig::command(out, "p3")->reason, LimitReason::cut);
}

TEST(Controller, CarsWithoutAPlanEntryShareWhatThePlannedOnesLeave) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plug("p2", t);
  rig.plan(t, {{"p1", {10.0}}});  // p2 plugged in after the plan
  rig.meter("tm", 12, t);
  const auto out = rig.step(t);
  // 30 - 2 - 12 base = 16 kW; p1's ceiling is its 7 kW maximum, p2 shares the 9 kW left.
  EXPECT_EQ(Rig::command(out, "p1")->limit.power_w, 7000);
  EXPECT_EQ(Rig::command(out, "p2")->limit.power_w, 7000);
  EXPECT_EQ(Rig::command(out, "p2")->reason, LimitReason::share);
}

TEST(Controller, UnreachablePilesAreCountedAtTheirFailsafeOrMaximum) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.online("p2", t, false);
  auto input = rig.controller.planning_input(rig.at(t), {});
  EXPECT_NEAR(input.reserved_kw.at("p2"), power_w_at_nominal(6, 1) / 1000.0, 1e-9) << "failsafe 6 A";
  EXPECT_FALSE(input.reserved_kw.count("p1"));
  EXPECT_FALSE(input.measured_base_kw.has_value()) << "no meter yet";

  // A pile whose driver declares no failsafe keeps drawing what it may: its maximum.
  Rig plain;
  plain.controller.attach_driver("p2", drivers::Capabilities{});
  plain.online("p2", t, false);
  input = plain.controller.planning_input(plain.at(t), {});
  EXPECT_NEAR(input.reserved_kw.at("p2"), 7.0, 1e-9);

  // One the gateway has never heard from is offline too.
  Config config = parse_config(kSite, "controller_test.toml");
  Controller fresh(config, 1.0);
  drivers::Capabilities failsafe;
  failsafe.failsafe = true;
  fresh.attach_driver("p3", failsafe);
  input = fresh.planning_input(rig.at(t), {});
  EXPECT_NEAR(input.reserved_kw.at("p3"), power_w_at_nominal(6, 1) / 1000.0, 1e-9);
  EXPECT_NEAR(input.reserved_kw.at("p1"), 7.0, 1e-9) << "no driver at all: its maximum";

  // Going offline is an event, and forgets the limit the pile had: it is sent again on return.
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {3.0}}});
  rig.meter("tm", 10, t);
  ASSERT_NE(Rig::command(rig.step(t), "p1"), nullptr);
  rig.online("p1", t + seconds(1), false);
  EXPECT_EQ(rig.controller.chargers().at("p1").setpoint_w, -1);
  const auto out = rig.step(t + seconds(1));
  EXPECT_TRUE(rig.last_due.contains(ReplanReason::device));
  ASSERT_FALSE(out.events.empty());
  EXPECT_EQ(out.events.back().source, "device:p1");
  EXPECT_FALSE(out.events.back().journal) << "the driver logged it";
  rig.online("p1", t + seconds(2));
  rig.meter("tm", 10, t + seconds(2));
  EXPECT_EQ(Rig::command(rig.step(t + seconds(2)), "p1")->limit.power_w, 3000);
}

TEST(Controller, SlotBoundaryAndTariffEdgeAreDue) {
  Rig rig;
  const TimePoint t = local(5, 22, 50);
  EXPECT_TRUE(rig.controller.due_replans(rig.at(t)).contains(ReplanReason::slot)) << "no plan yet";
  rig.plan(t, {});
  EXPECT_TRUE(rig.controller.due_replans(rig.at(t + minutes(5))).empty());
  const auto due = rig.controller.due_replans(rig.at(local(5, 23, 0)));  // peak -> valley, and a new slot
  EXPECT_TRUE(due.contains(ReplanReason::slot));
  EXPECT_TRUE(due.contains(ReplanReason::tariff));
  EXPECT_EQ(due.to_string(), "slot,tariff");
}

TEST(Controller, ASlowPlannerHoldsEventReplansUntilTheNextSlot) {
  Rig rig;
  const TimePoint t = local(5, 20, 5);
  rig.controller.due_replans(rig.at(t));
  rig.plan(t, {});
  ActivePlan slow = *rig.controller.plan();
  rig.controller.set_plan(std::move(slow), seconds(3));
  rig.controller.request_replan(ReplanReason::request, rig.at(t));
  EXPECT_TRUE(rig.controller.due_replans(rig.at(t + minutes(1))).empty());
  const auto out = rig.controller.limit(rig.at(t + minutes(1)));
  ASSERT_FALSE(out.events.empty());
  EXPECT_THAT(out.events.back().message, HasSubstr("planner took 3000 ms"));
  rig.controller.request_replan(ReplanReason::request, rig.at(local(5, 20, 15)));
  const auto due = rig.controller.due_replans(rig.at(local(5, 20, 15)));
  EXPECT_TRUE(due.contains(ReplanReason::slot));
  EXPECT_TRUE(due.contains(ReplanReason::request)) << "held only until the next slot";
}

TEST(Controller, UnchangedLimitsAreResentBeforeHalfTheirValidity) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {3.0}}});
  rig.meter("tm", 10, t);
  const auto first = Rig::command(rig.step(t), "p1")->limit;
  rig.meter("tm", 10, t + seconds(10));
  EXPECT_EQ(Rig::command(rig.step(t + seconds(10)), "p1"), nullptr) << "unchanged: not sent again yet";
  rig.meter("tm", 10, t + seconds(30));
  const auto out = rig.step(t + seconds(30));
  const auto* again = Rig::command(out, "p1");
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->limit.power_w, first.power_w);
  EXPECT_EQ(again->limit.seq, first.seq + 1);
  EXPECT_EQ(again->reason, LimitReason::keep_alive);
}

TEST(Controller, ReplanReasonsReadAsTheyAreStored) {
  ReplanReasons r;
  EXPECT_TRUE(r.empty());
  r.add(ReplanReason::request);
  r.add(ReplanReason::plug_in);
  r.add(ReplanReason::request);
  EXPECT_EQ(r.to_string(), "plug-in,request");
  ReplanReasons more;
  more.add(ReplanReason::not_following);
  r.add(more);
  EXPECT_EQ(r.to_string(), "plug-in,request,not-following");
  EXPECT_STREQ(to_string(ReplanReason::dr_event), "dr-event");
  r.add(ReplanReason::clock_step);
  EXPECT_EQ(r.to_string(), "plug-in,request,not-following,clock-step");
}

// ---- wall clock steps: ages, graces and keep-alives run on the monotonic clock ----------------

constexpr auto kThreeYears = days(3 * 365);

TEST(ControllerClockStep, AWallStepBackDoesNotMakeASilentMeterLookFresh) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {5.0, 5.0}}});
  rig.meter("tm", 10, t);
  ASSERT_EQ(Rig::command(rig.step(t), "p1")->limit.power_w, 5000);

  // NTP corrects the clock back by an hour; the gateway plans on the new time. The meter has
  // gone silent: on the wall clock its last reading now lies an hour in the future.
  rig.wall_step = -hours(1);
  rig.plan(t + seconds(1) + rig.wall_step, {{"p1", {5.0, 5.0}}});
  EXPECT_TRUE(rig.controller.meter_fresh(rig.at(t + seconds(10)).mono));
  EXPECT_FALSE(rig.controller.meter_fresh(rig.at(t + seconds(11)).mono)) << "11 s without a reading";
  rig.step(t + seconds(11));
  EXPECT_EQ(rig.controller.load_source(), LoadSource::forecast) << "a stale meter is not believed";
  ASSERT_TRUE(rig.controller.alarms().count("meter:tm"));
  EXPECT_EQ(rig.controller.alarms().at("meter:tm").reason, "silent");
  // ... and after meter_fallback_s on the forecast, the failsafe takes the headroom away.
  const auto out = rig.step(t + seconds(11 + 900));
  const auto* cmd = Rig::command(out, "p1");
  ASSERT_NE(cmd, nullptr) << "a stale meter must take the headroom away";
  EXPECT_EQ(cmd->limit.power_w, 0);
  EXPECT_EQ(cmd->reason, LimitReason::no_meter);
}

TEST(ControllerClockStep, AWallStepForwardNeitherStalesTheMeterNorCutsCharging) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plug("p3", t);
  rig.plan(t, {{"p1", {5.0, 5.0}}, {"p3", {4.0, 4.0}}});
  rig.meter("tm", 10, t);
  rig.meter("fm", 2, t);
  auto out = rig.step(t);
  ASSERT_EQ(Rig::command(out, "p1")->limit.power_w, 5000);
  ASSERT_EQ(Rig::command(out, "p3")->limit.power_w, 4000);

  // An RTC fault: three years ahead. Readings a second old are a second old.
  rig.wall_step = kThreeYears;
  rig.plan(t + seconds(1) + rig.wall_step, {{"p1", {5.0, 5.0}}, {"p3", {4.0, 4.0}}});
  EXPECT_TRUE(rig.controller.meter_fresh(rig.at(t + seconds(1)).mono));
  out = rig.step(t + seconds(1));
  for (const auto& c : out.commands) {
    EXPECT_NE(c.reason, LimitReason::no_meter) << c.charger_id;
    EXPECT_NE(c.reason, LimitReason::cut) << c.charger_id << " cut by a clock step";
    EXPECT_GT(c.limit.power_w, 0) << c.charger_id;
  }
  EXPECT_EQ(rig.controller.chargers().at("p1").setpoint_w, 5000);
  EXPECT_EQ(rig.controller.chargers().at("p3").setpoint_w, 4000) << "the feeder reading is still fresh";

  // A car that has not yet ramped down to a limit sent a second ago is still inside its 5 s
  // grace, whatever the wall clock says.
  rig.car("p1", drivers::ChargerState::charging, 7000, t + seconds(1));
  rig.car("p1", drivers::ChargerState::charging, 7000, t + seconds(4));
  EXPECT_FALSE(rig.controller.chargers().at("p1").not_following);
}

TEST(ControllerClockStep, KeepAlivesKeepTheirPeriodAcrossSteps) {
  Rig rig;
  const TimePoint t = local(5, 20, 0);
  rig.plug("p1", t);
  rig.plan(t, {{"p1", {3.0, 3.0, 3.0}}});
  rig.meter("tm", 10, t);
  const auto first = Rig::command(rig.step(t), "p1")->limit;
  auto step_at = [&](TimePoint true_time) {
    rig.meter("tm", 10, true_time);
    return rig.step(true_time);
  };

  // Back an hour: the re-send still comes 30 s (half the 60 s validity) after the first send,
  // not an hour and a half later, when the pile would long have fallen back to its failsafe.
  rig.wall_step = -hours(1);
  rig.plan(t + seconds(1) + rig.wall_step, {{"p1", {3.0, 3.0, 3.0}}});
  EXPECT_EQ(Rig::command(step_at(t + seconds(29)), "p1"), nullptr);
  auto out = step_at(t + seconds(30));
  const auto* again = Rig::command(out, "p1");
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->reason, LimitReason::keep_alive);
  EXPECT_EQ(again->limit.seq, first.seq + 1);

  // Forward three years: no flurry of re-sends, the next one 30 s after the last.
  rig.wall_step += kThreeYears;
  rig.plan(t + seconds(31) + rig.wall_step, {{"p1", {3.0, 3.0, 3.0}}});
  EXPECT_EQ(Rig::command(step_at(t + seconds(31)), "p1"), nullptr);
  EXPECT_EQ(Rig::command(step_at(t + seconds(59)), "p1"), nullptr);
  out = step_at(t + seconds(60));
  again = Rig::command(out, "p1");
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->reason, LimitReason::keep_alive);
  EXPECT_EQ(again->limit.seq, first.seq + 2);
}

// ---- phases ---------------------------------------------------------------------------------

// A phase-A limit the total never reaches: three phase-A piles and a three-phase pile.
const std::string kPhaseSite = R"(
[site]
name = "Phase test"
[site.transformer]
id = "tx"
limit_kw = 100
phase_a_limit_kw = 20

)" + testing::kSimpleTariff + R"(

[control]
safety_margin_kw = 2

[[meter]]
id = "tm"
role = "transformer"

[[charger]]
id = "a1"
kind = "private"
household = "1-101"
phase = "A"
max_power_kw = 7

[[charger]]
id = "a2"
kind = "private"
household = "1-102"
phase = "A"
max_power_kw = 7

[[charger]]
id = "a3"
kind = "private"
household = "1-103"
phase = "A"
max_power_kw = 7

[[charger]]
id = "t1"
kind = "shared"
phase = "ABC"
max_power_kw = 11
)";

TEST(ControllerPhases, PilesOnOnePhaseAreCutToThatPhasesHeadroom) {
  Rig rig(kPhaseSite);
  const TimePoint t = local(5, 20, 0);
  for (const char* id : {"a1", "a2", "a3"}) rig.plug(id, t);
  rig.plan(t, {{"a1", {7.0}}, {"a2", {7.0}}, {"a3", {7.0}}}, /*asap=*/true);
  // 4 kW of non-EV load on A (the per-phase meter says so): 20 - 2 - 4 = 14 kW for three cars.
  rig.meter_phases("tm", {4, 3, 3}, t);
  const auto out = rig.step(t);
  double on_a = 0;
  for (const char* id : {"a1", "a2", "a3"}) {
    ASSERT_NE(Rig::command(out, id), nullptr) << id;
    on_a += Rig::command(out, id)->limit.power_w;
  }
  EXPECT_LE(on_a, 14'000 + 1);
  EXPECT_GE(on_a, 14'000 - 3 * 50) << "the phase's headroom is used";
  // The total (100 kW) was never the constraint.
  EXPECT_LT(on_a + 10'000, 98'000);
}

TEST(ControllerPhases, ThreePhasePileIsReplannedWhenItsCurrentsShowTheCarsPhase) {
  Rig rig(kPhaseSite, /*measures_phase_currents=*/true);
  const TimePoint t = local(5, 20, 0);
  rig.plug("t1", t);
  EXPECT_EQ(rig.controller.chargers().at("t1").phases(), scheduler::PhaseSet::any_one)
      << "before it draws, a single-phase car could be on any phase";
  drivers::ChargerSnapshot s;
  s.at = t + seconds(5);
  s.state = drivers::ChargerState::charging;
  s.power_w = 3680;
  s.current_a = {0.0, 16.0, 0.0};
  EXPECT_TRUE(rig.controller.on_charger_snapshot("t1", s, rig.at(s.at))) << "the phase it shows asks for a step";
  EXPECT_EQ(rig.controller.chargers().at("t1").phases(), scheduler::PhaseSet::b);
  EXPECT_TRUE(rig.controller.due_replans(rig.at(s.at)).contains(ReplanReason::phases));
  // Unplugged: the next car may use another phase.
  s.state = drivers::ChargerState::unplugged;
  s.current_a = {0.0, 0.0, 0.0};
  rig.controller.on_charger_snapshot("t1", s, rig.at(s.at + seconds(1)));
  EXPECT_EQ(rig.controller.chargers().at("t1").phases(), scheduler::PhaseSet::any_one);
}

}  // namespace
}  // namespace orderly::gateway
