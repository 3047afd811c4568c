#pragma once
// The devices described by profile files (Modbus TCP/RTU and DL/T 645), created from the site
// configuration: one worker per configured bus, one driver per device. Adding a charger model
// needs a profile file and a [[charger]] entry, no code.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/drivers/dlt645.hpp"
#include "orderly/drivers/modbus.hpp"
#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/config.hpp"

namespace orderly::gateway {

class ProfileDevices {
 public:
  // Throws std::runtime_error naming the device or bus when a profile is unknown or a bus is
  // asked to carry two protocols (config validation normally catches these first).
  ProfileDevices(boost::asio::any_io_executor core, const Clock& clock, const Config& config,
                 const drivers::ProfileCatalog& catalog, const drivers::DeviceEvents& events);
  ~ProfileDevices();
  ProfileDevices(const ProfileDevices&) = delete;
  ProfileDevices& operator=(const ProfileDevices&) = delete;

  // Configures failsafes and starts polling.
  void start();
  // Stops polling and joins the bus threads. Idempotent.
  void stop();

  // The driver for a profile charger; null for chargers of other drivers.
  std::shared_ptr<drivers::ChargerDriver> charger(const std::string& id) const;

 private:
  std::map<std::string, std::unique_ptr<drivers::ModbusBusWorker>> modbus_buses_;
  std::map<std::string, std::unique_ptr<drivers::dlt645::Dlt645Bus>> dlt645_buses_;
  std::map<std::string, std::shared_ptr<drivers::ModbusCharger>> chargers_;
  std::vector<std::shared_ptr<drivers::ModbusMeter>> modbus_meters_;
  std::vector<std::shared_ptr<drivers::dlt645::Dlt645Meter>> dlt645_meters_;
  bool running_ = false;
};

}  // namespace orderly::gateway
