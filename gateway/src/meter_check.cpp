#include "orderly/gateway/meter_check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace orderly::gateway {
namespace {

using namespace std::chrono;

// Readings a meter repeats to the last digit are the same reading: registers are integers.
constexpr double kSameKw = 1e-6;
constexpr auto kBelowChargersConfirm = seconds(5);  // a few samples at >= 1 Hz: skew, not a fault
constexpr auto kRecoverAfter = seconds(10);

std::string kw_text(double kw) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f kW", kw);
  return buf;
}

// Whether node `child` is `ancestor` or lies below it in the capacity tree.
bool is_below(const Config& config, const std::string& child, const std::string& ancestor) {
  const std::string& root = config.site.transformer.id;
  std::string at = child.empty() ? root : child;
  for (std::size_t hops = 0; hops <= config.capacity.size(); ++hops) {
    if (at == ancestor) return true;
    if (at == root) return false;
    const auto* n = config.find_node(at);
    if (!n) return false;
    at = n->parent.empty() ? root : n->parent;
  }
  return false;
}

}  // namespace

const char* to_string(MeterFault f) {
  switch (f) {
    case MeterFault::none: return "none";
    case MeterFault::out_of_range: return "out-of-range";
    case MeterFault::negative: return "negative";
    case MeterFault::stuck: return "stuck";
    case MeterFault::below_chargers: return "below-chargers";
  }
  return "?";
}

MeterCheckLimits meter_check_limits(const Config& config, const std::string& node_id, double clock_speed) {
  const auto real = [clock_speed](Duration d) { return duration_cast<Duration>(d * clock_speed); };
  const auto& tx = config.site.transformer;
  const bool transformer = node_id.empty() || node_id == tx.id;
  const auto* node = transformer ? nullptr : config.find_node(node_id);
  MeterCheckLimits l;
  const double rating_kw = transformer ? tx.rated_kva.value_or(tx.limit_kw) : (node ? node->limit_kw : tx.limit_kw);
  l.range_kw = config.control.meter_range_factor * rating_kw;
  l.export_allowed_kw = config.control.meter_negative_tolerance_kw + (transformer ? tx.pv_peak_kw : 0.0);
  for (const auto& c : config.chargers)
    if (c.bidirectional && is_below(config, c.node, transformer ? tx.id : node_id)) l.export_allowed_kw += c.max_power_kw;
  l.stuck_after = real(seconds(config.control.meter_stuck_s));
  l.stuck_charger_change_kw = config.control.meter_stuck_change_kw;
  l.below_chargers_kw = config.control.meter_below_chargers_kw;
  l.below_chargers_confirm = real(kBelowChargersConfirm);
  l.recover_after = real(kRecoverAfter);
  return l;
}

const MeterVerdict& MeterCheck::add(MonoPoint at, double power_kw, double chargers_kw) {
  std::string why;
  const MeterFault fault = judge(at, power_kw, chargers_kw, why);
  if (fault != MeterFault::none) {
    plausible_since_ = {};
    verdict_ = {false, fault, std::move(why)};
    return verdict_;
  }
  if (plausible_since_ == MonoPoint{}) plausible_since_ = at;
  if (!verdict_.plausible && at - plausible_since_ >= limits_.recover_after) verdict_ = {};
  return verdict_;
}

MeterFault MeterCheck::judge(MonoPoint at, double power_kw, double chargers_kw, std::string& why) {
  // The stuck check keeps its history whatever else is found, so a frozen register that also
  // reads out of range is still seen as stuck once the range is fixed.
  if (!have_sample_ || std::fabs(power_kw - same_kw_) > kSameKw) {
    have_sample_ = true;
    same_kw_ = power_kw;
    same_since_ = at;
    chargers_min_kw_ = chargers_max_kw_ = chargers_kw;
  } else {
    chargers_min_kw_ = std::min(chargers_min_kw_, chargers_kw);
    chargers_max_kw_ = std::max(chargers_max_kw_, chargers_kw);
  }
  const bool below = power_kw < chargers_kw - limits_.below_chargers_kw;
  if (!below) below_since_ = {};
  else if (below_since_ == MonoPoint{}) below_since_ = at;

  if (power_kw < -limits_.export_allowed_kw) {
    why = "reads " + kw_text(power_kw) + ": export beyond the " + kw_text(limits_.export_allowed_kw) +
          " its V2G piles and PV allow (reversed CT or wrong sign?)";
    return MeterFault::negative;
  }
  if (std::fabs(power_kw) > limits_.range_kw) {
    why = "reads " + kw_text(power_kw) + ", beyond " + kw_text(limits_.range_kw) + " (meter_range_factor x the rating)";
    return MeterFault::out_of_range;
  }
  if (below && at - below_since_ >= limits_.below_chargers_confirm) {
    why = "reads " + kw_text(power_kw) + ", less than the " + kw_text(chargers_kw) +
          " the chargers below it measure (CT on the wrong cable, or a phase missing?)";
    return MeterFault::below_chargers;
  }
  const double moved_kw = chargers_max_kw_ - chargers_min_kw_;
  if (at - same_since_ >= limits_.stuck_after && moved_kw > limits_.stuck_charger_change_kw) {
    why = "reads " + kw_text(power_kw) + " unchanged for " +
          std::to_string(duration_cast<seconds>(at - same_since_).count()) + " s while the chargers below it moved " +
          kw_text(moved_kw) + " (frozen register?)";
    return MeterFault::stuck;
  }
  return MeterFault::none;
}

double assumed_load_kw(const Config& config, const std::string& node_id, double transformer_non_ev_kw) {
  const auto& tx = config.site.transformer;
  if (node_id.empty() || node_id == tx.id) return std::max(tx.assumed_load_kw.value_or(tx.limit_kw), 0.0);
  const auto* n = config.find_node(node_id);
  if (!n) return std::max(transformer_non_ev_kw, 0.0);
  if (n->assumed_load_kw) return *n->assumed_load_kw;
  const double share = n->assumed_load_share.value_or(tx.limit_kw > 0 ? std::min(n->limit_kw / tx.limit_kw, 1.0) : 1.0);
  return std::max(share * transformer_non_ev_kw, 0.0);
}

}  // namespace orderly::gateway
