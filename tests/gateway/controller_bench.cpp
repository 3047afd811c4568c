// What one control step costs the core thread: Controller::limit for a community of N piles, all
// plugged in under a plan (a meter sample's reaction), and one charger snapshot folded in (the
// not-following judgement every report gets).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "config_text.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/controller.hpp"

namespace {

using namespace std::chrono;
using namespace orderly;
using namespace orderly::gateway;

Config community(int piles) {
  std::string text = testing::kMinimalSite + "[[meter]]\nid = \"tm\"\nrole = \"transformer\"\n" + testing::kSimpleTariff;
  const char* phases[] = {"A", "B", "C"};
  for (int i = 0; i < piles; ++i) {
    text += "[[charger]]\nid = \"p" + std::to_string(i) + "\"\nkind = \"private\"\nhousehold = \"h" +
            std::to_string(i) + "\"\nphase = \"" + phases[i % 3] + "\"\nmax_power_kw = 7\n";
  }
  text.replace(text.find("limit_kw = 100"), 14, "limit_kw = " + std::to_string(piles * 4));
  return parse_config(text, "bench.toml");
}

drivers::ChargerSnapshot charging(TimePoint at, double power_w) {
  drivers::ChargerSnapshot s;
  s.at = at;
  s.state = drivers::ChargerState::charging;
  s.power_w = power_w;
  return s;
}

// Every pile online and charging at its planned 3 kW, the meter fresh.
struct Site {
  explicit Site(int piles) : config(community(piles)), controller(config, 1.0) {
    drivers::Capabilities declared;
    declared.failsafe = true;
    drivers::Health online;
    online.online = true;
    ActivePlan plan;
    plan.grid = make_slot_grid(now.wall, minutes(15), hours(8), std::nullopt);
    plan.algorithm = "optimal";
    for (const auto& c : config.chargers) {
      controller.attach_driver(c.id, declared);
      controller.on_health(c.id, online, now);
      controller.on_charger_snapshot(c.id, charging(now.wall, 3000), now);
      plan.chargers[c.id] = ChargerPlan{c.id + "-s", std::vector<double>(static_cast<std::size_t>(plan.grid.slots), 3.0), 7, false};
    }
    controller.set_plan(std::move(plan), milliseconds(1));
    controller.due_replans(now);
  }
  void meter(double kw) {
    drivers::MeterSnapshot m;
    m.at = now.wall;
    m.power_w = kw * 1000.0;
    controller.on_meter_snapshot("tm", m, now);
  }

  Instant now{sys_days(2026y / January / 5) + hours(12), MonoPoint{} + hours(24)};
  Config config;
  Controller controller;
};

void BM_ControllerLimitStep(benchmark::State& state) {
  const int piles = static_cast<int>(state.range(0));
  Site site(piles);
  std::size_t commands = 0;
  bool high = false;
  for (auto _ : state) {
    // Alternate the base load so every step really moves every limit (the worst case).
    site.now.wall += seconds(1);
    site.now.mono += seconds(1);
    high = !high;
    site.meter(piles * 3.0 + (high ? piles * 1.5 : 0.0));
    commands += site.controller.limit(site.now).commands.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["commands_per_step"] = static_cast<double>(commands) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ControllerLimitStep)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_ControllerChargerSnapshot(benchmark::State& state) {
  Site site(static_cast<int>(state.range(0)));
  const auto& ids = site.config.chargers;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& id = ids[i++ % ids.size()].id;
    benchmark::DoNotOptimize(site.controller.on_charger_snapshot(id, charging(site.now.wall, 3000), site.now));
  }
}
BENCHMARK(BM_ControllerChargerSnapshot)->Arg(1000)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
