#include "orderly/scheduler/validate.hpp"

#include <cmath>
#include <set>
#include <sstream>

namespace orderly::scheduler {
namespace {

std::string ev_where(const Problem& p, std::size_t i) {
  std::ostringstream s;
  s << "evs[" << i << "] (id \"" << p.evs[i].id << "\")";
  return s.str();
}

std::string node_where(const Problem& p, std::size_t i) {
  std::ostringstream s;
  s << "capacity node " << i << " (id \"" << p.nodes[i].id << "\")";
  return s.str();
}

bool bad_number(double v) { return !std::isfinite(v); }

}  // namespace

std::vector<std::string> problems(const Problem& p) {
  std::vector<std::string> out;
  auto add = [&](const std::string& where, const std::string& what) { out.push_back(where + ": " + what); };
  const auto slots = static_cast<std::size_t>(p.slots > 0 ? p.slots : 0);

  if (p.slots <= 0) add("slots", "must be positive, got " + std::to_string(p.slots));
  if (!(p.slot_minutes > 0) || bad_number(p.slot_minutes))
    add("slot_minutes", "must be a positive number of minutes");
  if (!(p.first_slot_fraction > 0 && p.first_slot_fraction <= 1))
    add("first_slot_fraction", "must be within (0, 1]: the part of slot 0 still ahead");
  if (p.price_per_kwh.size() != slots)
    add("price_per_kwh", "has " + std::to_string(p.price_per_kwh.size()) + " values, expected slots = " +
                             std::to_string(p.slots));
  for (std::size_t t = 0; t < p.price_per_kwh.size(); ++t)
    if (bad_number(p.price_per_kwh[t])) add("price_per_kwh[" + std::to_string(t) + "]", "is not a finite number");
  if (p.period.size() != slots)
    add("period", "has " + std::to_string(p.period.size()) + " values, expected slots = " + std::to_string(p.slots));

  if (p.nodes.empty()) add("capacity", "the capacity tree has no root node");
  std::set<std::string> node_ids;
  for (std::size_t n = 0; n < p.nodes.size(); ++n) {
    const auto& node = p.nodes[n];
    const auto where = node_where(p, n);
    if (node.id.empty()) add(where, "id is empty");
    if (!node_ids.insert(node.id).second) add(where, "duplicate id \"" + node.id + "\"");
    if (n == 0 && node.parent != -1) add(where, "the root must have parent -1");
    if (n > 0 && (node.parent < 0 || node.parent >= static_cast<int>(n)))
      add(where, "parent " + std::to_string(node.parent) + " must name an earlier node");
    if (node.limit_kw.size() != slots)
      add(where, "limit_kw has " + std::to_string(node.limit_kw.size()) + " values, expected " +
                     std::to_string(p.slots));
    for (std::size_t t = 0; t < node.limit_kw.size(); ++t)
      if (bad_number(node.limit_kw[t]) || node.limit_kw[t] < 0)
        add(where, "limit_kw[" + std::to_string(t) + "] must be a finite number >= 0");
    if (!node.base_load_kw.empty() && node.base_load_kw.size() != slots)
      add(where, "base_load_kw has " + std::to_string(node.base_load_kw.size()) + " values, expected " +
                     std::to_string(p.slots));
    for (std::size_t t = 0; t < node.base_load_kw.size(); ++t)
      if (bad_number(node.base_load_kw[t]))
        add(where, "base_load_kw[" + std::to_string(t) + "] is not a finite number");
    int phase_bases = 0;
    for (int ph = 0; ph < kPhases; ++ph) {
      const std::string name = std::string("ABC").substr(static_cast<std::size_t>(ph), 1);
      const auto& limit = node.phase_limit_kw[static_cast<std::size_t>(ph)];
      if (!limit.empty() && limit.size() != slots)
        add(where, "phase_limit_kw " + name + " has " + std::to_string(limit.size()) + " values, expected " +
                       std::to_string(p.slots));
      for (std::size_t t = 0; t < limit.size(); ++t)
        if (bad_number(limit[t]) || limit[t] < 0)
          add(where, "phase_limit_kw " + name + "[" + std::to_string(t) + "] must be a finite number >= 0");
      const auto& base = node.base_load_phase_kw[static_cast<std::size_t>(ph)];
      phase_bases += base.empty() ? 0 : 1;
      if (!base.empty() && base.size() != slots)
        add(where, "base_load_phase_kw " + name + " has " + std::to_string(base.size()) + " values, expected " +
                       std::to_string(p.slots));
      for (std::size_t t = 0; t < base.size(); ++t)
        if (bad_number(base[t]))
          add(where, "base_load_phase_kw " + name + "[" + std::to_string(t) + "] is not a finite number");
    }
    // One phase given and another not would leave the others at 0, not at a third.
    if (phase_bases != 0 && phase_bases != kPhases)
      add(where, "base_load_phase_kw must give all three phases or none");
  }

  std::set<std::string> ev_ids;
  for (std::size_t i = 0; i < p.evs.size(); ++i) {
    const auto& ev = p.evs[i];
    const auto where = ev_where(p, i);
    if (ev.id.empty()) add(where, "id is empty");
    if (!ev_ids.insert(ev.id).second) add(where, "duplicate id \"" + ev.id + "\"");
    if (ev.node < 0 || ev.node >= static_cast<int>(p.nodes.size()))
      add(where, "node index " + std::to_string(ev.node) + " is not in the capacity tree");
    if (ev.arrival_slot < 0 || ev.arrival_slot > p.slots)
      add(where, "arrival_slot " + std::to_string(ev.arrival_slot) + " is outside 0.." + std::to_string(p.slots));
    if (ev.departure_slot < 0 || ev.departure_slot > p.slots)
      add(where, "departure_slot " + std::to_string(ev.departure_slot) + " is outside 0.." +
                     std::to_string(p.slots) + " (slots)");
    if (ev.departure_slot < ev.arrival_slot)
      add(where, "departure_slot " + std::to_string(ev.departure_slot) + " is before arrival_slot " +
                     std::to_string(ev.arrival_slot));
    auto non_negative = [&](const char* field, double v) {
      if (bad_number(v) || v < 0) {
        std::ostringstream s;
        s << field << " " << v << " must be a finite number >= 0";
        add(where, s.str());
      }
    };
    non_negative("energy_kwh", ev.energy_kwh);
    non_negative("max_kw", ev.max_kw);
    non_negative("min_kw", ev.min_kw);
    non_negative("power_step_kw", ev.power_step_kw);
    non_negative("discharge_max_kw", ev.discharge_max_kw);
    non_negative("battery_kwh", ev.battery_kwh);
    non_negative("initial_kwh", ev.initial_kwh);
    non_negative("reserve_kwh", ev.reserve_kwh);
    non_negative("discharge_price_per_kwh", ev.discharge_price_per_kwh);
    if (ev.min_kw > ev.max_kw) {
      std::ostringstream s;
      s << "min_kw " << ev.min_kw << " is above max_kw " << ev.max_kw;
      add(where, s.str());
    }
    if (ev.discharge_max_kw > 0) {
      // Discharge needs the battery state to keep the car above its reserve (V2G only).
      if (!(ev.battery_kwh > 0)) add(where, "discharge_max_kw > 0 needs battery_kwh > 0");
      if (ev.initial_kwh > ev.battery_kwh) add(where, "initial_kwh is above battery_kwh");
      if (ev.reserve_kwh > ev.battery_kwh) add(where, "reserve_kwh is above battery_kwh");
    }
    if (ev.battery_kwh > 0 && ev.initial_kwh + ev.energy_kwh > ev.battery_kwh + 1e-9) {
      std::ostringstream s;
      s << "initial_kwh " << ev.initial_kwh << " + energy_kwh " << ev.energy_kwh << " exceeds battery_kwh "
        << ev.battery_kwh;
      add(where, s.str());
    }
  }
  return out;
}

}  // namespace orderly::scheduler
