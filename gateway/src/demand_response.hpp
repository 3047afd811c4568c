#pragma once
// Demand response the city platform asks for (docs/platform-api.md, "Demand response"): the
// request as the platform words it (a cap, or a reduction below the baseline), the baseline per
// slot taken from the plan in force when the request arrives, the load measured in each slot of
// the window, and the result owed to the platform once the window has passed. The event itself
// goes into force through Gateway::add_dr_event like the operator's; this only keeps the books.
// Pure: the gateway hands it the time and the measured load on the core thread.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/controller.hpp"
#include "orderly/gateway/planning.hpp"

namespace orderly::gateway {

enum class DrKind { peak_shaving, valley_filling };
const char* to_string(DrKind kind);  // "peak-shaving", "valley-filling"

struct PlatformDrRequest {
  std::string id;
  DrKind kind = DrKind::peak_shaving;
  TimePoint start{};
  TimePoint end{};
  std::optional<double> cap_kw;        // the transformer may draw at most this, or
  std::optional<double> reduction_kw;  // this much less than the baseline's highest slot
};

// One slot of the site's grid, cut to the event's window.
struct DrSlot {
  TimePoint from{};
  TimePoint to{};
  std::optional<double> baseline_kw;  // the plan's base forecast + planned charging; none outside its grid
  double measured_kwh = 0;            // transformer energy over the part of the slot measured
  Duration measured_for{};            // how much of [from, to) had a believable reading
  std::optional<double> actual_kw() const;
};

// The window's slots, each with the baseline `plan` (may be null) gives it.
std::vector<DrSlot> dr_slots(const ActivePlan* plan, TimePoint start, TimePoint end, std::chrono::minutes slot,
                             std::chrono::minutes utc_offset);

// The DR event to put in force for `request` (source "platform"). Throws std::invalid_argument
// naming the field at fault: neither or both of cap and reduction, a reduction on valley filling,
// a reduction without a baseline in the window, or one that leaves no load at all.
DrEvent dr_event_for(const PlatformDrRequest& request, const std::vector<DrSlot>& slots);

// An event's outcome, as the platform is told it.
struct DrResult {
  PlatformDrRequest request;
  double limit_kw = 0;
  bool cancelled = false;
  TimePoint ended_at{};  // the window's end, or when it was cancelled
  std::vector<DrSlot> slots;
  // Totals over the slots with both a baseline and a measurement, kWh; the reduction is
  // baseline - actual (negative: more load than the baseline, as valley filling asks).
  double baseline_kwh = 0;
  double actual_kwh = 0;
  double delivered_kwh() const { return baseline_kwh - actual_kwh; }
};

class DrLedger {
 public:
  // Books a platform event; the same id again replaces it (baseline and measurements afresh).
  void open(const PlatformDrRequest& request, double limit_kw, std::vector<DrSlot> slots);
  // A cancel: during the window the result covers the slots up to `now`; before it, nothing is owed.
  void cancel(const std::string& id, TimePoint now);
  // The transformer load from `now` on (none: no believable reading), integrated into every open
  // event's slots over the time since the previous call.
  void measure(TimePoint now, std::optional<double> load_kw);
  // Results whose window has passed (or that were cancelled) since the last call, each once.
  std::vector<DrResult> take_due(TimePoint now);
  // Results taken so far, newest last (the last kKeptResults).
  const std::vector<DrResult>& results() const { return results_; }
  bool tracks(const std::string& id) const { return open_.count(id) > 0; }

  static constexpr std::size_t kKeptResults = 100;

 private:
  std::map<std::string, DrResult> open_;
  std::vector<DrResult> due_;
  std::vector<DrResult> results_;
  std::optional<TimePoint> last_at_;
  std::optional<double> last_kw_;
};

}  // namespace orderly::gateway
