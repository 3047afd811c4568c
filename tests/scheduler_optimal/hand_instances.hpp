#pragma once
// Small instances built by hand, where the right answer can be worked out on paper.
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::test {

// One root node, hourly slots (so kW == kWh per slot), flat base load and price unless changed.
inline scheduler::Problem hourly(int slots, double limit_kw, double price = 0.5) {
  scheduler::Problem p;
  p.slots = slots;
  p.slot_minutes = 60;
  p.nodes.resize(1);
  p.nodes[0].id = "transformer";
  p.nodes[0].limit_kw.assign(static_cast<std::size_t>(slots), limit_kw);
  p.nodes[0].base_load_kw.assign(static_cast<std::size_t>(slots), 0.0);
  p.price_per_kwh.assign(static_cast<std::size_t>(slots), price);
  p.period.assign(static_cast<std::size_t>(slots), scheduler::Period::flat);
  return p;
}

inline scheduler::EvRequest ev(const char* id, int arrival, int departure, double energy_kwh,
                               double max_kw, int priority = 1) {
  scheduler::EvRequest r;
  r.id = id;
  r.arrival_slot = arrival;
  r.departure_slot = departure;
  r.energy_kwh = energy_kwh;
  r.max_kw = max_kw;
  r.priority = priority;
  return r;
}

}  // namespace orderly::test
