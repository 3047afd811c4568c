#pragma once
// Whether a meter's reading can be believed, and what stands in for a node's non-EV load when
// none can. Pure: no I/O, no clock of its own; the controller feeds every sample with its time
// and the measured power of the chargers below the meter. Rules: docs/control.md, "Implausible
// meters" and "No node without a load figure".
#include <cstdint>
#include <string>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/config.hpp"

namespace orderly::gateway {

enum class MeterFault : std::uint8_t {
  none,
  out_of_range,    // |reading| beyond [control] meter_range_factor x the node's rating
  negative,        // a consumption meter reading export it cannot have (reversed CT, bad scaling)
  stuck,           // identical readings while the chargers below changed (frozen register)
  below_chargers,  // less than the chargers below it measure (CT on the wrong cable, lost phase)
};
const char* to_string(MeterFault f);  // "out-of-range", "negative", ...

struct MeterCheckLimits {
  double range_kw = 0;                    // |reading| above this is implausible
  double export_allowed_kw = 0;           // how far below 0 it may read
  Duration stuck_after{};                 // identical readings for this long ...
  double stuck_charger_change_kw = 0;     // ... while the chargers' sum moved more than this
  double below_chargers_kw = 0;           // reading < chargers' sum - this ...
  Duration below_chargers_confirm{};      // ... on every sample for this long (readings skew)
  Duration recover_after{};               // plausible this long before it is believed again
};

// The limits for the meter of node `node_id` (the transformer's id or a [[capacity]] id): range
// from the transformer's rated_kva (else its limit) or the node's limit; export allowed for the
// bidirectional piles below the node, and for the transformer its PV (pv_peak_kw). The
// configured seconds are real seconds (meters report >= 1 Hz), scaled by the clock's speed.
MeterCheckLimits meter_check_limits(const Config& config, const std::string& node_id, double clock_speed);

struct MeterVerdict {
  bool plausible = true;
  MeterFault fault = MeterFault::none;
  std::string reason;  // in words, with the figures: "reads -50.0 kW; ..."; empty when plausible
};

// One meter's samples, judged one by one. The first fault found wins (sign, range, below the
// chargers, stuck); once implausible, the meter is believed again after recover_after of
// plausible samples.
class MeterCheck {
 public:
  explicit MeterCheck(MeterCheckLimits limits) : limits_(limits) {}
  // `chargers_kw`: the signed sum of what the chargers below the meter measure now.
  const MeterVerdict& add(MonoPoint at, double power_kw, double chargers_kw);
  const MeterVerdict& verdict() const { return verdict_; }

 private:
  MeterFault judge(MonoPoint at, double power_kw, double chargers_kw, std::string& why);

  MeterCheckLimits limits_;
  MeterVerdict verdict_;
  bool have_sample_ = false;
  double same_kw_ = 0;               // the value repeated since same_since_
  MonoPoint same_since_{};
  double chargers_min_kw_ = 0;       // the chargers' sum's range since same_since_
  double chargers_max_kw_ = 0;
  MonoPoint below_since_{};          // {} = not below the chargers
  MonoPoint plausible_since_{};      // {} = the last sample was implausible
};

// The non-EV load taken for a node without a fresh plausible meter reading: for a [[capacity]]
// node its assumed_load_kw, or its share (assumed_load_share, default limit_kw over the
// transformer's) of `transformer_non_ev_kw`; for the transformer its assumed_load_kw, default
// its limit_kw (no headroom). Never negative.
double assumed_load_kw(const Config& config, const std::string& node_id, double transformer_non_ev_kw);

}  // namespace orderly::gateway
