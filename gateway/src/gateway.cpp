#include "orderly/gateway/gateway.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "orderly/drivers/mqtt.hpp"
#include "orderly/gateway/log.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/scheduler/fair_share.hpp"
#include "orderly/web/server.hpp"
#include "profile_devices.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

constexpr double kNominalVoltageV = 230;                // GB/T 156 low-voltage nominal, per phase
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

int phase_count(Phase p) { return p == Phase::ABC ? 3 : 1; }

double finite_or(double v, double fallback) { return std::isfinite(v) ? v : fallback; }

// ISO 8601 in the site's local offset, "2026-01-05T20:15:00+08:00": what residents read.
std::string local_iso(TimePoint t, minutes offset) {
  const auto local = floor<seconds>(t) + offset;
  const std::time_t tt = SysClock::to_time_t(local);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const long off = offset.count();
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
                std::labs(off) / 60, std::labs(off) % 60);
  return buf;
}

double round1(double v) { return std::round(v * 10.0) / 10.0; }
double round2(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

Gateway::Gateway(boost::asio::io_context& io, const Clock& clock, Config config, GatewayOptions options)
    : io_(io), clock_(clock), config_(std::move(config)), options_(std::move(options)), control_timer_(io) {
  for (const auto& c : config_.chargers) {
    ChargerRuntime rt;
    rt.config = &c;
    const int phases = phase_count(c.phase);
    rt.caps.phases = phases;
    rt.caps.min_current_a = c.min_current_a;
    rt.caps.max_power_w = c.max_power_kw * 1000.0;
    rt.caps.max_current_a = rt.caps.max_power_w / (kNominalVoltageV * phases);
    rt.caps.bidirectional = c.bidirectional;
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

  drivers::DeviceEvents events;
  events.charger_snapshot = [this](const std::string& id, const drivers::ChargerSnapshot& s) { on_charger_snapshot(id, s); };
  events.meter_snapshot = [this](const std::string& id, const drivers::MeterSnapshot& s) { on_meter_snapshot(id, s); };
  events.limit_ack = [this](const std::string& id, const drivers::LimitAck& a) { on_limit_ack(id, a); };
  events.health = [this](const std::string& id, const drivers::Health& h) { on_health(id, h); };

  drivers::MqttOptions mo;
  mo.host = config_.mqtt.host;
  mo.port = static_cast<std::uint16_t>(config_.mqtt.port);
  mo.client_id = config_.mqtt.client_id;
  mo.username = config_.mqtt.username;
  mo.password = config_.mqtt.resolved_password();
  mo.topic_prefix = config_.mqtt.topic_prefix;
  mo.keepalive = seconds(config_.mqtt.keepalive_s);
  mqtt_ = std::make_unique<drivers::MqttDevices>(io_.get_executor(), clock_, mo, events);

  const bool uses_profiles =
      std::any_of(config_.chargers.begin(), config_.chargers.end(), [](const auto& c) { return c.driver == DriverKind::profile; }) ||
      std::any_of(config_.meters.begin(), config_.meters.end(), [](const auto& m) { return m.driver == DriverKind::profile; });
  std::optional<drivers::ProfileCatalog> catalog;  // add_profile_charger copies what it needs
  if (uses_profiles) {
    const auto dir = options_.profile_dir.empty() ? default_profile_dir() : options_.profile_dir;
    if (dir.empty())
      throw std::runtime_error("device profiles not found: install the package (/usr/share/orderly/profiles) or set "
                               "ORDERLY_PROFILE_DIR");
    catalog = drivers::ProfileCatalog::load_dir(dir);
    profile_devices_ = std::make_unique<ProfileDevices>(io_.get_executor(), clock_, config_, *catalog, events);
  }

  for (auto& [id, rt] : chargers_) {
    if (rt.config->driver == DriverKind::mqtt) {
      rt.caps.failsafe = true;  // the native protocol's limits expire to the pile's failsafe power
      rt.driver = mqtt_->add_charger(id, rt.caps);
    } else {
      const auto& profile = catalog->at(rt.config->profile);
      if (profile.transport == drivers::Transport::mqtt)
        rt.driver = mqtt_->add_profile_charger(id, profile, rt.config->mqtt_base_topic, rt.caps);
      else
        rt.driver = profile_devices_->charger(id);
      rt.caps.failsafe = rt.driver->capabilities().failsafe;
      if (!rt.caps.failsafe)
        spdlog::warn("charger has no failsafe; counted at its maximum power whenever it cannot be reached charger={}", id);
    }
  }
  for (const auto& m : config_.meters)
    if (m.driver == DriverKind::mqtt) mqtt_->add_meter(m.id);
  mqtt_->start();
  if (profile_devices_) profile_devices_->start();

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
  schedule_control_tick();
}

void Gateway::stop() {
  if (!running_) return;
  running_ = false;
  control_timer_.cancel();
  if (web_) web_->stop();
  if (profile_devices_) profile_devices_->stop();
  if (mqtt_) mqtt_->stop();
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
  const double limit_w = config_.site.transformer.limit_kw * 1000.0;
  const double margin_w = config_.control.safety_margin_kw * 1000.0;

  // Chargers we cannot reach keep drawing what they may: their failsafe power if they honour
  // one, their maximum if not. That load is reserved before anyone else gets headroom.
  double reserved_w = 0;
  std::vector<std::string> ids;
  std::vector<scheduler::ShareRequest> requests;
  for (auto& [id, rt] : chargers_) {
    if (!rt.driver || !rt.health.online) {
      const double failsafe_w = rt.config->failsafe_current_a * kNominalVoltageV * rt.caps.phases;
      reserved_w += rt.caps.failsafe && rt.driver ? failsafe_w : rt.caps.max_power_w;
      continue;
    }
    if (rt.not_following) {
      // It draws what it draws: reserve that (at least), and keep telling it the limit.
      reserved_w += std::max(finite_or(rt.snapshot.power_w, rt.caps.max_power_w), 0.0);
      continue;
    }
    const auto st = rt.snapshot.state;
    if (st != drivers::ChargerState::plugged && st != drivers::ChargerState::charging) continue;
    ids.push_back(id);
    requests.push_back({rt.caps.max_power_w / 1000.0,
                        rt.caps.min_current_a * kNominalVoltageV * rt.caps.phases / 1000.0, 0});
  }

  // Base load = what the transformer meter sees minus what the chargers we can see draw.
  // Without a fresh meter reading, assume the worst: no headroom at all.
  double headroom_w = 0;
  if (meter_fresh(now)) headroom_w = limit_w - margin_w - base_load_w_ - reserved_w;
  const auto share = scheduler::share_headroom(headroom_w / 1000.0, requests);

  const auto validity = seconds(config_.control.limit_validity_s);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto& rt = chargers_.at(ids[i]);
    const double target_w = std::floor(share[i] * 1000.0);
    const bool changed = rt.setpoint_w < 0 || std::fabs(target_w - rt.setpoint_w) >= kResendChangeW;
    if (changed || now - rt.setpoint_sent_at >= validity / 2) send_limit(ids[i], rt, target_w, now);
  }
  // Chargers that ignore their limit keep receiving it, so they hold a valid one if they recover.
  for (auto& [id, rt] : chargers_)
    if (rt.not_following && rt.driver && rt.health.online && now - rt.setpoint_sent_at >= validity / 2)
      send_limit(id, rt, rt.setpoint_w, now);
  record_history(now);
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
  check_following(id, rt, now);
  if (state_changed) {
    spdlog::info("charger state charger={} state={}", id, drivers::to_string(s.state));
    control_step();  // a car plugged in or left: share the headroom again now
  }
  notify_status();
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
    control_step();
    notify_status();
  }
}

void Gateway::on_meter_snapshot(const std::string& id, const drivers::MeterSnapshot& s) {
  const auto* m = config_.find_meter(id);
  if (!m || m->role != MeterRole::transformer || !std::isfinite(s.power_w)) return;
  transformer_ = s;
  have_transformer_ = true;
  base_load_w_ = s.power_w - charging_w();
  const TimePoint now = clock_.now();
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
    control_step();
    notify_status();
  }
}

void Gateway::record_history(TimePoint now) {
  // Until the meter has answered there is no load to plot; a 0 would read as a real trough.
  if (!have_transformer_) return;
  if (!history_.empty() && now - history_.back().at < kSampleInterval) return;
  history_.push_back({now, transformer_.power_w / 1000.0, charging_w() / 1000.0, config_.site.transformer.limit_kw});
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
      {"transformer_limit_kw", config_.site.transformer.limit_kw},
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
    history.push_back({{"time", local_iso(p.at, offset)}, {"load_kw", round1(p.load_kw)},
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
        // Derived, not stored in health: the driver's next health report would overwrite it.
        {"error", rt.not_following ? "not following its limit; counted at its measured power, others cut to compensate"
                                   : rt.health.last_error},
    });
  }
  return {{"time", local_iso(now, offset)}, {"site", site}, {"history", history},
          {"chargers", chargers}, {"devices_offline", offline}};
}

}  // namespace orderly::gateway
