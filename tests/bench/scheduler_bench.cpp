// The exact planner on realistic communities: evening arrivals and morning departures drawn
// from the Trondheim apartment-garage sessions (synthetic with the same shape when the data
// file is absent), ~7 kW piles, 5-40 kWh needs, a transformer limit that binds in the evening
// peak (lowered further by a demand-response event 18:00-20:00), valley tariff 23:00-07:00.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <utility>

#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"
#include "orderly/test/optimal_testkit.hpp"

namespace {

using orderly::scheduler::OptimalOptions;
using orderly::scheduler::Problem;

// ac_piles: every pile takes 0 or >= 6 A in whole amps (1.38 kW minimum, 0.23 kW steps), so
// the rounding and its repair have work to do; otherwise setpoints are continuous.
const Problem& instance(int evs, int slots, double tightness, bool ac_piles = false) {
  static std::map<std::pair<std::pair<int, int>, std::pair<double, bool>>, Problem> cache;
  auto key = std::make_pair(std::make_pair(evs, slots), std::make_pair(tightness, ac_piles));
  auto it = cache.find(key);
  if (it == cache.end()) {
    orderly::test::InstanceSpec s;
    s.evs = evs;
    s.slots = slots;
    s.use_trondheim = true;
    s.root_tightness = tightness;
    s.ac_rounding = ac_piles;
    it = cache.emplace(key, orderly::test::make_instance(s, 42)).first;
  }
  return it->second;
}

// Mixed phases: 60 % single-phase piles (A, B or C), of the three-phase rest 20 % charging a
// single-phase car on an unknown phase (counted on every phase); the transformer and two
// feeders with per-phase limits. binding: the phase limits cut into the evening and the flow's
// optimum breaks them (the exact phase LP decides); loose: they hold at the flow's optimum
// (the fast path, one flow solve plus the check).
const Problem& phase_instance(int evs, int slots, bool binding) {
  static std::map<std::pair<std::pair<int, int>, bool>, Problem> cache;
  const auto key = std::make_pair(std::make_pair(evs, slots), binding);
  auto it = cache.find(key);
  if (it == cache.end()) {
    orderly::test::InstanceSpec s;
    s.evs = evs;
    s.slots = slots;
    s.use_trondheim = true;
    s.root_tightness = 0.25;
    s.single_phase_share = 0.6;
    s.any_one_share = 0.2;
    s.phase_tightness = binding ? 1.0 : 3.0;
    s.feeder_phase_limits = true;
    it = cache.emplace(key, orderly::test::make_instance(s, 42)).first;
  }
  return it->second;
}

// Fits, but the transformer binds in the evening; the realistic daily case (one solve).
constexpr double kBinding = 0.25;
// Not everything fits: shares by priority and fairness, then cost (three solves).
constexpr double kShort = 0.0;

void run_planner(benchmark::State& state, double tightness, OptimalOptions o,
                 bool ac_piles = false) {
  const Problem& p = instance(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                              tightness, ac_piles);
  orderly::scheduler::OptimalResult r;
  for (auto _ : state) {
    r = orderly::scheduler::solve_optimal(p, o);
    benchmark::DoNotOptimize(r.plan.ev_kw.data());
  }
  const auto load = orderly::scheduler::node_load_kw(p, r.plan);
  int binding = 0;
  double night_peak = 0;  // highest transformer load in the valley (23:00-07:00)
  for (std::size_t t = 0; t < load[0].size(); ++t) {
    if (load[0][t] > p.nodes[0].limit_kw[t] - 0.5) ++binding;
    if (p.period[t] == orderly::scheduler::Period::valley) night_peak = std::max(night_peak, load[0][t]);
  }
  state.counters["valley_peak_kw"] = night_peak;
  int changes = 0;
  for (const auto& row : r.plan.ev_kw)
    for (std::size_t t = 1; t < row.size(); ++t)
      if (row[t] != row[t - 1]) ++changes;
  state.counters["setpoint_changes"] = changes;
  state.counters["arcs"] = r.graph_arcs;
  state.counters["nodes"] = r.graph_nodes;
  state.counters["solves"] = r.solves;
  state.counters["fair_share_flows"] = r.fair_share_flows;
  state.counters["root_binding_slots"] = binding;
  state.counters["met"] = r.plan.status == orderly::scheduler::Plan::Status::optimal;
  state.counters["rounding_loss_kwh"] = r.rounding_loss_kwh;
  const auto kpi = orderly::scheduler::compute_kpi(p, r.plan);
  state.counters["sessions_unmet"] = kpi.sessions_total - kpi.sessions_met;
}

void BM_Optimal(benchmark::State& state) { run_planner(state, kBinding, {}); }
void BM_OptimalNoValleyFilling(benchmark::State& state) {
  OptimalOptions o;
  o.valley_filling = false;
  run_planner(state, kBinding, o);
}
void BM_OptimalCapacityShort(benchmark::State& state) { run_planner(state, kShort, {}); }
void BM_OptimalAcPiles(benchmark::State& state) { run_planner(state, kBinding, {}, true); }
void BM_OptimalSmoothing(benchmark::State& state) {
  OptimalOptions o;
  o.smooth_setpoints = true;
  run_planner(state, kBinding, o);
}

void run_phases(benchmark::State& state, bool binding) {
  const Problem& p = phase_instance(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), binding);
  orderly::scheduler::OptimalResult r;
  for (auto _ : state) {
    r = orderly::scheduler::solve_optimal(p);
    benchmark::DoNotOptimize(r.plan.ev_kw.data());
  }
  const auto kpi = orderly::scheduler::compute_kpi(p, r.plan);
  state.counters["lp_solves"] = r.lp_solves;
  state.counters["overload_slots"] = kpi.overload_slots;
  state.counters["met"] = r.plan.status == orderly::scheduler::Plan::Status::optimal;
  state.counters["sessions_unmet"] = kpi.sessions_total - kpi.sessions_met;
  state.counters["rounding_loss_kwh"] = r.rounding_loss_kwh;
}
void BM_OptimalPhasesBinding(benchmark::State& state) { run_phases(state, true); }
void BM_OptimalPhasesLoose(benchmark::State& state) { run_phases(state, false); }

void BM_LpOracle(benchmark::State& state) {
  const Problem& p = instance(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                              kBinding);
  for (auto _ : state) {
    auto r = orderly::test::lp_oracle(p);
    benchmark::DoNotOptimize(r.cost_yuan);
  }
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Args({100, 96})->Args({1000, 96})->Args({3000, 96})->Args({1000, 288});
  b->ArgNames({"evs", "slots"})->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Optimal)->Apply(sizes);
BENCHMARK(BM_OptimalNoValleyFilling)->Apply(sizes);
BENCHMARK(BM_OptimalCapacityShort)->Apply(sizes);
BENCHMARK(BM_OptimalAcPiles)->Apply(sizes);
BENCHMARK(BM_OptimalSmoothing)->Apply(sizes);
BENCHMARK(BM_OptimalPhasesLoose)
    ->Args({100, 96})
    ->Args({1000, 96})
    ->ArgNames({"evs", "slots"})
    ->Unit(benchmark::kMillisecond);
// The phase LP takes seconds at 1000 EVs (docs/benchmarks.md): one iteration each.
BENCHMARK(BM_OptimalPhasesBinding)
    ->Args({100, 96})
    ->Args({1000, 96})
    ->ArgNames({"evs", "slots"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
// The LP oracle takes seconds at 1000 EVs and minutes beyond; only the two smaller sizes.
BENCHMARK(BM_LpOracle)
    ->Args({100, 96})
    ->Args({1000, 96})
    ->ArgNames({"evs", "slots"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
