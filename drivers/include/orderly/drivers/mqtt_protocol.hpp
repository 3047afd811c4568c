#pragma once
// Orderly's native MQTT charger/meter protocol, version 1: topic names and payload encoding and
// validation. One implementation shared by the gateway driver (MqttDevices) and the simulated
// devices, so both sides speak exactly the same dialect. Full description: docs/mqtt-protocol.md.
//
// Pure functions, no I/O, no clock reads: safe to call on any thread (the gateway calls the
// decoders on Paho's callback threads).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"

namespace orderly::drivers::mqtt {

inline constexpr int kProtocolVersion = 1;
// The largest payload the gateway reads from a device, native or profile dialect. Real ones are
// a few hundred bytes; the shipped Mosquitto config refuses packets above this size already
// (packaging/mosquitto/orderly.conf max_packet_size), this holds where a broker does not.
inline constexpr std::size_t kMaxPayloadBytes = 16 * 1024;

// A decoded payload, or why it was rejected (one line, names the offending field).
template <class T>
struct Decoded {
  std::optional<T> value;
  std::string error;
  explicit operator bool() const { return value.has_value(); }
};

// ---- Topics: <prefix>/charger/<id>/{status,online,limit,failsafe,ack}, <prefix>/meter/<id>/{status,online},
// <prefix>/gateway/online.
enum class DeviceKind { charger, meter };
std::string device_topic(const std::string& prefix, DeviceKind kind, const std::string& id, std::string_view leaf);
std::string gateway_online_topic(const std::string& prefix);

struct TopicRef {
  DeviceKind kind = DeviceKind::charger;
  std::string id;
  std::string leaf;  // "status", "online", "ack", "limit", "failsafe"
};
// Splits a topic of this protocol; nullopt for anything else (other prefix, other shape).
std::optional<TopicRef> parse_topic(const std::string& prefix, std::string_view topic);

// Empty when `id` may be used as a topic level; otherwise why not (MQTT 3.1.1 section 4.7:
// '/', '+', '#' are reserved, and an empty level is confusing in ACLs).
std::string check_device_id(const std::string& id);

// ---- Timestamps: ISO 8601 UTC with milliseconds, "2026-11-23T11:07:07.123Z".
std::string format_iso8601(TimePoint t);
std::optional<TimePoint> parse_iso8601(std::string_view text);

// ---- Charger status (charger -> gateway, retained).
// Plausibility bounds: values beyond these are a broken device or a corrupt message, not a
// measurement (power more than 10x the pile's rating, current more than 10x its max).
struct ChargerBounds {
  double max_power_w = 7000;
  double max_current_a = 32;
};
std::string encode_charger_status(const ChargerSnapshot& s);  // uses s.at as "ts"
Decoded<ChargerSnapshot> decode_charger_status(std::string_view payload, const ChargerBounds& bounds);

// ---- Meter status (meter -> gateway, retained).
std::string encode_meter_status(const MeterSnapshot& s);  // uses s.at as "ts"
Decoded<MeterSnapshot> decode_meter_status(std::string_view payload);

// ---- Limit (gateway -> charger, QoS 1, not retained) and its acknowledgement.
struct LimitCommand {
  std::uint64_t seq = 0;
  double power_w = 0;
  double valid_for_s = 60;
};
std::string encode_limit(const LimitCommand& c);
Decoded<LimitCommand> decode_limit(std::string_view payload);

// ---- Failsafe settings (gateway -> charger, QoS 1, not retained): the current the pile falls
// back to, and after how long without a limit. Answered on the same ack topic as a limit; the
// wire seq is shared, so an answer names exactly one command.
struct FailsafeCommand {
  std::uint64_t seq = 0;
  double current_a = 6;
  double timeout_s = 120;
};
std::string encode_failsafe(const FailsafeCommand& c);
Decoded<FailsafeCommand> decode_failsafe(std::string_view payload);

struct AckMessage {
  std::uint64_t seq = 0;
  bool accepted = false;
  double applied_w = kNotMeasured;          // a limit's answer
  std::string error;
  double applied_current_a = kNotMeasured;  // a failsafe's answer: what the pile will fall back to
  double applied_timeout_s = kNotMeasured;  // ... and after how long
};
std::string encode_ack(const AckMessage& a);
Decoded<AckMessage> decode_ack(std::string_view payload);

// ---- Online flag (retained "true" on connect, "false" as last will).
inline constexpr std::string_view kOnline = "true";
inline constexpr std::string_view kOffline = "false";
Decoded<bool> decode_online(std::string_view payload);

}  // namespace orderly::drivers::mqtt
