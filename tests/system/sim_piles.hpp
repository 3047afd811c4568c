#pragma once
// The simulated native-MQTT piles the system tests start beside the gateway: c1 .. cN.
#include <memory>
#include <string>
#include <vector>

#include "orderly/sim/mqtt_charger.hpp"

namespace orderly::test {

// `count` piles with ids c1 .. c<count>, each of `max_power_w`, connected to the broker on
// `port` and started; `options` gives everything else (publish period, failsafe answers).
inline std::vector<std::unique_ptr<sim::SimMqttCharger>> start_mqtt_piles(int count, int port, double max_power_w,
                                                                         const Clock& clock,
                                                                         sim::SimChargerOptions options = {}) {
  std::vector<std::unique_ptr<sim::SimMqttCharger>> piles;
  for (int i = 0; i < count; ++i) {
    options.id = "c" + std::to_string(i + 1);
    options.port = port;
    options.max_power_w = max_power_w;
    piles.push_back(std::make_unique<sim::SimMqttCharger>(options, clock));
    piles.back()->start();
  }
  return piles;
}

}  // namespace orderly::test
