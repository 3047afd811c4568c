// The exact planner as a min-cost flow. docs/scheduler.md explains the network; the comments
// here say why each piece is built the way it is.
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "optimal_internal.hpp"
#include "residual_flow.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"

namespace orderly::scheduler {
namespace {

using Graph = lemon::SmartDigraph;
using Units = std::int64_t;
using Solver = lemon::NetworkSimplex<Graph, Units, Units>;

// Tariffs are published to 4 decimals (e.g. 0.3818 yuan/kWh); prices become exact integers.
constexpr double kPriceScale = 1e4;
// Per-unit valley penalties stay in [0, kPenaltyRange) and every price is multiplied by it,
// so one price step outweighs any penalty difference on a residual cycle: cheaper always
// beats flatter (the lexicographic argument in docs/scheduler.md).
constexpr Units kPenaltyRange = 1000;

Units floor_units(double energy_kwh, double unit_kwh) {
  if (!(energy_kwh > 0)) return 0;
  // The epsilon keeps 1.75 kWh / 1 Wh at 1750 despite binary rounding of the operands.
  return static_cast<Units>(std::floor(energy_kwh / unit_kwh + 1e-9));
}

Units price_units(double price_per_kwh) {
  return static_cast<Units>(std::llround(price_per_kwh * kPriceScale));
}

[[noreturn]] void reject(const std::string& what) {
  throw std::invalid_argument("plan_optimal: " + what);
}

// Figures beyond this (kW, kWh, yuan) are typing errors, and would overflow the integer units.
constexpr double kLargest = 1e7;

bool sane(double v) { return std::isfinite(v) && std::abs(v) <= kLargest; }

bool all_sane(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), sane);
}

void check(const Problem& p, const OptimalOptions& o) {
  if (p.slots <= 0) reject("slots is " + std::to_string(p.slots) + "; it must be positive");
  if (!(p.slot_minutes > 0)) reject("slot_minutes must be positive");
  if (!(p.first_slot_fraction > 0 && p.first_slot_fraction <= 1))
    reject("first_slot_fraction must be within (0, 1]: the part of slot 0 still ahead");
  if (p.nodes.empty()) reject("the capacity tree has no nodes; nodes[0] must be the transformer");
  const auto slots = static_cast<std::size_t>(p.slots);
  if (p.price_per_kwh.size() != slots)
    reject("price_per_kwh has " + std::to_string(p.price_per_kwh.size()) + " entries, expected " +
           std::to_string(p.slots) + " (one per slot)");
  if (!all_sane(p.price_per_kwh)) reject("price_per_kwh has a value that is not a finite price");
  for (std::size_t n = 0; n < p.nodes.size(); ++n) {
    const auto& node = p.nodes[n];
    const std::string where = "nodes[" + std::to_string(n) + "] (id \"" + node.id + "\")";
    if (!all_sane(node.limit_kw) || !all_sane(node.base_load_kw))
      reject(where + ": limit_kw / base_load_kw must be finite and below 1e7 kW");
    if (n == 0 ? node.parent != -1 : (node.parent < 0 || node.parent >= static_cast<int>(n)))
      reject(where + ": parent " + std::to_string(node.parent) +
             " is invalid; the root has -1, every other node an index below its own");
    if (node.limit_kw.size() != slots)
      reject(where + ": limit_kw needs one entry per slot (" + std::to_string(p.slots) + ")");
    if (!node.base_load_kw.empty() && node.base_load_kw.size() != slots)
      reject(where + ": base_load_kw must be empty or have one entry per slot");
  }
  for (std::size_t e = 0; e < p.evs.size(); ++e) {
    const auto& ev = p.evs[e];
    const std::string where = "evs[" + std::to_string(e) + "] (id \"" + ev.id + "\")";
    if (ev.node < 0 || ev.node >= static_cast<int>(p.nodes.size()))
      reject(where + ": node " + std::to_string(ev.node) + " is not in the capacity tree");
    if (ev.arrival_slot < 0 || ev.departure_slot > p.slots || ev.arrival_slot > ev.departure_slot)
      reject(where + ": window [" + std::to_string(ev.arrival_slot) + ", " +
             std::to_string(ev.departure_slot) + ") is not inside [0, " +
             std::to_string(p.slots) + ")");
    if (ev.energy_kwh < 0 || ev.max_kw < 0 || ev.min_kw < 0 || ev.discharge_max_kw < 0 ||
        ev.power_step_kw < 0)
      reject(where + ": energy and power figures must not be negative");
    for (double v : {ev.energy_kwh, ev.max_kw, ev.min_kw, ev.power_step_kw, ev.discharge_max_kw,
                     ev.battery_kwh, ev.initial_kwh, ev.reserve_kwh, ev.discharge_price_per_kwh})
      if (!sane(v)) reject(where + ": a figure is not finite or above 1e7");
    if (ev.discharge_max_kw > 0 && !(ev.battery_kwh > 0))
      reject(where + ": a bidirectional pile needs battery_kwh to keep the state of charge");
  }
  // Finer than 1 mWh would overflow the integer units on large communities.
  if (!(o.energy_unit_wh >= 1e-3 && o.energy_unit_wh <= 1e3))
    reject("options.energy_unit_wh must be within 0.001..1000 Wh");
  // More pieces than penalty steps would only repeat slopes.
  if (o.valley_pieces < 1 || o.valley_pieces > kPenaltyRange)
    reject("options.valley_pieces must be within 1..1000");
}

double base_kw(const CapacityNode& node, int t) {
  return node.base_load_kw.empty() ? 0.0 : node.base_load_kw[static_cast<std::size_t>(t)];
}

// The network is built once; the two solves that capacity shortage needs (how much each EV
// gets, then the cheapest way to give it) only change capacities, costs and supplies.
class FlowModel {
 public:
  FlowModel(const Problem& problem, const OptimalOptions& options)
      : p_(problem), o_(options), upper_deliver_(g_), upper_share_(g_), cost_deliver_(g_),
        cost_share_(g_) {
    unit_kwh_ = o_.energy_unit_wh / 1000.0;
    slot_h_ = p_.slot_hours();
    build();
  }

  const std::vector<Units>& need() const { return need_; }
  bool obviously_short() const { return obviously_short_; }
  int nodes() const { return g_.nodeNum(); }
  int arcs() const { return g_.arcNum(); }

  // Cheapest (then flattest) plan giving EV e exactly target[e] units. False when it does not
  // fit.
  bool deliver(const std::vector<Units>& target, std::vector<std::vector<double>>& ev_kw) {
    Graph::NodeMap<Units> supply(g_, 0);
    Units total = 0;
    for (std::size_t e = 0; e < target.size(); ++e) {
      supply[evs_[e].sink] -= target[e];
      total += target[e];
    }
    apply_battery_supplies(supply);
    supply[source_] += total;
    Solver solver(g_);
    solver.upperMap(upper_deliver_).costMap(cost_deliver_).supplyMap(supply);
    if (run(solver) != Solver::OPTIMAL) return false;
    read_plan(solver, ev_kw);
    return true;
  }

  // Without bidirectional piles a residual path between two EVs passes the grid at most once,
  // so its cost is within +-max |arc cost|, and a share reward step above twice that makes
  // shares strictly first and cost second in ONE solve (a residual cycle swapping one share
  // unit for another changes the path cost by less than a step).
  // With V2G a path may chain many discharges and no small step is safe: two solves then.
  bool can_share_in_one_solve() const {
    if (has_v2g_) return false;
    const double step = static_cast<double>(2 * max_cost_ + 1);
    double need = 0;
    for (Units n : need_) need += static_cast<double>(n);
    return step * static_cast<double>(max_reward_ + 1) * need < 4e18;
  }

  // Shares (priority, fairness) and, given them, cost and valley filling in one solve.
  void share_and_deliver(std::vector<std::vector<double>>& ev_kw) {
    Graph::NodeMap<Units> supply(g_, 0);
    Units total = 0;
    for (Units n : need_) total += n;
    supply[source_] += total;
    supply[sink_] -= total;
    Graph::ArcMap<Units> cost(g_);
    for (Graph::ArcIt a(g_); a != lemon::INVALID; ++a) cost[a] = cost_deliver_[a];
    for (const auto& ev : evs_)
      for (int id : ev.shares) {
        const Graph::Arc a = g_.arcFromId(id);
        cost[a] = cost_share_[a] * (2 * max_cost_ + 1);
      }
    Solver solver(g_);
    solver.upperMap(upper_share_).costMap(cost).supplyMap(supply);
    if (run(solver) != Solver::OPTIMAL)
      throw std::logic_error("plan_optimal: the sharing flow has no solution; this is a bug");
    read_plan(solver, ev_kw);
  }

  // Lexicographically max-min fair served fractions (delivered / need), priority class by
  // priority class, highest first (docs/scheduler.md, "Capacity short"). Progressive filling:
  // the active cars' common fraction is raised as far as it fits, found by Newton steps on
  // maximum flows (frozen cars held at their shares, the active cars' share arcs capped at the
  // trial fraction), the cars that then cannot get more (their battery node unreachable from
  // the grid in the residual network) are frozen, and the rest go on. Sets each EV's fair
  // share arc to its result and the rest arc to what remains of its need; counts its steps.
  void fair_shares(int& solves, int& fair_share_flows) {
    const std::size_t n = evs_.size();
    // The most each EV can take alone: its need, or what its pile passes in its window.
    std::vector<Units> top(n), fair(n, 0);
    std::vector<State> state(n, State::waiting);
    std::vector<Units> ranks;
    for (std::size_t e = 0; e < n; ++e) {
      Units window = 0;
      for (int id : evs_[e].charge) window += upper_deliver_[g_.arcFromId(id)];
      top[e] = evs_[e].discharge.empty() ? std::min(need_[e], window) : need_[e];
      if (top[e] == 0) state[e] = State::frozen;
      ranks.push_back(evs_[e].rank);
    }
    std::sort(ranks.begin(), ranks.end(), std::greater<>());
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
    // One step: each EV's share arc capped at cap[e]; got[e] is what it receives in a maximum
    // flow that keeps the frozen shares full, cut_off[e] whether the grid no longer reaches it.
    std::vector<Units> cap(n, 0), got(n, 0);
    std::vector<char> cut_off(n, 0);
    const std::function<void()> step = has_v2g_ ? simplex_share_step(state, cap, got, cut_off)
                                                : residual_share_step(cap, got, cut_off);
    // The fraction that exactly shares `bound` units among `cars` (those their own pile caps
    // below it keeping their cap), as num / den; den 0 when the caps alone use it up.
    auto sharing_fraction = [&](const std::vector<std::size_t>& cars, Units bound) {
      std::vector<char> capped(n, 0);
      Units rest = bound, rest_need = 0;
      for (bool changed = true; changed;) {
        changed = false;
        rest = bound;
        rest_need = 0;
        for (std::size_t e : cars) {
          if (capped[e]) rest -= top[e];
          else rest_need += need_[e];
        }
        if (rest_need == 0) break;
        for (std::size_t e : cars)
          if (!capped[e] && top[e] * rest_need <= rest * need_[e]) capped[e] = changed = true;
      }
      return std::make_pair(std::max<Units>(rest, 0), rest_need);
    };
    // Every set a step found cut off, with what its cars got then: the arcs into its part of
    // the network passed no more, in any flow, so what is left of it after its cars frozen
    // since is a bound on the rest of them, and the lowest such fraction bounds the next level
    // from above. A round's Newton descent then starts there instead of at 1 and repeats none
    // of the descents before it (1000 x 96 capacity short: 319 steps from 1, 49 rounds).
    struct CutOff {
      std::vector<std::size_t> cars;
      Units bound;
    };
    std::vector<CutOff> cut_sets;
    for (Units rank : ranks) {
      for (std::size_t e = 0; e < n; ++e)
        if (evs_[e].rank == rank && state[e] == State::waiting) state[e] = State::active;
      for (;;) {
        std::vector<std::size_t> active;
        for (std::size_t e = 0; e < n; ++e)
          if (state[e] == State::active) active.push_back(e);
        if (active.empty()) break;
        // The fraction as an exact ratio num / den (both below 1e9 units, products below
        // 1e18): every share is floored to whole units, so a fraction that fits stays fitting.
        Units num = 1, den = 1;
        std::vector<std::size_t> bottleneck;  // the last set that bounded the fraction
        for (auto it = cut_sets.begin(); it != cut_sets.end();) {
          std::vector<std::size_t> left;
          for (std::size_t e : it->cars) {
            if (state[e] == State::active) left.push_back(e);
            else it->bound -= fair[e];
          }
          it->cars = std::move(left);
          if (it->cars.empty()) {
            it = cut_sets.erase(it);
            continue;
          }
          const auto [f_num, f_den] = sharing_fraction(it->cars, it->bound);
          if (f_den > 0 && f_num * den < num * f_den) {
            std::tie(num, den) = std::tie(f_num, f_den);
            bottleneck = it->cars;
          }
          ++it;
        }
        auto cap_at = [&](std::size_t e) { return std::min(top[e], need_[e] * num / den); };
        for (int newton = 0;; ++newton) {
          for (std::size_t e = 0; e < n; ++e)
            cap[e] = state[e] == State::frozen   ? fair[e]
                     : state[e] == State::active ? cap_at(e)
                                                 : 0;
          step();
          ++(has_v2g_ ? solves : fair_share_flows);
          bool short_somewhere = false, stops = false;
          for (std::size_t e : active) {
            short_somewhere = short_somewhere || got[e] < cap[e];
            stops = stops || cut_off[e] || cap[e] == top[e];
          }
          // Newton steps strictly lower the fraction; the cap only guards against a bug.
          constexpr int kNewtonSteps = 200;
          if (newton == kNewtonSteps) break;
          if (!short_somewhere) break;
          // The cars cut off from the grid got the most their part of the network passes; the
          // fraction that exactly shares it among them is the next, lower, trial.
          bottleneck.clear();
          Units bound = 0;
          for (std::size_t e : active)
            if (cut_off[e]) {
              bottleneck.push_back(e);
              bound += got[e];
            }
          cut_sets.push_back({bottleneck, bound});
          const auto [f_num, f_den] = sharing_fraction(bottleneck, bound);
          if (f_den == 0) break;
          num = f_num;
          den = f_den;
        }
        // Freeze every car that cannot get more at this fraction: those cut off from the grid,
        // and those at all they can take. Rounding to units can leave a bounding car reachable
        // by a unit or two; then its bounding set is frozen, so every round freezes a car.
        std::size_t frozen_now = 0;
        for (std::size_t e : active) {
          const Units c = cap_at(e);
          if (c == top[e] || cut_off[e]) {
            fair[e] = std::min(c, got[e]);
            state[e] = State::frozen;
            ++frozen_now;
          }
        }
        if (frozen_now == 0)
          for (std::size_t e : bottleneck.empty() ? active : bottleneck) {
            fair[e] = std::min(cap_at(e), got[e]);
            state[e] = State::frozen;
          }
      }
    }
    for (std::size_t e = 0; e < n; ++e) {
      upper_share_.set(g_.arcFromId(evs_[e].shares[0]), fair[e]);
      upper_share_.set(g_.arcFromId(evs_[e].shares[1]), need_[e] - fair[e]);
    }
  }

  // Most energy that fits, higher priority first, then the fair shares (fair_shares())
  // within it.
  std::vector<Units> shares() {
    Graph::NodeMap<Units> supply(g_, 0);
    Units total = 0;
    for (Units n : need_) total += n;
    apply_battery_supplies(supply);
    supply[source_] += total;
    supply[sink_] -= total;
    Solver solver(g_);
    solver.upperMap(upper_share_).costMap(cost_share_).supplyMap(supply);
    if (run(solver) != Solver::OPTIMAL)
      throw std::logic_error("plan_optimal: the sharing flow has no solution; this is a bug");
    std::vector<Units> got(evs_.size(), 0);
    for (std::size_t e = 0; e < evs_.size(); ++e)
      for (int id : evs_[e].shares) got[e] += solver.flow(g_.arcFromId(id));
    return got;
  }

 private:
  enum class State { waiting, active, frozen };

  // With bidirectional piles the batteries are supplies inside the network, not a flow from
  // the grid alone: each step is a network simplex run with rewards (frozen shares 2 per unit,
  // so never traded for an active one, active 1).
  std::function<void()> simplex_share_step(const std::vector<State>& state,
                                           const std::vector<Units>& cap, std::vector<Units>& got,
                                           std::vector<char>& cut_off) {
    auto supply = std::make_shared<Graph::NodeMap<Units>>(g_, 0);
    Units total = 0;
    for (Units v : need_) total += v;
    apply_battery_supplies(*supply);
    (*supply)[source_] += total;
    (*supply)[sink_] -= total;
    auto upper = std::make_shared<Graph::ArcMap<Units>>(g_);
    auto cost = std::make_shared<Graph::ArcMap<Units>>(g_, 0);
    for (Graph::ArcIt a(g_); a != lemon::INVALID; ++a) (*upper)[a] = upper_share_[a];
    for (const auto& ev : evs_) (*upper)[g_.arcFromId(ev.shares[1])] = 0;
    auto solver = std::make_shared<Solver>(g_);
    auto reached = std::make_shared<Graph::NodeMap<char>>(g_, 0);
    const Graph::Arc bypass = g_.arcFromId(bypass_);
    return [this, &state, &cap, &got, &cut_off, supply, upper, cost, solver, reached, bypass] {
      for (std::size_t e = 0; e < evs_.size(); ++e) {
        const Graph::Arc a = g_.arcFromId(evs_[e].shares[0]);
        (*upper)[a] = cap[e];
        (*cost)[a] = state[e] == State::frozen ? -2 : -1;
      }
      solver->upperMap(*upper).costMap(*cost).supplyMap(*supply);
      if (run(*solver) != Solver::OPTIMAL)
        throw std::logic_error("plan_optimal: the fair-share flow has no solution; this is a bug");
      // Which nodes the grid reaches in the residual network of the solver's flow.
      for (Graph::NodeIt v(g_); v != lemon::INVALID; ++v) (*reached)[v] = 0;
      std::vector<Graph::Node> queue(1, source_);
      (*reached)[source_] = 1;
      for (std::size_t q = 0; q < queue.size(); ++q) {
        const Graph::Node u = queue[q];
        for (Graph::OutArcIt a(g_, u); a != lemon::INVALID; ++a)
          if (a != bypass && solver->flow(a) < (*upper)[a] && !(*reached)[g_.target(a)]) {
            (*reached)[g_.target(a)] = 1;
            queue.push_back(g_.target(a));
          }
        for (Graph::InArcIt a(g_, u); a != lemon::INVALID; ++a)
          if (a != bypass && solver->flow(a) > 0 && !(*reached)[g_.source(a)]) {
            (*reached)[g_.source(a)] = 1;
            queue.push_back(g_.source(a));
          }
      }
      for (std::size_t e = 0; e < evs_.size(); ++e) {
        got[e] = solver->flow(g_.arcFromId(evs_[e].shares[0]));
        cut_off[e] = !(*reached)[evs_[e].sink];
      }
    };
  }

  // Charge-only: the grid is the only source, so each step is a plain maximum flow, kept
  // between steps and re-augmented (residual_flow.hpp): lowering an active car's cap sends its
  // surplus back to the grid, raising one augments, frozen shares stay full throughout.
  std::function<void()> residual_share_step(const std::vector<Units>& cap,
                                            std::vector<Units>& got, std::vector<char>& cut_off) {
    auto net = std::make_shared<detail::ResidualFlow>(g_.maxNodeId() + 1);
    std::vector<char> skip(static_cast<std::size_t>(g_.maxArcId()) + 1, 0);
    skip[static_cast<std::size_t>(bypass_)] = 1;
    for (const auto& ev : evs_)
      for (int id : ev.shares) skip[static_cast<std::size_t>(id)] = 1;
    for (Graph::ArcIt a(g_); a != lemon::INVALID; ++a)
      if (!skip[static_cast<std::size_t>(g_.id(a))] && upper_share_[a] > 0)
        net->add_arc(g_.id(g_.source(a)), g_.id(g_.target(a)), upper_share_[a]);
    auto share = std::make_shared<std::vector<int>>();
    for (const auto& ev : evs_) share->push_back(net->add_arc(g_.id(ev.sink), g_.id(sink_), 0));
    return [this, &cap, &got, &cut_off, net, share] {
      const int grid = g_.id(source_), sink = g_.id(sink_);
      for (std::size_t e = 0; e < evs_.size(); ++e) net->set_capacity((*share)[e], cap[e]);
      net->drain_excess(grid, sink);
      net->augment(grid, sink);
      const auto& reached = net->reachable_from(grid);
      for (std::size_t e = 0; e < evs_.size(); ++e) {
        got[e] = net->flow((*share)[e]);
        cut_off[e] = !reached[static_cast<std::size_t>(g_.id(evs_[e].sink))];
      }
    };
  }

  struct EvArcs {
    std::vector<int> charge;     // arc id per slot of the window
    std::vector<int> discharge;  // bidirectional piles only
    // To the sink (sharing solves only): [0] the fair share, [1] the rest of the need.
    std::array<int, 2> shares{};
    Units rank = 0;              // priority rank, 0 = lowest present
    Graph::Node sink;            // where the EV's delivered energy leaves the network
    Graph::Node first;           // bidirectional: battery node of the arrival slot
    Units battery_units = 0;     // bidirectional: energy above the floor at arrival
  };

  // LEMON's block search is its best general rule; on the large, long-horizon networks the
  // candidate-list rule measured 20-50 % faster (docs/benchmarks.md), on small ones slightly
  // slower.
  Solver::ProblemType run(Solver& solver) const {
    constexpr int kCandidateListFromArcs = 40000;
    return solver.run(g_.arcNum() >= kCandidateListFromArcs ? Solver::CANDIDATE_LIST
                                                               : Solver::BLOCK_SEARCH);
  }

  void read_plan(const Solver& solver, std::vector<std::vector<double>>& ev_kw) const {
    const auto slots = static_cast<std::size_t>(p_.slots);
    std::vector<std::vector<Units>> units(p_.evs.size(), std::vector<Units>(slots, 0));
    for (std::size_t e = 0; e < evs_.size(); ++e) {
      const auto& ev = p_.evs[e];
      for (int t = ev.arrival_slot; t < ev.departure_slot; ++t) {
        const auto k = static_cast<std::size_t>(t - ev.arrival_slot);
        Units net = solver.flow(g_.arcFromId(evs_[e].charge[k]));
        if (!evs_[e].discharge.empty()) net -= solver.flow(g_.arcFromId(evs_[e].discharge[k]));
        units[e][static_cast<std::size_t>(t)] = net;
      }
    }
    if (o_.smooth_setpoints) detail::smooth_setpoints(p_, max_units_, first_units_, units);
    ev_kw.assign(p_.evs.size(), std::vector<double>(slots, 0.0));
    const double kw_per_unit = unit_kwh_ / slot_h_;
    for (std::size_t e = 0; e < units.size(); ++e)
      for (std::size_t t = 0; t < slots; ++t)
        ev_kw[e][t] = static_cast<double>(units[e][t]) * kw_per_unit;
  }

  Graph::Arc add_arc(Graph::Node from, Graph::Node to, Units cap, Units cost, Units share_cost,
                     bool in_deliver = true, bool in_share = true) {
    max_cost_ = std::max(max_cost_, cost < 0 ? -cost : cost);
    max_reward_ = std::max(max_reward_, -share_cost);
    const Graph::Arc a = g_.addArc(from, to);
    upper_deliver_.set(a, in_deliver ? cap : 0);
    upper_share_.set(a, in_share ? cap : 0);
    cost_deliver_.set(a, cost);
    cost_share_.set(a, share_cost);
    return a;
  }

  void apply_battery_supplies(Graph::NodeMap<Units>& supply) const {
    for (const auto& ev : evs_) {
      if (ev.battery_units == 0) continue;
      supply[ev.first] += ev.battery_units;
      supply[ev.sink] -= ev.battery_units;
    }
  }

  std::size_t at(int n, int t) const {
    return static_cast<std::size_t>(n) * static_cast<std::size_t>(p_.slots) +
           static_cast<std::size_t>(t);
  }

  // Root import / reduction arcs for one slot. The penalty is a convex function of the
  // transformer's absolute load, the same in every slot, so equal-price slots are filled from
  // the lowest load upwards (valley filling).
  void add_root_arcs(int t, Graph::Node root, Units import_cap, Units reduce_cap) {
    const double base = base_kw(p_.nodes[0], t) * slot_h_ / unit_kwh_;
    const Units price = price_units(p_.price_per_kwh[static_cast<std::size_t>(t)]) * kPenaltyRange;
    const int pieces = (o_.valley_filling && level_width_ > 0) ? o_.valley_pieces : 1;
    auto slope = [&](int j) {
      return pieces > 1 ? static_cast<Units>(j) * (kPenaltyRange - 1) / (pieces - 1) : Units{0};
    };
    auto level = [&](int j) { return level_min_ + level_width_ * j; };
    // Import: load goes from base up to base + import_cap.
    Units done = 0;
    for (int j = 0; j < pieces && done < import_cap; ++j) {
      Units upto = import_cap;
      if (j + 1 < pieces)
        upto = std::clamp(static_cast<Units>(std::floor(level(j + 1) - base)), Units{0},
                          import_cap);
      if (upto > done) add_arc(source_, root, upto - done, price + slope(j), 0);
      done = std::max(done, upto);
    }
    // Reduction (V2G discharge below the base load): load goes from base down.
    done = 0;
    for (int j = pieces - 1; j >= 0 && done < reduce_cap; --j) {
      Units upto = reduce_cap;
      if (j > 0)
        upto = std::clamp(static_cast<Units>(std::floor(base - level(j))), Units{0}, reduce_cap);
      if (upto > done) add_arc(root, source_, upto - done, -(price + slope(j)), 0);
      done = std::max(done, upto);
    }
  }

  void build() {
    const int slots = p_.slots;
    const auto n_nodes = static_cast<int>(p_.nodes.size());
    const std::size_t cells = static_cast<std::size_t>(n_nodes) * static_cast<std::size_t>(slots);
    // Upper bounds of what the EVs below each node can draw / give back per slot: a node whose
    // headroom covers them can never bind and is merged into its parent (fewer nodes, arcs).
    std::vector<Units> draw(cells, 0), give(cells, 0);
    const std::size_t n_evs = p_.evs.size();
    max_units_.resize(n_evs);
    first_units_.resize(n_evs);
    auto& max_u = max_units_;
    std::vector<Units> dis_u(n_evs);
    need_.resize(n_evs);
    for (std::size_t e = 0; e < n_evs; ++e) {
      const auto& ev = p_.evs[e];
      max_u[e] = floor_units(ev.max_kw * slot_h_, unit_kwh_);
      dis_u[e] = floor_units(ev.discharge_max_kw * slot_h_, unit_kwh_);
      need_[e] = floor_units(ev.energy_kwh, unit_kwh_);
      for (int t = ev.arrival_slot; t < ev.departure_slot; ++t) {
        draw[at(ev.node, t)] += max_u[e];
        give[at(ev.node, t)] += dis_u[e];
      }
      if (dis_u[e] == 0 && need_[e] > max_u[e] * (ev.departure_slot - ev.arrival_slot))
        obviously_short_ = true;
    }
    for (int n = n_nodes - 1; n > 0; --n)
      for (int t = 0; t < slots; ++t) {
        draw[at(p_.nodes[static_cast<std::size_t>(n)].parent, t)] += draw[at(n, t)];
        give[at(p_.nodes[static_cast<std::size_t>(n)].parent, t)] += give[at(n, t)];
      }

    auto headroom = [&](int n, int t) {
      const auto& node = p_.nodes[static_cast<std::size_t>(n)];
      const double free_kw = node.limit_kw[static_cast<std::size_t>(t)] - base_kw(node, t);
      return floor_units(std::max(0.0, free_kw) * slot_h_, unit_kwh_);
    };

    // Valley-filling levels span the transformer loads the plan can produce.
    double lo = 0, hi = 0;
    bool any = false;
    for (int t = 0; t < slots; ++t) {
      if (draw[at(0, t)] == 0 && give[at(0, t)] == 0) continue;
      const double base = base_kw(p_.nodes[0], t) * slot_h_ / unit_kwh_;
      const double top = base + static_cast<double>(std::min(headroom(0, t), draw[at(0, t)]));
      const double bottom = base - static_cast<double>(give[at(0, t)]);
      lo = any ? std::min(lo, std::max(0.0, bottom)) : std::max(0.0, bottom);
      hi = any ? std::max(hi, top) : top;
      any = true;
    }
    level_min_ = lo;
    level_width_ = any ? (hi - lo) / o_.valley_pieces : 0;

    source_ = g_.addNode();
    sink_ = g_.addNode();
    std::vector<Graph::Node> gnode(cells, lemon::INVALID);
    Units root_energy = 0;
    for (int n = 0; n < n_nodes; ++n) {
      const int parent = p_.nodes[static_cast<std::size_t>(n)].parent;
      for (int t = 0; t < slots; ++t) {
        const Units d = draw[at(n, t)], r = give[at(n, t)];
        if (d == 0 && r == 0) continue;
        const Units h = headroom(n, t);
        if (n == 0) {
          const Graph::Node root = g_.addNode();
          gnode[at(0, t)] = root;
          // No net export past the transformer: the feed-in tariff is not part of the problem,
          // so discharge may at most cover the community's own base load.
          const Units reduce = std::min(
              r, floor_units(base_kw(p_.nodes[0], t) * slot_h_, unit_kwh_));
          add_root_arcs(t, root, std::min(h, d), reduce);
          root_energy += std::min(h, d) + reduce;
          continue;
        }
        const auto& node = p_.nodes[static_cast<std::size_t>(n)];
        const Units back = floor_units(
            (node.limit_kw[static_cast<std::size_t>(t)] + base_kw(node, t)) * slot_h_, unit_kwh_);
        const Graph::Node up = gnode[at(parent, t)];
        if (d <= h && r <= back) {
          gnode[at(n, t)] = up;
          continue;
        }
        const Graph::Node own = g_.addNode();
        gnode[at(n, t)] = own;
        if (d > 0) add_arc(up, own, std::min(h, d), 0, 0);
        if (r > 0) add_arc(own, up, std::min(back, r), 0, 0);
      }
    }

    // Priority ranks: the fair part of a higher priority outranks everything of a lower one.
    std::vector<int> priorities;
    for (const auto& ev : p_.evs) priorities.push_back(ev.priority);
    std::sort(priorities.begin(), priorities.end());
    priorities.erase(std::unique(priorities.begin(), priorities.end()), priorities.end());

    evs_.resize(n_evs);
    Units total_need = 0;
    for (std::size_t e = 0; e < n_evs; ++e) {
      const auto& ev = p_.evs[e];
      auto& arcs = evs_[e];
      const int len = ev.departure_slot - ev.arrival_slot;
      // A partly elapsed slot 0 holds the pile to what it can give in the rest of it.
      first_units_[e] =
          std::min(floor_units(ev.max_kw * p_.first_slot_fraction * slot_h_, unit_kwh_), max_u[e]);
      auto charge_cap = [&](int t) { return t == 0 ? first_units_[e] : max_u[e]; };
      if (dis_u[e] == 0) {
        arcs.sink = g_.addNode();
        for (int t = ev.arrival_slot; t < ev.departure_slot; ++t)
          arcs.charge.push_back(
              g_.id(add_arc(gnode[at(ev.node, t)], arcs.sink, charge_cap(t), 0, 0)));
      } else {
        has_v2g_ = true;
        // State-of-charge chain: battery node per slot, linked in time by arcs that carry the
        // energy above the floor (reserve) and below the battery size.
        const double floor_kwh = std::min(ev.reserve_kwh, ev.initial_kwh);
        const Units room = floor_units(ev.battery_kwh - floor_kwh, unit_kwh_);
        arcs.battery_units = floor_units(ev.initial_kwh - floor_kwh, unit_kwh_);
        const Units discharge_cost =
            price_units(ev.discharge_price_per_kwh) * kPenaltyRange;
        Graph::Node prev = lemon::INVALID;
        for (int k = 0; k <= len; ++k) {
          const Graph::Node b = g_.addNode();
          if (k == 0) arcs.first = b;
          if (prev != lemon::INVALID) add_arc(prev, b, room, 0, 0);
          if (k < len) {
            const Graph::Node grid = gnode[at(ev.node, ev.arrival_slot + k)];
            arcs.charge.push_back(g_.id(add_arc(grid, b, charge_cap(ev.arrival_slot + k), 0, 0)));
            arcs.discharge.push_back(g_.id(add_arc(b, grid, dis_u[e], discharge_cost, 0)));
          }
          prev = b;
        }
        arcs.sink = prev;
        if (len == 0) arcs.first = prev;
      }
      // Two arcs to the sink: the EV's fair share (set by fair_shares(), worth more) and the
      // rest of its need (what floor rounding of the shares leaves), both ranked by priority.
      const Units rank =
          static_cast<Units>(std::lower_bound(priorities.begin(), priorities.end(), ev.priority) -
                             priorities.begin());
      arcs.shares[0] = g_.id(add_arc(arcs.sink, sink_, need_[e], 0, -(2 * rank + 2), false, true));
      arcs.shares[1] = g_.id(add_arc(arcs.sink, sink_, 0, 0, -(2 * rank + 1), false, true));
      arcs.rank = rank;
      total_need += need_[e];
    }
    bypass_ = g_.id(add_arc(source_, sink_, total_need, 0, 0, false, true));
    // A network simplex run that ends infeasible costs as much as a solve; catch the plain
    // cases (more need than the transformer can pass over the horizon) without one.
    if (total_need > root_energy) obviously_short_ = true;
  }

  const Problem& p_;
  const OptimalOptions& o_;
  double unit_kwh_ = 0.001;
  double slot_h_ = 0.25;
  double level_min_ = 0;
  double level_width_ = 0;
  bool obviously_short_ = false;
  bool has_v2g_ = false;
  Units max_cost_ = 0;     // largest |arc cost| of the cost solve
  Units max_reward_ = 0;   // largest share reward of the sharing solve
  Graph g_;
  Graph::ArcMap<Units> upper_deliver_, upper_share_, cost_deliver_, cost_share_;
  Graph::Node source_, sink_;
  int bypass_ = -1;  // S -> T, takes what is not delivered in the sharing solves
  std::vector<EvArcs> evs_;
  std::vector<Units> need_;
  std::vector<Units> max_units_;    // per EV and slot
  std::vector<Units> first_units_;  // per EV in slot 0 (Problem::first_slot_fraction)
};

// The exact (continuous) plan and its status; counts solves into result.
Plan solve_exact(const Problem& problem, const OptimalOptions& options, OptimalResult& result) {
  FlowModel model(problem, options);
  if (result.graph_nodes == 0) {
    result.graph_nodes = model.nodes();
    result.graph_arcs = model.arcs();
  }
  Plan plan;
  bool met = false;
  if (!model.obviously_short()) {
    ++result.solves;
    met = model.deliver(model.need(), plan.ev_kw);
  }
  if (!met) model.fair_shares(result.solves, result.fair_share_flows);
  if (!met && model.can_share_in_one_solve()) {
    ++result.solves;
    model.share_and_deliver(plan.ev_kw);
  } else if (!met) {
    ++result.solves;
    const std::vector<Units> got = model.shares();
    ++result.solves;
    if (!model.deliver(got, plan.ev_kw))
      throw std::logic_error("plan_optimal: the shares found do not fit again; this is a bug");
  }
  // The flow keeps every limit but the phase limits: a relaxation. When its optimum keeps the
  // phase limits too it is optimal for the whole problem (same objectives, fewer plans to
  // choose from); otherwise the exact LP decides (docs/scheduler.md, "Phase limits").
  if (detail::has_phase_limits(problem) && !detail::phase_limits_hold(problem, plan.ev_kw)) {
    ++result.lp_solves;
    plan.ev_kw = detail::solve_phase_lp(problem, options);
  }
  const double slot_h = problem.slot_hours();
  plan.status = Plan::Status::optimal;
  for (std::size_t e = 0; e < problem.evs.size(); ++e) {
    double got_kwh = 0;
    for (double kw : plan.ev_kw[e]) got_kwh += kw * slot_h;
    if (got_kwh < problem.evs[e].energy_kwh - kSessionMetToleranceKwh)
      plan.status = Plan::Status::capacity_short;
  }
  return plan;
}

// The exact plan may fill a node to the last watt in every slot of a car's window; rounded,
// each such slot keeps less than one step free, and a remainder finds no place although a
// slightly different exact plan (another car charging later) would leave room. So when
// rounding loses energy of a request the exact plan meets, the exact plan is solved again with
// one step less (the car's whole-amp step, or its minimum on piles continuous above it) at
// every node-slot left pinched (less than that free) on a losing car's path, and rounded again
// against the true limits; pinches found in that plan lower by one step more, up to
// kMarginRounds solves. The first plan that loses nothing, else the one losing least, is
// kept; a margin that would cost a request, or that loses no less, ends the search. Only runs
// on a loss.
constexpr int kMarginRounds = 4;

void retry_with_margins(const Problem& problem, const OptimalOptions& options,
                        OptimalResult& result) {
  const double slot_h = problem.slot_hours();
  OptimalOptions exact_options = options;
  exact_options.round_setpoints = false;
  Problem tighter = problem;
  Plan latest = result.plan;
  // The round in which each node-slot was last lowered: once per round, however many losing
  // cars share it.
  std::vector<std::vector<int>> lowered_in(
      problem.nodes.size(), std::vector<int>(static_cast<std::size_t>(problem.slots), -1));
  for (int round = 0; round < kMarginRounds && result.rounding_loss_kwh > 0; ++round) {
    const auto load = node_load_kw(problem, latest);
    bool lowered = false;
    for (std::size_t e = 0; e < problem.evs.size(); ++e) {
      const auto& ev = problem.evs[e];
      // What the car needs free to take more: one whole-amp step, or for piles continuous
      // above their minimum, the minimum (to open a slot).
      const double step_kw = ev.power_step_kw > 0 ? ev.power_step_kw : ev.min_kw;
      if (ev.discharge_max_kw > 0 || !(step_kw > 0)) continue;
      double planned_kwh = 0;
      for (double kw : latest.ev_kw[e]) planned_kwh += kw * slot_h;
      if (planned_kwh >= ev.energy_kwh - kSessionMetToleranceKwh) continue;
      for (int n = ev.node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent) {
        const auto ns = static_cast<std::size_t>(n);
        for (int t = ev.arrival_slot; t < ev.departure_slot; ++t) {
          const auto ts = static_cast<std::size_t>(t);
          if (problem.nodes[ns].limit_kw[ts] - load[ns][ts] >= step_kw - 1e-9 ||
              lowered_in[ns][ts] == round)
            continue;
          tighter.nodes[ns].limit_kw[ts] -= step_kw;
          lowered_in[ns][ts] = round;
          lowered = true;
        }
      }
    }
    if (!lowered) return;
    latest = solve_exact(tighter, exact_options, result);
    if (latest.status != Plan::Status::optimal) return;
    const double loss_kwh = detail::round_setpoints(problem, latest.ev_kw);
    if (!(loss_kwh < result.rounding_loss_kwh - 1e-9)) return;  // more margin rarely helps then
    result.plan.ev_kw = latest.ev_kw;
    result.rounding_loss_kwh = loss_kwh;
  }
}

}  // namespace

OptimalResult solve_optimal(const Problem& problem, const OptimalOptions& options) {
  check(problem, options);
  OptimalResult result;
  // The status is the exact plan's: rounding to accepted setpoints is a property of the piles,
  // not of the capacity, and what it cannot place is reported apart (rounding_loss_kwh).
  result.plan = solve_exact(problem, options, result);
  Plan& plan = result.plan;
  if (options.round_setpoints) {
    result.rounding_loss_kwh = detail::round_setpoints(problem, plan.ev_kw);
    if (result.rounding_loss_kwh > 0 && plan.status == Plan::Status::optimal)
      retry_with_margins(problem, options, result);
  }
  plan.charging_kw.assign(static_cast<std::size_t>(problem.slots), 0.0);
  for (const auto& row : plan.ev_kw)
    for (std::size_t t = 0; t < row.size(); ++t) plan.charging_kw[t] += row[t];
  return result;
}

Plan plan_optimal(const Problem& problem) { return solve_optimal(problem, {}).plan; }

Plan plan_optimal(const Problem& problem, const OptimalOptions& options) {
  return solve_optimal(problem, options).plan;
}

}  // namespace orderly::scheduler
