#include "status_view.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "orderly/gateway/failsafe_budget.hpp"
#include "orderly/gateway/report.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using json = nlohmann::json;

constexpr auto kPointEvery = minutes(1);
constexpr auto kHistorySpan = hours(24);
// At most one point every 5 minutes keeps the push small for phones on community Wi-Fi.
constexpr auto kPushedPointEvery = minutes(5);

double finite_or(double v, double fallback) { return std::isfinite(v) ? v : fallback; }
double round1(double v) { return std::round(v * 10.0) / 10.0; }
double round2(double v) { return std::round(v * 100.0) / 100.0; }
json rounded(const std::vector<double>& values) {
  json out = json::array();
  for (const double v : values) out.push_back(round2(v));
  return out;
}

json session_json(const StatusSources& from, const std::string& charger_id, TimePoint now) {
  const auto record = from.sessions.open_session(charger_id);
  if (!record) return nullptr;
  const auto offset = from.config.site.utc_offset;
  const auto when = [&](const std::optional<TimePoint>& t) {
    return t ? json(format_local_time(*t, offset)) : json(nullptr);
  };
  const double delivered_kwh = record->energy_wh / 1000.0;
  const double requested_kwh = record->requested_wh / 1000.0;
  json plan = nullptr;
  const ActivePlan* active = from.controller.plan();
  if (active && active->chargers.count(charger_id)) {
    const auto o = outlook(*active, charger_id, now);
    const json next = rounded(o.next_kw);
    // Met when what is delivered plus what the plan still gives reaches the request (50 Wh slack
    // for the planner's whole-Wh and whole-amp rounding).
    const bool feasible = requested_kwh <= 0 || delivered_kwh + o.expected_kwh >= requested_kwh - 0.05;
    std::string note;
    if (!feasible)
      note = "about " + std::to_string(static_cast<int>(std::round(delivered_kwh + o.expected_kwh))) + " of " +
             std::to_string(static_cast<int>(std::round(requested_kwh))) +
             " kWh by the departure: the limit or the time is too short";
    plan = {{"start", when(o.start)},
            {"finish", when(o.finish)},
            {"expected_kwh", round2(o.expected_kwh)},
            {"expected_cost_yuan", round2(o.expected_cost_yuan)},
            {"total_cost_yuan", round2(record->cost_yuan + o.expected_cost_yuan)},
            {"feasible", feasible},
            {"note", note},
            {"slot_minutes", active->grid.slot.count()},
            {"next_kw", next},
            {"charge_now_cost_yuan", round2(o.charge_now_cost_yuan)},
            {"charge_now_finish", when(o.charge_now_finish)},
            {"saving_yuan", round2(o.charge_now_cost_yuan - o.expected_cost_yuan)},
            {"timeline", {{"start", format_local_time(o.timeline_start, offset)},
                          {"kw", rounded(o.timeline_kw)},
                          {"price_per_kwh", rounded(o.timeline_price_per_kwh)}}}};
  }
  return {{"id", record->id},
          {"household", record->household},
          {"plugged_at", format_local_time(record->started_at, offset)},
          {"departure", when(record->departure)},
          {"requested_kwh", round2(requested_kwh)},
          {"delivered_kwh", round2(delivered_kwh)},
          {"cost_yuan", round2(record->cost_yuan)},
          {"request_source", record->request_source},
          {"boost", record->boost},
          {"not_before", when(record->not_before)},
          {"plan", plan}};
}

// The load if the gateway died now (docs/control.md, "Failsafe budget"), with the highest
// non-EV load the plan in force forecasts; before the first plan, the configured peak; without
// either, the non-EV load measured now.
json failsafe_budget_json(const StatusSources& from, Instant at) {
  const TimePoint now = at.wall;
  const Controller& controller = from.controller;
  FailsafeBaseLoad base;
  std::string source = "none";
  if (const ActivePlan* plan = controller.plan(); plan && !plan->base_kw.empty()) {
    base.transformer_peak_kw = *std::max_element(plan->base_kw.begin(), plan->base_kw.end());
    source = "forecast";
  } else if (from.config.site.transformer.base_load_peak_kw) {
    base.transformer_peak_kw = from.config.site.transformer.base_load_peak_kw;
    source = "configured";
  } else if (controller.meter_fresh(at.mono)) {
    base.transformer_peak_kw = controller.base_load_w() / 1000.0;
    source = "measured";
  }
  // What the controller counts for a pile it cannot reach: its failsafe only if its driver
  // declared one.
  auto has_failsafe = [&](const ChargerConfig& c) {
    const auto it = controller.chargers().find(c.id);
    return it != controller.chargers().end() && it->second.has_driver && it->second.caps.failsafe;
  };
  const FailsafeBudget budget =
      failsafe_budget(from.config, has_failsafe, base, controller.transformer_limit_kw(now));
  auto piles_json = [](const std::vector<FailsafePileLoad>& piles) {
    json out = json::array();
    for (const auto& p : piles) out.push_back({{"id", p.id}, {"kw", round2(p.kw)}, {"failsafe", p.has_failsafe}});
    return out;
  };
  json limits = json::array();
  for (const auto& l : budget.limits)
    limits.push_back({{"limit", l.limit},
                      {"limit_kw", l.limit_kw},
                      {"load_kw", round2(l.load_kw())},
                      {"base_kw", l.base_kw ? json(round2(*l.base_kw)) : json(nullptr)},
                      {"piles_kw", round2(l.piles_kw)},
                      {"over", l.over()},
                      {"to_fix", piles_json(l.to_fix)}});
  return {{"base_load_peak_kw", base.transformer_peak_kw ? json(round2(*base.transformer_peak_kw)) : json(nullptr)},
          {"base_load_source", source},
          {"over", budget.over()},
          {"limits", limits}};
}

}  // namespace

void LoadHistory::record(TimePoint now, const Controller& controller) {
  const auto& meter = controller.transformer();
  if (!meter) return;
  if (!points_.empty() && now - points_.back().at < kPointEvery) return;
  Point p{now, meter->power_w / 1000.0, controller.charging_w() / 1000.0, controller.transformer_limit_kw(now), {}};
  for (std::size_t ph = 0; ph < 3; ++ph) p.phase_load_kw[ph] = meter->power_w_phase[ph] / 1000.0;
  points_.push_back(p);
  while (!points_.empty() && now - points_.front().at > kHistorySpan) points_.pop_front();
}

json dr_event_json(const DrEvent& e, TimePoint now, minutes site_offset) {
  return {{"id", e.id},
          {"start", format_local_time(e.start, site_offset)},
          {"end", format_local_time(e.end, site_offset)},
          {"limit_kw", e.limit_kw},
          {"source", e.source},
          {"active", e.start <= now && now < e.end}};
}

namespace {

// The next 24 h of the transformer from the plan in force, slot by slot: the forecast non-EV
// load, what the plan charges (every pile, and per phase), and the limit then (DR events applied, per phase
// where configured). null before the first plan.
json transformer_outlook_json(const Controller& controller, TimePoint now, minutes offset) {
  const ActivePlan* plan = controller.plan();
  if (plan == nullptr || plan->grid.slots <= 0) return nullptr;
  const auto& g = plan->grid;
  const int first = std::max(g.slot_of(now), 0);
  const int last = std::min(g.slots, first + static_cast<int>(hours(24) / g.slot));
  json base = json::array(), planned = json::array(), limit = json::array();
  std::array<json, 3> phase_limit{json::array(), json::array(), json::array()};
  std::array<json, 3> phase_planned{json::array(), json::array(), json::array()};
  for (int k = first; k < last; ++k) {
    const auto i = static_cast<std::size_t>(k);
    base.push_back(i < plan->base_kw.size() ? json(round1(plan->base_kw[i])) : json(nullptr));
    double kw = 0;
    std::array<double, 3> by_phase_kw{};
    for (const auto& [id, cp] : plan->chargers) {
      if (i >= cp.kw.size()) continue;
      const double charging_kw = std::max(cp.kw[i], 0.0);
      kw += charging_kw;
      // Counted as the limiter and the planner count it: the phase it is wired or seen on, a
      // third of each, or in full on every phase when the car's phase cannot be told.
      const auto control = controller.chargers().find(id);
      const auto phases = control != controller.chargers().end() ? control->second.phases() : scheduler::PhaseSet::any_one;
      for (int ph = 0; ph < 3; ++ph) by_phase_kw[static_cast<std::size_t>(ph)] += charging_kw * scheduler::phase_share(phases, ph);
    }
    planned.push_back(round1(kw));
    for (std::size_t ph = 0; ph < 3; ++ph) phase_planned[ph].push_back(round1(by_phase_kw[ph]));
    const TimePoint at = std::max(now, g.slot_start(k));
    limit.push_back(controller.transformer_limit_kw(at));
    const auto by_phase = controller.transformer_phase_limit_kw(at);
    for (std::size_t ph = 0; ph < 3; ++ph) phase_limit[ph].push_back(by_phase[ph] ? json(*by_phase[ph]) : json(nullptr));
  }
  return {{"slot_start", format_local_time(g.slot_start(first), offset)}, {"slot_minutes", g.slot.count()},
          {"base_kw", base}, {"planned_kw", planned}, {"limit_kw", limit},
          {"phase_limit_kw", {{"A", phase_limit[0]}, {"B", phase_limit[1]}, {"C", phase_limit[2]}}},
          {"phase_planned_kw", {{"A", phase_planned[0]}, {"B", phase_planned[1]}, {"C", phase_planned[2]}}}};
}

}  // namespace

json status_json(const StatusSources& from, Instant at) {
  const TimePoint now = at.wall;
  const Config& config = from.config;
  const Controller& controller = from.controller;
  const auto offset = config.site.utc_offset;
  const auto tariff = tariff_at(config.tariff, now, offset);
  const auto& meter = controller.transformer();
  json site = {
      {"name", config.site.name},
      {"transformer_limit_kw", controller.transformer_limit_kw(now)},  // DR applied
      {"load_kw", round1((meter ? meter->power_w : 0.0) / 1000.0)},
      {"base_load_kw", round1(controller.base_load_w() / 1000.0)},
      {"charging_kw", round1(controller.charging_w() / 1000.0)},
      {"meter_online", controller.meter_fresh(at.mono)},
      {"load_source", to_string(controller.load_source())},
      {"tariff_period", scheduler::to_string(tariff.period)},
      {"price_per_kwh", tariff.price_yuan_per_kwh},
  };
  if (from.demo_speed > 0) site["demo_speed"] = from.demo_speed;
  // Per phase: what the meter measures there (when it measures its phases) and the limit.
  const auto phase_limits = controller.transformer_phase_limit_kw(now);
  json phases = json::array();
  for (std::size_t ph = 0; ph < 3; ++ph) {
    const double w = meter ? meter->power_w_phase[ph] : std::numeric_limits<double>::quiet_NaN();
    phases.push_back({{"phase", std::string(1, static_cast<char>('A' + ph))},
                      {"load_kw", std::isfinite(w) ? json(round1(w / 1000.0)) : json(nullptr)},
                      {"limit_kw", phase_limits[ph] ? json(*phase_limits[ph]) : json(nullptr)}});
  }
  site["phases"] = std::move(phases);

  json history = json::array();
  const auto& points = from.history.points();
  TimePoint last{};
  for (const auto& p : points) {
    if (!history.empty() && p.at - last < kPushedPointEvery && &p != &points.back()) continue;
    last = p.at;
    json by_phase = json::array();
    for (const double kw : p.phase_load_kw) by_phase.push_back(std::isfinite(kw) ? json(round1(kw)) : json(nullptr));
    history.push_back({{"time", format_local_time(p.at, offset)}, {"load_kw", round1(p.load_kw)},
                       {"charging_kw", round1(p.charging_kw)}, {"limit_kw", p.limit_kw},
                       {"phase_load_kw", std::move(by_phase)}});
  }

  json chargers = json::array();
  int offline = 0;
  for (const auto& [id, c] : controller.chargers()) {
    const bool online = c.reachable();
    if (!online) ++offline;
    chargers.push_back({
        {"id", id},
        {"name", c.config->name.empty() ? id : c.config->name},
        {"kind", c.config->kind == ChargerKind::private_pile ? "private" : "shared"},
        {"counted_phases", scheduler::to_string(c.phases())},
        {"household", c.config->household},
        {"phase", to_string(c.config->phase)},
        {"state", online ? drivers::to_string(c.snapshot.state) : "offline"},
        {"not_following", c.not_following},
        {"online", online},
        {"power_kw", round2(finite_or(c.snapshot.power_w, 0.0) / 1000.0)},
        {"limit_kw", c.setpoint_w < 0 ? json(nullptr) : json(round2(c.setpoint_w / 1000.0))},
        {"max_kw", c.caps.max_power_w / 1000.0},
        {"session_energy_kwh", round2(finite_or(c.snapshot.session_energy_wh, 0.0) / 1000.0)},
        {"failsafe", c.caps.failsafe},
        {"session", session_json(from, id, now)},
        // The driver's counts since start: protocol errors or malformed payloads, silent polls,
        // messages over the MQTT rate limit discarded unread.
        {"errors", c.health.errors},
        {"timeouts", c.health.timeouts},
        {"dropped", c.health.dropped},
        // Derived, not stored in health: the driver's next health report would overwrite it.
        {"error", c.not_following ? "not following its limit; counted at its measured power, others cut to compensate"
                                  : c.health.last_error},
    });
  }
  json dr = json::array();
  for (const auto& e : controller.dr_book().events()) dr.push_back(dr_event_json(e, now, offset));
  json alarms = json::array();
  for (const auto& [id, a] : controller.alarms())
    alarms.push_back({{"id", id}, {"state", a.state}, {"level", a.level}, {"reason", a.reason},
                      {"message", a.message}, {"meter", a.meter_id.empty() ? json(nullptr) : json(a.meter_id)},
                      {"node", a.node_id.empty() ? json(nullptr) : json(a.node_id)}, {"piles", a.piles},
                      {"since", format_local_time(a.since, offset)}});
  if (from.store_failing_since && from.store) {
    alarms.push_back({{"id", "store"}, {"state", "failing"}, {"level", "error"}, {"reason", "write-failed"},
                      {"message", "records cannot be saved (" + from.store->last_error +
                                      "); writes are answered 503 until the disk takes them again: check free "
                                      "space and the storage device"},
                      {"meter", nullptr}, {"node", nullptr}, {"piles", json::array()},
                      {"since", format_local_time(*from.store_failing_since, offset)}});
  }
  json store = nullptr;
  if (const StoreWriterStats* s = from.store)
    store = {{"state", from.store_failing_since || s->failing ? "failing" : "ok"},
             {"committed_records", s->committed_records}, {"transactions", s->transactions},
             {"failures", s->failures}, {"dropped_records", s->dropped_records},
             {"shed_records", s->shed_records}, {"queued_records", s->queued_records},
             {"last_error", s->last_error}};
  json plan = nullptr;
  if (const ActivePlan* p = controller.plan())
    plan = {{"created_at", format_local_time(p->created_at, offset)}, {"reason", p->reason},
            {"algorithm", p->algorithm}, {"capacity_short", p->capacity_short},
            {"slot_minutes", p->grid.slot.count()}, {"slot_start", format_local_time(p->grid.start, offset)}};
  json platform = {{"enabled", config.platform.enabled}};
  json ahead = transformer_outlook_json(controller, now, offset);
  if (const OutboxStatus* o = from.platform) {
    platform["queued"] = o->queued;
    platform["oldest_queued_age_s"] =
        o->oldest_queued_at ? json(duration_cast<seconds>(now - *o->oldest_queued_at).count()) : json(nullptr);
    platform["last_error"] = o->last_error;
    platform["last_delivered_at"] = o->last_delivered_at ? json(format_local_time(*o->last_delivered_at, offset))
                                                         : json(nullptr);
  }
  return {{"time", format_local_time(now, offset)}, {"site", site}, {"history", history},
          {"chargers", chargers}, {"devices_offline", offline}, {"dr_events", dr}, {"alarms", alarms}, {"plan", plan},
          {"transformer_outlook", ahead}, {"failsafe_budget", failsafe_budget_json(from, at)}, {"platform", platform}, {"store", store}};
}

}  // namespace orderly::gateway
