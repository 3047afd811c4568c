// Payloads of profile-described MQTT devices (docs/device-profiles.md, `json_path`): the first
// line of the input is the profile's json_path, the rest the payload. The value found must be
// text the driver can read on (a number or a state word), never a crash.
#include <cstdint>
#include <string>

#include "orderly/drivers/mqtt_payload.hpp"

using namespace orderly::drivers::mqtt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string json_path = newline == std::string::npos ? "" : input.substr(0, newline);
  const std::string payload = newline == std::string::npos ? input : input.substr(newline + 1);
  std::string error;
  if (const auto value = extract_value(payload, json_path, error)) (void)parse_number(*value);
  (void)expand_base(json_path, payload.substr(0, 64));
  return 0;
}
