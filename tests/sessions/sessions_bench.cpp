// SessionBook on the core thread: one second of snapshots from N charging piles (each a new
// reading to settle), and active() as the planner asks for it.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/sessions.hpp"
#include "../gateway/config_text.hpp"

namespace {

using namespace std::chrono;
using namespace orderly;
using namespace orderly::gateway;

Config community(int piles) {
  std::string text = testing::kMinimal;
  for (int i = 0; i < piles; ++i) {
    text += "[[charger]]\nid = \"p" + std::to_string(i) + "\"\nkind = \"private\"\nhousehold = \"h" +
            std::to_string(i) + "\"\nphase = \"A\"\nmax_power_kw = 7\n";
  }
  return parse_config(text, "bench.toml");
}

drivers::ChargerSnapshot charging(double energy_wh) {
  drivers::ChargerSnapshot s;
  s.state = drivers::ChargerState::charging;
  s.power_w = 7000;
  s.session_energy_wh = energy_wh;
  return s;
}

void BM_SessionBookSecondOfSnapshots(benchmark::State& state) {
  const int piles = static_cast<int>(state.range(0));
  const Config config = community(piles);
  SessionBook book(config);
  TimePoint now = sys_days(2024y / July / 8) + hours(14);
  for (const auto& c : config.chargers) book.on_snapshot(c.id, charging(0), 7000, now);
  double energy = 0;
  std::size_t records = 0;
  for (auto _ : state) {
    now += seconds(1);
    energy += 7000.0 / 3600;
    for (const auto& c : config.chargers) records += book.on_snapshot(c.id, charging(energy), 7000, now).size();
  }
  state.SetItemsProcessed(state.iterations() * piles);
  state.counters["records_per_snapshot"] =
      static_cast<double>(records) / static_cast<double>(state.iterations() * piles);
}
BENCHMARK(BM_SessionBookSecondOfSnapshots)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_SessionBookActive(benchmark::State& state) {
  const Config config = community(static_cast<int>(state.range(0)));
  SessionBook book(config);
  const TimePoint now = sys_days(2024y / July / 8) + hours(14);
  for (const auto& c : config.chargers) book.on_snapshot(c.id, charging(0), 7000, now);
  for (auto _ : state) benchmark::DoNotOptimize(book.active(now));
}
BENCHMARK(BM_SessionBookActive)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
