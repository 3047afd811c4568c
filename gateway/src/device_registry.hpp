#pragma once
// Every configured charger and meter, built from the site configuration in one place: native and
// profile MQTT devices on one MqttDevices connection, Modbus TCP/RTU and DL/T 645 devices on one
// worker per [[modbus.bus]], OCPP piles on one local central system (their WebSocket is the web
// server's, wired in gateway/src/ocpp_channel.cpp). Adding a charger model needs a profile file and a [[charger]] entry,
// no code. Drivers report through the DeviceEvents they are given; the registry only owns them.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/drivers/dlt645.hpp"
#include "orderly/drivers/modbus.hpp"
#include "orderly/drivers/mqtt.hpp"
#include "orderly/drivers/ocpp.hpp"
#include "orderly/gateway/config.hpp"

namespace orderly::gateway {

class DeviceRegistry {
 public:
  // Builds every configured device, starts nothing. Loads the profile catalog from `profile_dir`
  // (empty = default_profile_dir()) only when some device uses a profile. Throws
  // std::runtime_error naming the device or bus: profiles missing, an unknown profile, a bus
  // asked to carry two protocols, a transport with no driver (config validation normally catches
  // these first).
  DeviceRegistry(boost::asio::any_io_executor core, const Clock& clock, const Config& config,
                 const std::filesystem::path& profile_dir, drivers::DeviceEvents events);
  // Tests: exactly these charger drivers, nothing connected.
  explicit DeviceRegistry(std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> chargers);
  // Destroy on the core thread or after the io_context has stopped (MqttDevices posts to it).
  ~DeviceRegistry();
  DeviceRegistry(const DeviceRegistry&) = delete;
  DeviceRegistry& operator=(const DeviceRegistry&) = delete;

  // Connects MQTT, configures failsafes and starts polling. Idempotent.
  void start();
  // Stops polling, joins the bus threads, disconnects MQTT. Idempotent.
  void stop();

  // The driver of a configured charger; null when there is none.
  std::shared_ptr<drivers::ChargerDriver> charger(const std::string& id) const;
  // The OCPP central system; null when no charger uses driver = "ocpp".
  drivers::ocpp::CentralSystem* ocpp() const { return ocpp_.get(); }

 private:
  void open_buses(const Config& config, const drivers::ProfileCatalog& catalog);

  std::unique_ptr<drivers::MqttDevices> mqtt_;
  std::unique_ptr<drivers::ocpp::CentralSystem> ocpp_;
  // Before the devices that poll on them, so the devices are destroyed first.
  std::map<std::string, std::unique_ptr<drivers::ModbusBusWorker>> modbus_buses_;
  std::map<std::string, std::unique_ptr<drivers::dlt645::Dlt645Bus>> dlt645_buses_;
  std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> chargers_;
  std::vector<std::shared_ptr<drivers::ModbusCharger>> modbus_chargers_;
  std::vector<std::shared_ptr<drivers::ModbusMeter>> modbus_meters_;
  std::vector<std::shared_ptr<drivers::dlt645::Dlt645Meter>> dlt645_meters_;
  bool running_ = false;
};

}  // namespace orderly::gateway
