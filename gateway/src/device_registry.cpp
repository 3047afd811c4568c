#include "device_registry.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/controller.hpp"

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

drivers::MqttOptions mqtt_options(const MqttConfig& c) {
  drivers::MqttOptions o;
  o.host = c.host;
  o.port = static_cast<std::uint16_t>(c.port);
  o.client_id = c.client_id;
  o.username = c.username;
  o.password = c.resolved_password();
  o.topic_prefix = c.topic_prefix;
  o.keepalive = seconds(c.keepalive_s);
  o.tls = c.tls;
  o.ca_file = c.ca_file.string();
  o.cert_file = c.cert_file.string();
  o.key_file = c.key_file.string();
  return o;
}

// The first device that needs a profile, as "charger 'id'"; empty when none does.
std::string first_profile_device(const Config& config) {
  for (const auto& c : config.chargers)
    if (c.driver == DriverKind::profile) return "charger '" + c.id + "'";
  for (const auto& m : config.meters)
    if (m.driver == DriverKind::profile) return "meter '" + m.id + "'";
  return {};
}

drivers::ProfileCatalog load_catalog(const std::filesystem::path& profile_dir, const std::string& device) {
  const auto dir = profile_dir.empty() ? default_profile_dir() : profile_dir;
  if (dir.empty())
    throw std::runtime_error(device + " uses a device profile, but the profiles were not found: install the package "
                             "(/usr/share/orderly/profiles) or set ORDERLY_PROFILE_DIR");
  return drivers::ProfileCatalog::load_dir(dir);
}

const drivers::DeviceProfile& profile_of(const drivers::ProfileCatalog& catalog, const std::string& device,
                                         const std::string& profile) {
  try {
    return catalog.at(profile);
  } catch (const drivers::ProfileError& e) {
    throw std::runtime_error(device + ": " + e.what());
  }
}

drivers::ModbusDeviceOptions modbus_options(const Config& config, const std::string& id, std::optional<int> unit_id,
                                            const std::string& bus_id, int poll_ms) {
  drivers::ModbusDeviceOptions o;
  o.id = id;
  o.unit_id = unit_id;
  o.retries = config.find_bus(bus_id)->retries;
  o.poll_interval = milliseconds(poll_ms);
  o.failsafe_timeout = seconds(config.control.failsafe_timeout_s);
  return o;
}

drivers::ocpp::ChargePointSettings ocpp_settings(const ChargerConfig& c) {
  drivers::ocpp::ChargePointSettings s;
  s.id = c.id;
  s.charge_point_id = c.ocpp_id.empty() ? c.id : c.ocpp_id;
  s.password = c.resolved_ocpp_password();
  s.caps = configured_capabilities(c);
  s.failsafe_current_a = c.failsafe_current_a;
  s.meter_value_interval = seconds(c.ocpp_meter_interval_s);
  s.remote_start_id_tag = c.ocpp_remote_start_id_tag;
  s.connector_id = c.ocpp_connector;
  if (c.ocpp_station_max_power_kw) s.station_max_power_w = *c.ocpp_station_max_power_kw * 1000;
  s.clock_tolerance = seconds(c.ocpp_clock_tolerance_s);
  // Two missed heartbeats (60 s each), or three missed meter values while charging.
  s.silence_timeout = std::max(seconds(150), 3 * s.meter_value_interval);
  return s;
}

}  // namespace

DeviceRegistry::DeviceRegistry(boost::asio::any_io_executor core, const Clock& clock, const Config& config,
                               const std::filesystem::path& profile_dir, drivers::DeviceEvents events)
    : mqtt_(std::make_unique<drivers::MqttDevices>(core, clock, mqtt_options(config.mqtt), events)) {
  // The drivers copy what they need from their profile, so the catalog lives only this long.
  std::optional<drivers::ProfileCatalog> catalog;
  if (const std::string device = first_profile_device(config); !device.empty()) {
    catalog = load_catalog(profile_dir, device);
    open_buses(config, *catalog);
  }

  for (const auto& c : config.chargers) {
    const std::string device = "charger '" + c.id + "'";
    std::shared_ptr<drivers::ChargerDriver> driver;
    if (c.driver == DriverKind::ocpp) {
      if (!ocpp_) ocpp_ = std::make_unique<drivers::ocpp::CentralSystem>(core, clock, drivers::ocpp::CentralSystemOptions{}, events);
      driver = ocpp_->add_charger(ocpp_settings(c));
    } else if (c.driver == DriverKind::mqtt) {
      driver = mqtt_->add_charger(c.id, configured_capabilities(c),
                                  drivers::FailsafeSettings{c.failsafe_current_a, seconds(c.failsafe_timeout_s)});
    } else {
      const auto& profile = profile_of(*catalog, device, c.profile);
      if (profile.transport == drivers::Transport::mqtt) {
        driver = mqtt_->add_profile_charger(c.id, profile, c.mqtt_base_topic, configured_capabilities(c));
      } else if (is_modbus(profile.transport)) {
        auto o = modbus_options(config, c.id, c.unit_id, c.bus, c.poll_interval_ms);
        o.failsafe_current_a = c.failsafe_current_a;
        o.failsafe_timeout = seconds(c.failsafe_timeout_s);
        auto modbus = std::make_shared<drivers::ModbusCharger>(o, profile, *modbus_buses_.at(c.bus), core, events, clock);
        modbus_chargers_.push_back(modbus);
        driver = modbus;
      } else {
        throw std::runtime_error(device + ": profile '" + c.profile + "' speaks " + drivers::to_string(profile.transport) +
                                 ", which has no charger driver yet");
      }
    }
    if (!driver->capabilities().failsafe)
      spdlog::warn("charger has no failsafe; counted at its maximum power whenever it cannot be reached charger={}", c.id);
    chargers_.emplace(c.id, std::move(driver));
  }

  for (const auto& m : config.meters) {
    if (m.driver == DriverKind::mqtt) {
      mqtt_->add_meter(m.id);
      continue;
    }
    const auto& profile = profile_of(*catalog, "meter '" + m.id + "'", m.profile);
    if (profile.transport == drivers::Transport::dlt645) {
      drivers::dlt645::Dlt645MeterOptions o{m.id, m.address, milliseconds(m.poll_interval_ms)};
      dlt645_meters_.push_back(
          std::make_shared<drivers::dlt645::Dlt645Meter>(o, profile, *dlt645_buses_.at(m.bus), core, events, clock));
    } else if (is_modbus(profile.transport)) {
      modbus_meters_.push_back(std::make_shared<drivers::ModbusMeter>(
          modbus_options(config, m.id, m.unit_id, m.bus, m.poll_interval_ms), profile, *modbus_buses_.at(m.bus), core,
          events, clock));
    } else {
      throw std::runtime_error("meter '" + m.id + "': profile '" + m.profile + "' speaks " +
                               drivers::to_string(profile.transport) + ", which has no meter driver yet");
    }
  }
}

DeviceRegistry::DeviceRegistry(std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> chargers)
    : chargers_(std::move(chargers)) {}

DeviceRegistry::~DeviceRegistry() { stop(); }

void DeviceRegistry::open_buses(const Config& config, const drivers::ProfileCatalog& catalog) {
  std::map<std::string, BusPlan> plans;
  auto plan_bus = [&](const std::string& device, const std::string& bus_id, const drivers::DeviceProfile& p) {
    const auto* bus = config.find_bus(bus_id);
    if (!bus) throw std::runtime_error(device + ": bus '" + bus_id + "' is not configured in [[modbus.bus]]");
    auto& plan = plans[bus_id];
    const auto t = p.transport == drivers::Transport::dlt645 ? p.transport
                   : bus->transport == ModbusTransport::rtu ? drivers::Transport::modbus_rtu
                                                            : drivers::Transport::modbus_tcp;
    if (plan.used && (plan.transport == drivers::Transport::dlt645) != (t == drivers::Transport::dlt645))
      throw std::runtime_error("bus '" + bus_id + "' carries both Modbus and DL/T 645 devices (" + device +
                               "); put them on separate buses");
    plan.used = true;
    plan.transport = t;
    plan.gap_ms = std::max({plan.gap_ms, bus->inter_request_gap_ms, p.modbus.inter_request_gap_ms});
    plan.timeout_ms = std::max({plan.timeout_ms, bus->timeout_ms, p.modbus.response_timeout_ms});
  };
  // MQTT profile chargers go through the broker, not a bus.
  for (const auto& c : config.chargers) {
    if (c.driver != DriverKind::profile) continue;
    const std::string device = "charger '" + c.id + "'";
    const auto& profile = profile_of(catalog, device, c.profile);
    if (profile.transport != drivers::Transport::mqtt) plan_bus(device, c.bus, profile);
  }
  for (const auto& m : config.meters) {
    if (m.driver != DriverKind::profile) continue;
    const std::string device = "meter '" + m.id + "'";
    plan_bus(device, m.bus, profile_of(catalog, device, m.profile));
  }

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
    settings.inter_request_gap_ms = plan.gap_ms;
    settings.response_timeout_ms = plan.timeout_ms;
    auto ep = bus.transport == ModbusTransport::tcp ? drivers::ModbusEndpoint::tcp(bus.host, bus.port, settings)
                                                    : drivers::ModbusEndpoint::rtu(bus.device, serial, settings);
    modbus_buses_.emplace(bus_id, std::make_unique<drivers::ModbusBusWorker>(ep));
  }
}

void DeviceRegistry::start() {
  if (running_) return;
  running_ = true;
  if (mqtt_) mqtt_->start();
  for (auto& c : modbus_chargers_) c->start();
  for (auto& m : modbus_meters_) m->start();
  for (auto& m : dlt645_meters_) m->start();
  if (!modbus_buses_.empty() || !dlt645_buses_.empty())
    spdlog::info("profile devices started buses={} chargers={} meters={}", modbus_buses_.size() + dlt645_buses_.size(),
                 modbus_chargers_.size(), modbus_meters_.size() + dlt645_meters_.size());
}

void DeviceRegistry::stop() {
  if (!running_) return;
  running_ = false;
  for (auto& c : modbus_chargers_) c->stop();
  for (auto& m : modbus_meters_) m->stop();
  for (auto& m : dlt645_meters_) m->stop();
  for (auto& [id, b] : modbus_buses_) b->stop();
  if (mqtt_) mqtt_->stop();
  if (ocpp_) ocpp_->stop();
}

std::shared_ptr<drivers::ChargerDriver> DeviceRegistry::charger(const std::string& id) const {
  auto it = chargers_.find(id);
  return it == chargers_.end() ? nullptr : it->second;
}

}  // namespace orderly::gateway
