#include "orderly/gateway/replan_debounce.hpp"

namespace orderly::gateway {

bool ReplanDebounce::admit(const std::string& device_id, ReplanReason why, MonoPoint now) {
  const auto [it, first] = devices_.try_emplace(device_id);
  Device& d = it->second;
  if (first || now - d.last >= interval_) {
    d.last = now;
    d.held.reset();
    return true;
  }
  d.held = why;
  return false;
}

std::vector<std::pair<std::string, ReplanReason>> ReplanDebounce::due(MonoPoint now) {
  std::vector<std::pair<std::string, ReplanReason>> out;
  for (auto& [id, d] : devices_) {
    if (!d.held || now - d.last < interval_) continue;
    out.emplace_back(id, *d.held);
    d.held.reset();
    d.last = now;  // a device still flapping gets its next re-plan an interval later
  }
  return out;
}

}  // namespace orderly::gateway
