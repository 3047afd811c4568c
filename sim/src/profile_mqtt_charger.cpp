#include "orderly/sim/profile_mqtt_charger.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "mosquitto_client.hpp"
#include "orderly/drivers/mqtt_payload.hpp"
#include "ticker.hpp"
#include "sim_car.hpp"

namespace orderly::sim {

// The simulators serve the drivers' own profile formats and codecs.
using namespace orderly::drivers;

namespace mq = drivers::mqtt;

struct SimProfileMqttCharger::Impl {
  Impl(SimProfileChargerOptions o, const DeviceProfile& p, const Clock& c)
      : options(std::move(o)),
        profile(p),
        clock(c),
        client({"orderly-sim-profile-" + options.id, options.host, options.port, {}, {}, 5, {}, {}, {}},
               [this] { on_connect(); },
               [this](const std::string& topic, const std::string& payload) { on_message(topic, payload); }) {
    if (!profile.mqtt) throw std::invalid_argument("simulated pile '" + options.id + "': profile '" + profile.id + "' has no [mqtt]");
    const auto& def = *profile.mqtt;
    auto w = def.write.find("set_current_a");
    if (w == def.write.end())
      throw std::invalid_argument("simulated pile '" + options.id + "': profile '" + profile.id + "' has no set_current_a");
    base = options.base_topic.empty() ? def.base_topic : options.base_topic;
    set_current = w->second;
    set_current.topic = mq::expand_base(set_current.topic, base);
    ack_topic = def.ack_topic.empty() ? std::string() : mq::expand_base(def.ack_topic, base);
    for (const auto& [name, point] : def.read) {
      MqttPointDef rp = point;
      rp.topic = mq::expand_base(rp.topic, base);
      reads.push_back(rp);
    }
    claimed_a = profile.capabilities.max_current_a;
    car.last_update = clock.monotonic();
  }

  int phases() const { return std::clamp(profile.capabilities.phases, 1, 3); }
  double w_per_a() const { return options.voltage_v * phases(); }

  double power_locked() const {
    if (!car.wants_power()) return 0;
    if (ignore) return car.max_power_w;
    // IEC 61851-1: no PWM duty cycle below 6 A, so a claim under the minimum pauses.
    if (claimed_a < profile.capabilities.min_current_a) return 0;
    return std::min(claimed_a * w_per_a(), car.max_power_w);
  }

  void advance_locked(MonoPoint t) { car.integrate_to(t, power_locked()); }

  // The value a point carries, in the profile's engineering unit (before the device's scale).
  nlohmann::json value_locked(const MqttPointDef& p) const {
    const double power = power_locked();
    const std::string& n = p.name;
    if (n == "state") {
      const char* s = !car.plugged ? "unplugged" : power > 0 ? "charging" : "plugged";
      for (const auto& [raw, mapped] : p.value_map)
        if (mapped == s) return mq::parse_number(raw) ? nlohmann::json(std::stoi(raw)) : nlohmann::json(raw);
      return s;
    }
    double v = kNotMeasured;
    if (n == "power_w") v = power;
    else if (n.rfind("current_l", 0) == 0) v = n[9] - '1' < phases() ? power / w_per_a() : 0;
    else if (n.rfind("voltage_l", 0) == 0) v = options.voltage_v;
    else if (n == "applied_current_a") v = claimed_a;
    else if (n == "session_energy_wh") v = car.session_energy_wh;
    else if (n == "total_energy_wh") v = car.total_energy_wh;
    if (std::isnan(v)) return nullptr;
    const double raw = p.scale != 0 ? v / p.scale : v;
    return std::round(raw * 1000) / 1000;
  }

  void publish_all() {
    std::vector<std::pair<std::string, std::string>> out;
    {
      std::lock_guard lock(mutex);
      if (silent) return;
      advance_locked(clock.monotonic());
      for (const auto& p : reads) {
        auto v = value_locked(p);
        if (!v.is_null()) out.emplace_back(p.topic, mq::encode_value(p.json_path, v));
      }
    }
    for (const auto& [topic, payload] : out) client.publish(topic, payload, 0, false);
  }

  void on_connect() {
    client.subscribe(set_current.topic, 1);
    publish_all();
  }

  void on_message(const std::string& topic, const std::string& payload) {
    if (topic != set_current.topic) return;
    std::string error;
    auto text = mq::extract_value(payload, set_current.json_path, error);
    auto amps = text ? mq::parse_number(*text) : std::nullopt;
    if (!amps) return;  // a claim it cannot read is ignored, as the firmware does
    double applied = 0;
    {
      std::lock_guard lock(mutex);
      advance_locked(clock.monotonic());
      ++claims;
      claimed_a = std::clamp(std::floor(*amps * set_current.scale), 0.0, profile.capabilities.max_current_a);
      applied = claimed_a;
    }
    if (!ack_topic.empty()) client.publish(ack_topic, mq::encode_value(profile.mqtt->ack_json_path, applied), 0, false);
    publish_all();
  }

  SimProfileChargerOptions options;
  const DeviceProfile& profile;
  const Clock& clock;
  std::string base;
  MqttPointDef set_current;
  std::string ack_topic;
  std::vector<MqttPointDef> reads;

  mutable std::mutex mutex;
  SimCar car;
  double claimed_a = 0;
  bool ignore = false, silent = false;
  std::uint64_t claims = 0;

  Ticker ticker;
  MosquittoClient client;
};

SimProfileMqttCharger::SimProfileMqttCharger(SimProfileChargerOptions options, const DeviceProfile& profile, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), profile, clock)) {}

SimProfileMqttCharger::~SimProfileMqttCharger() { stop(); }

void SimProfileMqttCharger::start() {
  if (impl_->ticker.running()) return;
  impl_->client.start();
  impl_->ticker.start(impl_->options.publish_period, [this] { impl_->publish_all(); });
}

void SimProfileMqttCharger::stop() {
  if (!impl_->ticker.running()) return;
  impl_->ticker.stop();
  impl_->client.stop();
}

void SimProfileMqttCharger::plug_in(double energy_need_wh, double car_max_power_w) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->advance_locked(impl_->clock.monotonic());
    impl_->car.plug_in(energy_need_wh, car_max_power_w);
  }
  impl_->publish_all();
}

void SimProfileMqttCharger::unplug() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->advance_locked(impl_->clock.monotonic());
    impl_->car.plugged = false;
  }
  impl_->publish_all();
}

void SimProfileMqttCharger::ignore_limits(bool ignore) {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  impl_->ignore = ignore;
}

void SimProfileMqttCharger::set_silent(bool silent) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->silent = silent;
  }
  if (!silent) impl_->publish_all();
}

void SimProfileMqttCharger::publish_raw(const std::string& topic_leaf, const std::string& payload) {
  impl_->client.publish(impl_->base + "/" + topic_leaf, payload, 0, false);
}

double SimProfileMqttCharger::claimed_current_a() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->claimed_a;
}

double SimProfileMqttCharger::power_w() const {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  return impl_->power_locked();
}

double SimProfileMqttCharger::session_energy_wh() const {
  std::lock_guard lock(impl_->mutex);
  impl_->advance_locked(impl_->clock.monotonic());
  return impl_->car.session_energy_wh;
}

std::uint64_t SimProfileMqttCharger::claims_received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->claims;
}

bool SimProfileMqttCharger::connected() const { return impl_->client.connected(); }

const std::string& SimProfileMqttCharger::base_topic() const { return impl_->base; }

}  // namespace orderly::sim
