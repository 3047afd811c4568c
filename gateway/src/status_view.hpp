#pragma once
// The live status the web page and the city platform read (docs/web-api.md, "GET /api/v1/status"),
// built from the core's state: the controller (load, limit, chargers, plan, DR events), the
// session book and the last day's load history. Read-only; runs on the core thread.
#include <array>
#include <deque>
#include <optional>

#include <nlohmann/json.hpp>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/controller.hpp"
#include "orderly/gateway/sessions.hpp"
#include "orderly/gateway/store.hpp"

namespace orderly::gateway {

// One point a (clock) minute of the transformer load, for the page's chart: the last 24 h.
class LoadHistory {
 public:
  struct Point {
    TimePoint at{};
    double load_kw = 0;
    double charging_kw = 0;
    double limit_kw = 0;
    std::array<double, 3> phase_load_kw{};   // NaN where the meter does not measure its phases
  };
  // Adds a point when a minute has passed since the last one. Until the meter has answered
  // there is no load to plot: a 0 would read as a real trough.
  void record(TimePoint now, const Controller& controller);
  const std::deque<Point>& points() const { return points_; }

 private:
  std::deque<Point> points_;
};

struct StatusSources {
  const Config& config;
  const Controller& controller;
  const SessionBook& sessions;
  const LoadHistory& history;
  double demo_speed = 0;  // > 0: shown on the page
  const OutboxStatus* platform = nullptr;  // the platform outbox; null: sync off or not yet seen
  const StoreWriterStats* store = nullptr;  // the store writer's counters; null: not started
  // Since when records could not be saved (a failed report not yet followed by a commit).
  std::optional<TimePoint> store_failing_since;
};

nlohmann::json status_json(const StatusSources& from, Instant now);

// One DR event as the status and the API show it.
nlohmann::json dr_event_json(const DrEvent& event, TimePoint now, std::chrono::minutes site_offset);

}  // namespace orderly::gateway
