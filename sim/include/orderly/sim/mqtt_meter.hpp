#pragma once
// A simulated transformer meter: subscribes to every charger's status topic, adds their power
// (as the real meter at the transformer measures it) to a base load given as a function of
// (simulated) time, and publishes its status on <prefix>/meter/<id>/status every period (real
// time). Own libmosquitto client and network thread, like a real device.
//
// Tests judge the gateway by what this meter published, as an inspector would read the real
// transformer meter: on_reading() reports every published value with its times.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "orderly/base/clock.hpp"

namespace orderly::sim {

// One published reading.
struct MeterReading {
  TimePoint at{};                                        // the Clock's time of the measurement
  std::chrono::steady_clock::time_point published_at{};  // real time it went to the broker
  double power_w = 0;                                    // total published
  double base_load_w = 0;                                // of which base load (function + offset)
  std::array<double, 3> power_w_phase{0, 0, 0};          // per phase L1..L3, as published
  double true_power_w = 0;                               // the load really there (= power_w unless faulty)
  bool published = true;                                 // false while the meter is silent
};

// How a real meter goes wrong, for tests of the gateway's plausibility checks.
enum class MeterFault {
  none,
  fixed,   // publishes one value whatever the load (a reversed CT reading -50 kW, bad scaling)
  frozen,  // repeats its last published values with new times (a frozen register)
  silent,  // stays connected and publishes nothing
};

class SimMqttMeter {
 public:
  SimMqttMeter(std::string id, std::string host, std::uint16_t port, const Clock& clock,
               std::function<double(TimePoint)> base_load_w,
               std::chrono::milliseconds period = std::chrono::milliseconds(1000),
               std::string topic_prefix = "orderly/v1");
  ~SimMqttMeter();
  SimMqttMeter(const SimMqttMeter&) = delete;
  SimMqttMeter& operator=(const SimMqttMeter&) = delete;

  void start();
  void stop();

  double last_power_w() const;            // last published total (thread-safe)
  double chargers_power_w() const;        // sum of chargers' last reported power
  void set_base_load_offset_w(double offset_w);
  // From the next reading on; the observer keeps seeing the true load (true_power_w).
  void inject_fault(MeterFault fault, double fixed_w = 0);
  bool connected() const;

  // Called on the meter's own thread after every publish (a test records them; keep it short,
  // it delays the next reading). Replaces any earlier observer; an empty function removes it.
  void on_reading(std::function<void(const MeterReading&)> observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::sim
