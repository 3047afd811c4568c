#pragma once
// A simulated charger speaking its vendor's MQTT dialect as described by a device profile's
// [mqtt] section (e.g. drivers/profiles/openevse.toml): it publishes every read point on its
// topic ({base} = base_topic), obeys the set_current_a write point (whole amps; below the
// minimum it pauses) and the enable write point where the profile pauses by it, and answers on
// the ack topic: the applied current (as OpenEVSE echoes its active claim), or the profile's
// ack_success text. Read points sharing a topic go out in one payload (json_path may index
// arrays). With an [mqtt.availability] topic it publishes "online" there (retained) and leaves
// the "offline" word as its last will. Its own libmosquitto client and thread; energy in the
// injected Clock's time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "orderly/base/clock.hpp"
#include "orderly/base/units.hpp"
#include "orderly/drivers/profile.hpp"

namespace orderly::sim {

struct SimProfileChargerOptions {
  std::string id;                      // client id suffix only
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string base_topic;              // empty = the profile's base_topic
  double voltage_v = kNominalPhaseVoltageV;
  std::chrono::milliseconds publish_period{1000};  // real time
  std::string username, password;      // the broker login; empty = anonymous
};

class SimProfileMqttCharger {
 public:
  // Throws std::invalid_argument when the profile has no [mqtt] section or set_current_a.
  SimProfileMqttCharger(SimProfileChargerOptions options, const drivers::DeviceProfile& profile, const Clock& clock);
  ~SimProfileMqttCharger();
  SimProfileMqttCharger(const SimProfileMqttCharger&) = delete;
  SimProfileMqttCharger& operator=(const SimProfileMqttCharger&) = delete;

  void start();
  void stop();

  // A car arrives and charges at min(claimed current, car max) until `energy_need_wh` is
  // delivered, then draws 0 and reports "plugged".
  void plug_in(double energy_need_wh, double car_max_power_w);
  void unplug();

  // Fault injection.
  void ignore_limits(bool ignore);   // draws the car's max whatever the claim
  void set_silent(bool silent);      // stays connected, publishes nothing (hung firmware)
  void publish_raw(const std::string& topic_leaf, const std::string& payload);  // on {base}/<leaf>
  void refuse_commands(bool refuse);  // answers a result ack with "refused", changing nothing
  void vanish();                      // drops off the network: the broker publishes its last will

  // Observations (thread-safe).
  double claimed_current_a() const;  // last current claimed; the profile's max before any claim
  bool enabled() const;              // the enable point's state (true before any command)
  double power_w() const;
  double session_energy_wh() const;
  std::uint64_t claims_received() const;
  bool connected() const;
  const std::string& base_topic() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::sim
