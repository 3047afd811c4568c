#pragma once
// A simulated transformer meter: subscribes to every charger's status topic, adds their power
// (as the real meter at the transformer measures it) to a base load given as a function of
// (simulated) time, and publishes its status on <prefix>/meter/<id>/status every period (real
// time). Own libmosquitto client and network thread, like a real device.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "orderly/drivers/clock.hpp"

namespace orderly::drivers::sim {

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
  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::drivers::sim
