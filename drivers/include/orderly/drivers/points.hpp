#pragma once
// From decoded point values to the snapshots the core sees: the one place that gives the
// semantic point names listed in profile.hpp their meaning, for every transport (Modbus, DL/T 645,
// MQTT profiles). Drivers decode and validate; this only maps.
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "orderly/drivers/device.hpp"

namespace orderly::drivers {

// A device's decoded values by point name. Numbers are engineering values in the unit their
// name carries; words are what a profile's map made of a raw value (`state`, `plug`) or the
// text of a string point (`rfid`). A device that reports values one at a time (MQTT topics)
// keeps the latest of each here and maps the whole set on every change.
struct PointValues {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> words;
};

// Points carried as words or text rather than numbers.
bool is_word_point(const std::string& name);

// Points not present are kNotMeasured; `at` is left to the caller. A `plug` word overrides
// `state` where a pile's state cannot tell plugged from unplugged; applied_current_a becomes
// applied_limit_w at the nominal voltage on `phases` phases.
ChargerSnapshot charger_snapshot(const PointValues& values, int phases);
MeterSnapshot meter_snapshot(const PointValues& values);

// A pile with a lifetime energy counter and no session counter (Webasto Next, Heidelberg):
// the session's energy is what the lifetime counter rose since the car was plugged in, or since
// the driver first saw it plugged (a gateway started mid-session counts from then). A pile
// with its own session counter keeps it; one without either is left to integrate power.
// One per device, fed every snapshot in order.
class SessionEnergyFromTotal {
 public:
  void apply(ChargerSnapshot& s);

 private:
  std::optional<double> plugged_at_wh_;
};

// Whether `readable` holds for the current point of each of the pile's `phases` phases
// (current_l1_a, ...): then the pile declares Capabilities::measures_phase_currents.
bool reads_phase_currents(int phases, const std::function<bool(const std::string& point)>& readable);

}  // namespace orderly::drivers
