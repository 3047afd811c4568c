// Speed of the pieces that run often: the real-time limiter (every second, on the event loop),
// the greedy baselines and the base-load forecast (every plan). `ctest -L bench` prints them.
#include <benchmark/benchmark.h>

#include <random>

#include "orderly/scheduler/baselines.hpp"
#include "orderly/scheduler/forecast.hpp"
#include "orderly/scheduler/limiter.hpp"

namespace orderly::scheduler {
namespace {

// A transformer, 3 phases, 4 feeders per phase; chargers spread over the feeders, all overloaded.
void BM_Limiter(benchmark::State& state) {
  const auto charger_count = static_cast<int>(state.range(0));
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<LimitNode> nodes(1);
  nodes[0].limit_kw = 630;
  nodes[0].measured_kw = 900;
  for (int phase = 0; phase < 3; ++phase) {
    LimitNode p;
    p.parent = 0;
    p.limit_kw = 210;
    nodes.push_back(p);
    const int phase_index = static_cast<int>(nodes.size()) - 1;
    for (int f = 0; f < 4; ++f) {
      LimitNode feeder;
      feeder.parent = phase_index;
      feeder.limit_kw = 60;
      nodes.push_back(feeder);
    }
  }
  std::vector<ChargerSetpoint> chargers(static_cast<std::size_t>(charger_count));
  for (auto& c : chargers) {
    c.node = 2 + static_cast<int>(rng() % 12) + static_cast<int>(rng() % 12) / 4;
    c.node = std::min(c.node, static_cast<int>(nodes.size()) - 1);
    c.max_kw = 7;
    c.min_kw = 1.4;
    c.setpoint_kw = 7;
    c.measured_kw = 7 * u(rng);
    c.responsive = u(rng) < 0.95;
  }
  for (auto _ : state) benchmark::DoNotOptimize(limit_setpoints(nodes, chargers));
}
BENCHMARK(BM_Limiter)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

Problem many_evs(int ev_count) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(0, 1);
  Problem p;
  p.slots = 96;
  CapacityNode root;
  root.id = "transformer";
  root.limit_kw.assign(96, 4000);
  root.base_load_kw.assign(96, 1500);
  p.nodes.push_back(root);
  p.price_per_kwh.assign(96, 0.6);
  p.period.assign(96, Period::flat);
  for (int i = 0; i < ev_count; ++i) {
    EvRequest ev;
    ev.id = "ev-" + std::to_string(i);
    ev.arrival_slot = static_cast<int>(20 + 16 * u(rng));
    ev.departure_slot = static_cast<int>(76 + 8 * u(rng));
    ev.energy_kwh = 8 + 22 * u(rng);
    ev.max_kw = 7;
    ev.min_kw = 1.4;
    p.evs.push_back(ev);
  }
  return p;
}

void BM_Edf(benchmark::State& state) {
  const auto p = many_evs(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(plan_edf(p));
}
BENCHMARK(BM_Edf)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_Llf(benchmark::State& state) {
  const auto p = many_evs(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(plan_llf(p));
}
BENCHMARK(BM_Llf)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_Forecast(benchmark::State& state) {
  std::vector<LoadSample> history;
  for (std::int64_t k = 0; k < 28 * 96; ++k) history.push_back({k, 200.0 + static_cast<double>(k % 96)});
  for (auto _ : state) benchmark::DoNotOptimize(forecast_base_load(history, 28 * 96, 96));
}
BENCHMARK(BM_Forecast)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace orderly::scheduler

BENCHMARK_MAIN();
