#pragma once
// A Modbus TCP device simulator for the demo and the tests: a libmodbus server on its own thread
// that serves any profile's register map, one device per unit id (like an RS-485 gateway with
// several devices behind it), with a small physical model and fault injection. A profile's
// points on units of their own (`unit_id` per point) are served from the same register map at
// those units.
//
// Model: a charger draws min(limit, car maximum) on its phases when a car is plugged and the
// limit is at least 6 A (IEC 61851), energy integrates over the injected Clock; a charger whose
// failsafe timeout register is set falls back to its failsafe current when nothing is written
// for that long. A meter reports the power it is told, split evenly over its phases.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/profile.hpp"

namespace orderly::sim {

struct SimRequest {
  int unit_id = 0;
  int function = 0;
  std::uint16_t address = 0;
  std::uint16_t count = 0;
  std::chrono::steady_clock::time_point received{};
  std::chrono::steady_clock::time_point replied{};   // == received when not answered
  bool answered = false;
};

class ModbusSimServer {
 public:
  // port 0 = any free loopback port (see port()).
  explicit ModbusSimServer(const Clock& clock, std::uint16_t port = 0);
  ~ModbusSimServer();
  ModbusSimServer(const ModbusSimServer&) = delete;
  ModbusSimServer& operator=(const ModbusSimServer&) = delete;

  void add_device(int unit_id, const drivers::DeviceProfile& profile);
  void start();  // listens on 127.0.0.1 and serves on its own thread
  void stop();
  std::uint16_t port() const;

  // Physical model.
  void plug_car(int unit_id, double car_max_current_a);
  void unplug_car(int unit_id);
  void set_meter_power(int unit_id, double power_w);
  void set_voltage(int unit_id, double voltage_v);

  // Faults.
  void set_no_answer(int unit_id, bool on);            // receive, never reply (a timeout)
  void set_exception(int unit_id, int code);           // 0 = off; e.g. 2 illegal data address
  void set_garbage(int unit_id, bool on);              // NaN floats, all-ones integers
  void set_ignore_limits(int unit_id, bool on);        // draws the car's maximum whatever the limit
  // The point holds its first sentinel (e.g. NaN): the device's "not available".
  void set_not_available(int unit_id, const std::string& point, bool on);
  // Answers requests to unit ids without a device with this exception, as an RS-485 gateway
  // does (11 = gateway target device failed to respond); 0 = no answer at all (the default).
  void set_unknown_unit_exception(int code);
  void set_refuse_connections(bool on);                // accept and close at once
  void disconnect_clients();                           // drop every open connection now

  // Inspection.
  double point_value(int unit_id, const std::string& name) const;  // NaN if the profile lacks it
  double drawn_current_a(int unit_id) const;
  std::vector<SimRequest> request_log() const;
  void clear_log();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::sim
