#include "orderly/sim/mqtt_charger.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <optional>

#include "mosquitto_client.hpp"
#include "ticker.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"
#include "sim_car.hpp"

namespace orderly::sim {

using drivers::mqtt::DeviceKind;

struct SimMqttCharger::Impl {
  Impl(SimChargerOptions o, const Clock& c)
      : options(std::move(o)),
        clock(c),
        topic_status(drivers::mqtt::device_topic(options.topic_prefix, DeviceKind::charger, options.id, "status")),
        topic_online(drivers::mqtt::device_topic(options.topic_prefix, DeviceKind::charger, options.id, "online")),
        topic_limit(drivers::mqtt::device_topic(options.topic_prefix, DeviceKind::charger, options.id, "limit")),
        topic_ack(drivers::mqtt::device_topic(options.topic_prefix, DeviceKind::charger, options.id, "ack")),
        topic_failsafe(drivers::mqtt::device_topic(options.topic_prefix, DeviceKind::charger, options.id, "failsafe")),
        client({"orderly-sim-charger-" + options.id, options.host, options.port, topic_online,
                std::string(drivers::mqtt::kOffline), 5, options.tls, options.username, options.password},
               [this] { on_connect(); },
               [this](const std::string& topic, const std::string& payload) { on_message(topic, payload); }) {
    car.last_update = clock.monotonic();
    failsafe_power_w = options.failsafe_power_w;
  }

  // ---- physics, all under `mutex`, in the Clock's time

  double min_power_w() const { return options.min_current_a * options.voltage_v * options.phases; }

  double effective_limit_w() const { return failsafe ? failsafe_power_w : limit_w; }

  // The limit lapses at its validity's end or, with a communication timeout set, that long after
  // the last limit heard, whichever comes first.
  std::optional<MonoPoint> lapses_at() const {
    if (!limit_expires) return std::nullopt;
    if (!comm_timeout) return limit_expires;
    return std::min(*limit_expires, last_limit_at + *comm_timeout);
  }

  double power_locked() const {
    if (!car.wants_power()) return 0;
    double p = ignore ? car.max_power_w : std::min({effective_limit_w(), car.max_power_w, options.max_power_w});
    // IEC 61851-1: the PWM signal cannot ask for less than 6 A, so a pile pauses below that.
    if (!ignore && p < min_power_w()) p = 0;
    return std::max(0.0, p);
  }

  void integrate_to(MonoPoint t) { car.integrate_to(t, power_locked()); }

  void advance_locked(MonoPoint now) {
    if (const auto lapse = lapses_at(); !failsafe && lapse && *lapse <= now) {
      integrate_to(*lapse);
      failsafe = true;  // the gateway went quiet: fall back to the safe load
      if (car.plugged) ++failsafe_entries;  // without a car nobody needs a limit
    }
    integrate_to(now);
  }

  drivers::ChargerSnapshot snapshot_locked(TimePoint now) const {
    drivers::ChargerSnapshot s;
    s.at = now;
    const double p = power_locked();
    s.state = !car.plugged ? drivers::ChargerState::unplugged : p > 0 ? drivers::ChargerState::charging : drivers::ChargerState::plugged;
    s.power_w = p;
    for (int i = 0; i < std::clamp(options.phases, 1, 3); ++i) {
      s.current_a[static_cast<std::size_t>(i)] = p / (options.voltage_v * options.phases);
      s.voltage_v[static_cast<std::size_t>(i)] = options.voltage_v;
    }
    s.session_energy_wh = car.session_energy_wh;
    s.total_energy_wh = car.total_energy_wh;
    s.applied_limit_w = effective_limit_w();
    return s;
  }

  // ---- network

  void publish_status() {
    std::string payload;
    {
      std::lock_guard lock(mutex);
      if (silent) return;
      advance_locked(clock.monotonic());
      payload = drivers::mqtt::encode_charger_status(snapshot_locked(clock.now()));
    }
    client.publish(topic_status, payload, 0, true);
  }

  void on_connect() {
    client.subscribe(topic_limit, 1);
    client.subscribe(topic_failsafe, 1);
    client.publish(topic_online, std::string(drivers::mqtt::kOnline), 1, true);
    publish_status();
  }

  void on_failsafe(const std::string& payload) {
    auto cmd = drivers::mqtt::decode_failsafe(payload);
    if (!cmd) return;  // unreadable: dropped without an answer, as a limit is
    drivers::mqtt::AckMessage ack;
    ack.seq = cmd.value->seq;
    std::string raw;  // an answer outside the protocol, for FailsafeAnswer::malformed
    {
      std::lock_guard lock(mutex);
      ++failsafe_settings_received;
      const double max_a = options.max_power_w / (options.voltage_v * options.phases);
      const double current_a = std::min(cmd.value->current_a, max_a);
      switch (failsafe_answer) {
        case FailsafeAnswer::apply:
          if (current_a > 0 && current_a < options.min_current_a) {
            ack.error = "failsafe current below this pile's " + std::to_string(options.min_current_a) + " A minimum";
            break;
          }
          advance_locked(clock.monotonic());
          failsafe_power_w = current_a * options.voltage_v * options.phases;
          comm_timeout = std::chrono::duration_cast<MonoClock::duration>(std::chrono::duration<double>(cmd.value->timeout_s));
          ack.accepted = true;
          ack.applied_current_a = current_a;
          ack.applied_timeout_s = cmd.value->timeout_s;
          break;
        case FailsafeAnswer::refuse: ack.error = "failsafe settings are locked by the installer"; break;
        case FailsafeAnswer::malformed:
          raw = R"({"v":1,"seq":)" + std::to_string(ack.seq) + R"(,"accepted":"maybe"})";
          break;
        case FailsafeAnswer::overstate:
          ack.accepted = true;
          ack.applied_current_a = cmd.value->current_a + 10;
          ack.applied_timeout_s = cmd.value->timeout_s;
          break;
      }
    }
    client.publish(topic_ack, raw.empty() ? drivers::mqtt::encode_ack(ack) : raw, 1, false);
    publish_status();
  }

  void on_message(const std::string& topic, const std::string& payload) {
    if (topic == topic_failsafe) return on_failsafe(payload);
    if (topic != topic_limit) return;
    auto cmd = drivers::mqtt::decode_limit(payload);
    drivers::mqtt::AckMessage ack;
    // A command it cannot read is dropped, as a real pile would; the gateway sees no
    // acknowledgement and says so.
    if (!cmd) return;
    {
      ack.seq = cmd.value->seq;
      std::lock_guard lock(mutex);
      ++limits_received;
      if (cmd.value->power_w < 0) {
        ack.accepted = false;
        ack.error = "this charger cannot discharge (negative limit)";
      } else {
        const MonoPoint now = clock.monotonic();
        advance_locked(now);
        limit_w = std::min(cmd.value->power_w, options.max_power_w);
        failsafe = false;
        last_limit_at = now;
        limit_expires = now + std::chrono::duration_cast<MonoClock::duration>(std::chrono::duration<double>(cmd.value->valid_for_s));
        ack.accepted = true;
        ack.applied_w = limit_w;
      }
    }
    client.publish(topic_ack, drivers::mqtt::encode_ack(ack), 1, false);
    if (ack.accepted) {
      std::lock_guard lock(mutex);
      acked.push_back({ack.seq, ack.applied_w, clock.now(), std::chrono::steady_clock::now()});
      if (acked.size() > kAckedLimitsKept) acked.pop_front();
    }
    publish_status();
  }

  void tick() {
    if (!offline) {
      publish_status();
    } else {
      std::lock_guard l(mutex);
      advance_locked(clock.monotonic());  // a disconnected pile keeps charging (and falls back to failsafe)
    }
  }

  SimChargerOptions options;
  const Clock& clock;
  std::string topic_status, topic_online, topic_limit, topic_ack, topic_failsafe;

  mutable std::mutex mutex;  // physics and fault flags below
  SimCar car;
  double limit_w = 0;
  bool failsafe = true;  // no limit heard yet: behave as after a gateway loss
  std::optional<MonoPoint> limit_expires;  // a validity is a duration: monotonic, as on a real pile
  MonoPoint last_limit_at{};
  double failsafe_power_w = 0;                 // options.failsafe_power_w until the gateway sets it
  std::optional<MonoClock::duration> comm_timeout;  // set by a failsafe message
  FailsafeAnswer failsafe_answer = FailsafeAnswer::apply;
  std::uint64_t failsafe_settings_received = 0;
  bool ignore = false;
  bool silent = false;
  std::uint64_t limits_received = 0;
  std::uint64_t failsafe_entries = 0;
  std::deque<AckedLimit> acked;

  std::atomic<bool> offline{false};
  Ticker ticker;

  MosquittoClient client;
};

SimMqttCharger::SimMqttCharger(SimChargerOptions options, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {}

SimMqttCharger::~SimMqttCharger() { stop(); }

void SimMqttCharger::start() {
  if (impl_->ticker.running()) return;
  if (!impl_->offline) impl_->client.start();
  impl_->ticker.start(impl_->options.publish_period, [this] { impl_->tick(); });
}

void SimMqttCharger::stop() {
  if (!impl_->ticker.running()) return;
  impl_->ticker.stop();
  impl_->client.stop(impl_->topic_online, std::string(drivers::mqtt::kOffline));
}

void SimMqttCharger::plug_in(double energy_need_wh, double car_max_power_w) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->advance_locked(impl_->clock.monotonic());
    impl_->car.plug_in(energy_need_wh, car_max_power_w);
  }
  if (!impl_->offline) impl_->publish_status();
}

void SimMqttCharger::unplug() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->advance_locked(impl_->clock.monotonic());
    impl_->car.plugged = false;
  }
  if (!impl_->offline) impl_->publish_status();
}

void SimMqttCharger::ignore_limits(bool ignore) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->advance_locked(impl_->clock.monotonic());
    impl_->ignore = ignore;
  }
  if (!impl_->offline) impl_->publish_status();
}

void SimMqttCharger::set_offline(bool offline) {
  if (offline == impl_->offline) return;
  impl_->offline = offline;
  if (!impl_->ticker.running()) return;
  if (offline)
    impl_->client.drop();
  else
    impl_->client.start();
}

void SimMqttCharger::set_silent(bool silent) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->silent = silent;
  }
  if (!silent && !impl_->offline) impl_->publish_status();
}

void SimMqttCharger::publish_garbage(const std::string& payload) { impl_->client.publish(impl_->topic_status, payload, 1, false); }

void SimMqttCharger::answer_failsafe(FailsafeAnswer answer) {
  std::lock_guard lock(impl_->mutex);
  impl_->failsafe_answer = answer;
}

double SimMqttCharger::failsafe_power_w() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->failsafe_power_w;
}

std::uint64_t SimMqttCharger::failsafe_settings_received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->failsafe_settings_received;
}

const std::string& SimMqttCharger::id() const { return impl_->options.id; }

double SimMqttCharger::limit_w() const {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  return impl_->effective_limit_w();
}

double SimMqttCharger::power_w() const {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  return impl_->power_locked();
}

double SimMqttCharger::session_energy_wh() const {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  return impl_->car.session_energy_wh;
}

std::uint64_t SimMqttCharger::limits_received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->limits_received;
}

bool SimMqttCharger::connected() const { return impl_->client.connected(); }

std::uint64_t SimMqttCharger::failsafe_entries() const {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  return impl_->failsafe_entries;
}

std::vector<AckedLimit> SimMqttCharger::acked_limits() const {
  std::lock_guard lock(impl_->mutex);
  return {impl_->acked.begin(), impl_->acked.end()};
}

bool SimMqttCharger::in_failsafe() const {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  return impl_->failsafe;
}

}  // namespace orderly::sim
