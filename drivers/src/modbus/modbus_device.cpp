// Profile-driven Modbus chargers and meters. Everything here except the small public wrappers
// runs on the bus worker thread; results are posted to the core executor.
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "orderly/base/units.hpp"
#include "orderly/drivers/modbus.hpp"
#include "orderly/drivers/points.hpp"

namespace orderly::drivers {

namespace {
using Steady = std::chrono::steady_clock;

std::string hex_address(std::uint16_t a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04X", a);
  return buf;
}

std::string describe(const ModbusResult& r, std::chrono::milliseconds timeout) {
  switch (r.error) {
    case ModbusErrorKind::timeout:
      return "no answer within " + std::to_string(timeout.count()) + " ms; check wiring, unit id and serial settings";
    case ModbusErrorKind::exception:
      return "Modbus exception " + std::to_string(r.exception_code) + " (" + r.message +
             "); check the profile's address and function code against the device's firmware";
    case ModbusErrorKind::connection: return r.message + "; check the network or serial port";
    case ModbusErrorKind::invalid: return "malformed answer (" + r.message + "); check for bus noise or two masters";
    case ModbusErrorKind::none: break;
  }
  return "ok";
}

}  // namespace

struct ModbusCharger::State : std::enable_shared_from_this<ModbusCharger::State> {
  State(ModbusDeviceOptions o, DeviceProfile p, ModbusBusWorker& b, boost::asio::any_io_executor c, DeviceEvents e,
        const Clock& cl, bool charger)
      : opt(std::move(o)), profile(std::move(p)), bus(b), core(std::move(c)), events(std::move(e)), clock(cl),
        is_charger(charger), unit(opt.unit_id.value_or(profile.modbus.unit_id)), caps(declared_capabilities(profile)) {
    for (const auto& [name, pt] : profile.points)
      if (pt.readable) reads.push_back(&pt);
    // Ascending addresses keep each poll's requests in one predictable order on the bus.
    std::sort(reads.begin(), reads.end(), [](const PointDef* a, const PointDef* b) {
      return std::pair(a->read_function(), a->address) < std::pair(b->read_function(), b->address);
    });
    // Some piles hold the timeout in a 16-bit millisecond register (Heidelberg: 65.5 s at most);
    // a longer site timeout would wrap, so it is capped and said once.
    if (const PointDef* t = profile.point("failsafe_timeout_s"); t != nullptr && t->max &&
                                                                  opt.failsafe_timeout.count() > *t->max) {
      spdlog::warn("device '{}': failsafe timeout {} s is above what a {} {} can hold; using {} s", opt.id,
                   opt.failsafe_timeout.count(), profile.manufacturer, profile.model, std::floor(*t->max));
      opt.failsafe_timeout = std::chrono::seconds(static_cast<long>(std::floor(*t->max)));
    }
  }

  ModbusDeviceOptions opt;
  DeviceProfile profile;
  ModbusBusWorker& bus;
  boost::asio::any_io_executor core;
  DeviceEvents events;
  const Clock& clock;
  const bool is_charger;
  const int unit;
  const Capabilities caps;
  std::vector<const PointDef*> reads;
  int poller_id = 0;

  // Worker-thread state.
  Health health_w;
  std::map<std::string, std::string> logged_errors;  // by point name
  std::string poll_error;                            // first error of the current poll
  bool failsafe_configured = false;
  // Keep-alives and limit expiry run on the monotonic clock: a wall clock step forward must not
  // expire every limit at once, nor a step back hold a keep-alive past the pile's timeout.
  MonoPoint last_keepalive{};
  struct ActiveLimit {
    bool active = false;
    double current_a = 0;
    MonoPoint expires{};
    std::uint64_t seq = 0;
  } limit;
  bool limit_expired_logged = false;
  SessionEnergyFromTotal session_energy;

  static Capabilities declared_capabilities(const DeviceProfile& p) {
    Capabilities c = p.capabilities;
    c.pause = p.control.pause;
    c.failsafe = p.supports_failsafe();
    c.measures_phase_currents = reads_phase_currents(c.phases, [&p](const std::string& name) {
      const PointDef* point = p.point(name);
      return point != nullptr && point->readable;
    });
    return c;
  }

  double volts_per_amp() const { return power_w_at_nominal(1.0, profile.capabilities.phases); }

  std::chrono::seconds device_timeout() const {
    if (profile.failsafe.mechanism == FailsafeMechanism::timeout_register) return opt.failsafe_timeout;
    if (profile.failsafe.setpoint_expiry_s > 0)
      return std::chrono::seconds(static_cast<long>(profile.failsafe.setpoint_expiry_s));
    return std::chrono::seconds(0);
  }

  Steady::duration poll_interval() const {
    Steady::duration d = opt.poll_interval;
    // Keep-alives ride on polls, so a poll must come at least every quarter timeout.
    if (is_charger && profile.supports_failsafe() && device_timeout().count() > 0)
      d = std::min(d, clock.real_wait(device_timeout() / 4));
    return d;
  }

  // One log line per register and failure episode, not one per poll: a meter with twelve
  // points that all fail would otherwise drown the log.
  void note_error(const std::string& key, const std::string& what) {
    if (poll_error.empty()) poll_error = what;
    health_w.last_error = poll_error;
    auto& logged = logged_errors[key];
    if (logged != what) {
      spdlog::warn("device '{}' ({} {}, unit {}): {}", opt.id, profile.manufacturer, profile.model, unit, what);
      logged = what;
    }
  }

  void note_good(const std::string& key) { logged_errors.erase(key); }

  std::string where(const PointDef& p) const {
    return "register " + hex_address(p.address) + " (" + p.name + ", " + to_string(p.table) + ")";
  }

  // Returns false when the device did not answer at all (no point in asking it more now).
  bool record(const PointDef& p, const ModbusResult& r) {
    if (r.ok()) {
      ++health_w.reads_ok;
      return true;
    }
    const bool silent = unanswered(r);
    if (silent) ++health_w.timeouts;
    else ++health_w.errors;
    note_error(p.name, where(p) + " on unit " + std::to_string(unit_of(p)) + ": " +
                           describe(r, bus.endpoint().response_timeout));
    return !silent;
  }

  // Exceptions 10 and 11 come from a Modbus TCP/RTU gateway in front of the device, not from
  // the device (Modbus Application Protocol v1.1b3, 7): nobody answered at that unit id, so a
  // pile behind a gateway at a wrong unit id must not count as online.
  static bool unanswered(const ModbusResult& r) {
    return r.error == ModbusErrorKind::timeout || r.error == ModbusErrorKind::connection ||
           (r.error == ModbusErrorKind::exception && (r.exception_code == 10 || r.exception_code == 11));
  }

  // A point on a unit of its own (a station unit beside the socket's) keeps it whatever the
  // site sets for the device.
  int unit_of(const PointDef& p) const { return p.unit_id.value_or(unit); }

  int retries() const { return health_w.online ? opt.retries.value_or(profile.modbus.retries) : 0; }

  bool write_point(ModbusLink& link, const std::string& name, double value, bool round_down) {
    const PointDef* p = profile.point(name);
    if (p == nullptr || !p->writable) return false;
    const double raw = engineering_to_raw(*p, value, round_down);
    ModbusResult r = link.write(unit_of(*p), p->write_function, p->address, encode_raw(*p, raw), retries());
    record(*p, r);
    return r.ok();
  }

  void configure_failsafe(ModbusLink& link) {
    if (profile.failsafe.mechanism != FailsafeMechanism::timeout_register) {
      failsafe_configured = true;
      return;
    }
    const bool ok = write_point(link, "failsafe_current_a", opt.failsafe_current_a, true) &&
                    write_point(link, "failsafe_timeout_s", static_cast<double>(opt.failsafe_timeout.count()), false);
    if (ok) {
      failsafe_configured = true;
      last_keepalive = clock.monotonic();
      spdlog::info("device '{}': failsafe set to {} A after {} s without the gateway", opt.id, opt.failsafe_current_a,
                   opt.failsafe_timeout.count());
    }
  }

  void keepalive(ModbusLink& link) {
    const auto timeout = device_timeout();
    if (timeout.count() <= 0) return;
    const MonoPoint now = clock.monotonic();
    // {} = none written yet; the monotonic clock may have started seconds ago (boot).
    if (last_keepalive != MonoPoint{} && now - last_keepalive < timeout / 4) return;
    bool ok = true;
    switch (profile.failsafe.keepalive) {
      case Keepalive::heartbeat: ok = write_point(link, "heartbeat", profile.failsafe.heartbeat_value, false); break;
      case Keepalive::rewrite_timeout:
        ok = write_point(link, "failsafe_timeout_s", static_cast<double>(opt.failsafe_timeout.count()), false);
        break;
      case Keepalive::rewrite_setpoint:
        if (limit.active) ok = write_point(link, "set_current_a", limit.current_a, true);
        break;
      case Keepalive::poll:
      case Keepalive::none: break;
    }
    if (ok) last_keepalive = now;
  }

  void expire_limit(ModbusLink& link) {
    if (!limit.active || clock.monotonic() < limit.expires) return;
    // No newer limit arrived in time: fall back to the failsafe current ourselves as well, so
    // the device is safe even when its own fallback is missing or misconfigured.
    if (write_point(link, "set_current_a", std::min(opt.failsafe_current_a, profile.capabilities.max_current_a), true)) {
      spdlog::warn("device '{}': limit seq {} expired without a newer one; set to failsafe {} A", opt.id, limit.seq,
                   opt.failsafe_current_a);
      limit.active = false;
    }
  }

  Steady::duration poll(ModbusLink& link) {
    poll_error.clear();
    if (is_charger) {
      if (!failsafe_configured) configure_failsafe(link);
      if (failsafe_configured) keepalive(link);
      expire_limit(link);
    }
    PointValues values;
    bool answered = false, unreachable = false, clean = true;
    for (const PointDef* p : reads) {
      const auto count = p->type == ValueType::coil ? std::uint16_t{1} : p->register_count();
      ModbusResult r = link.read(unit_of(*p), p->read_function(), p->address, count, retries());
      if (!record(*p, r)) {
        unreachable = true;
        clean = false;
        break;
      }
      if (!r.ok()) {
        clean = false;
        answered = true;
        continue;
      }
      answered = true;
      if (p->type == ValueType::string) {
        std::string text = decode_string(*p, r.registers);
        if (!p->text_map.empty()) {
          auto it = p->text_map.find(text);
          if (it == p->text_map.end()) {
            ++health_w.errors;
            clean = false;
            note_error(p->name, where(*p) + ": text \"" + text + "\" is not in the profile's map; rejected");
            continue;
          }
          text = it->second;
        }
        note_good(p->name);
        values.words[p->name] = text;
        continue;
      }
      const double raw = decode_raw(*p, r.registers);
      if (p->not_available(raw)) continue;
      const double v = raw_to_engineering(*p, raw);
      std::string bad;
      if (!std::isfinite(v)) bad = "value " + std::to_string(v) + " is not a number; rejected";
      else if ((p->min && v < *p->min) || (p->max && v > *p->max))
        bad = "value " + std::to_string(v) + " outside the plausible range [" +
              (p->min ? std::to_string(*p->min) : std::string("-inf")) + ", " +
              (p->max ? std::to_string(*p->max) : std::string("inf")) + "]; rejected";
      else if (!p->value_map.empty()) {
        auto it = p->value_map.find(std::llround(v));
        if (it == p->value_map.end()) bad = "value " + std::to_string(std::llround(v)) + " is not in the profile's map; rejected";
        else values.words[p->name] = it->second;
      }
      if (!bad.empty()) {
        ++health_w.errors;
        clean = false;
        note_error(p->name, where(*p) + ": " + bad);
        continue;
      }
      note_good(p->name);
      values.numbers[p->name] = v;
    }

    const TimePoint now = clock.now();
    health_w.online = answered && !unreachable;
    if (health_w.online) health_w.last_good = now;
    health_w.last_error = poll_error;
    if (clean && health_w.online && !logged_errors.empty()) {
      spdlog::info("device '{}': answering normally again", opt.id);
      logged_errors.clear();
    }
    publish(values, now);
    if (!health_w.online) return std::max(poll_interval(), Steady::duration(std::chrono::seconds(2)));
    return poll_interval();
  }

  void publish(const PointValues& values, TimePoint now) {
    Health h = health_w;
    auto self = shared_from_this();
    if (is_charger) {
      ChargerSnapshot s = charger_snapshot(values, profile.capabilities.phases);
      s.at = now;
      if (!health_w.online) s.state = ChargerState::unknown;
      session_energy.apply(s);
      boost::asio::post(core, [self, s, h] {
        if (self->events.charger_snapshot) self->events.charger_snapshot(self->opt.id, s);
        if (self->events.health) self->events.health(self->opt.id, h);
      });
    } else {
      MeterSnapshot s = meter_snapshot(values);
      s.at = now;
      boost::asio::post(core, [self, s, h] {
        if (self->events.meter_snapshot) self->events.meter_snapshot(self->opt.id, s);
        if (self->events.health) self->events.health(self->opt.id, h);
      });
    }
  }

  void apply(ModbusLink& link, const PowerLimit& pl) {
    poll_error.clear();
    const auto& cap = profile.capabilities;
    double current = pl.power_w / volts_per_amp();
    // Below the IEC 61851 minimum a pile cannot follow a setpoint; pausing never exceeds it.
    const bool pause = pl.power_w <= 0 || current < cap.min_current_a;
    current = pause ? 0.0 : std::min(current, cap.max_current_a);
    LimitAck ack;
    ack.seq = pl.seq;
    bool ok = true;
    if (profile.control.pause == PauseMethod::enable_register) {
      ok = write_point(link, "enable", pause ? profile.control.enable_off : profile.control.enable_on, false);
      if (ok && !pause) ok = write_point(link, "set_current_a", current, true);
    } else {
      ok = write_point(link, "set_current_a", current, true);
    }
    if (ok) {
      limit.active = true;
      limit.current_a = current;
      limit.expires = clock.monotonic() + pl.valid_for;
      limit.seq = pl.seq;
      last_keepalive = profile.failsafe.keepalive == Keepalive::rewrite_setpoint ? clock.monotonic() : last_keepalive;
      ack.accepted = true;
      ack.applied_limit_w = current * volts_per_amp();
      if (const PointDef* rb = profile.point("applied_current_a"); rb != nullptr && rb->readable) {
        ModbusResult r = link.read(unit_of(*rb), rb->read_function(), rb->address, rb->register_count(), retries());
        if (record(*rb, r)) {
          if (r.ok()) {
            const double v = raw_to_engineering(*rb, decode_raw(*rb, r.registers));
            if (std::isfinite(v)) ack.applied_limit_w = v * volts_per_amp();
          }
        }
      }
    } else {
      ack.error = poll_error.empty() ? "write failed" : poll_error;
    }
    auto self = shared_from_this();
    boost::asio::post(core, [self, ack] {
      if (self->events.limit_ack) self->events.limit_ack(self->opt.id, ack);
    });
  }

  void start() {
    std::weak_ptr<State> weak = shared_from_this();
    poller_id = bus.add_poller([weak](ModbusLink& link) -> Steady::duration {
      if (auto s = weak.lock()) return s->poll(link);
      return std::chrono::hours(1);
    });
  }

  void stop() {
    if (poller_id != 0) bus.remove_poller(poller_id);
    poller_id = 0;
  }
};

ModbusCharger::ModbusCharger(ModbusDeviceOptions options, DeviceProfile profile, ModbusBusWorker& bus,
                             boost::asio::any_io_executor core, DeviceEvents events, const Clock& clock)
    : state_(std::make_shared<State>(std::move(options), std::move(profile), bus, std::move(core), std::move(events),
                                     clock, true)) {
  if (state_->profile.kind != DeviceKind::charger)
    throw ProfileError(state_->profile.file.string() + ": profile '" + state_->profile.id +
                       "' is a meter; device '" + state_->opt.id + "' is configured as a charger");
}

ModbusCharger::~ModbusCharger() { stop(); }
void ModbusCharger::start() { state_->start(); }
void ModbusCharger::stop() { state_->stop(); }
const std::string& ModbusCharger::id() const { return state_->opt.id; }
Capabilities ModbusCharger::capabilities() const { return state_->caps; }

void ModbusCharger::apply_limit(const PowerLimit& limit) {
  auto s = state_;
  s->bus.submit([s, limit](ModbusLink& link) { s->apply(link, limit); });
}

ModbusMeter::ModbusMeter(ModbusDeviceOptions options, DeviceProfile profile, ModbusBusWorker& bus,
                         boost::asio::any_io_executor core, DeviceEvents events, const Clock& clock)
    : state_(std::make_shared<ModbusCharger::State>(std::move(options), std::move(profile), bus, std::move(core),
                                                    std::move(events), clock, false)) {
  if (state_->profile.kind != DeviceKind::meter)
    throw ProfileError(state_->profile.file.string() + ": profile '" + state_->profile.id +
                       "' is a charger; device '" + state_->opt.id + "' is configured as a meter");
}

ModbusMeter::~ModbusMeter() { stop(); }
void ModbusMeter::start() { state_->start(); }
void ModbusMeter::stop() { state_->stop(); }
const std::string& ModbusMeter::id() const { return state_->opt.id; }

}  // namespace orderly::drivers
