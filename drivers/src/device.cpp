#include "orderly/drivers/device.hpp"

namespace orderly::drivers {

const char* to_string(ChargerState s) {
  switch (s) {
    case ChargerState::unplugged: return "unplugged";
    case ChargerState::plugged: return "plugged";
    case ChargerState::charging: return "charging";
    case ChargerState::fault: return "fault";
    case ChargerState::unknown: break;
  }
  return "unknown";
}

std::optional<ChargerState> charger_state_from_string(const std::string& s) {
  for (auto st : {ChargerState::unknown, ChargerState::unplugged, ChargerState::plugged,
                  ChargerState::charging, ChargerState::fault})
    if (s == to_string(st)) return st;
  return std::nullopt;
}

}  // namespace orderly::drivers
