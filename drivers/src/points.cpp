#include "orderly/drivers/points.hpp"

#include <cmath>

#include "orderly/base/units.hpp"

namespace orderly::drivers {
namespace {

double number(const PointValues& v, const std::string& name) {
  auto it = v.numbers.find(name);
  return it == v.numbers.end() ? kNotMeasured : it->second;
}

std::string word(const PointValues& v, const std::string& name) {
  auto it = v.words.find(name);
  return it == v.words.end() ? std::string() : it->second;
}

// `quantity`_l<phase+1>_`unit`: current_l1_a, voltage_l2_v, power_l3_w.
std::string phase_point(const char* quantity, int phase, const char* unit) {
  return std::string(quantity) + "_l" + std::to_string(phase + 1) + "_" + unit;
}

ChargerState state_of(const PointValues& v) {
  ChargerState s = charger_state_from_string(word(v, "state")).value_or(ChargerState::unknown);
  const std::string plug = word(v, "plug");
  if (plug == "unplugged") return ChargerState::unplugged;
  if (plug == "plugged" && (s == ChargerState::unknown || s == ChargerState::unplugged)) return ChargerState::plugged;
  return s;
}

}  // namespace

bool is_word_point(const std::string& name) { return name == "state" || name == "plug" || name == "rfid"; }

ChargerSnapshot charger_snapshot(const PointValues& values, int phases) {
  ChargerSnapshot s;
  s.state = state_of(values);
  s.power_w = number(values, "power_w");
  for (int i = 0; i < 3; ++i) {
    const auto at = static_cast<std::size_t>(i);
    s.current_a[at] = number(values, phase_point("current", i, "a"));
    s.voltage_v[at] = number(values, phase_point("voltage", i, "v"));
  }
  s.session_energy_wh = number(values, "session_energy_wh");
  s.total_energy_wh = number(values, "total_energy_wh");
  const double applied_a = number(values, "applied_current_a");
  s.applied_limit_w = std::isfinite(applied_a) ? applied_a * power_w_at_nominal(1.0, phases) : kNotMeasured;
  s.rfid = word(values, "rfid");
  return s;
}

MeterSnapshot meter_snapshot(const PointValues& values) {
  MeterSnapshot s;
  s.power_w = number(values, "power_w");
  for (int i = 0; i < 3; ++i) {
    const auto at = static_cast<std::size_t>(i);
    s.power_w_phase[at] = number(values, phase_point("power", i, "w"));
    s.current_a[at] = number(values, phase_point("current", i, "a"));
    s.voltage_v[at] = number(values, phase_point("voltage", i, "v"));
  }
  s.import_energy_wh = number(values, "import_energy_wh");
  s.export_energy_wh = number(values, "export_energy_wh");
  return s;
}

void SessionEnergyFromTotal::apply(ChargerSnapshot& s) {
  if (std::isfinite(s.session_energy_wh)) return;
  if (s.state == ChargerState::unplugged) {
    plugged_at_wh_.reset();
    return;
  }
  // Unknown (offline, or a state the pile did not give): neither a new session nor the end of one.
  if (!std::isfinite(s.total_energy_wh) || s.state == ChargerState::unknown) return;
  // A counter that went back was replaced or reset: the session counts on from its new value.
  if (!plugged_at_wh_ || s.total_energy_wh < *plugged_at_wh_) plugged_at_wh_ = s.total_energy_wh;
  s.session_energy_wh = s.total_energy_wh - *plugged_at_wh_;
}

bool reads_phase_currents(int phases, const std::function<bool(const std::string& point)>& readable) {
  for (int i = 0; i < phases; ++i)
    if (!readable(phase_point("current", i, "a"))) return false;
  return true;
}

}  // namespace orderly::drivers
