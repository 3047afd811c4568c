#pragma once
// A simulated charger speaking Orderly's native MQTT protocol (docs/mqtt-protocol.md) through its
// own libmosquitto client and network thread, as a real pile would: nothing is shared with the
// gateway except the broker. Energy is integrated in the injected Clock's time, so the demo's
// accelerated clock charges a car in minutes; the publish period is real time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/base/units.hpp"
#include "orderly/sim/tls.hpp"

namespace orderly::sim {

struct SimChargerOptions {
  std::string id;
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string topic_prefix = "orderly/v1";
  TlsFiles tls;  // enabled: the pile talks to a TLS listener with its client certificate
  // Its login, as the shipped broker config demands (a device's user name is its id; the broker
  // then names the client after it: use_username_as_clientid). Empty = anonymous.
  std::string username, password;
  double max_power_w = 7000;
  int phases = 1;
  double voltage_v = kNominalPhaseVoltageV;
  double min_current_a = 6;            // IEC 61851-1: below this the pile pauses instead
  // Used when a limit lapses (and before the first) until a failsafe message sets the current;
  // that message also sets a communication timeout, without which only the validity counts.
  double failsafe_power_w = 1380;
  std::chrono::milliseconds publish_period{1000};  // real time
};

// How the pile answers a failsafe message (fault injection for the gateway's error paths).
enum class FailsafeAnswer {
  apply,       // applies it and acknowledges what it applied
  refuse,      // "accepted": false with a reason; keeps its previous failsafe
  malformed,   // an acknowledgement the protocol does not allow; keeps its previous failsafe
  overstate,   // acknowledges a current above the one sent (firmware bug); keeps its previous failsafe
};

// A limit the pile accepted and acknowledged (what a test compares with the gateway's audit log).
struct AckedLimit {
  std::uint64_t seq = 0;
  double power_w = 0;                                   // as applied (capped at the pile's max)
  TimePoint at{};                                       // the Clock's time
  std::chrono::steady_clock::time_point acked_at{};     // real time the ack was handed to the broker
};

class SimMqttCharger {
 public:
  SimMqttCharger(SimChargerOptions options, const Clock& clock);  // connects on start()
  ~SimMqttCharger();
  SimMqttCharger(const SimMqttCharger&) = delete;
  SimMqttCharger& operator=(const SimMqttCharger&) = delete;

  void start();
  void stop();  // clean disconnect: publishes online "false" itself

  // A car arrives and charges at min(limit, car max) until `energy_need_wh` is delivered, then
  // draws 0 and reports "plugged".
  void plug_in(double energy_need_wh, double car_max_power_w);
  void unplug();

  // Fault injection.
  void ignore_limits(bool ignore);                   // draws the car's max whatever the limit
  void set_offline(bool offline);                    // abrupt disconnect (last will fires) / reconnect
  void set_silent(bool silent);                      // stays connected, stops publishing status (hung firmware)
  void publish_garbage(const std::string& payload);  // raw payload on its status topic
  void answer_failsafe(FailsafeAnswer answer);

  // Observations (thread-safe).
  const std::string& id() const;
  double limit_w() const;            // limit being followed (failsafe after expiry)
  double power_w() const;
  double session_energy_wh() const;
  std::uint64_t limits_received() const;
  bool connected() const;
  bool in_failsafe() const;
  double failsafe_power_w() const;   // what it falls back to (the options' figure until set)
  std::uint64_t failsafe_settings_received() const;
  // Times a limit's validity ran out with a car plugged in, so the pile fell back to its
  // failsafe power (the start, before any limit, does not count; nor does an idle pile's limit
  // running out, which the gateway has no reason to refresh).
  std::uint64_t failsafe_entries() const;
  // The most recent acknowledged limits, oldest first (the last kAckedLimitsKept).
  std::vector<AckedLimit> acked_limits() const;
  static constexpr std::size_t kAckedLimitsKept = 1000;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::sim
