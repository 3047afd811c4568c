#pragma once
// Re-plans asked for by one device's events (a car plugged in or out): at most one per device
// per interval, the first at once, those inside the interval held and released as one when it
// ends. A pile whose contact flaps at 100 Hz would otherwise cost a solve, a plan record and a
// forced commit per flap, while a real plug-in must still be planned for at once.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/controller.hpp"

namespace orderly::gateway {

class ReplanDebounce {
 public:
  explicit ReplanDebounce(Duration interval) : interval_(interval) {}

  // True when `device_id`'s event may re-plan now; false when it is held (`why` is kept, the
  // latest of the held ones) until due() releases it.
  bool admit(const std::string& device_id, ReplanReason why, MonoPoint now);
  // The held re-plans whose interval has ended, one per device, each released once.
  std::vector<std::pair<std::string, ReplanReason>> due(MonoPoint now);

 private:
  struct Device {
    MonoPoint last{};
    std::optional<ReplanReason> held;
  };
  Duration interval_;
  std::map<std::string, Device> devices_;
};

}  // namespace orderly::gateway
