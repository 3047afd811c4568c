#pragma once
// The gateway's side of Orderly's native MQTT protocol (docs/mqtt-protocol.md): one Paho
// connection serving every charger and meter that speaks it.
//
// Threads: Paho's callbacks run on Paho's threads; they only parse and validate, then
// boost::asio::post() the result to the core executor. Every piece of device state (health,
// pending acknowledgements, staleness) lives on the core executor, and DeviceEvents are called
// there. Call every member function from the core executor too, except the constructor and
// destructor (which must not race with the core running handlers of this object: destroy it
// on the core thread or after the io_context has stopped).
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/drivers/profile.hpp"

namespace orderly::drivers {

struct MqttOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string client_id = "orderly-gateway";
  std::string username, password;  // empty username = anonymous
  std::string topic_prefix = "orderly/v1";
  std::chrono::seconds keepalive{30};
  // TLS (ssl:// to host:port): the broker's certificate chain and its host name are always
  // verified; there is no switch to turn that off. Empty ca_file = the system trust store;
  // cert_file and key_file (PEM) = the client certificate the broker may demand.
  bool tls = false;
  std::string ca_file, cert_file, key_file;
  // Transport timings are real (wall-clock) durations, whatever the injected Clock's speed:
  // they describe the network, not the simulated world.
  std::chrono::milliseconds reconnect_min_delay{500};
  std::chrono::milliseconds reconnect_max_delay{10000};
  // No acknowledgement of a limit within this -> LimitAck{accepted=false}.
  std::chrono::milliseconds ack_timeout{5000};
  // A device whose last valid status is older than this is reported offline. Devices publish at
  // least every period (1 s by default), so 3x the period tolerates two lost messages.
  std::chrono::milliseconds stale_after{3000};
  // Validation errors of one device are logged at most once per this interval (the count of
  // suppressed lines is given with the next one); Health counts every one.
  std::chrono::milliseconds error_log_interval{10000};
  // Per device, in real time: messages beyond `message_burst` at once and `max_messages_per_s`
  // sustained are dropped unread on Paho's thread, counted in Health::dropped and logged
  // (throttled as above) naming the device. A native pile publishes about once a second and a
  // profile device a handful of topics at once; a broken or hostile one flooding the broker
  // must not cost the core a decode, a snapshot and a re-plan per message.
  double max_messages_per_s = 10;
  double message_burst = 40;
};

// What a native pile falls back to when the gateway goes quiet (docs/mqtt-protocol.md,
// "Failsafe settings"): at most `current_a` per phase once `timeout` passes without a limit.
struct FailsafeSettings {
  double current_a = 6;
  std::chrono::seconds timeout{120};
  bool operator==(const FailsafeSettings&) const = default;
};

// The Mosquitto ACL lines a charger on its vendor's own topics needs beside the packaged
// /etc/orderly/orderly.acl, which gives the gateway only <topic_prefix>/# and each device only its
// orderly/v1/ topics: the gateway's user reads what the pile publishes and writes its command
// topics, the pile's login (its charger id, as orderly-add-device makes it) the other way round.
// Exact topics, no wildcards, so one pile cannot read or command another. `base_topic` as for
// add_profile_charger (empty = the profile's). Throws std::invalid_argument for a profile
// without [mqtt].
std::string mosquitto_acl_for_profile_charger(const std::string& charger_id, const DeviceProfile& profile,
                                              const std::string& base_topic, const std::string& gateway_user);

class MqttDevices {
 public:
  MqttDevices(boost::asio::any_io_executor core, const Clock& clock, MqttOptions options, DeviceEvents events);
  ~MqttDevices();
  MqttDevices(const MqttDevices&) = delete;
  MqttDevices& operator=(const MqttDevices&) = delete;

  // Register devices before start(). Throws std::invalid_argument for an id that cannot be a
  // topic level or is registered twice. `caps` are the configured electrical fields; the driver
  // declares pause, failsafe and measures_phase_currents from the protocol or the profile.
  // `failsafe`: sent to the pile whenever it comes online (it may have rebooted and forgotten
  // them); a refusal, a malformed answer or none is logged and counted in its Health. Without
  // it the pile keeps the failsafe it was configured with.
  std::shared_ptr<ChargerDriver> add_charger(const std::string& id, const Capabilities& caps,
                                             std::optional<FailsafeSettings> failsafe = std::nullopt);
  // New failsafe settings for a native charger: sent at once when it is online and they differ
  // from what it acknowledged, else when it comes online. Throws std::invalid_argument for an
  // unknown or profile-described charger.
  void set_failsafe(const std::string& charger_id, const FailsafeSettings& failsafe);
  std::shared_ptr<MeterDriver> add_meter(const std::string& id);
  // A charger that speaks its vendor's MQTT dialect, described by the [mqtt] section of its
  // profile (docs/device-profiles.md): read points are subscribed ({base} = `base_topic`, or the
  // profile's base_topic when empty), limits go out as whole amps on the set_current_a write
  // point and are acknowledged by the echo on ack_topic (a 0 A claim pauses). Throws std::invalid_argument for a profile without [mqtt] or set_current_a, a
  // topic with wildcards, or a topic another device already uses.
  std::shared_ptr<ChargerDriver> add_profile_charger(const std::string& id, const DeviceProfile& profile,
                                                     const std::string& base_topic, const Capabilities& caps);

  // Connects in the background, reconnecting with backoff, and (re)subscribes on every
  // connection. Never throws for an unreachable broker or a failed TLS handshake: devices
  // report offline with the reason (e.g. the certificate the handshake refused) and the failure
  // is logged once (again when the reason changes, and when the connection comes back).
  void start();
  // Publishes the gateway's online flag "false", disconnects cleanly, cancels timers.
  void stop();
  bool connected() const;

  const MqttOptions& options() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace orderly::drivers
