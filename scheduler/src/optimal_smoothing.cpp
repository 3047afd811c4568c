// Objective 5, few setpoint changes, without touching objectives 1-4. Cars on the same charger
// node share every node on their way to the root, so re-dealing a slot's energy among them
// leaves every node's load, the cost and the valley filling exactly as solved. Per charger
// node a small transportation flow does the re-deal: cars supply their energy, slots take the
// node's total, and a car with an earlier departure pays less for earlier slots (cost
// rank x slot). At the optimum no two cars can swap energy to bring the earlier-leaving car
// forward, so each car gets an early block at full power instead of the solver's arbitrary
// alternation (7, 0, 7, 0 kW).
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "optimal_internal.hpp"

namespace orderly::scheduler::detail {

void smooth_setpoints(const Problem& problem, const std::vector<std::int64_t>& max_units,
                      const std::vector<std::int64_t>& first_max_units,
                      std::vector<std::vector<std::int64_t>>& units) {
  using Units = std::int64_t;
  using Graph = lemon::SmartDigraph;
  const auto slots = static_cast<std::size_t>(problem.slots);
  // Under phase limits cars are interchangeable only if they also load the same phases: a
  // re-deal between a phase-A and a phase-B car would move load from one phase to the other.
  constexpr std::size_t kPhaseSets = 5;
  const bool by_phases = has_phase_limits(problem);
  std::vector<std::vector<std::size_t>> by_node(problem.nodes.size() * kPhaseSets);
  for (std::size_t e = 0; e < problem.evs.size(); ++e)
    if (problem.evs[e].discharge_max_kw == 0)
      by_node[static_cast<std::size_t>(problem.evs[e].node) * kPhaseSets +
              (by_phases ? static_cast<std::size_t>(problem.evs[e].phases) : 0)]
          .push_back(e);

  for (auto& group : by_node) {
    if (group.size() < 2) continue;
    // Earlier departure first (then list order): rank 0 pays the most per slot of delay.
    std::stable_sort(group.begin(), group.end(), [&](std::size_t a, std::size_t b) {
      return problem.evs[a].departure_slot < problem.evs[b].departure_slot;
    });
    Graph g;
    Graph::ArcMap<Units> upper(g), cost(g);
    Graph::NodeMap<Units> supply(g, 0);
    std::vector<Graph::Node> slot_node(slots, lemon::INVALID);
    std::vector<std::vector<std::pair<std::size_t, int>>> arcs(group.size());
    const auto weight = static_cast<Units>(group.size());
    for (std::size_t i = 0; i < group.size(); ++i) {
      const std::size_t e = group[i];
      const auto& ev = problem.evs[e];
      const Graph::Node car = g.addNode();
      for (int t = ev.arrival_slot; t < ev.departure_slot; ++t) {
        const auto ts = static_cast<std::size_t>(t);
        if (slot_node[ts] == lemon::INVALID) slot_node[ts] = g.addNode();
        const Graph::Arc a = g.addArc(car, slot_node[ts]);
        upper[a] = t == 0 ? first_max_units[e] : max_units[e];
        cost[a] = (weight - static_cast<Units>(i)) * t;
        arcs[i].emplace_back(ts, g.id(a));
        supply[car] += units[e][ts];
        supply[slot_node[ts]] -= units[e][ts];
      }
    }
    lemon::NetworkSimplex<Graph, Units, Units> solver(g);
    solver.upperMap(upper).costMap(cost).supplyMap(supply);
    // The solver's own split is a feasible solution, so this cannot fail.
    if (solver.run() != lemon::NetworkSimplex<Graph, Units, Units>::OPTIMAL)
      throw std::logic_error("plan_optimal: setpoint smoothing found no solution; this is a bug");
    for (std::size_t i = 0; i < group.size(); ++i)
      for (const auto& [t, id] : arcs[i]) units[group[i]][t] = solver.flow(g.arcFromId(id));
  }
}

}  // namespace orderly::scheduler::detail
