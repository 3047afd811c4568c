#include "orderly/sim/mqtt_meter.hpp"

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>

#include "mosquitto_client.hpp"
#include "ticker.hpp"
#include "orderly/base/units.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"

namespace orderly::sim {

using drivers::mqtt::DeviceKind;


struct SimMqttMeter::Impl {
  Impl(std::string id_, std::string host, std::uint16_t port, const Clock& c, std::function<double(TimePoint)> base,
       std::chrono::milliseconds p, std::string prefix_)
      : id(std::move(id_)),
        clock(c),
        base_load_w(std::move(base)),
        period(p),
        prefix(std::move(prefix_)),
        topic_status(drivers::mqtt::device_topic(prefix, DeviceKind::meter, id, "status")),
        topic_online(drivers::mqtt::device_topic(prefix, DeviceKind::meter, id, "online")),
        client({"orderly-sim-meter-" + id, std::move(host), port, topic_online, std::string(drivers::mqtt::kOffline), 5, {}, {}, {}},
               [this] { on_connect(); },
               [this](const std::string& topic, const std::string& payload) { on_message(topic, payload); }) {
    last_update = clock.monotonic();
  }

  // What each charger draws, split over L1..L3 by its reported phase currents.
  struct ChargerLoad {
    std::array<double, 3> phase_w{0, 0, 0};
  };

  void on_connect() {
    client.subscribe(prefix + "/charger/+/status", 0);
    client.publish(topic_online, std::string(drivers::mqtt::kOnline), 1, true);
  }

  void on_message(const std::string& topic, const std::string& payload) {
    auto ref = drivers::mqtt::parse_topic(prefix, topic);
    if (!ref || ref->kind != DeviceKind::charger || ref->leaf != "status") return;
    // The meter measures physics, not messages: a garbled status changes nothing it sees.
    auto s = drivers::mqtt::decode_charger_status(payload, {1e6, 1e4});
    if (!s) return;
    ChargerLoad load;
    const double p = std::isfinite(s.value->power_w) ? s.value->power_w : 0;
    double sum_a = 0;
    for (double a : s.value->current_a)
      if (std::isfinite(a)) sum_a += std::abs(a);
    for (std::size_t i = 0; i < 3; ++i)
      load.phase_w[i] = sum_a > 0 ? (std::isfinite(s.value->current_a[i]) ? p * std::abs(s.value->current_a[i]) / sum_a : 0)
                                  : (i == 0 ? p : 0);
    std::lock_guard lock(mutex);
    chargers[ref->id] = load;
  }

  drivers::MeterSnapshot measure_locked(Instant at) {
    const TimePoint now = at.wall;  // the base load follows the time of day
    drivers::MeterSnapshot s;
    s.at = now;
    const double base = (base_load_w ? base_load_w(now) : 0) + offset_w;
    last_base_w = base;
    double total = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      double w = base / 3;
      for (auto& [id_, load] : chargers) w += load.phase_w[i];
      s.power_w_phase[i] = w;
      s.voltage_v[i] = kNominalPhaseVoltageV;
      s.current_a[i] = std::abs(w) / kNominalPhaseVoltageV;
      total += w;
    }
    s.power_w = total;
    const double hours = std::chrono::duration<double, std::ratio<3600>>(at.mono - last_update).count();
    if (hours > 0) {
      if (total >= 0) import_wh += total * hours;
      else export_wh += -total * hours;
      last_update = at.mono;
    }
    s.import_energy_wh = import_wh;
    s.export_energy_wh = export_wh;
    last_power_w = total;
    return s;
  }

  // What the meter shows of the true snapshot `s`, given its fault.
  drivers::MeterSnapshot faulty_locked(const drivers::MeterSnapshot& s) {
    drivers::MeterSnapshot shown = s;
    if (fault == MeterFault::fixed) {
      shown.power_w = fixed_w;
      for (std::size_t i = 0; i < 3; ++i) {
        shown.power_w_phase[i] = fixed_w / 3;
        shown.current_a[i] = std::abs(fixed_w / 3) / kNominalPhaseVoltageV;
      }
    } else if (fault == MeterFault::frozen) {
      shown = last_shown;
      shown.at = s.at;
    }
    last_shown = shown;
    return shown;
  }

  void tick() {
    std::string payload;
    MeterReading reading;
    std::function<void(const MeterReading&)> notify;
    {
      std::lock_guard l(mutex);
      const auto s = measure_locked(clock.instant());
      const auto shown = faulty_locked(s);
      payload = drivers::mqtt::encode_meter_status(shown);
      reading.at = s.at;
      reading.power_w = shown.power_w;
      reading.base_load_w = last_base_w;
      reading.power_w_phase = shown.power_w_phase;
      reading.true_power_w = s.power_w;
      reading.published = fault != MeterFault::silent;
      notify = observer;
    }
    if (reading.published) client.publish(topic_status, payload, 0, true);
    reading.published_at = std::chrono::steady_clock::now();
    if (notify) notify(reading);
  }

  std::string id;
  const Clock& clock;
  std::function<double(TimePoint)> base_load_w;
  std::chrono::milliseconds period;
  std::string prefix, topic_status, topic_online;

  mutable std::mutex mutex;
  std::map<std::string, ChargerLoad> chargers;
  double offset_w = 0;
  double import_wh = 0, export_wh = 0;
  double last_power_w = drivers::kNotMeasured;
  double last_base_w = 0;
  MeterFault fault = MeterFault::none;
  double fixed_w = 0;
  drivers::MeterSnapshot last_shown;
  MonoPoint last_update{};  // energy counts over monotonic time
  std::function<void(const MeterReading&)> observer;

  Ticker ticker;

  MosquittoClient client;
};

SimMqttMeter::SimMqttMeter(std::string id, std::string host, std::uint16_t port, const Clock& clock,
                           std::function<double(TimePoint)> base_load_w, std::chrono::milliseconds period,
                           std::string topic_prefix)
    : impl_(std::make_unique<Impl>(std::move(id), std::move(host), port, clock, std::move(base_load_w), period,
                                   std::move(topic_prefix))) {}

SimMqttMeter::~SimMqttMeter() { stop(); }

void SimMqttMeter::start() {
  if (impl_->ticker.running()) return;
  impl_->client.start();
  impl_->ticker.start(impl_->period, [this] { impl_->tick(); });
}

void SimMqttMeter::stop() {
  if (!impl_->ticker.running()) return;
  impl_->ticker.stop();
  impl_->client.stop(impl_->topic_online, std::string(drivers::mqtt::kOffline));
}

double SimMqttMeter::last_power_w() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_power_w;
}

double SimMqttMeter::chargers_power_w() const {
  std::lock_guard lock(impl_->mutex);
  double total = 0;
  for (auto& [id, load] : impl_->chargers) total += load.phase_w[0] + load.phase_w[1] + load.phase_w[2];
  return total;
}

void SimMqttMeter::set_base_load_offset_w(double offset_w) {
  std::lock_guard lock(impl_->mutex);
  impl_->offset_w = offset_w;
}

void SimMqttMeter::inject_fault(MeterFault fault, double fixed_w) {
  std::lock_guard lock(impl_->mutex);
  impl_->fault = fault;
  impl_->fixed_w = fixed_w;
}

bool SimMqttMeter::connected() const { return impl_->client.connected(); }

void SimMqttMeter::on_reading(std::function<void(const MeterReading&)> observer) {
  std::lock_guard lock(impl_->mutex);
  impl_->observer = std::move(observer);
}

}  // namespace orderly::sim
