#pragma once
// Invariants every plan of the exact planner must satisfy, checked from the problem statement.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"
#include "orderly/scheduler/problem.hpp"

namespace orderly::test {

// The exact (continuous) plan: what the oracle compares and what the rounding starts from.
inline scheduler::OptimalResult solve_exact(const scheduler::Problem& p,
                                            scheduler::OptimalOptions options = {}) {
  options.round_setpoints = false;
  return scheduler::solve_optimal(p, options);
}

inline void expect_plan_valid(const scheduler::Problem& p, const scheduler::Plan& plan,
                              const std::string& label) {
  SCOPED_TRACE(label);
  ASSERT_EQ(plan.ev_kw.size(), p.evs.size());
  const auto load = scheduler::node_load_kw(p, plan);
  for (std::size_t n = 0; n < p.nodes.size(); ++n)
    for (std::size_t t = 0; t < static_cast<std::size_t>(p.slots); ++t) {
      const double base = p.nodes[n].base_load_kw.empty() ? 0.0 : p.nodes[n].base_load_kw[t];
      // Where the base load alone exceeds the limit, charging must not add to it.
      EXPECT_LE(load[n][t], std::max(p.nodes[n].limit_kw[t], base) + 1e-6)
          << "node " << p.nodes[n].id << " slot " << t;
      if (n == 0) {
        EXPECT_GE(load[n][t], -1e-6) << "net export at the transformer, slot " << t;
      }
    }
  const auto phase_load = scheduler::node_phase_load_kw(p, plan);
  for (std::size_t n = 0; n < p.nodes.size(); ++n)
    for (std::size_t ph = 0; ph < static_cast<std::size_t>(scheduler::kPhases); ++ph) {
      const auto& limit = p.nodes[n].phase_limit_kw[ph];
      for (std::size_t t = 0; t < limit.size(); ++t) {
        const double base = scheduler::base_load_phase_at(p.nodes[n], static_cast<int>(ph), t);
        EXPECT_LE(phase_load[n][ph][t], std::max(limit[t], base) + 1e-6)
            << "node " << p.nodes[n].id << " phase " << "ABC"[ph] << " slot " << t;
      }
    }
  const double h = p.slot_hours();
  for (std::size_t e = 0; e < p.evs.size(); ++e) {
    const auto& ev = p.evs[e];
    double energy = 0, soc = ev.initial_kwh;
    for (int t = 0; t < p.slots; ++t) {
      const double kw = plan.ev_kw[e][static_cast<std::size_t>(t)];
      if (t < ev.arrival_slot || t >= ev.departure_slot) {
        EXPECT_EQ(kw, 0.0) << ev.id << " outside its window at slot " << t;
        continue;
      }
      EXPECT_LE(kw, ev.max_kw + 1e-9) << ev.id << " slot " << t;
      EXPECT_GE(kw, -ev.discharge_max_kw - 1e-9) << ev.id << " slot " << t;
      energy += kw * h;
      soc += kw * h;
      if (ev.discharge_max_kw > 0) {
        EXPECT_GE(soc, std::min(ev.reserve_kwh, ev.initial_kwh) - 1e-6) << ev.id << " slot " << t;
        EXPECT_LE(soc, ev.battery_kwh + 1e-6) << ev.id << " slot " << t;
      }
    }
    // Rounded AC setpoints are ceilings: the last increment may overshoot the request by less
    // than one accepted increment (the car stops at its request); what counts as delivered
    // never exceeds it.
    const bool rounded = ev.discharge_max_kw == 0 && (ev.min_kw > 0 || ev.power_step_kw > 0);
    const double overshoot_kwh = rounded ? std::max(ev.min_kw, ev.power_step_kw) * h : 0.0;
    EXPECT_LE(energy, ev.energy_kwh + overshoot_kwh + 1e-6) << ev.id;
    EXPECT_GE(energy, -1e-6) << ev.id;
  }
  const auto delivered = scheduler::delivered_kwh(p, plan);
  for (std::size_t e = 0; e < p.evs.size(); ++e)
    EXPECT_LE(delivered[e], p.evs[e].energy_kwh + 1e-6) << p.evs[e].id;
}

}  // namespace orderly::test
