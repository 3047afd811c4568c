#include "demand_response.hpp"

#include <algorithm>
#include <stdexcept>

namespace orderly::gateway {

using namespace std::chrono;

const char* to_string(DrKind kind) { return kind == DrKind::peak_shaving ? "peak-shaving" : "valley-filling"; }

std::optional<double> DrSlot::actual_kw() const {
  if (measured_for <= Duration::zero()) return std::nullopt;
  return measured_kwh / duration<double, std::ratio<3600>>(measured_for).count();
}

std::vector<DrSlot> dr_slots(const ActivePlan* plan, TimePoint start, TimePoint end, minutes slot, minutes utc_offset) {
  const SlotGrid grid = make_slot_grid(start, slot, utc_offset, end);
  std::vector<DrSlot> out;
  for (int k = 0; grid.slot_start(k) < end; ++k) {
    DrSlot s;
    s.from = std::max(grid.slot_start(k), start);
    s.to = std::min(grid.slot_start(k + 1), end);
    if (plan) {
      const int p = plan->grid.slot_of(s.from);
      if (p >= 0 && p < plan->grid.slots && static_cast<std::size_t>(p) < plan->base_kw.size()) {
        double kw = plan->base_kw[static_cast<std::size_t>(p)];
        for (const auto& [id, c] : plan->chargers)
          if (static_cast<std::size_t>(p) < c.kw.size()) kw += c.kw[static_cast<std::size_t>(p)];
        s.baseline_kw = kw;
      }
    }
    out.push_back(s);
  }
  return out;
}

DrEvent dr_event_for(const PlatformDrRequest& r, const std::vector<DrSlot>& slots) {
  DrEvent e{r.id, r.start, r.end, 0, "platform"};
  if (r.cap_kw.has_value() == r.reduction_kw.has_value())
    throw std::invalid_argument("DR event " + r.id + ": give either a cap or a reduction in kW, not " +
                                (r.cap_kw ? "both" : "neither"));
  if (r.cap_kw) {
    e.limit_kw = *r.cap_kw;
    return e;
  }
  if (r.kind != DrKind::peak_shaving)
    throw std::invalid_argument("DR event " + r.id + ": a reduction is for peak shaving; valley filling takes a cap");
  std::optional<double> peak;
  for (const auto& s : slots)
    if (s.baseline_kw) peak = std::max(peak.value_or(*s.baseline_kw), *s.baseline_kw);
  if (!peak)
    throw std::invalid_argument("DR event " + r.id +
                                ": no plan covers the window yet, so there is no baseline to reduce from; send a cap");
  e.limit_kw = *peak - *r.reduction_kw;
  if (!(e.limit_kw > 0))
    throw std::invalid_argument("DR event " + r.id + ": a reduction of " + std::to_string(*r.reduction_kw) +
                                " kW leaves no load below the baseline's " + std::to_string(*peak) + " kW");
  return e;
}

void DrLedger::open(const PlatformDrRequest& request, double limit_kw, std::vector<DrSlot> slots) {
  DrResult r;
  r.request = request;
  r.limit_kw = limit_kw;
  r.ended_at = request.end;
  r.slots = std::move(slots);
  open_[request.id] = std::move(r);
}

void DrLedger::cancel(const std::string& id, TimePoint now) {
  const auto it = open_.find(id);
  if (it == open_.end()) return;
  DrResult r = std::move(it->second);
  open_.erase(it);
  if (now <= r.request.start) return;
  r.cancelled = true;
  r.ended_at = now;
  std::erase_if(r.slots, [&](const DrSlot& s) { return s.from >= now; });
  if (!r.slots.empty()) r.slots.back().to = std::min(r.slots.back().to, now);
  due_.push_back(std::move(r));
}

void DrLedger::measure(TimePoint now, std::optional<double> load_kw) {
  if (last_at_ && last_kw_ && *last_at_ < now) {
    for (auto& [id, r] : open_) {
      for (auto& s : r.slots) {
        const TimePoint from = std::max(s.from, *last_at_);
        const TimePoint to = std::min(s.to, now);
        if (to <= from) continue;
        s.measured_for += to - from;
        s.measured_kwh += *last_kw_ * duration<double, std::ratio<3600>>(to - from).count();
      }
    }
  }
  last_at_ = now;
  last_kw_ = load_kw;
}

std::vector<DrResult> DrLedger::take_due(TimePoint now) {
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.request.end <= now) {
      due_.push_back(std::move(it->second));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<DrResult> out = std::move(due_);
  due_.clear();
  for (auto& r : out) {
    for (const auto& s : r.slots) {
      const auto actual = s.actual_kw();
      if (!s.baseline_kw || !actual) continue;
      const double hours = duration<double, std::ratio<3600>>(s.to - s.from).count();
      r.baseline_kwh += *s.baseline_kw * hours;
      r.actual_kwh += *actual * hours;
    }
    results_.push_back(r);
  }
  if (results_.size() > kKeptResults)
    results_.erase(results_.begin(), results_.begin() + static_cast<std::ptrdiff_t>(results_.size() - kKeptResults));
  return out;
}

}  // namespace orderly::gateway
