// Native MQTT payloads (docs/mqtt-protocol.md) as a device or a stranger on the broker may send
// them. Every decoder must answer with a value or a reason, and what a decoder accepts must
// survive the gateway's own encoder: a snapshot that re-encodes to something it refuses would
// be a value the core holds but cannot log or forward.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "orderly/drivers/mqtt_protocol.hpp"

using namespace orderly::drivers::mqtt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  const ChargerBounds bounds;
  if (const auto d = decode_charger_status(payload, bounds)) {
    if (!decode_charger_status(encode_charger_status(*d.value), bounds)) std::abort();
  }
  if (const auto d = decode_meter_status(payload)) {
    if (!decode_meter_status(encode_meter_status(*d.value))) std::abort();
  }
  if (const auto d = decode_limit(payload)) {
    if (!decode_limit(encode_limit(*d.value))) std::abort();
  }
  if (const auto d = decode_failsafe(payload)) {
    if (!decode_failsafe(encode_failsafe(*d.value))) std::abort();
  }
  if (const auto d = decode_ack(payload)) {
    if (!decode_ack(encode_ack(*d.value))) std::abort();
  }
  (void)decode_online(payload);
  (void)parse_iso8601(payload);
  (void)parse_topic("orderly", payload);
  return 0;
}
