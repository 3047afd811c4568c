#pragma once
// The two small interfaces every device hides behind, whatever its transport (MQTT, Modbus
// TCP/RTU, DL/T 645) or model (a profile file, not a class). Drivers do their I/O off the core
// thread and deliver everything through DeviceEvents, posted to the core executor, so the
// gateway's event loop is the only owner of device state.
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "orderly/base/clock.hpp"

namespace orderly::drivers {

inline constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

enum class ChargerState { unknown, unplugged, plugged, charging, fault };
const char* to_string(ChargerState s);
std::optional<ChargerState> charger_state_from_string(const std::string& s);

// What a charger reports. Quantities a device does not measure are kNotMeasured (NaN).
struct ChargerSnapshot {
  TimePoint at{};
  ChargerState state = ChargerState::unknown;
  double power_w = kNotMeasured;                      // positive = charging, negative = V2G discharge
  std::array<double, 3> current_a{kNotMeasured, kNotMeasured, kNotMeasured};  // L1..L3
  std::array<double, 3> voltage_v{kNotMeasured, kNotMeasured, kNotMeasured};
  double session_energy_wh = kNotMeasured;
  double total_energy_wh = kNotMeasured;
  double applied_limit_w = kNotMeasured;              // limit the device says it is following
  std::string rfid;                                   // empty when none presented
};

struct MeterSnapshot {
  TimePoint at{};
  double power_w = kNotMeasured;                      // total active power, import positive
  std::array<double, 3> power_w_phase{kNotMeasured, kNotMeasured, kNotMeasured};
  std::array<double, 3> current_a{kNotMeasured, kNotMeasured, kNotMeasured};
  std::array<double, 3> voltage_v{kNotMeasured, kNotMeasured, kNotMeasured};
  double import_energy_wh = kNotMeasured;
  double export_energy_wh = kNotMeasured;
};

// A power limit always carries a validity: a device that hears nothing newer falls back to its
// failsafe current when it expires, so a dead gateway leaves a safe load behind.
struct PowerLimit {
  double power_w = 0;              // 0 = pause charging; negative = discharge (V2G piles only)
  std::chrono::seconds valid_for{60};
  std::uint64_t seq = 0;           // echoed in the acknowledgement
};

struct LimitAck {
  std::uint64_t seq = 0;
  bool accepted = false;
  double applied_limit_w = kNotMeasured;
  std::string error;               // why not accepted, in words an installer can act on
};

struct Health {
  bool online = false;
  TimePoint last_good{};           // last successful read
  std::uint64_t reads_ok = 0;
  std::uint64_t errors = 0;        // protocol errors, exceptions, malformed payloads
  std::uint64_t timeouts = 0;
  std::uint64_t dropped = 0;       // messages over the device's rate limit, discarded unread (MQTT)
  std::string last_error;          // empty when healthy
};

// How a charger stops drawing when its limit is below what it can follow.
enum class PauseMethod {
  zero_current,     // 0 A written to its current setpoint
  enable_register,  // a separate enable register switched off (profile [control])
  protocol,         // Orderly's native MQTT protocol: a 0 W limit (docs/mqtt-protocol.md)
};

// What a charger can do. The gateway configures the electrical fields per site; the driver
// declares the rest from its profile or protocol.
struct Capabilities {
  int phases = 1;                  // 1 or 3
  double min_current_a = 6;        // IEC 61851: AC piles cannot run below 6 A
  double max_current_a = 32;
  double max_power_w = 7000;
  bool bidirectional = false;
  PauseMethod pause = PauseMethod::zero_current;
  bool failsafe = false;           // honours a communication timeout / fallback current
  bool measures_phase_currents = false;  // reports the current of each of its phases
};

// Everything a driver reports. Called on the core executor, never on a driver thread.
struct DeviceEvents {
  std::function<void(const std::string& device_id, const ChargerSnapshot&)> charger_snapshot;
  std::function<void(const std::string& device_id, const MeterSnapshot&)> meter_snapshot;
  std::function<void(const std::string& device_id, const LimitAck&)> limit_ack;
  std::function<void(const std::string& device_id, const Health&)> health;
};

// Health and measurements reach the core only through DeviceEvents, so a driver has nothing
// to be asked about its state.
class ChargerDriver {
 public:
  virtual ~ChargerDriver() = default;
  virtual const std::string& id() const = 0;
  virtual Capabilities capabilities() const = 0;
  // Asynchronous: returns at once; the outcome arrives as DeviceEvents::limit_ack. A limit of
  // 0 W pauses the pile.
  virtual void apply_limit(const PowerLimit& limit) = 0;
};

class MeterDriver {
 public:
  virtual ~MeterDriver() = default;
  virtual const std::string& id() const = 0;
};

}  // namespace orderly::drivers
