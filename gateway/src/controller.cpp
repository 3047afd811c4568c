#include "orderly/gateway/controller.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <stdexcept>

#include "orderly/base/units.hpp"
#include "orderly/scheduler/fair_share.hpp"
#include "orderly/scheduler/limiter.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

constexpr auto kMeterStaleAfter = seconds(10);  // real seconds: meters report >= 1 Hz
constexpr double kResendChangeW = 50;           // ignore setpoint jitter below this
// A pile needs a few seconds to ramp to a new limit (IEC 61851-1 allows the car 5 s to follow a
// PWM change); drawing more than the tolerance above it for longer than this is not following.
constexpr auto kFollowGrace = seconds(5);
constexpr auto kFollowConfirm = seconds(2);     // over the limit this long after the grace
constexpr double kFollowToleranceW = 300;
constexpr double kFollowToleranceShare = 0.10;
// A re-plan when the measured base load stays this far off the plan's forecast for this long
// (monotonic time): a step the forecast did not see (a heat wave's air conditioners) moves the plan.
constexpr double kDeviationMinKw = 5;
constexpr double kDeviationShareOfLimit = 0.05;
constexpr auto kDeviationFor = minutes(5);
// The planner runs on the core thread: a solve slower than this delays the limiter, so further
// event re-plans wait for the next slot boundary (cars without a plan entry share the headroom).
constexpr auto kPlannerBudget = milliseconds(2000);
// When not every car fits at its minimum, one pauses for this long (real time: a pile's
// contactor and the car are not switched every tick), then the longest charging one takes its
// turn.
constexpr auto kPauseTurn = minutes(5);

double finite_or(double v, double fallback) { return std::isfinite(v) ? v : fallback; }

// The share of a pile's measured power known to be on `phase`, as the limiter takes it off a
// measured phase (scheduler/limiter.cpp): a car on an unknown phase is taken off none, so it
// stays in the non-EV load of the phase it is on and is counted again as the pile there.
double measured_share(scheduler::PhaseSet s, int phase) {
  return s == scheduler::PhaseSet::any_one ? 0.0 : scheduler::phase_share(s, phase);
}

// A meter's power per phase, kW, when it measures all three.
std::optional<std::array<double, 3>> phase_kw(const drivers::MeterSnapshot& s) {
  for (const double w : s.power_w_phase)
    if (!std::isfinite(w)) return std::nullopt;
  return std::array<double, 3>{s.power_w_phase[0] / 1000.0, s.power_w_phase[1] / 1000.0, s.power_w_phase[2] / 1000.0};
}

std::string kw_text(double kw) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f kW", kw);
  return buf;
}

}  // namespace

drivers::Capabilities configured_capabilities(const ChargerConfig& c) {
  drivers::Capabilities caps;
  caps.phases = phase_count(c.phase);
  caps.min_current_a = c.min_current_a;
  caps.max_power_w = c.max_power_kw * 1000.0;
  caps.max_current_a = current_a_at_nominal(caps.max_power_w, caps.phases);
  caps.bidirectional = c.bidirectional;
  return caps;
}

const char* to_string(ReplanReason r) {
  switch (r) {
    case ReplanReason::start: return "start";
    case ReplanReason::slot: return "slot";
    case ReplanReason::plug_in: return "plug-in";
    case ReplanReason::unplug: return "unplug";
    case ReplanReason::request: return "request";
    case ReplanReason::forecast: return "forecast";
    case ReplanReason::dr_event: return "dr-event";
    case ReplanReason::tariff: return "tariff";
    case ReplanReason::device: return "device";
    case ReplanReason::not_following: return "not-following";
    case ReplanReason::clock_step: return "clock-step";
    case ReplanReason::phases: return "phases";
  }
  return "?";
}

std::string ReplanReasons::to_string() const {
  std::string out;
  for (unsigned i = 0; i <= static_cast<unsigned>(ReplanReason::phases); ++i) {
    const auto r = static_cast<ReplanReason>(i);
    if (!contains(r)) continue;
    if (!out.empty()) out += ',';
    out += gateway::to_string(r);
  }
  return out;
}

const char* to_string(LimitReason r) {
  switch (r) {
    case LimitReason::plan: return "plan";
    case LimitReason::asap: return "asap";
    case LimitReason::share: return "share";
    case LimitReason::cut: return "cut";
    case LimitReason::no_meter: return "no-meter";
    case LimitReason::forecast: return "forecast";
    case LimitReason::keep_alive: return "keep-alive";
  }
  return "?";
}

const char* to_string(LoadSource s) {
  switch (s) {
    case LoadSource::meter: return "meter";
    case LoadSource::forecast: return "running-on-forecast";
    case LoadSource::assumed: return "running-on-assumed-load";
    case LoadSource::failsafe: return "failsafe";
  }
  return "?";
}

// ---- DR events -------------------------------------------------------------------------------

void DrBook::add(const DrEvent& e) {
  if (e.id.empty()) throw std::invalid_argument("DR event: id is empty; give the platform's event id");
  if (e.end <= e.start) throw std::invalid_argument("DR event " + e.id + ": end must be after start");
  if (!(e.limit_kw > 0)) throw std::invalid_argument("DR event " + e.id + ": limit_kw must be > 0");
  events_[e.id] = e;
}

bool DrBook::cancel(const std::string& id) { return events_.erase(id) > 0; }

std::optional<DrEvent> DrBook::find(const std::string& id) const {
  const auto it = events_.find(id);
  if (it == events_.end()) return std::nullopt;
  return it->second;
}

std::vector<DrEvent> DrBook::events() const {
  std::vector<DrEvent> out;
  for (const auto& [id, e] : events_) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const DrEvent& a, const DrEvent& b) { return a.start < b.start; });
  return out;
}

std::vector<LimitWindow> DrBook::windows() const {
  std::vector<LimitWindow> out;
  for (const auto& [id, e] : events_) out.push_back({id, e.start, e.end, e.limit_kw});
  return out;
}

DrBook::Advance DrBook::advance(TimePoint now) {
  Advance a;
  std::vector<std::string> active;
  for (auto it = events_.begin(); it != events_.end();) {
    if (it->second.end <= now) {
      a.ended.push_back(it->second);
      it = events_.erase(it);
      continue;
    }
    if (it->second.start <= now) active.push_back(it->first);
    ++it;
  }
  a.active_changed = active != active_;
  active_ = std::move(active);
  return a;
}

// ---- the controller --------------------------------------------------------------------------

Controller::Controller(const Config& config, double clock_speed)
    : config_(config),
      clock_speed_(clock_speed),
      tree_(capacity_tree(config)),
      base_history_(minutes(config.control.slot_minutes), config.site.utc_offset) {
  for (const auto& c : config.chargers) {
    ChargerControl cc;
    cc.config = &c;
    cc.node = std::max(tree_.index_of(c.node), 0);
    cc.caps = configured_capabilities(c);
    chargers_.emplace(c.id, std::move(cc));
  }
  for (const auto& m : config.meters) {
    const std::string& root = config.site.transformer.id;
    if (m.role == MeterRole::transformer) {
      transformer_metered_ = true;
      meters_.emplace(m.id, WatchedMeter{root, MeterCheck(meter_check_limits(config, root, clock_speed))});
    } else if (m.role == MeterRole::feeder && !m.node.empty() && m.node != root) {
      meters_.emplace(m.id, WatchedMeter{m.node, MeterCheck(meter_check_limits(config, m.node, clock_speed))});
    }
  }
}

Duration Controller::real(Duration d) const { return duration_cast<Duration>(d * clock_speed_); }

// The larger pauses first among equal priorities (scheduler::ShareRequest::pause_order): a car
// paused less than a turn ago stays paused, one whose turn is over is the last to pause again,
// and of the others the one charging longest since its last pause goes first. Without this the
// same car, the last listed, paused tick after tick for as long as capacity was short.
std::int64_t Controller::pause_order(const ChargerControl& c, MonoPoint now) const {
  if (c.paused_since != MonoPoint{})
    return now - c.paused_since < real(kPauseTurn) ? std::numeric_limits<std::int64_t>::max()
                                                    : std::numeric_limits<std::int64_t>::min();
  if (c.running_since == MonoPoint{}) return 0;
  return duration_cast<milliseconds>(now - c.running_since).count();
}

void Controller::note(ControlEvent event) { pending_events_.push_back(std::move(event)); }

void Controller::attach_driver(const std::string& charger_id, const drivers::Capabilities& declared) {
  auto it = chargers_.find(charger_id);
  if (it == chargers_.end()) return;
  auto& caps = it->second.caps;
  it->second.has_driver = true;
  caps.pause = declared.pause;
  caps.failsafe = declared.failsafe;
  caps.measures_phase_currents = declared.measures_phase_currents;
}

bool Controller::on_charger_snapshot(const std::string& charger_id, const drivers::ChargerSnapshot& s, Instant now) {
  auto it = chargers_.find(charger_id);
  if (it == chargers_.end()) return false;
  auto& c = it->second;
  const bool state_changed = c.snapshot.state != s.state;
  c.snapshot = s;
  const bool verdict_changed = check_following(charger_id, c, now);
  const bool phases_changed = check_phases(c, now);
  return state_changed || verdict_changed || phases_changed;
}

bool Controller::check_phases(ChargerControl& c, Instant now) {
  if (c.snapshot.state == drivers::ChargerState::unplugged) {
    c.shown_phases.reset();  // the next car may draw on other phases
    return false;
  }
  if (c.config->phase != Phase::ABC || !c.caps.measures_phase_currents) return false;
  const auto shown = phases_shown(c.snapshot.current_a);
  if (!shown || shown == c.shown_phases) return false;
  c.shown_phases = shown;
  if (!tree_.has_phase_limits()) return false;
  request_replan(ReplanReason::phases, now);
  return true;
}

bool Controller::check_following(const std::string& id, ChargerControl& c, Instant now) {
  const double power_w = finite_or(c.snapshot.power_w, 0.0);
  const double allowed_w = c.setpoint_w < 0 ? c.caps.max_power_w
                                            : c.setpoint_w + std::max(kFollowToleranceW, kFollowToleranceShare * c.setpoint_w);
  // Judge only against a limit the pile has had time to receive and act on.
  const bool settled = c.setpoint_w >= 0 && now.mono - c.setpoint_changed_at >= real(kFollowGrace);
  if (!settled || power_w <= allowed_w) {
    c.over_limit_since = {};
    if (c.not_following && c.setpoint_w >= 0 && power_w <= allowed_w) {
      c.not_following = false;
      note({"info", "charger:" + id, "follows its limit again"});
      request_replan(ReplanReason::not_following, now);
      return true;
    }
    return false;
  }
  if (c.over_limit_since == MonoPoint{}) c.over_limit_since = now.mono;
  if (c.not_following || now.mono - c.over_limit_since < real(kFollowConfirm)) return false;
  c.not_following = true;
  note({"warn", "charger:" + id,
        "not following its limit: draws " + std::to_string(static_cast<int>(power_w)) + " W, limit " +
            std::to_string(static_cast<int>(c.setpoint_w)) + " W; counted at its measured power, others cut to compensate"});
  request_replan(ReplanReason::not_following, now);
  return true;
}

bool Controller::on_meter_snapshot(const std::string& meter_id, const drivers::MeterSnapshot& s, Instant now) {
  const auto watched = meters_.find(meter_id);
  if (watched == meters_.end() || !std::isfinite(s.power_w)) return false;
  auto& m = watched->second;
  judge_meter(meter_id, m, s.power_w / 1000.0, now);
  const bool plausible = m.check.verdict().plausible;
  if (m.node != config_.site.transformer.id) {
    // The limiter's view of that node; an implausible one leaves the node on its assumed load.
    if (plausible) feeder_kw_[m.node] = {now.mono, NodeReading{s.power_w / 1000.0, phase_kw(s)}};
    else feeder_kw_.erase(m.node);
    return false;
  }
  transformer_ = s;
  transformer_received_ = now.mono;
  // An implausible reading teaches the forecast nothing and moves no base load.
  if (!plausible) return true;
  base_load_w_ = s.power_w - charging_w();
  base_phase_w_.reset();
  if (const auto per_phase = phase_kw(s)) {
    std::array<double, scheduler::kPhases> base{};
    for (int ph = 0; ph < scheduler::kPhases; ++ph)
      base[static_cast<std::size_t>(ph)] = (*per_phase)[static_cast<std::size_t>(ph)] * 1000.0 - charging_w(ph);
    base_phase_w_ = base;
  }
  base_history_.add(now.wall, base_load_w_ / 1000.0);
  check_forecast(now);
  return true;
}

bool Controller::on_health(const std::string& device_id, const drivers::Health& h, Instant now) {
  const auto it = chargers_.find(device_id);
  drivers::Health& previous = it != chargers_.end() ? it->second.health : meter_health_[device_id];
  const bool changed = previous.online != h.online;
  previous = h;
  if (!changed) return false;
  note({h.online ? "info" : "warn", "device:" + device_id,
        h.online ? "online" : "offline" + (h.last_error.empty() ? "" : ": " + h.last_error), true, false});
  if (it != chargers_.end() && !h.online) it->second.setpoint_w = -1;  // resend on return
  request_replan(ReplanReason::device, now);
  return true;
}

void Controller::request_replan(ReplanReason why, Instant now) {
  const bool always = why == ReplanReason::slot || why == ReplanReason::start || why == ReplanReason::clock_step || !plan_;
  if (!always && now.wall < planner_slow_until_) return;
  wanted_.add(why);
}

void Controller::check_forecast(Instant now) {
  if (!plan_ || plan_->algorithm != "optimal") return;
  const auto forecast = forecast_base_kw(*plan_, now.wall);
  if (!forecast) return;
  const double threshold = std::max(kDeviationMinKw, kDeviationShareOfLimit * config_.site.transformer.limit_kw);
  if (std::fabs(base_load_w_ / 1000.0 - *forecast) <= threshold) {
    deviation_since_ = {};
    return;
  }
  if (deviation_since_ == MonoPoint{}) deviation_since_ = now.mono;
  if (now.mono - deviation_since_ >= kDeviationFor) {
    note({"info", "control",
          "base load " + std::to_string(static_cast<int>(std::round(base_load_w_ / 1000.0))) + " kW off the forecast " +
              std::to_string(static_cast<int>(std::round(*forecast))) + " kW for 5 minutes; re-planning",
          false, true});
    deviation_since_ = {};
    request_replan(ReplanReason::forecast, now);
  }
}

ReplanReasons Controller::due_replans(Instant now) {
  // DR events that ended are dropped; one starting or ending changes the plan's limits.
  const auto dr = dr_.advance(now.wall);
  for (const auto& e : dr.ended) note({"info", "dr:" + e.id, "ended", true, false});
  if (dr.active_changed) request_replan(ReplanReason::dr_event, now);
  const auto period = tariff_at(config_.tariff, now.wall, config_.site.utc_offset).period;
  if (last_period_ && *last_period_ != period) request_replan(ReplanReason::tariff, now);
  last_period_ = period;
  if (!plan_ || now.wall >= plan_->grid.slot_start(1)) request_replan(ReplanReason::slot, now);
  const ReplanReasons due = wanted_;
  wanted_ = {};
  return due;
}

double Controller::charging_w(int phase) const {
  double sum = 0;
  for (const auto& [id, c] : chargers_)
    if (c.health.online)
      sum += std::max(0.0, finite_or(c.snapshot.power_w, 0.0)) * (phase < 0 ? 1.0 : measured_share(c.phases(), phase));
  return sum;
}

bool Controller::meter_fresh(MonoPoint now) const {
  return transformer_ && now - transformer_received_ <= real(kMeterStaleAfter);
}

// ---- meters and the load figure -----------------------------------------------------------------

double Controller::chargers_below_kw(const std::string& node) const {
  const int target = tree_.index_of(node);
  double sum_kw = 0;
  for (const auto& [id, c] : chargers_) {
    if (!c.reachable() || !std::isfinite(c.snapshot.power_w)) continue;
    for (int n = c.node; n >= 0; n = tree_.parents[static_cast<std::size_t>(n)])
      if (n == target) {
        sum_kw += c.snapshot.power_w / 1000.0;  // signed: a V2G pile's export lowers what the meter sees
        break;
      }
  }
  return sum_kw;
}

void Controller::judge_meter(const std::string& meter_id, WatchedMeter& m, double power_kw, Instant now) {
  const auto& v = m.check.add(now.mono, power_kw, chargers_below_kw(m.node));
  const std::string id = "meter:" + meter_id;
  if (!v.plausible) {
    const bool transformer = m.node == config_.site.transformer.id;
    raise({id, "suspect", "warn", to_string(v.fault),
           v.reason + (transformer ? "; not believed: the limiter runs on the forecast"
                                   : "; not believed: node " + m.node + " is counted at its assumed load"),
           meter_id, m.node, {}, now.wall},
          now);
  } else {
    clear(id, "plausible again");
  }
}

bool Controller::meter_usable(MonoPoint now) const {
  if (!meter_fresh(now)) return false;
  for (const auto& [id, m] : meters_)
    if (m.node == config_.site.transformer.id) return m.check.verdict().plausible;
  return false;
}

std::optional<double> Controller::non_ev_kw(Instant now) {
  const auto& tx = config_.site.transformer;
  const double margin_kw = config_.control.meter_fallback_margin_kw;
  if (started_at_ == MonoPoint{}) started_at_ = now.mono;
  if (!transformer_metered_) {
    // An unmetered site runs on the installer's figure for as long as it is unmetered.
    if (!tx.assumed_load_kw) {
      load_source_ = LoadSource::failsafe;
      return std::nullopt;
    }
    load_source_ = LoadSource::assumed;
    raise({"control:load", "running-on-assumed-load", "warn", "no-meter",
           "no transformer meter configured: non-EV load taken as assumed_load_kw " + kw_text(*tx.assumed_load_kw) +
               " + meter_fallback_margin_kw " + kw_text(margin_kw),
           "", tx.id, {}, now.wall},
          now);
    return *tx.assumed_load_kw + margin_kw;
  }
  if (meter_usable(now.mono)) {
    unusable_since_ = {};
    load_source_ = LoadSource::meter;
    clear("control:load", "on the transformer meter again");
    return base_load_w_ / 1000.0;
  }
  // Until the meter first answers after a start there is nothing to say: no headroom, quietly.
  if (!transformer_ && now.mono - started_at_ <= real(kMeterStaleAfter)) {
    load_source_ = LoadSource::failsafe;
    return std::nullopt;
  }
  std::string meter_id;
  const MeterCheck* check = nullptr;
  for (const auto& [id, m] : meters_)
    if (m.node == tx.id) {
      meter_id = id;
      check = &m.check;
    }
  std::string reason;
  std::string why;
  if (!meter_fresh(now.mono)) {
    reason = "stale";
    why = transformer_ ? "meter " + meter_id + " silent for " +
                             std::to_string(duration_cast<seconds>(now.mono - transformer_received_).count()) + " s"
                       : "no reading from meter " + meter_id + " since the start";
    raise({"meter:" + meter_id, "suspect", "warn", "silent", why, meter_id, tx.id, {}, now.wall}, now);
  } else {
    reason = to_string(check->verdict().fault);
    why = "meter " + meter_id + " " + check->verdict().reason;
  }
  if (unusable_since_ == MonoPoint{}) unusable_since_ = now.mono;
  const auto fallback_for = real(seconds(config_.control.meter_fallback_s));
  if (now.mono - unusable_since_ < fallback_for) {
    // The plan's forecast is only a figure once the history has one; before that, the
    // installer's assumed load (default: the limit, so no headroom). Never below the last
    // believed base load: the forecast of a young history (no earlier day) is low.
    std::optional<double> forecast;
    if (plan_ && base_history_.slot_count() > 0) forecast = forecast_base_kw(*plan_, now.wall);
    const double last_kw = base_load_w_ / 1000.0;
    const double base_kw = forecast ? std::max(*forecast, last_kw) : assumed_load_kw(config_, tx.id, 0);
    const std::string figure = !forecast           ? "assumed load " + kw_text(base_kw)
                               : *forecast >= last_kw ? "forecast base load " + kw_text(base_kw)
                                                      : "last believed base load " + kw_text(base_kw) +
                                                            " (above the forecast " + kw_text(*forecast) + ")";
    load_source_ = LoadSource::forecast;
    raise({"control:load", "running-on-forecast", "warn", reason,
           why + "; limits on the " + figure + " + meter_fallback_margin_kw " + kw_text(margin_kw) + " for at most " +
               std::to_string(config_.control.meter_fallback_s) + " s, then the failsafe",
           meter_id, tx.id, {}, now.wall},
          now);
    return base_kw + margin_kw;
  }
  load_source_ = LoadSource::failsafe;
  raise({"control:load", "failsafe", "error", reason,
         why + "; longer than meter_fallback_s " + std::to_string(config_.control.meter_fallback_s) +
             " s: no headroom, every pile paused until the meter is believable again",
         meter_id, tx.id, {}, now.wall},
        now);
  return std::nullopt;
}

void Controller::raise(Alarm alarm, Instant now) {
  const auto it = alarms_.find(alarm.id);
  const bool news = it == alarms_.end() || it->second.state != alarm.state || it->second.reason != alarm.reason ||
                    it->second.piles != alarm.piles;
  if (!news) {
    it->second.message = std::move(alarm.message);  // the figures move; the state does not
    return;
  }
  alarm.since = it != alarms_.end() && it->second.state == alarm.state ? it->second.since : now.wall;
  note({alarm.level, alarm.id, alarm.state + ": " + alarm.message});
  alarms_[alarm.id] = std::move(alarm);
}

void Controller::clear(const std::string& id, const std::string& message) {
  if (alarms_.erase(id) == 0) return;
  note({"info", id, "ok: " + message});
}

std::vector<ChargerControl*> Controller::check_limits_hold(const scheduler::LimiterResult& result,
                                                           const std::vector<scheduler::LimitNode>& nodes,
                                                           const std::vector<scheduler::ChargerSetpoint>& setpoints,
                                                           const std::vector<ChargerControl*>& of, Instant now) {
  std::vector<ChargerControl*> to_cut;
  std::set<std::string> overloaded;
  for (const int n : result.overloaded_nodes) {
    const auto node = static_cast<std::size_t>(n);
    const std::string id = "node:" + tree_.ids[node];
    overloaded.insert(id);
    std::vector<std::string> piles;
    std::string blame;
    for (std::size_t i = 0; i < setpoints.size(); ++i) {
      if (setpoints[i].responsive) continue;
      bool below = false;
      for (int k = setpoints[i].node; k >= 0 && !below; k = nodes[static_cast<std::size_t>(k)].parent) below = k == n;
      if (!below) continue;
      auto& c = *of[i];
      piles.push_back(c.config->id);
      const double kw = setpoints[i].measured_kw ? *setpoints[i].measured_kw : setpoints[i].max_kw;
      blame += (blame.empty() ? "" : ", ") + c.config->id + " (" +
               (c.reachable() ? "not following, draws " : "offline, counted at ") + kw_text(kw) + ")";
      if (c.reachable() && c.not_following) to_cut.push_back(&c);
    }
    raise({id, "limits-cannot-hold", "error", piles.empty() ? "non-ev-load" : "fixed-load",
           "fixed load " + kw_text(result.expected_node_load_kw[node]) + " over the limit " +
               kw_text(nodes[node].limit_kw) + " (margin subtracted)" +
               (piles.empty() ? ": the non-EV load alone" : "; piles at fault: " + blame) +
               "; every other pile below it paused",
           "", tree_.ids[node], piles, now.wall},
          now);
  }
  std::vector<std::string> holding;
  for (const auto& [id, a] : alarms_)
    if (a.state == "limits-cannot-hold" && !overloaded.count(id)) holding.push_back(id);
  for (const auto& id : holding) clear(id, "limits hold again");
  return to_cut;
}

double Controller::transformer_limit_kw(TimePoint now) const {
  return gateway::transformer_limit_kw(config_, dr_.windows(), now);
}

std::array<std::optional<double>, 3> Controller::transformer_phase_limit_kw(TimePoint now) const {
  const auto& tr = config_.site.transformer;
  const double dr_share = transformer_limit_kw(now) / tr.limit_kw;
  std::array<std::optional<double>, 3> out{};
  for (std::size_t ph = 0; ph < 3; ++ph)
    if (tr.phase_limit_kw[ph]) out[ph] = *tr.phase_limit_kw[ph] * std::min(dr_share, 1.0);
  return out;
}

double Controller::reserved_kw(const ChargerControl& c) const {
  if (!c.reachable()) {
    // Chargers we cannot reach keep drawing what they may: their failsafe power if they honour
    // one, their maximum if not.
    const double failsafe_w = power_w_at_nominal(c.config->failsafe_current_a, c.caps.phases);
    return (c.caps.failsafe && c.has_driver ? failsafe_w : c.caps.max_power_w) / 1000.0;
  }
  // It draws what it draws: reserve that (at least), and keep telling it the limit.
  if (c.not_following) return std::max(finite_or(c.snapshot.power_w, c.caps.max_power_w), 0.0) / 1000.0;
  return 0;
}

PlanningInput Controller::planning_input(Instant now, std::vector<ActiveSession> sessions) const {
  PlanningInput in;
  in.now = now.wall;
  in.sessions = std::move(sessions);
  in.limit_windows = dr_.windows();
  in.base_history = base_history_.samples();
  if (meter_usable(now.mono)) {
    in.measured_base_kw = base_load_w_ / 1000.0;
    if (base_phase_w_) in.measured_base_phase_kw = std::array<double, 3>{(*base_phase_w_)[0] / 1000.0,
                                                                          (*base_phase_w_)[1] / 1000.0,
                                                                          (*base_phase_w_)[2] / 1000.0};
  }
  for (const auto& [id, c] : chargers_) in.charger_phases[id] = c.phases();
  for (const auto& [id, c] : chargers_)
    if (const double kw = reserved_kw(c); kw > 0) in.reserved_kw[id] = kw;
  return in;
}

void Controller::set_plan(ActivePlan plan, std::chrono::steady_clock::duration took) {
  plan_ = std::move(plan);
  if (took > kPlannerBudget) {
    planner_slow_until_ = plan_->grid.slot_start(1);
    note({"warn", "control",
          "planner took " + std::to_string(duration_cast<milliseconds>(took).count()) +
              " ms; re-plans on events wait for the next slot"});
  }
}

Controller::Limits Controller::limit(Instant now) {
  Limits out;
  // The transformer's non-EV load as the limiter takes it: measured, forecast, assumed or none.
  const std::optional<double> base_kw = non_ev_kw(now);
  std::map<std::string, NodeReading> node_kw;
  for (const auto& [node, reading] : feeder_kw_)
    if (now.mono - reading.first <= real(kMeterStaleAfter)) node_kw[node] = reading.second;
  auto nodes = limiter_nodes(config_, tree_, dr_.empty() ? std::vector<LimitWindow>{} : dr_.windows(), now.wall,
                             base_kw ? std::optional<NodeReading>(NodeReading{*base_kw, std::nullopt}) : std::nullopt,
                             node_kw);
  // A node without a fresh plausible meter carries its assumed non-EV load, never 0, spread over
  // its phases by its configured split.
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    if (nodes[i].measured_kw) continue;
    nodes[i].base_load_kw = assumed_load_kw(config_, tree_.ids[i], base_kw.value_or(nodes[0].limit_kw));
    for (std::size_t ph = 0; ph < scheduler::kPhases; ++ph)
      nodes[i].base_load_phase_kw[ph] = nodes[i].base_load_kw * tree_.base_phase_split[i][ph];
  }

  // Every charger is in the limiter's picture; only the reachable, plugged-in ones get a target.
  std::vector<scheduler::ChargerSetpoint> setpoints;
  std::vector<ChargerControl*> of;          // per setpoint
  std::vector<LimitReason> ceiling_reason;  // per setpoint: where its ceiling came from
  std::vector<std::size_t> unplanned;       // setpoints without a plan entry
  std::vector<double> wanted_kw;            // per setpoint: what it would take (for who paused)
  double reserved = 0;
  double planned = 0;
  for (auto& [id, c] : chargers_) {
    scheduler::ChargerSetpoint sp;
    sp.node = c.node;
    sp.phases = c.phases();
    // A single-phase car on a three-phase pile: the pile's currents on one phase.
    const int drawn = c.shown_phases ? drawn_phase_count(*c.shown_phases) : c.caps.phases;
    sp.max_kw = std::min(c.caps.max_power_w, power_w_at_nominal(c.caps.max_current_a, drawn)) / 1000.0;
    sp.min_kw = power_w_at_nominal(c.caps.min_current_a, drawn) / 1000.0;
    if (std::isfinite(c.snapshot.power_w) && c.reachable()) sp.measured_kw = c.snapshot.power_w / 1000.0;
    if (const double kw = reserved_kw(c); kw > 0 || !c.reachable() || c.not_following) {
      sp.responsive = false;
      sp.setpoint_kw = kw;
      if (!c.reachable()) sp.max_kw = kw;  // counted at this when not measured
      reserved += kw;
      setpoints.push_back(sp);
      of.push_back(&c);
      ceiling_reason.push_back(LimitReason::keep_alive);
      wanted_kw.push_back(0);
      continue;
    }
    if (c.snapshot.state == drivers::ChargerState::unplugged) {
      c.paused_since = c.running_since = MonoPoint{};
      continue;
    }
    sp.pause_order = pause_order(c, now.mono);
    if (plan_) {
      if (const auto ceiling = ceiling_kw(*plan_, id, now.wall)) {
        const bool asap = plan_->chargers.at(id).asap;
        sp.setpoint_kw = *ceiling;
        sp.priority = asap ? 1 : 0;  // keeps its minimum first when cut hard
        planned += *ceiling;
        setpoints.push_back(sp);
        of.push_back(&c);
        ceiling_reason.push_back(asap ? LimitReason::asap : LimitReason::plan);
        wanted_kw.push_back(*ceiling);
        continue;
      }
    }
    unplanned.push_back(setpoints.size());
    setpoints.push_back(sp);
    of.push_back(&c);
    ceiling_reason.push_back(LimitReason::share);
    wanted_kw.push_back(sp.max_kw);
  }

  // Cars the plan does not know yet (just plugged in, no session, or no plan) share what the
  // planned ones leave: never an open limit.
  if (!unplanned.empty()) {
    double headroom_kw = 0;
    if (base_kw) headroom_kw = nodes[0].limit_kw - *base_kw - reserved - planned;
    std::vector<scheduler::ShareRequest> requests;
    for (const auto i : unplanned)
      requests.push_back({setpoints[i].max_kw, setpoints[i].min_kw, 0, setpoints[i].pause_order});
    const auto share = scheduler::share_headroom(headroom_kw, requests);
    for (std::size_t k = 0; k < unplanned.size(); ++k) setpoints[unplanned[k]].setpoint_kw = share[k];
  }

  // The real-time limiter: whatever the plan said, the measured load decides now. Without a
  // fresh meter reading, assume the worst: no headroom at all.
  //
  // The non-EV load is the one taken at the last meter sample (meter minus the chargers' power
  // then): a meter reading paired with charger readings from a different moment would count a
  // car that just ramped up or down twice or not at all, and the limits would swing.
  std::vector<double> target_kw(setpoints.size(), 0.0);
  std::vector<ChargerControl*> to_cut;  // ignoring their limit where the limits cannot hold
  if (base_kw) {
    auto limited = nodes;
    double measured_chargers_kw = 0;
    std::array<double, 3> measured_phase_kw{0, 0, 0};
    for (const auto& sp : setpoints)
      if (sp.measured_kw) {
        measured_chargers_kw += std::max(*sp.measured_kw, 0.0);
        for (int ph = 0; ph < scheduler::kPhases; ++ph)
          measured_phase_kw[static_cast<std::size_t>(ph)] += std::max(*sp.measured_kw, 0.0) * measured_share(sp.phases, ph);
      }
    limited[0].measured_kw = *base_kw + measured_chargers_kw;
    // Per phase the same way: the non-EV load of the last believed sample, on the phases the
    // meter saw it on, or split as configured when it does not measure its phases or is not
    // believed (the forecast or the assumed load stands in).
    for (std::size_t ph = 0; ph < scheduler::kPhases; ++ph) {
      if (base_phase_w_ && load_source_ == LoadSource::meter)
        limited[0].measured_phase_kw[ph] = (*base_phase_w_)[ph] / 1000.0 + measured_phase_kw[ph];
      else
        limited[0].base_load_phase_kw[ph] = *base_kw * tree_.base_phase_split[0][ph];
    }
    const auto result = scheduler::limit_setpoints(limited, setpoints);
    target_kw = result.setpoint_kw;
    to_cut = check_limits_hold(result, limited, setpoints, of, now);
    // Who the limits paused although it wanted power, and who charges: the next pause_order.
    for (std::size_t i = 0; i < setpoints.size(); ++i) {
      if (!setpoints[i].responsive) continue;
      auto& c = *of[i];
      if (target_kw[i] > 0) {
        if (c.running_since == MonoPoint{}) c.running_since = now.mono;
        c.paused_since = MonoPoint{};
      } else if (wanted_kw[i] > 0 && wanted_kw[i] >= setpoints[i].min_kw) {
        if (c.paused_since == MonoPoint{}) c.paused_since = now.mono;
        c.running_since = MonoPoint{};
      } else {
        c.paused_since = c.running_since = MonoPoint{};
      }
    }
  }

  const auto validity = seconds(config_.control.limit_validity_s);
  auto send = [&](ChargerControl& c, double power_w, LimitReason reason) {
    if (power_w != c.setpoint_w) c.setpoint_changed_at = now.mono;
    c.setpoint_w = power_w;
    c.setpoint_sent_at = now.mono;
    out.commands.push_back({c.config->id, drivers::PowerLimit{power_w, validity, ++c.seq}, reason});
  };
  for (std::size_t i = 0; i < setpoints.size(); ++i) {
    if (!setpoints[i].responsive) continue;
    auto& c = *of[i];
    const double target_w = std::floor(target_kw[i] * 1000.0);
    const bool changed = c.setpoint_w < 0 || std::fabs(target_w - c.setpoint_w) >= kResendChangeW ||
                         (target_w == 0 && c.setpoint_w > 0);  // a stop is always sent
    if (!changed && now.mono - c.setpoint_sent_at < validity / 2) continue;
    LimitReason reason = ceiling_reason[i];
    if (!base_kw) reason = LimitReason::no_meter;
    else if (target_kw[i] < setpoints[i].setpoint_kw - 1e-3) reason = LimitReason::cut;
    else if (load_source_ != LoadSource::meter) reason = LimitReason::forecast;
    if (!changed) reason = LimitReason::keep_alive;
    send(c, target_w, reason);
  }
  // Where they break a limit that cannot hold otherwise, piles ignoring their limit are told to
  // stop: should they start following, they stop at once.
  for (auto* c : to_cut)
    if (c->setpoint_w != 0) send(*c, 0, LimitReason::cut);
  // Chargers that ignore their limit keep receiving it, so they hold a valid one if they recover.
  for (auto& [id, c] : chargers_)
    if (c.not_following && c.reachable() && now.mono - c.setpoint_sent_at >= validity / 2)
      send(c, c.setpoint_w, LimitReason::keep_alive);

  out.events = std::move(pending_events_);
  pending_events_.clear();
  return out;
}

}  // namespace orderly::gateway
