#include "orderly/gateway/gateway.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "orderly/base/units.hpp"
#include "orderly/gateway/log.hpp"
#include "orderly/gateway/report.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/scheduler/fair_share.hpp"
#include "orderly/scheduler/limiter.hpp"
#include "orderly/scheduler/plan.hpp"
#include "orderly/scheduler/validate.hpp"
#include "orderly/web/server.hpp"
#include "device_registry.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

constexpr auto kSampleInterval = minutes(1);            // stored sample resolution
constexpr auto kHistorySpan = hours(24);
constexpr auto kMeterStaleAfter = seconds(10);          // real seconds: meters report >= 1 Hz
constexpr double kResendChangeW = 50;                   // ignore setpoint jitter below this
// A pile needs a few seconds to ramp to a new limit (IEC 61851-1 allows the car 5 s to follow a
// PWM change); drawing more than the tolerance above it for longer than this is not following.
constexpr auto kFollowGrace = seconds(5);
constexpr auto kFollowConfirm = seconds(2);              // over the limit this long after the grace
constexpr double kFollowToleranceW = 300;
constexpr double kFollowToleranceShare = 0.10;
// A re-plan when the measured base load stays this far off the plan's forecast for this long
// (clock time): a step the forecast did not see (a heat wave's air conditioners) moves the plan.
constexpr double kDeviationMinKw = 5;
constexpr double kDeviationShareOfLimit = 0.05;
constexpr auto kDeviationFor = minutes(5);
// The planner runs on the core thread: a solve slower than this delays the limiter, so further
// event re-plans wait for the next slot boundary (cars without a plan entry share the headroom).
constexpr auto kPlannerBudget = milliseconds(2000);
// Base-load history read back from the store at start for the forecast.
constexpr auto kHistoryRestore = days(14);

double finite_or(double v, double fallback) { return std::isfinite(v) ? v : fallback; }


double round1(double v) { return std::round(v * 10.0) / 10.0; }
double round2(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

Gateway::Gateway(boost::asio::io_context& io, const Clock& clock, Config config, GatewayOptions options)
    : io_(io),
      clock_(clock),
      config_(std::move(config)),
      options_(std::move(options)),
      control_timer_(io),
      sessions_(std::make_unique<SessionBook>(config_)),
      tree_(capacity_tree(config_)),
      base_history_(minutes(config_.control.slot_minutes), config_.site.utc_offset) {
  for (const auto& c : config_.chargers) {
    ChargerRuntime rt;
    rt.config = &c;
    rt.node = std::max(tree_.index_of(c.node), 0);
    rt.caps = configured_capabilities(c);
    chargers_.emplace(c.id, std::move(rt));
  }
}

Gateway::~Gateway() { stop(); }

void Gateway::start() {
  if (running_) return;
  {
    Store store(config_.store.path);  // migrate and register chargers before the writer starts
    store.sync_chargers(config_.chargers);
  }
  store_ = std::make_unique<StoreWriter>(config_.store.path);
  restore(clock_.now());

  drivers::DeviceEvents events;
  events.charger_snapshot = [this](const std::string& id, const drivers::ChargerSnapshot& s) { on_charger_snapshot(id, s); };
  events.meter_snapshot = [this](const std::string& id, const drivers::MeterSnapshot& s) { on_meter_snapshot(id, s); };
  events.limit_ack = [this](const std::string& id, const drivers::LimitAck& a) { on_limit_ack(id, a); };
  events.health = [this](const std::string& id, const drivers::Health& h) { on_health(id, h); };

  devices_ = options_.devices
                 ? std::make_unique<DeviceRegistry>(options_.devices(events))
                 : std::make_unique<DeviceRegistry>(io_.get_executor(), clock_, config_, options_.profile_dir, events);
  for (auto& [id, rt] : chargers_) {
    rt.driver = devices_->charger(id);
    if (!rt.driver) continue;
    const drivers::Capabilities declared = rt.driver->capabilities();
    rt.caps.pause = declared.pause;
    rt.caps.failsafe = declared.failsafe;
    rt.caps.measures_phase_currents = declared.measures_phase_currents;
  }
  devices_->start();

  web::ServerOptions wo;
  wo.address = config_.web.listen;
  wo.port = static_cast<std::uint16_t>(config_.web.port);
  wo.static_dir = !options_.static_dir.empty()      ? options_.static_dir
                  : !config_.web.static_dir.empty() ? config_.web.static_dir
                                                    : std::filesystem::path("/usr/share/orderly/web");
  web_ = std::make_unique<web::Server>(io_, *this, wo);
  web_->start();

  running_ = true;
  event("info", "gateway", "started with " + std::to_string(chargers_.size()) + " chargers");
  spdlog::info("gateway started site={} limit_kw={} chargers={} web=http://{}:{}", logfmt(config_.site.name),
               config_.site.transformer.limit_kw, chargers_.size(), wo.address, web_->port());
  control_step();  // plan at once: limits go out as soon as each charger answers
  schedule_control_tick();
}

void Gateway::stop() {
  if (!running_) return;
  running_ = false;
  control_timer_.cancel();
  if (web_) web_->stop();
  if (devices_) devices_->stop();
  event("info", "gateway", "stopped");
  if (store_) store_->stop();
  spdlog::info("gateway stopped");
}

std::uint16_t Gateway::web_port() const { return web_ ? web_->port() : 0; }

void Gateway::schedule_control_tick() {
  const auto period = duration_cast<Duration>(duration<double>(config_.control.control_period_s));
  // Never spin faster than 4 Hz of real time, however fast a simulated clock runs.
  const auto wait = std::max<std::chrono::steady_clock::duration>(clock_.real_wait(period), milliseconds(250));
  control_timer_.expires_after(wait);
  control_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    control_step();
    schedule_control_tick();
  });
}

bool Gateway::meter_fresh(TimePoint now) const {
  return have_transformer_ && now - transformer_.at <= duration_cast<Duration>(kMeterStaleAfter * clock_.speed());
}

double Gateway::charging_w() const {
  double sum = 0;
  for (const auto& [id, rt] : chargers_)
    if (rt.health.online) sum += std::max(0.0, finite_or(rt.snapshot.power_w, 0.0));
  return sum;
}

void Gateway::control_step() {
  if (!running_) return;
  const TimePoint now = clock_.now();
  prune_daily(now);
  check_dr_and_tariff(now);
  if (!plan_ || now >= plan_->grid.slot_start(1)) request_replan("slot");
  if (!replan_reason_.empty()) replan(now);
  apply_limits(now);
  record_history(now);
}

void Gateway::request_replan(const std::string& reason) {
  // A slot boundary or the first plan is never skipped; events wait while the planner is slow.
  const bool always = reason == "slot" || reason == "start" || !plan_;
  if (!always && clock_.now() < planner_slow_until_) return;
  if (replan_reason_.empty()) replan_reason_ = reason;
  else if (replan_reason_.find(reason) == std::string::npos) replan_reason_ += "," + reason;
}

double Gateway::reserved_kw(const ChargerRuntime& rt) const {
  if (!rt.driver || !rt.health.online) {
    // Chargers we cannot reach keep drawing what they may: their failsafe power if they honour
    // one, their maximum if not.
    const double failsafe_w = power_w_at_nominal(rt.config->failsafe_current_a, rt.caps.phases);
    return (rt.caps.failsafe && rt.driver ? failsafe_w : rt.caps.max_power_w) / 1000.0;
  }
  // It draws what it draws: reserve that (at least), and keep telling it the limit.
  if (rt.not_following) return std::max(finite_or(rt.snapshot.power_w, rt.caps.max_power_w), 0.0) / 1000.0;
  return 0;
}

std::vector<LimitWindow> Gateway::limit_windows() const {
  std::vector<LimitWindow> out;
  for (const auto& [id, e] : dr_events_) out.push_back({id, e.start, e.end, e.limit_kw});
  return out;
}

void Gateway::replan(TimePoint now) {
  const std::string reason = replan_reason_;
  replan_reason_.clear();
  PlanningInput in;
  in.now = now;
  in.sessions = sessions_->active(now);
  in.limit_windows = limit_windows();
  in.base_history = base_history_.samples();
  if (meter_fresh(now)) in.measured_base_kw = base_load_w_ / 1000.0;
  for (const auto& [id, rt] : chargers_)
    if (const double kw = reserved_kw(rt); kw > 0) in.reserved_kw[id] = kw;

  const auto t0 = std::chrono::steady_clock::now();
  try {
    auto planning = build_problem(config_, in);
    for (const auto& note : planning.notes) spdlog::warn("planning: {}", note);
    if (const auto problems = scheduler::problems(planning.problem); !problems.empty())
      throw std::runtime_error("the planning problem is malformed: " + problems.front());
    const auto plan = scheduler::make_plan(planning.problem, scheduler::Algorithm::optimal);
    plan_ = make_active_plan(planning, plan, now, reason, "optimal");
    const auto took = std::chrono::steady_clock::now() - t0;
    if (took > kPlannerBudget) {
      planner_slow_until_ = plan_->grid.slot_start(1);
      spdlog::warn("planner slow; event re-plans wait for the next slot took_ms={} evs={} slots={}",
                   duration_cast<milliseconds>(took).count(), planning.problem.evs.size(), planning.problem.slots);
      event("warn", "control", "planner took " + std::to_string(duration_cast<milliseconds>(took).count()) +
                                   " ms; re-plans on events wait for the next slot");
    }
    spdlog::debug("plan reason={} evs={} slots={} status={} took_ms={}", reason, planning.problem.evs.size(),
                  planning.problem.slots, plan_->capacity_short ? "capacity_short" : "optimal",
                  duration_cast<milliseconds>(took).count());
  } catch (const std::exception& e) {
    // Without a plan every car shares the headroom under the limiter: safe, only not cheapest.
    ActivePlan fallback;
    fallback.grid = make_slot_grid(now, minutes(config_.control.slot_minutes), config_.site.utc_offset, std::nullopt);
    fallback.created_at = now;
    fallback.reason = reason;
    fallback.algorithm = "share";
    plan_ = std::move(fallback);
    spdlog::error("planner failed; sharing the headroom until the next plan reason={} error={}", reason, logfmt(e.what()));
    event("error", "control", std::string("planner failed, sharing the headroom until the next plan: ") + e.what());
  }
  store_->append(PlanRecord{now, plan_->grid.start, config_.control.slot_minutes, reason, active_plan_to_json(*plan_)});
}

void Gateway::apply_limits(TimePoint now) {
  std::optional<double> transformer_kw;
  if (meter_fresh(now)) transformer_kw = transformer_.power_w / 1000.0;
  std::map<std::string, double> node_kw;
  for (const auto& [node, reading] : feeder_kw_)
    if (now - reading.first <= duration_cast<Duration>(kMeterStaleAfter * clock_.speed())) node_kw[node] = reading.second;
  const auto nodes = limiter_nodes(config_, tree_, dr_events_.empty() ? std::vector<LimitWindow>{} : limit_windows(), now,
                                   transformer_kw, node_kw);

  // Every charger is in the limiter's picture; only the reachable, plugged-in ones get a target.
  std::vector<scheduler::ChargerSetpoint> setpoints;
  std::vector<std::string> ids;              // per setpoint
  std::vector<std::size_t> unplanned;        // setpoints without a plan entry
  double reserved = 0;
  double planned = 0;
  for (auto& [id, rt] : chargers_) {
    scheduler::ChargerSetpoint sp;
    sp.node = rt.node;
    sp.max_kw = rt.caps.max_power_w / 1000.0;
    sp.min_kw = power_w_at_nominal(rt.caps.min_current_a, rt.caps.phases) / 1000.0;
    if (std::isfinite(rt.snapshot.power_w) && rt.driver && rt.health.online) sp.measured_kw = rt.snapshot.power_w / 1000.0;
    if (const double kw = reserved_kw(rt); kw > 0 || !rt.driver || !rt.health.online || rt.not_following) {
      sp.responsive = false;
      sp.setpoint_kw = kw;
      if (!rt.driver || !rt.health.online) sp.max_kw = kw;  // counted at this when not measured
      reserved += kw;
      setpoints.push_back(sp);
      ids.push_back(id);
      continue;
    }
    if (rt.snapshot.state == drivers::ChargerState::unplugged) continue;
    if (plan_) {
      if (const auto ceiling = ceiling_kw(*plan_, id, now)) {
        sp.setpoint_kw = *ceiling;
        sp.priority = plan_->chargers.at(id).asap ? 1 : 0;  // keeps its minimum first when cut hard
        planned += *ceiling;
        setpoints.push_back(sp);
        ids.push_back(id);
        continue;
      }
    }
    unplanned.push_back(setpoints.size());
    setpoints.push_back(sp);
    ids.push_back(id);
  }

  // Cars the plan does not know yet (just plugged in, no session, or no plan) share what the
  // planned ones leave: never an open limit.
  if (!unplanned.empty()) {
    double headroom_kw = 0;
    if (transformer_kw) headroom_kw = nodes[0].limit_kw - base_load_w_ / 1000.0 - reserved - planned;
    std::vector<scheduler::ShareRequest> requests;
    for (const auto i : unplanned) requests.push_back({setpoints[i].max_kw, setpoints[i].min_kw, 0});
    const auto share = scheduler::share_headroom(headroom_kw, requests);
    for (std::size_t k = 0; k < unplanned.size(); ++k) setpoints[unplanned[k]].setpoint_kw = share[k];
  }

  // The real-time limiter: whatever the plan said, the measured load decides now. Without a
  // fresh meter reading, assume the worst: no headroom at all.
  //
  // The non-EV load is the one taken at the last meter sample (meter minus the chargers'
  // power then): a meter reading paired with charger readings from a different moment would
  // count a car that just ramped up or down twice or not at all, and the limits would swing.
  std::vector<double> target_kw(setpoints.size(), 0.0);
  if (transformer_kw) {
    auto limited = nodes;
    double measured_chargers_kw = 0;
    for (const auto& sp : setpoints)
      if (sp.measured_kw) measured_chargers_kw += std::max(*sp.measured_kw, 0.0);
    limited[0].measured_kw = base_load_w_ / 1000.0 + measured_chargers_kw;
    target_kw = scheduler::limit_setpoints(limited, setpoints).setpoint_kw;
  }

  const auto validity = seconds(config_.control.limit_validity_s);
  for (std::size_t i = 0; i < setpoints.size(); ++i) {
    if (!setpoints[i].responsive) continue;
    auto& rt = chargers_.at(ids[i]);
    const double target_w = std::floor(target_kw[i] * 1000.0);
    const bool changed = rt.setpoint_w < 0 || std::fabs(target_w - rt.setpoint_w) >= kResendChangeW ||
                         (target_w == 0 && rt.setpoint_w > 0);  // a stop is always sent
    if (changed || now - rt.setpoint_sent_at >= validity / 2) send_limit(ids[i], rt, target_w, now);
  }
  // Chargers that ignore their limit keep receiving it, so they hold a valid one if they recover.
  for (auto& [id, rt] : chargers_)
    if (rt.not_following && rt.driver && rt.health.online && now - rt.setpoint_sent_at >= validity / 2)
      send_limit(id, rt, rt.setpoint_w, now);
}

void Gateway::check_dr_and_tariff(TimePoint now) {
  // DR events that ended are dropped; one starting or ending changes the plan's limits.
  std::vector<std::string> active;
  for (auto it = dr_events_.begin(); it != dr_events_.end();) {
    if (it->second.end <= now) {
      event("info", "dr:" + it->first, "ended");
      it = dr_events_.erase(it);
      continue;
    }
    if (it->second.start <= now) active.push_back(it->first);
    ++it;
  }
  if (active != active_dr_) {
    active_dr_ = active;
    request_replan("dr-event");
  }
  const auto period = tariff_at(config_.tariff, now, config_.site.utc_offset).period;
  if (last_period_ && *last_period_ != period) request_replan("tariff");
  last_period_ = period;
}

void Gateway::check_forecast(TimePoint now) {
  if (!plan_ || plan_->algorithm != "optimal") return;
  const auto forecast = forecast_base_kw(*plan_, now);
  if (!forecast) return;
  const double threshold = std::max(kDeviationMinKw, kDeviationShareOfLimit * config_.site.transformer.limit_kw);
  if (std::fabs(base_load_w_ / 1000.0 - *forecast) <= threshold) {
    deviation_since_ = {};
    return;
  }
  if (deviation_since_ == TimePoint{}) deviation_since_ = now;
  if (now - deviation_since_ >= kDeviationFor) {
    spdlog::info("base load off the forecast; re-planning measured_kw={:.1f} forecast_kw={:.1f}", base_load_w_ / 1000.0,
                 *forecast);
    deviation_since_ = {};
    request_replan("forecast");
  }
}

void Gateway::prune_daily(TimePoint now) {
  const auto day = floor<days>(now + config_.site.utc_offset).time_since_epoch().count();
  if (day == last_prune_day_) return;
  last_prune_day_ = day;
  store_->append(PruneRequest{now - days(config_.store.raw_retention_days),
                              now - days(config_.store.aggregate_retention_days)});
}

void Gateway::on_charger_snapshot(const std::string& id, const drivers::ChargerSnapshot& s) {
  auto it = chargers_.find(id);
  if (it == chargers_.end()) return;
  auto& rt = it->second;
  const bool state_changed = rt.snapshot.state != s.state;
  rt.snapshot = s;
  const TimePoint now = clock_.now();
  if (state_changed || now - rt.last_sample_stored >= kSampleInterval) {
    rt.last_sample_stored = now;
    ChargerSample cs;
    cs.at = s.at;
    cs.charger_id = id;
    cs.state = drivers::to_string(s.state);
    cs.power_w = s.power_w;
    cs.current_a = s.current_a;
    cs.session_energy_wh = s.session_energy_wh;
    cs.total_energy_wh = s.total_energy_wh;
    cs.limit_w = rt.setpoint_w;
    cs.applied_limit_w = s.applied_limit_w;
    store_->append(std::move(cs));
  }
  // Sessions: a car arriving or leaving is committed before anything else happens (it is what a
  // resident's bill and the restart rest on), then planned for.
  const auto before = sessions_->open_session(id);
  persist_sessions(sessions_->on_snapshot(id, s, rt.setpoint_w, now));
  const auto after = sessions_->open_session(id);
  const bool opened = after && (!before || before->id != after->id);
  const bool closed = before && (!after || after->id != before->id);
  if (opened || closed) {
    store_->flush();
    request_replan(opened ? "plug-in" : "unplug");
  }
  check_following(id, rt, now);
  if (state_changed || opened || closed) {
    spdlog::info("charger state charger={} state={}", id, drivers::to_string(s.state));
    control_step();  // a car plugged in or left: plan and limit again now
  }
  notify_status();
}

void Gateway::persist_sessions(const std::vector<SessionRecord>& records) {
  for (const auto& r : records) store_->append(r);
}

SessionRecord Gateway::set_request(const std::string& charger_id, const ChargeRequest& request) {
  if (!store_) throw std::logic_error("set_request before start(): the store is not open");
  SessionRecord record = sessions_->set_request(charger_id, request, clock_.now());
  store_->append(record);
  store_->flush();  // acknowledged to a person: committed before the answer
  spdlog::info("request charger={} session={} departure_set={} energy_set={} boost={}", charger_id, record.id,
               request.departure.has_value(), request.energy_kwh.has_value(), record.boost);
  request_replan("request");
  control_step();
  notify_status();
  return record;
}

const SessionBook& Gateway::sessions() const { return *sessions_; }

void Gateway::add_dr_event(const DrEvent& e) {
  if (e.id.empty()) throw std::invalid_argument("DR event: id is empty; give the platform's event id");
  if (e.end <= e.start) throw std::invalid_argument("DR event " + e.id + ": end must be after start");
  if (!(e.limit_kw > 0)) throw std::invalid_argument("DR event " + e.id + ": limit_kw must be > 0");
  if (!store_) throw std::logic_error("add_dr_event before start(): the store is not open");
  dr_events_[e.id] = e;
  store_->append(DrEventRecord{e.id, e.start, e.end, e.limit_kw, e.source, clock_.now(), false});
  store_->flush();
  const auto offset = config_.site.utc_offset;
  event("info", "dr:" + e.id,
        "limit " + std::to_string(e.limit_kw) + " kW from " + format_local_time(e.start, offset) + " to " + format_local_time(e.end, offset) +
            (e.source.empty() ? "" : " (" + e.source + ")"));
  spdlog::info("DR event id={} limit_kw={} source={}", e.id, e.limit_kw, logfmt(e.source));
  request_replan("dr-event");
  control_step();
  notify_status();
}

bool Gateway::cancel_dr_event(const std::string& id) {
  const auto it = dr_events_.find(id);
  if (it == dr_events_.end()) return false;
  const DrEvent e = it->second;
  dr_events_.erase(it);
  store_->append(DrEventRecord{e.id, e.start, e.end, e.limit_kw, e.source, clock_.now(), true});
  store_->flush();
  event("info", "dr:" + id, "cancelled");
  spdlog::info("DR event cancelled id={}", id);
  request_replan("dr-event");
  control_step();
  notify_status();
  return true;
}

std::vector<DrEvent> Gateway::dr_events() const {
  std::vector<DrEvent> out;
  for (const auto& [id, e] : dr_events_) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const DrEvent& a, const DrEvent& b) { return a.start < b.start; });
  return out;
}

void Gateway::restore(TimePoint now) {
  const Store store(config_.store.path);
  const auto open = store.open_sessions();
  sessions_->restore(open, store.closed_sessions(now - days(config_.sessions.learning_days)));
  if (const auto record = store.latest_plan()) {
    try {
      plan_ = active_plan_from_json(record->plan_json);
    } catch (const std::exception& e) {
      spdlog::warn("stored plan not used; planning afresh error={}", logfmt(e.what()));
    }
  }
  for (const auto& r : store.dr_events(now, now + days(366)))
    if (!r.cancelled) dr_events_[r.id] = DrEvent{r.id, r.start, r.end, r.limit_kw, r.source};
  // The forecast's history. The store keeps the transformer's total load, charging included, so
  // until the in-memory history (which subtracts charging) covers a slot, the forecast there is
  // on the high side: the plan leaves more room than needed, never less.
  for (const auto& m : config_.meters) {
    if (m.role != MeterRole::transformer) continue;
    for (const auto& sample : store.meter_samples(m.id, now - kHistoryRestore, now))
      if (std::isfinite(sample.power_w)) base_history_.add(sample.at, sample.power_w / 1000.0);
  }
  request_replan("start");
  spdlog::info("restored open_sessions={} dr_events={} plan={} history_slots={}", open.size(), dr_events_.size(),
               plan_ ? "yes" : "no", base_history_.slot_count());
}

void Gateway::send_limit(const std::string& id, ChargerRuntime& rt, double power_w, TimePoint now) {
  const auto validity = seconds(config_.control.limit_validity_s);
  drivers::PowerLimit limit{power_w, validity, ++rt.seq};
  rt.driver->apply_limit(limit);
  if (power_w != rt.setpoint_w) rt.setpoint_changed_at = now;
  rt.setpoint_w = power_w;
  rt.setpoint_sent_at = now;
  store_->append(CommandRecord{now, id, "limit",
                               nlohmann::json{{"power_w", power_w}, {"valid_for_s", validity.count()}}.dump(),
                               limit.seq, std::nullopt, ""});
}

void Gateway::check_following(const std::string& id, ChargerRuntime& rt, TimePoint now) {
  const double power_w = finite_or(rt.snapshot.power_w, 0.0);
  const double allowed_w = rt.setpoint_w < 0 ? rt.caps.max_power_w
                                             : rt.setpoint_w + std::max(kFollowToleranceW, kFollowToleranceShare * rt.setpoint_w);
  // Judge only against a limit the pile has had time to receive and act on.
  const bool settled = rt.setpoint_w >= 0 && now - rt.setpoint_changed_at >= clock_.speed() * kFollowGrace;
  if (!settled || power_w <= allowed_w) {
    rt.over_limit_since = {};
    if (rt.not_following && rt.setpoint_w >= 0 && power_w <= allowed_w) {
      rt.not_following = false;
      event("info", "charger:" + id, "follows its limit again");
      spdlog::info("charger follows its limit again charger={}", id);
      request_replan("not-following");
      control_step();
    }
    return;
  }
  if (rt.over_limit_since == TimePoint{}) rt.over_limit_since = now;
  if (!rt.not_following && now - rt.over_limit_since >= clock_.speed() * kFollowConfirm) {
    rt.not_following = true;
    const std::string what = "not following its limit: draws " + std::to_string(static_cast<int>(power_w)) +
                             " W, limit " + std::to_string(static_cast<int>(rt.setpoint_w)) +
                             " W; counted at its measured power, others cut to compensate";
    event("warn", "charger:" + id, what);
    spdlog::warn("charger not following limit charger={} power_w={:.0f} limit_w={:.0f}", id, power_w, rt.setpoint_w);
    request_replan("not-following");
    control_step();
    notify_status();
  }
}

void Gateway::on_meter_snapshot(const std::string& id, const drivers::MeterSnapshot& s) {
  const auto* m = config_.find_meter(id);
  if (!m || !std::isfinite(s.power_w)) return;
  const TimePoint now = clock_.now();
  if (m->role == MeterRole::feeder && !m->node.empty() && m->node != config_.site.transformer.id) {
    feeder_kw_[m->node] = {now, s.power_w / 1000.0};  // the limiter's measurement of that node
    return;
  }
  if (m->role != MeterRole::transformer) return;
  transformer_ = s;
  have_transformer_ = true;
  base_load_w_ = s.power_w - charging_w();
  base_history_.add(now, base_load_w_ / 1000.0);
  check_forecast(now);
  if (now - last_meter_stored_ >= kSampleInterval) {
    last_meter_stored_ = now;
    MeterSample ms;
    ms.at = s.at;
    ms.meter_id = id;
    ms.power_w = s.power_w;
    ms.power_w_phase = s.power_w_phase;
    ms.current_a = s.current_a;
    ms.voltage_v = s.voltage_v;
    ms.import_energy_wh = s.import_energy_wh;
    ms.export_energy_wh = s.export_energy_wh;
    store_->append(std::move(ms));
  }
  control_step();  // the real-time reaction: every meter sample re-checks the limit
  notify_status();
}

void Gateway::on_limit_ack(const std::string& id, const drivers::LimitAck& ack) {
  const std::string result = ack.accepted ? "accepted" : "rejected: " + ack.error;
  if (!ack.accepted) spdlog::warn("limit not applied charger={} seq={} error={}", id, ack.seq, logfmt(ack.error));
  store_->append(CommandAck{id, ack.seq, clock_.now(), result});
}

void Gateway::on_health(const std::string& id, const drivers::Health& h) {
  drivers::Health* previous = nullptr;
  if (auto it = chargers_.find(id); it != chargers_.end()) previous = &it->second.health;
  else previous = &meter_health_[id];
  const bool changed = previous->online != h.online;
  *previous = h;
  if (changed) {
    const std::string what = h.online ? "online" : "offline" + (h.last_error.empty() ? "" : ": " + h.last_error);
    event(h.online ? "info" : "warn", "device:" + id, what);  // the driver has logged it
    if (chargers_.count(id) && !h.online) chargers_.at(id).setpoint_w = -1;  // resend on return
    request_replan("device");
    control_step();
    notify_status();
  }
}

void Gateway::record_history(TimePoint now) {
  // Until the meter has answered there is no load to plot; a 0 would read as a real trough.
  if (!have_transformer_) return;
  if (!history_.empty() && now - history_.back().at < kSampleInterval) return;
  history_.push_back({now, transformer_.power_w / 1000.0, charging_w() / 1000.0,
                      transformer_limit_kw(config_, limit_windows(), now)});
  while (!history_.empty() && now - history_.front().at > kHistorySpan) history_.pop_front();
}

void Gateway::event(const std::string& level, const std::string& source, const std::string& message) {
  if (store_) store_->append(EventRecord{clock_.now(), level, source, message});
}

void Gateway::on_status_changed(std::function<void()> callback) { status_listeners_.push_back(std::move(callback)); }

void Gateway::notify_status() {
  for (auto& cb : status_listeners_) cb();
}

nlohmann::json Gateway::status() const {
  const TimePoint now = clock_.now();
  const auto offset = config_.site.utc_offset;
  const auto tariff = tariff_at(config_.tariff, now, offset);
  const double load_w = have_transformer_ ? transformer_.power_w : 0.0;
  nlohmann::json site = {
      {"name", config_.site.name},
      {"transformer_limit_kw", transformer_limit_kw(config_, limit_windows(), now)},  // DR applied
      {"load_kw", round1(load_w / 1000.0)},
      {"base_load_kw", round1(base_load_w_ / 1000.0)},
      {"charging_kw", round1(charging_w() / 1000.0)},
      {"meter_online", meter_fresh(now)},
      {"tariff_period", scheduler::to_string(tariff.period)},
      {"price_per_kwh", tariff.price_yuan_per_kwh},
  };
  if (options_.demo_speed > 0) site["demo_speed"] = options_.demo_speed;

  // At most one point every 5 minutes keeps the push small for phones on community Wi-Fi.
  nlohmann::json history = nlohmann::json::array();
  TimePoint last{};
  for (const auto& p : history_) {
    if (!history.empty() && p.at - last < minutes(5) && &p != &history_.back()) continue;
    last = p.at;
    history.push_back({{"time", format_local_time(p.at, offset)}, {"load_kw", round1(p.load_kw)},
                       {"charging_kw", round1(p.charging_kw)}, {"limit_kw", p.limit_kw}});
  }

  nlohmann::json chargers = nlohmann::json::array();
  int offline = 0;
  for (const auto& [id, rt] : chargers_) {
    const bool online = rt.driver && rt.health.online;
    if (!online) ++offline;
    chargers.push_back({
        {"id", id},
        {"name", rt.config->name.empty() ? id : rt.config->name},
        {"kind", rt.config->kind == ChargerKind::private_pile ? "private" : "shared"},
        {"household", rt.config->household},
        {"phase", to_string(rt.config->phase)},
        {"state", online ? drivers::to_string(rt.snapshot.state) : "offline"},
        {"not_following", rt.not_following},
        {"online", online},
        {"power_kw", round2(finite_or(rt.snapshot.power_w, 0.0) / 1000.0)},
        {"limit_kw", rt.setpoint_w < 0 ? nlohmann::json(nullptr) : nlohmann::json(round2(rt.setpoint_w / 1000.0))},
        {"max_kw", rt.caps.max_power_w / 1000.0},
        {"session_energy_kwh", round2(finite_or(rt.snapshot.session_energy_wh, 0.0) / 1000.0)},
        {"failsafe", rt.caps.failsafe},
        {"session", session_status(id, now)},
        // Derived, not stored in health: the driver's next health report would overwrite it.
        {"error", rt.not_following ? "not following its limit; counted at its measured power, others cut to compensate"
                                   : rt.health.last_error},
    });
  }
  nlohmann::json dr = nlohmann::json::array();
  for (const auto& e : dr_events())
    dr.push_back({{"id", e.id}, {"start", format_local_time(e.start, offset)}, {"end", format_local_time(e.end, offset)},
                  {"limit_kw", e.limit_kw}, {"source", e.source}, {"active", e.start <= now && now < e.end}});
  nlohmann::json plan = nullptr;
  if (plan_)
    plan = {{"created_at", format_local_time(plan_->created_at, offset)}, {"reason", plan_->reason},
            {"algorithm", plan_->algorithm}, {"capacity_short", plan_->capacity_short},
            {"slot_minutes", plan_->grid.slot.count()}, {"slot_start", format_local_time(plan_->grid.start, offset)}};
  return {{"time", format_local_time(now, offset)}, {"site", site}, {"history", history},
          {"chargers", chargers}, {"devices_offline", offline}, {"dr_events", dr}, {"plan", plan}};
}

nlohmann::json Gateway::session_status(const std::string& charger_id, TimePoint now) const {
  const auto record = sessions_->open_session(charger_id);
  if (!record) return nullptr;
  const auto offset = config_.site.utc_offset;
  const auto when = [&](const std::optional<TimePoint>& t) {
    return t ? nlohmann::json(format_local_time(*t, offset)) : nlohmann::json(nullptr);
  };
  const double delivered_kwh = record->energy_wh / 1000.0;
  const double requested_kwh = record->requested_wh / 1000.0;
  nlohmann::json plan = nullptr;
  if (plan_ && plan_->chargers.count(charger_id)) {
    const auto o = outlook(*plan_, charger_id, now);
    nlohmann::json next = nlohmann::json::array();
    for (const double kw : o.next_kw) next.push_back(round2(kw));
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
            {"slot_minutes", plan_->grid.slot.count()},
            {"next_kw", next}};
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

}  // namespace orderly::gateway
