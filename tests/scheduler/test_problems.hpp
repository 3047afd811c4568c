#pragma once
// Small problems shared by the scheduler tests, built in code so each test shows its numbers.
#include <string>
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler::testing {

// A root (transformer) and optional feeders, constant limits, zero base load, 1-hour slots so
// kW and kWh read the same.
inline Problem make_problem(int slots, double root_limit_kw, const std::vector<double>& feeder_limits_kw = {}) {
  Problem p;
  p.slots = slots;
  p.slot_minutes = 60;
  CapacityNode root;
  root.id = "transformer";
  root.limit_kw.assign(static_cast<std::size_t>(slots), root_limit_kw);
  p.nodes.push_back(root);
  for (std::size_t f = 0; f < feeder_limits_kw.size(); ++f) {
    CapacityNode feeder;
    feeder.id = "feeder-" + std::to_string(f + 1);
    feeder.parent = 0;
    feeder.limit_kw.assign(static_cast<std::size_t>(slots), feeder_limits_kw[f]);
    p.nodes.push_back(feeder);
  }
  p.price_per_kwh.assign(static_cast<std::size_t>(slots), 1.0);
  p.period.assign(static_cast<std::size_t>(slots), Period::flat);
  return p;
}

inline EvRequest make_ev(const std::string& id, int arrival, int departure, double energy_kwh, double max_kw,
                         int node = 0) {
  EvRequest ev;
  ev.id = id;
  ev.node = node;
  ev.arrival_slot = arrival;
  ev.departure_slot = departure;
  ev.energy_kwh = energy_kwh;
  ev.max_kw = max_kw;
  return ev;
}

}  // namespace orderly::scheduler::testing
