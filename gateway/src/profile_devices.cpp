#include "profile_devices.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace orderly::gateway {
namespace {

using namespace std::chrono;

bool is_modbus(drivers::Transport t) {
  return t == drivers::Transport::modbus_tcp || t == drivers::Transport::modbus_rtu;
}

// A bus carries one protocol; its timing is the slowest any device on it asks for (the
// profile's gap and timeout, or the site's, whichever is larger), so no device is rushed.
struct BusPlan {
  drivers::Transport transport{};
  bool used = false;
  int gap_ms = 0;
  int timeout_ms = 0;
};

}  // namespace

ProfileDevices::ProfileDevices(boost::asio::any_io_executor core, const Clock& clock, const Config& config,
                               const drivers::ProfileCatalog& catalog, const drivers::DeviceEvents& events) {
  std::map<std::string, BusPlan> plans;
  auto plan_bus = [&](const std::string& device, const std::string& bus_id, const drivers::DeviceProfile& p) {
    const auto* bus = config.find_bus(bus_id);
    if (!bus) throw std::runtime_error("device '" + device + "': bus '" + bus_id + "' is not configured in [[modbus.bus]]");
    auto& plan = plans[bus_id];
    const auto t = p.transport == drivers::Transport::dlt645 ? p.transport
                   : bus->transport == ModbusTransport::rtu ? drivers::Transport::modbus_rtu
                                                            : drivers::Transport::modbus_tcp;
    if (plan.used && (plan.transport == drivers::Transport::dlt645) != (t == drivers::Transport::dlt645))
      throw std::runtime_error("bus '" + bus_id + "' carries both Modbus and DL/T 645 devices ('" + device +
                               "'); put them on separate buses");
    plan.used = true;
    plan.transport = t;
    plan.gap_ms = std::max({plan.gap_ms, bus->inter_request_gap_ms, p.modbus.inter_request_gap_ms});
    plan.timeout_ms = std::max({plan.timeout_ms, bus->timeout_ms, p.modbus.response_timeout_ms});
  };
  // MQTT profile chargers go through the broker (MqttDevices::add_profile_charger), not a bus.
  for (const auto& c : config.chargers)
    if (c.driver == DriverKind::profile && catalog.at(c.profile).transport != drivers::Transport::mqtt)
      plan_bus(c.id, c.bus, catalog.at(c.profile));
  for (const auto& m : config.meters)
    if (m.driver == DriverKind::profile) plan_bus(m.id, m.bus, catalog.at(m.profile));

  for (const auto& [bus_id, plan] : plans) {
    const auto& bus = *config.find_bus(bus_id);
    const drivers::SerialSettings serial{bus.baud, bus.parity, bus.data_bits, bus.stop_bits};
    if (plan.transport == drivers::Transport::dlt645) {
      drivers::dlt645::BusEndpoint ep;
      if (bus.transport == ModbusTransport::tcp) {
        ep.host = bus.host;
        ep.port = bus.port;
      } else {
        ep.serial_port = bus.device;
        ep.serial = serial;
      }
      ep.inter_request_gap = milliseconds(plan.gap_ms);
      ep.response_timeout = milliseconds(plan.timeout_ms);
      dlt645_buses_.emplace(bus_id, std::make_unique<drivers::dlt645::Dlt645Bus>(ep));
      continue;
    }
    drivers::ModbusSettings settings;
    settings.serial = serial;
    settings.inter_request_gap_ms = plan.gap_ms;
    settings.response_timeout_ms = plan.timeout_ms;
    auto ep = bus.transport == ModbusTransport::tcp ? drivers::ModbusEndpoint::tcp(bus.host, bus.port, settings)
                                                    : drivers::ModbusEndpoint::rtu(bus.device, settings);
    modbus_buses_.emplace(bus_id, std::make_unique<drivers::ModbusBusWorker>(ep));
  }

  auto options = [&](const std::string& id, int unit_id, const std::string& bus_id, int poll_ms) {
    drivers::ModbusDeviceOptions o;
    o.id = id;
    o.unit_id = unit_id;
    o.retries = config.find_bus(bus_id)->retries;
    o.poll_interval = milliseconds(poll_ms);
    o.failsafe_timeout = seconds(config.control.failsafe_timeout_s);
    return o;
  };
  for (const auto& c : config.chargers) {
    if (c.driver != DriverKind::profile) continue;
    const auto& profile = catalog.at(c.profile);
    if (profile.transport == drivers::Transport::mqtt) continue;  // the Gateway adds it to MqttDevices
    if (!is_modbus(profile.transport))
      throw std::runtime_error("charger '" + c.id + "': profile '" + c.profile + "' speaks " +
                               drivers::to_string(profile.transport) + ", which has no charger driver yet");
    auto o = options(c.id, c.unit_id, c.bus, c.poll_interval_ms);
    o.failsafe_current_a = c.failsafe_current_a;
    chargers_.emplace(c.id, std::make_shared<drivers::ModbusCharger>(o, profile, *modbus_buses_.at(c.bus), core,
                                                                     events, clock));
  }
  for (const auto& m : config.meters) {
    if (m.driver != DriverKind::profile) continue;
    const auto& profile = catalog.at(m.profile);
    if (profile.transport == drivers::Transport::dlt645) {
      drivers::dlt645::Dlt645MeterOptions o{m.id, m.address, milliseconds(m.poll_interval_ms)};
      dlt645_meters_.push_back(
          std::make_shared<drivers::dlt645::Dlt645Meter>(o, profile, *dlt645_buses_.at(m.bus), core, events, clock));
    } else if (is_modbus(profile.transport)) {
      modbus_meters_.push_back(std::make_shared<drivers::ModbusMeter>(options(m.id, m.unit_id, m.bus, m.poll_interval_ms),
                                                                      profile, *modbus_buses_.at(m.bus), core, events, clock));
    } else {
      throw std::runtime_error("meter '" + m.id + "': profile '" + m.profile + "' speaks " +
                               drivers::to_string(profile.transport) + ", which has no meter driver yet");
    }
  }
}

ProfileDevices::~ProfileDevices() { stop(); }

void ProfileDevices::start() {
  if (running_) return;
  running_ = true;
  for (auto& [id, c] : chargers_) c->start();
  for (auto& m : modbus_meters_) m->start();
  for (auto& m : dlt645_meters_) m->start();
  if (!modbus_buses_.empty() || !dlt645_buses_.empty())
    spdlog::info("profile devices started buses={} chargers={} meters={}", modbus_buses_.size() + dlt645_buses_.size(),
                 chargers_.size(), modbus_meters_.size() + dlt645_meters_.size());
}

void ProfileDevices::stop() {
  if (!running_) return;
  running_ = false;
  for (auto& [id, c] : chargers_) c->stop();
  for (auto& m : modbus_meters_) m->stop();
  for (auto& m : dlt645_meters_) m->stop();
  for (auto& [id, b] : modbus_buses_) b->stop();
}

std::shared_ptr<drivers::ChargerDriver> ProfileDevices::charger(const std::string& id) const {
  auto it = chargers_.find(id);
  return it == chargers_.end() ? nullptr : it->second;
}

}  // namespace orderly::gateway
