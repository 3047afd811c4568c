// Realistic residential-community instances. Session shapes (arrival time, stay, energy) come
// from the Trondheim apartment-garage data set when it is present (Sørensen et al., Data in
// Brief 36 (2021) 107105, CC BY 4.0), otherwise from a synthetic generator with the same
// evening-arrival / overnight-stay shape.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "orderly/test/optimal_testkit.hpp"

namespace orderly::test {
namespace {

using scheduler::CapacityNode;
using scheduler::EvRequest;
using scheduler::Period;
using scheduler::Problem;
using scheduler::PhaseSet;

// splitmix64: tiny, and the same sequence on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int between(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  std::uint64_t state_;
};

// Multiples of 12 W are whole Wh in both 15-min and 5-min slots.
double grid_kw(double kw) { return std::round(kw / 0.012) * 0.012; }
double whole_wh(double kwh) { return std::floor(kwh * 1000.0) / 1000.0; }

struct Session {
  double arrival_h;  // hours after 12:00
  double stay_h;
  double energy_kwh;
  bool is_private;
};

std::vector<Session> load_trondheim() {
  std::vector<Session> out;
  std::ifstream in(std::string(ORDERLY_DATA_DIR) + "/norway_trondheim_residential_ev_sessions.csv");
  if (!in) return out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    if (f.size() < 9 || f[6] == "NA" || f[6].empty() || f[8] == "NA") continue;
    // plugin_local is ISO: 2018-12-21T10:20:00
    if (f[5].size() < 16) continue;
    const double hour = std::stod(f[5].substr(11, 2)) + std::stod(f[5].substr(14, 2)) / 60.0;
    const double kwh = std::stod(f[7]);
    const double stay = std::stod(f[8]);
    if (hour < 12 || stay < 1 || kwh < 1) continue;
    out.push_back({hour - 12.0, stay, kwh, f[3] == "Private"});
  }
  return out;
}

const std::vector<Session>& trondheim() {
  static const std::vector<Session> sessions = load_trondheim();
  return sessions;
}

// Arrival weights for 12:00..23:00 (per hour), the shape of the Trondheim arrivals.
constexpr int kArrivalWeights[12] = {294, 408, 787, 966, 608, 584, 676, 583, 463, 374, 199, 102};

Session synthetic_session(Rng& rng) {
  int total = 0;
  for (int w : kArrivalWeights) total += w;
  int pick = rng.between(0, total - 1), hour = 0;
  while (pick >= kArrivalWeights[hour]) pick -= kArrivalWeights[hour++];
  return {hour + rng.uniform(), 8.0 + 8.0 * rng.uniform(), 5.0 + 35.0 * rng.uniform(),
          rng.uniform() < 0.8};
}

// Residential base load shape by hour of day (evening peak, night valley), relative to peak.
double base_shape(double hour_of_day) {
  constexpr double shape[24] = {0.45, 0.40, 0.36, 0.35, 0.35, 0.38, 0.48, 0.60,
                                0.62, 0.58, 0.56, 0.58, 0.62, 0.60, 0.58, 0.60,
                                0.68, 0.80, 0.92, 1.00, 0.98, 0.90, 0.75, 0.58};
  return shape[static_cast<int>(hour_of_day) % 24];
}

// A Chinese residential-style time-of-use tariff: valley 23:00-07:00.
std::pair<double, Period> tariff(double hour_of_day) {
  const int h = static_cast<int>(hour_of_day) % 24;
  if (h >= 23 || h < 7) return {0.3071, Period::valley};
  if (h >= 19 && h < 21) return {1.1365, Period::sharp};
  if ((h >= 10 && h < 15) || (h >= 18 && h < 19)) return {0.9474, Period::peak};
  return {0.6278, Period::flat};
}

}  // namespace

bool trondheim_available() { return !trondheim().empty(); }

Problem make_instance(const InstanceSpec& spec, std::uint64_t seed) {
  Rng rng(seed * 0x2545f4914f6cdd1dULL + 17);
  Problem p;
  p.slots = spec.slots;
  p.slot_minutes = 1440.0 / spec.slots;
  const double slot_h = p.slot_hours();
  const auto slots = static_cast<std::size_t>(spec.slots);
  auto hour_of = [&](std::size_t t) { return 12.0 + static_cast<double>(t) * slot_h; };
  for (std::size_t t = 0; t < slots; ++t) {
    const auto [price, period] = tariff(hour_of(t));
    p.price_per_kwh.push_back(price);
    p.period.push_back(period);
  }

  // Tree: root -> phases -> two feeders each. Base load lives on the feeders (1.2 kW peak per
  // household, one household per EV), parents sum their children.
  const int phases = spec.phases;
  const int feeders = phases * 2;
  const int n_nodes = 1 + phases + feeders;
  p.nodes.resize(static_cast<std::size_t>(n_nodes));
  p.nodes[0].id = "transformer";
  for (int ph = 0; ph < phases; ++ph) {
    p.nodes[static_cast<std::size_t>(1 + ph)].id = "phase-" + std::to_string(ph + 1);
    p.nodes[static_cast<std::size_t>(1 + ph)].parent = 0;
  }
  for (int f = 0; f < feeders; ++f) {
    auto& node = p.nodes[static_cast<std::size_t>(1 + phases + f)];
    node.id = "feeder-" + std::to_string(f + 1);
    node.parent = 1 + f / 2;
  }
  for (auto& node : p.nodes) node.base_load_kw.assign(slots, 0.0);
  const double households = spec.evs * 1.2;
  for (std::size_t t = 0; t < slots; ++t) {
    const double total = households * base_shape(hour_of(t));
    if (feeders == 0) {
      p.nodes[0].base_load_kw[t] = grid_kw(total);
      continue;
    }
    for (int f = 0; f < feeders; ++f) {
      const double share = total / feeders * (0.85 + 0.3 * rng.uniform());
      const double kw = grid_kw(share);
      for (int n = 1 + phases + f; n >= 0; n = p.nodes[static_cast<std::size_t>(n)].parent)
        p.nodes[static_cast<std::size_t>(n)].base_load_kw[t] += kw;
    }
  }
  for (auto& node : p.nodes)
    for (double& kw : node.base_load_kw) kw = grid_kw(kw);

  // EVs.
  const bool fine = spec.slots > 96;
  const auto& data = trondheim();
  const bool from_data = spec.use_trondheim && !data.empty();
  double sum_max_kw = 0;
  for (int e = 0; e < spec.evs; ++e) {
    const Session s = from_data ? data[rng.next() % data.size()] : synthetic_session(rng);
    EvRequest ev;
    ev.id = "ev-" + std::to_string(e + 1);
    ev.node = feeders > 0 ? 1 + phases + rng.between(0, feeders - 1) : 0;
    const double r = rng.uniform();
    ev.max_kw = r < 0.8 ? (fine ? 7.2 : 7.0) : (r < 0.9 ? 3.6 : (fine ? 10.8 : 11.0));
    ev.arrival_slot = std::min(spec.slots - 1, static_cast<int>(s.arrival_h / slot_h));
    ev.departure_slot =
        std::min(spec.slots, ev.arrival_slot + std::max(1, static_cast<int>(s.stay_h / slot_h)));
    const double window_kwh = ev.max_kw * slot_h * (ev.departure_slot - ev.arrival_slot);
    ev.energy_kwh = whole_wh(std::min(std::clamp(s.energy_kwh, 5.0, 40.0), 0.9 * window_kwh));
    ev.is_private = s.is_private;
    ev.priority = 1 + rng.between(0, std::max(1, spec.priorities) - 1);
    if (spec.ac_rounding) {
      ev.min_kw = 1.38;
      ev.power_step_kw = 0.23;
    }
    if (rng.uniform() < spec.v2g_share) {
      ev.discharge_max_kw = ev.max_kw;
      ev.battery_kwh = 60;
      ev.reserve_kwh = 15;
      ev.initial_kwh = whole_wh(20 + 15 * rng.uniform());
      ev.energy_kwh = std::min(ev.energy_kwh, whole_wh(ev.battery_kwh - ev.initial_kwh));
      ev.discharge_price_per_kwh = 0.2;
      ev.min_kw = 0;
      ev.power_step_kw = 0;
    }
    if (spec.single_phase_share > 0 || spec.any_one_share > 0) {
      if (rng.uniform() < spec.single_phase_share) {
        const std::array<PhaseSet, 3> single{PhaseSet::a, PhaseSet::b, PhaseSet::c};
        ev.phases = single[static_cast<std::size_t>(rng.between(0, 2))];
        ev.max_kw = std::min(ev.max_kw, 7.0);
        const double window_kwh = ev.max_kw * slot_h * (ev.departure_slot - ev.arrival_slot);
        ev.energy_kwh = std::min(ev.energy_kwh, whole_wh(0.9 * window_kwh));
      } else if (rng.uniform() < spec.any_one_share) {
        ev.phases = PhaseSet::any_one;
      }
    }
    sum_max_kw += ev.max_kw;
    p.evs.push_back(ev);
  }

  // Limits: whole kW on the 12 W grid. The root is tight enough to bind in the evening peak.
  double base_peak = 0;
  for (double kw : p.nodes[0].base_load_kw) base_peak = std::max(base_peak, kw);
  const double root_kw = std::round(base_peak + spec.root_tightness * sum_max_kw / 4.0);
  for (std::size_t n = 0; n < p.nodes.size(); ++n) {
    double limit = root_kw;
    if (n >= 1 && static_cast<int>(n) <= phases) limit = std::round(root_kw / phases * 1.1);
    if (static_cast<int>(n) > phases) limit = std::round(root_kw / phases * 0.65);
    p.nodes[n].limit_kw.assign(slots, grid_kw(limit));
  }
  if (spec.dr_event)
    for (std::size_t t = 0; t < slots; ++t)
      if (hour_of(t) >= 18 && hour_of(t) < 20)
        p.nodes[0].limit_kw[t] = grid_kw(std::round(root_kw * 0.85));
  if (spec.phase_tightness > 0) {
    auto& root = p.nodes[0];
    const std::array<double, 3> split{0.4, 0.3, 0.3};
    for (std::size_t ph = 0; ph < 3; ++ph) {
      root.phase_limit_kw[ph].assign(slots, grid_kw(std::round(root_kw / 3 * spec.phase_tightness)));
      root.base_load_phase_kw[ph].resize(slots);
      for (std::size_t t = 0; t < slots; ++t) root.base_load_phase_kw[ph][t] = grid_kw(root.base_load_kw[t] * split[ph]);
    }
    if (spec.feeder_phase_limits && phases > 0)
      for (const int f : {0, 3}) {
        if (f >= feeders) continue;
        auto& node = p.nodes[static_cast<std::size_t>(1 + phases + f)];
        for (auto& limit : node.phase_limit_kw) limit.assign(slots, grid_kw(std::round(node.limit_kw[0] * 0.4 * spec.phase_tightness)));
      }
  }
  return p;
}

double plan_cost_yuan(const Problem& problem, const std::vector<std::vector<double>>& ev_kw) {
  const double slot_h = problem.slot_hours();
  double cost = 0;
  for (std::size_t e = 0; e < ev_kw.size(); ++e)
    for (std::size_t t = 0; t < ev_kw[e].size(); ++t) {
      const double kwh = ev_kw[e][t] * slot_h;
      cost += problem.price_per_kwh[t] * kwh;
      if (kwh < 0) cost += problem.evs[e].discharge_price_per_kwh * -kwh;
    }
  return cost;
}

}  // namespace orderly::test
