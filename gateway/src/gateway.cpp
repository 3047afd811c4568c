#include "orderly/gateway/gateway.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "demand_response.hpp"
#include "device_registry.hpp"
#include "platform_messages.hpp"
#include "orderly/gateway/log.hpp"
#include "orderly/gateway/report.hpp"
#include "orderly/web/server.hpp"
#include "status_view.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

constexpr auto kSampleInterval = minutes(1);  // stored sample resolution
// Base-load history read back from the store at start for the forecast.
constexpr auto kHistoryRestore = days(14);

spdlog::level::level_enum log_level(const std::string& level) {
  if (level == "error") return spdlog::level::err;
  if (level == "warn") return spdlog::level::warn;
  return spdlog::level::info;
}

}  // namespace

Gateway::Gateway(boost::asio::io_context& io, const Clock& clock, Config config, GatewayOptions options)
    : io_(io),
      clock_(clock),
      config_(std::move(config)),
      options_(std::move(options)),
      controller_(config_, clock_.speed()),
      sessions_(std::make_unique<SessionBook>(config_)),
      history_(std::make_unique<LoadHistory>()),
      control_timer_(io),
      web_sessions_(session_clock(), options_.session_rules),
      dr_ledger_(std::make_unique<DrLedger>()) {
  const auto link = [](DriverKind driver, const std::string& bus) {
    return driver == DriverKind::ocpp ? "ocpp" : !bus.empty() ? "bus" : "mqtt";
  };
  for (const auto& c : config_.chargers) device_links_[c.id] = link(c.driver, c.bus);
  for (const auto& m : config_.meters) device_links_[m.id] = link(m.driver, m.bus);
}

const std::string& Gateway::link_of(const std::string& device_id) const {
  static const std::string unknown = "unknown";
  const auto found = device_links_.find(device_id);
  return found == device_links_.end() ? unknown : found->second;
}

Gateway::~Gateway() { stop(); }

void Gateway::start() {
  if (running_) return;
  {
    Store store(config_.store.path);  // migrate and register chargers before the writer starts
    store.sync_chargers(config_.chargers);
  }
  StoreWriterOptions store_options = options_.store;
  // Reports come on the writer's thread; the waiting requests live here.
  store_options.on_commit = [this, alive = std::weak_ptr<bool>(alive_)](const CommitReport& report) {
    boost::asio::post(io_, [this, alive, report] {
      if (alive.lock()) on_commit(report);
    });
  };
  store_ = std::make_unique<StoreWriter>(config_.store.path, std::move(store_options));
  accounts_ = std::make_unique<Accounts>(config_.store.path);
  restore(clock_.instant());
  if (config_.platform.enabled) {
    PlatformSenderOptions platform_options = options_.platform;
    platform_options.on_status = [this, alive = std::weak_ptr<bool>(alive_)](const OutboxStatus& status) {
      boost::asio::post(io_, [this, alive, status] {
        if (alive.lock()) platform_status_ = status;
      });
    };
    platform_ = std::make_unique<PlatformSender>(clock_, config_, std::move(platform_options));
    platform_->start();
  }

  drivers::DeviceEvents events;
  events.charger_snapshot = [this](const std::string& id, const drivers::ChargerSnapshot& s) { on_charger_snapshot(id, s); };
  events.meter_snapshot = [this](const std::string& id, const drivers::MeterSnapshot& s) { on_meter_snapshot(id, s); };
  events.limit_ack = [this](const std::string& id, const drivers::LimitAck& a) { on_limit_ack(id, a); };
  events.health = [this](const std::string& id, const drivers::Health& h) { on_health(id, h); };
  devices_ = options_.devices ? std::make_unique<DeviceRegistry>(options_.devices(events))
                              : std::make_unique<DeviceRegistry>(io_.get_executor(), clock_, config_, options_.profile_dir, events);
  for (const auto& c : config_.chargers)
    if (const auto driver = devices_->charger(c.id)) controller_.attach_driver(c.id, driver->capabilities());
  devices_->start();

  web::ServerOptions wo;
  wo.address = config_.web.listen;
  wo.port = static_cast<std::uint16_t>(config_.web.port);
  wo.allowed_hosts = config_.web.allowed_hosts;
  wo.tls_certificate_file = config_.web.tls_certificate;
  wo.tls_key_file = config_.web.tls_key;
  wo.static_dir = !options_.static_dir.empty()      ? options_.static_dir
                  : !config_.web.static_dir.empty() ? config_.web.static_dir
                                                    : std::filesystem::path("/usr/share/orderly/web");
  web_ = std::make_unique<web::Server>(io_, *this, wo);
  web_->start();

  running_ = true;
  event({"info", "gateway", "started with " + std::to_string(config_.chargers.size()) + " chargers", true, false});
  spdlog::info("gateway started site={} limit_kw={} chargers={} web=http://{}:{}", logfmt(config_.site.name),
               config_.site.transformer.limit_kw, config_.chargers.size(), wo.address, web_->port());
  control_step();  // plan at once: limits go out as soon as each charger answers
  schedule_control_tick();
}

void Gateway::stop() {
  if (!running_) return;
  running_ = false;
  control_timer_.cancel();
  if (web_) web_->stop();
  if (devices_) devices_->stop();
  event({"info", "gateway", "stopped", true, false});
  if (store_) store_->stop();
  if (platform_) platform_->stop();
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
    // Real time, as the timer runs on it: how long the loop was busy with other work.
    metrics_.loop_latency.observe(duration<double>(steady_clock::now() - control_timer_.expiry()).count());
    control_step();
    schedule_control_tick();
  });
}

void Gateway::wake() {
  if (step_posted_ || !running_) return;
  step_posted_ = true;
  boost::asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.lock()) return;
    step_posted_ = false;
    control_step();
  });
}

void Gateway::control_step() {
  if (!running_) return;
  const Instant now = clock_.instant();
  metrics_.last_step = now.mono;
  ++metrics_.control_steps;
  watch_clock(now);
  prune_daily(now);
  for (const auto& [charger_id, why] : plug_replans_.due(now.mono)) {
    spdlog::debug("plug re-plan held back for a flapping charger released charger={}", charger_id);
    store_->commit_soon();
    controller_.request_replan(why, now);
  }
  if (const auto due = controller_.due_replans(now); !due.empty()) replan(now, due);
  send(controller_.limit(now), now.wall);
  account_dr(now);
  push_periodic(now);
  history_->record(now.wall, controller_);
  notify_status();
}

void Gateway::replan(Instant now, const ReplanReasons& reasons) {
  const std::string reason = reasons.to_string();
  const auto t0 = std::chrono::steady_clock::now();
  auto attempt = plan_now(config_, controller_.planning_input(now, sessions_->active(now.wall)), reason);
  const auto took = std::chrono::steady_clock::now() - t0;
  metrics_.planner.observe(duration<double>(took).count());
  for (auto r = ReplanReason::start; r <= ReplanReason::phases; r = static_cast<ReplanReason>(static_cast<int>(r) + 1))
    if (reasons.contains(r)) ++metrics_.replans[to_string(r)];
  if (!attempt.error.empty()) ++metrics_.planner_failures;
  for (const auto& note : attempt.notes) spdlog::warn("planning: {}", note);
  if (!attempt.error.empty()) {
    spdlog::error("planner failed; sharing the headroom until the next plan reason={} error={}", reason,
                  logfmt(attempt.error));
    event({"error", "control", "planner failed, sharing the headroom until the next plan: " + attempt.error, true, false});
  }
  spdlog::debug("plan reason={} evs={} slots={} status={} took_ms={}", reason, attempt.evs, attempt.plan.grid.slots,
                attempt.plan.capacity_short ? "capacity_short" : attempt.plan.algorithm,
                duration_cast<milliseconds>(took).count());
  store_->append(PlanRecord{now.wall, attempt.plan.grid.start, config_.control.slot_minutes, reason,
                            active_plan_to_json(attempt.plan)});
  if (reasons.contains(ReplanReason::dr_event)) note_dr_changes(now, controller_.plan(), attempt.plan);
  controller_.set_plan(std::move(attempt.plan), took);
}

void Gateway::send(const Controller::Limits& limits, TimePoint now) {
  for (const auto& e : limits.events) event(e);
  for (const auto& cmd : limits.commands) {
    const auto driver = devices_->charger(cmd.charger_id);
    if (!driver) continue;  // the controller only commands chargers with a driver
    driver->apply_limit(cmd.limit);
    ++metrics_.limits_sent[{link_of(cmd.charger_id), to_string(cmd.reason)}];
    store_->append(CommandRecord{now, cmd.charger_id, "limit",
                                 nlohmann::json{{"power_w", cmd.limit.power_w},
                                                {"valid_for_s", cmd.limit.valid_for.count()},
                                                {"reason", to_string(cmd.reason)}}
                                     .dump(),
                                 cmd.limit.seq, std::nullopt, ""});
  }
}

// Steps are noted, not corrected: the wall time is what the tariff and the residents' clocks
// read, so the slots follow it at once; ages and timeouts never saw the step.
void Gateway::watch_clock(Instant now) {
  const auto step = clock_watch_.observe(now);
  if (!step) return;
  event({"warn", "clock",
         "wall clock stepped " + describe_step(*step) + " against the monotonic clock; slots and tariff periods " +
             "follow the new time (re-planning), device ages and timeouts are unaffected" +
             (*step > RetentionGuard::kSuspectAhead ? ", retention waits 24 h to confirm it" : "")});
  controller_.request_replan(ReplanReason::clock_step, now);
}

void Gateway::prune_daily(Instant now) {
  const auto day = floor<days>(now.wall + config_.site.utc_offset).time_since_epoch().count();
  if (day == last_prune_day_) return;
  // Held: asked again every step until the new time is confirmed, then pruned at once.
  const auto decision = retention_guard_->check(now);
  if (!decision.note.empty()) event({decision.prune ? "info" : "warn", "store", decision.note});
  if (!decision.prune) return;
  last_prune_day_ = day;
  store_->append(PruneRequest{now.wall - days(config_.store.raw_retention_days),
                              now.wall - days(config_.store.aggregate_retention_days), now.wall});
}

void Gateway::restore(Instant at) {
  const TimePoint now = at.wall;
  const Store store(config_.store.path);
  retention_guard_.emplace(store.last_prune_at(), store.newest_record_at(), at);
  const auto open = store.open_sessions();
  sessions_->restore(open, store.closed_sessions(now - days(config_.sessions.learning_days)));
  bool have_plan = false;
  if (const auto record = store.latest_plan()) {
    try {
      controller_.restore_plan(active_plan_from_json(record->plan_json));
      have_plan = true;
    } catch (const std::exception& e) {
      spdlog::warn("stored plan not used; planning afresh error={}", logfmt(e.what()));
    }
  }
  std::size_t dr_events = 0;
  for (const auto& r : store.dr_events(now, now + days(366))) {
    if (r.cancelled) continue;
    try {
      controller_.dr_book().add(DrEvent{r.id, r.start, r.end, r.limit_kw, r.source});
      ++dr_events;
    } catch (const std::invalid_argument& e) {
      spdlog::warn("stored DR event not used error={}", logfmt(e.what()));
    }
  }
  // The forecast's history. The store keeps the transformer's total load, charging included, so
  // until the in-memory history (which subtracts charging) covers a slot, the forecast there is
  // on the high side: the plan leaves more room than needed, never less.
  for (const auto& m : config_.meters) {
    if (m.role != MeterRole::transformer) continue;
    for (const auto& sample : store.meter_samples(m.id, now - kHistoryRestore, now))
      if (std::isfinite(sample.power_w)) controller_.add_base_history(sample.at, sample.power_w / 1000.0);
  }
  controller_.request_replan(ReplanReason::start, at);
  spdlog::info("restored open_sessions={} dr_events={} plan={}", open.size(), dr_events, have_plan ? "yes" : "no");
}

// ---- device reports (core thread) ------------------------------------------------------------

void Gateway::on_meter_snapshot(const std::string& id, const drivers::MeterSnapshot& s) {
  const Instant now = clock_.instant();
  ++metrics_.reports[{link_of(id), "meter_snapshot"}];
  if (!controller_.on_meter_snapshot(id, s, now)) return;
  if (sample_due(id, now.mono, false)) {
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
  wake();  // the real-time reaction: every transformer sample re-checks the limit
}

void Gateway::on_charger_snapshot(const std::string& id, const drivers::ChargerSnapshot& s) {
  const auto known = controller_.chargers().find(id);
  if (known == controller_.chargers().end()) return;
  const ChargerControl& charger = known->second;
  const Instant now = clock_.instant();
  ++metrics_.reports[{link_of(id), "charger_snapshot"}];
  const bool state_changed = charger.snapshot.state != s.state;
  bool step = controller_.on_charger_snapshot(id, s, now);
  auto reports = connector_reports(id, now.wall);
  if (sample_due(id, now.mono, state_changed || !reports.empty())) {
    ChargerSample cs;
    cs.at = s.at;
    cs.charger_id = id;
    cs.state = drivers::to_string(s.state);
    cs.power_w = s.power_w;
    cs.current_a = s.current_a;
    cs.session_energy_wh = s.session_energy_wh;
    cs.total_energy_wh = s.total_energy_wh;
    cs.limit_w = charger.setpoint_w;
    cs.applied_limit_w = s.applied_limit_w;
    cs.platform_reports = std::move(reports);
    store_->append(std::move(cs));
  }
  // Sessions: a car arriving or leaving is committed at once (it is what a resident's bill and
  // the restart rest on), then planned for.
  const auto before = sessions_->open_session(id);
  for (auto& r : sessions_->on_snapshot(id, s, charger.setpoint_w, now.wall)) {
    // The order report is written with the closing record: one is on disk exactly when the other is.
    if (r.ended_at && platform_)
      r.platform_reports.push_back(platform_messages::message(
          "notification_charge_order_info", "order:" + r.id, platform_messages::charge_order_info(config_, r), now.wall));
    store_->append(std::move(r));
  }
  const auto after = sessions_->open_session(id);
  const bool opened = after && (!before || before->id != after->id);
  const bool closed = before && (!after || after->id != before->id);
  if ((opened || closed) && plug_replans_.admit(id, opened ? ReplanReason::plug_in : ReplanReason::unplug, now.mono)) {
    store_->commit_soon();
    controller_.request_replan(opened ? ReplanReason::plug_in : ReplanReason::unplug, now);
    step = true;
  }
  if (state_changed) spdlog::info("charger state charger={} state={}", id, drivers::to_string(s.state));
  if (step) wake();
  notify_status();
}

bool Gateway::sample_due(const std::string& device_id, MonoPoint now, bool state_changed) {
  auto& stored_at = sample_stored_at_[device_id];
  // {} = none stored yet: the monotonic clock may have started less than a minute ago (boot).
  if (!state_changed && stored_at != MonoPoint{} && now - stored_at < kSampleInterval) return false;
  stored_at = now;
  return true;
}

void Gateway::on_limit_ack(const std::string& id, const drivers::LimitAck& ack) {
  ++metrics_.reports[{link_of(id), ack.accepted ? "limit_ack" : "limit_rejected"}];
  const std::string result = ack.accepted ? "accepted" : "rejected: " + ack.error;
  if (!ack.accepted) spdlog::warn("limit not applied charger={} seq={} error={}", id, ack.seq, logfmt(ack.error));
  store_->append(CommandAck{id, ack.seq, clock_.now(), result});
}

void Gateway::on_health(const std::string& id, const drivers::Health& h) {
  const Instant now = clock_.instant();
  const bool step = controller_.on_health(id, h, now);
  for (auto& m : connector_reports(id, now.wall)) store_->append(std::move(m));
  if (step) wake();
}

// ---- the city platform's pushes ----------------------------------------------------------------

std::vector<OutboxMessage> Gateway::connector_reports(const std::string& charger_id, TimePoint now) {
  if (!platform_) return {};
  const auto found = controller_.chargers().find(charger_id);
  if (found == controller_.chargers().end()) return {};
  // A pile that answers but has not said whether a car is there yet: its first snapshot tells.
  if (found->second.reachable() && found->second.snapshot.state == drivers::ChargerState::unknown) return {};
  const int status = platform_messages::connector_status(found->second);
  const auto [last, first] = reported_status_.try_emplace(charger_id, status);
  if (!first && last->second == status) return {};
  last->second = status;
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  return {platform_messages::message(
      "notification_stationStatus",
      "status:" + charger_id + ":" + std::to_string(ms) + ":" + std::to_string(++platform_messages_),
      {{"ConnectorStatusInfo", platform_messages::connector_status_info(charger_id, found->second)}}, now)};
}

void Gateway::push_periodic(Instant now) {
  if (!platform_) return;
  if (periodic_pushed_at_ != MonoPoint{} && now.mono - periodic_pushed_at_ < seconds(config_.platform.push_interval_s))
    return;
  periodic_pushed_at_ = now.mono;
  const auto stamp = std::to_string(duration_cast<milliseconds>(now.wall.time_since_epoch()).count()) + ":" +
                     std::to_string(++platform_messages_);
  for (const auto& [id, c] : controller_.chargers()) {
    if (c.snapshot.state != drivers::ChargerState::charging) continue;
    const auto session = sessions_->open_session(id);
    if (!session) continue;
    store_->append(platform_messages::message("notification_equip_charge_status", "equip:" + session->id + ":" + stamp,
                                              platform_messages::equip_charge_status(config_, c, *session, now.wall),
                                              now.wall, id));
  }
  store_->append(platform_messages::message("notification_realtime_power_info", "power:" + stamp,
                                            platform_messages::realtime_power(config_, controller_, now.wall), now.wall,
                                            "station"));
  if (!config_.platform.push_extensions) return;
  store_->append(platform_messages::message("orderly_notification_area_load", "area:" + stamp,
                                            platform_messages::area_load(config_, controller_, now.wall), now.wall,
                                            "station"));
  store_->append(platform_messages::message("orderly_notification_charging_plan", "plan:" + stamp,
                                            platform_messages::charging_plan(config_, controller_), now.wall, "station"));
  store_->append(platform_messages::message("orderly_notification_flexibility", "flex:" + stamp,
                                            platform_messages::flexibility(config_, controller_, now.wall), now.wall,
                                            "station"));
}

// ---- writes someone waits for ------------------------------------------------------------------

void Gateway::append_durable(StoreRecord record, OnDurable durable) {
  const std::uint64_t seq = store_->append(std::move(record));
  if (durable) durable_waiting_.emplace(seq, std::move(durable));
  store_->commit_soon();
}

void Gateway::on_commit(const CommitReport& report) {
  if (platform_) platform_->poke();
  metrics_.last_commit = report;
  if (!report.committed) {
    ++metrics_.failed_reports;
    spdlog::error("store: records {}..{} not saved error={}", report.first_seq, report.last_seq, logfmt(report.error));
    if (!store_failing_since_) {
      store_failing_since_ = clock_.now();
      store_failing_error_ = report.error;
      event({"error", "store", "records could not be saved (" + report.error +
                                   "); writes are answered 503 until the disk takes them again: check free space "
                                   "and the storage device", true, false});
    }
  } else if (store_failing_since_) {
    // The error event above went to a failing disk; this one says it again once it can be kept.
    const auto stats = store_->stats();
    event({"warn", "store", "saving again after failing since " + format_local_time(*store_failing_since_, config_.site.utc_offset) +
                                " (" + store_failing_error_ + "); " + std::to_string(stats.dropped_records) +
                                " records lost since start, open sessions written again", true, false});
    store_failing_since_.reset();
    // A session record given up on is superseded by its newest state, which the book still holds.
    for (auto& r : sessions_->open_sessions()) store_->append(std::move(r));
  }
  for (auto it = durable_waiting_.lower_bound(report.first_seq);
       it != durable_waiting_.end() && it->first <= report.last_seq;) {
    const OnDurable done = std::move(it->second);
    it = durable_waiting_.erase(it);
    done(Durability{report.committed, report.error});
  }
}

SessionRecord Gateway::set_request(const std::string& charger_id, const ChargeRequest& request, OnDurable durable) {
  if (!store_) throw std::logic_error("set_request before start(): the store is not open");
  const Instant now = clock_.instant();
  SessionRecord record = sessions_->set_request(charger_id, request, now.wall);
  append_durable(record, std::move(durable));
  spdlog::info("request charger={} session={} departure_set={} energy_set={} boost={}", charger_id, record.id,
               request.departure.has_value(), request.energy_kwh.has_value(), record.boost);
  controller_.request_replan(ReplanReason::request, now);
  wake();
  return record;
}

void Gateway::add_dr_event(const DrEvent& e, OnDurable durable) {
  if (!store_) throw std::logic_error("add_dr_event before start(): the store is not open");
  const Instant now = clock_.instant();
  controller_.dr_book().add(e);  // throws for a malformed event: nothing recorded
  append_durable(DrEventRecord{e.id, e.start, e.end, e.limit_kw, e.source, now.wall, false}, std::move(durable));
  const auto offset = config_.site.utc_offset;
  event({"info", "dr:" + e.id,
         "limit " + std::to_string(e.limit_kw) + " kW from " + format_local_time(e.start, offset) + " to " +
             format_local_time(e.end, offset) + (e.source.empty() ? "" : " (" + e.source + ")"),
         true, false});
  spdlog::info("DR event id={} limit_kw={} source={}", e.id, e.limit_kw, logfmt(e.source));
  controller_.request_replan(ReplanReason::dr_event, now);
  wake();
}

bool Gateway::cancel_dr_event(const std::string& id, OnDurable durable) {
  const auto e = controller_.dr_book().find(id);
  if (!e) return false;
  const Instant now = clock_.instant();
  controller_.dr_book().cancel(id);
  dr_ledger_->cancel(id, now.wall);
  append_durable(DrEventRecord{e->id, e->start, e->end, e->limit_kw, e->source, now.wall, true}, std::move(durable));
  event({"info", "dr:" + id, "cancelled", true, false});
  spdlog::info("DR event cancelled id={}", id);
  controller_.request_replan(ReplanReason::dr_event, now);
  wake();
  return true;
}

DrEvent Gateway::add_platform_dr_event(const PlatformDrRequest& request, OnDurable durable) {
  const TimePoint now = clock_.now();
  if (request.end <= now) throw std::invalid_argument("DR event " + request.id + ": its end has passed");
  auto slots = dr_slots(controller_.plan(), request.start, request.end, minutes(config_.control.slot_minutes),
                        config_.site.utc_offset);
  const DrEvent e = dr_event_for(request, slots);
  add_dr_event(e, std::move(durable));
  dr_ledger_->open(request, e.limit_kw, std::move(slots));
  return e;
}

void Gateway::account_dr(Instant now) {
  const auto& meter = controller_.transformer();
  const bool believable = meter && controller_.meter_fresh(now.mono) && std::isfinite(meter->power_w);
  dr_ledger_->measure(now.wall, believable ? std::optional<double>(meter->power_w / 1000.0) : std::nullopt);
  for (const DrResult& r : dr_ledger_->take_due(now.wall)) {
    const std::string id = r.request.id;
    event({"info", "dr:" + id,
           std::string(r.cancelled ? "cancelled; " : "") + "result: " + std::to_string(r.delivered_kwh()) +
               " kWh below the baseline over " + std::to_string(r.slots.size()) + " slots",
           true, true});
    if (!platform_) continue;
    const auto start_ms = duration_cast<milliseconds>(r.request.start.time_since_epoch()).count();
    store_->append(platform_messages::message("orderly_notification_dr_result",
                                              "dr-result:" + id + ":" + std::to_string(start_ms),
                                              platform_messages::dr_result(config_, r), now.wall));
  }
}

void Gateway::note_dr_changes(Instant now, const ActivePlan* before, const ActivePlan& after) {
  std::vector<std::string> events;
  for (const auto& e : controller_.dr_book().events()) events.push_back(e.id);
  for (const auto& [charger_id, planned] : after.chargers) {
    const auto session = sessions_->open_session(charger_id);
    if (!session) continue;
    const PlanOutlook was = before && before->chargers.count(charger_id) ? outlook(*before, charger_id, now.wall)
                                                                          : PlanOutlook{};
    const PlanOutlook is = outlook(after, charger_id, now.wall);
    // The resident plans by when the car is full and how much it gets; a reshuffle within the
    // same finish and energy is not worth telling them.
    if (was.finish == is.finish && std::fabs(was.expected_kwh - is.expected_kwh) < 0.05) continue;
    dr_notices_[charger_id] = {session->id, now.wall, events, was.finish, is.finish, was.expected_kwh, is.expected_kwh};
  }
}

// ---- what the page shows -----------------------------------------------------------------------

std::optional<StoreWriterStats> Gateway::store_stats() const {
  if (!store_) return std::nullopt;
  return store_->stats();
}

void Gateway::event(const ControlEvent& e) {
  if (e.journal) spdlog::log(log_level(e.level), "{}: {}", e.source, e.message);
  if (e.store && store_) store_->append(EventRecord{clock_.now(), e.level, e.source, e.message});
}

void Gateway::on_status_changed(std::function<void()> callback) { status_listeners_.push_back(std::move(callback)); }

void Gateway::notify_status() {
  for (auto& cb : status_listeners_) cb();
}

nlohmann::json Gateway::status() const {
  const std::optional<StoreWriterStats> stats = store_stats();
  nlohmann::json s = status_json({config_, controller_, *sessions_, *history_, options_.demo_speed,
                                  platform_status_ ? &*platform_status_ : nullptr, stats ? &*stats : nullptr,
                                  store_failing_since_},
                                 clock_.instant());
  const auto offset = config_.site.utc_offset;
  const auto when = [&](const std::optional<TimePoint>& t) {
    return t ? nlohmann::json(format_local_time(*t, offset)) : nlohmann::json(nullptr);
  };
  for (auto& c : s["chargers"]) {
    c["dr_notice"] = nullptr;
    const auto notice = dr_notices_.find(c["id"].get<std::string>());
    const auto session = notice == dr_notices_.end() ? std::nullopt : sessions_->open_session(notice->first);
    if (!session || session->id != notice->second.session_id) continue;
    const DrNotice& n = notice->second;
    c["dr_notice"] = {{"at", format_local_time(n.at, offset)},
                      {"dr_events", n.events},
                      {"finish_before", when(n.finish_before)},
                      {"finish_after", when(n.finish_after)},
                      {"expected_kwh_before", std::round(n.expected_kwh_before * 100) / 100},
                      {"expected_kwh_after", std::round(n.expected_kwh_after * 100) / 100}};
  }
  s["counters"] = counters_json();
  return s;
}

}  // namespace orderly::gateway
