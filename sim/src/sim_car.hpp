#pragma once
// The car behind a simulated pile, shared by the MQTT pile simulators: it takes energy until its
// need is met, never more than its own maximum, and energy integrates on the injected Clock.
// Not thread-safe: each simulator guards it with its own mutex. The pile-side rules (limits,
// failsafe, claims, the 6 A minimum) stay with each simulator.
#include <algorithm>
#include <chrono>

#include "orderly/base/clock.hpp"

namespace orderly::sim {

struct SimCar {
  bool plugged = false;
  double energy_need_wh = 0;
  double max_power_w = 0;
  double session_energy_wh = 0;
  double total_energy_wh = 0;
  MonoPoint last_update{};  // energy integrates over monotonic time: a wall step delivers nothing

  bool wants_power() const { return plugged && session_energy_wh < energy_need_wh; }

  // Call after integrating up to now with the previous state.
  void plug_in(double need_wh, double car_max_power_w) {
    plugged = true;
    energy_need_wh = need_wh;
    max_power_w = car_max_power_w;
    session_energy_wh = 0;
  }

  // Adds what `power_w` delivers from last_update to t, capped at what the car still needs.
  void integrate_to(MonoPoint t, double power_w) {
    if (t <= last_update) return;
    const double hours = std::chrono::duration<double, std::ratio<3600>>(t - last_update).count();
    double e = power_w * hours;
    if (plugged) e = std::min(e, std::max(0.0, energy_need_wh - session_energy_wh));
    session_energy_wh += e;
    total_energy_wh += e;
    last_update = t;
  }
};

}  // namespace orderly::sim
