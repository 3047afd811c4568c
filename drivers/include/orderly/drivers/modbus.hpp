#pragma once
// Modbus TCP/RTU drivers. libmodbus is blocking, so every bus (one RS-485 port, or one Modbus
// TCP host, which may be an RS-485 gateway with many unit ids behind it) gets one worker thread
// that owns the modbus_t and runs requests strictly one after another, with the bus's
// inter-request gap between them. Devices on the bus take turns (round robin), commands go
// before polls, and a device that stops answering is polled less often and without retries so
// it cannot starve the others. Results reach the core only through boost::asio::post.
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/drivers/profile.hpp"

namespace orderly::drivers {

struct ModbusEndpoint {
  Transport transport = Transport::modbus_tcp;  // modbus_tcp or modbus_rtu
  std::string host = "127.0.0.1";               // TCP
  int port = 502;                               // TCP
  std::string serial_port;                      // RTU, e.g. /dev/ttyS1
  SerialSettings serial;                        // RTU
  std::chrono::milliseconds inter_request_gap{20};
  std::chrono::milliseconds response_timeout{1000};
  std::string describe() const;                 // "tcp 127.0.0.1:502" / "rtu /dev/ttyS1 9600 8E1"

  // A TCP host or a serial port named in the site config, with the timing `s` asks for.
  static ModbusEndpoint tcp(const std::string& host, int port, const ModbusSettings& s);
  static ModbusEndpoint rtu(const std::string& serial_port, const SerialSettings& serial, const ModbusSettings& s);
};

enum class ModbusErrorKind { none, timeout, exception, connection, invalid };

struct ModbusResult {
  ModbusErrorKind error = ModbusErrorKind::none;
  int exception_code = 0;
  std::string message;                 // libmodbus's words for the error
  std::vector<std::uint16_t> registers;
  bool ok() const { return error == ModbusErrorKind::none; }
};

// The bus as seen from inside the worker thread; only valid during a task or a poll.
class ModbusLink {
 public:
  virtual ~ModbusLink() = default;
  virtual ModbusResult read(int unit_id, int function, std::uint16_t address, std::uint16_t count,
                            int retries) = 0;
  virtual ModbusResult write(int unit_id, int function, std::uint16_t address,
                             const std::vector<std::uint16_t>& words, int retries) = 0;
};

class ModbusBusWorker {
 public:
  using Task = std::function<void(ModbusLink&)>;
  // Called on the worker when the device's turn comes; returns the delay to its next turn.
  using Poll = std::function<std::chrono::steady_clock::duration(ModbusLink&)>;

  explicit ModbusBusWorker(ModbusEndpoint endpoint);
  ~ModbusBusWorker();  // stops and joins the thread
  ModbusBusWorker(const ModbusBusWorker&) = delete;
  ModbusBusWorker& operator=(const ModbusBusWorker&) = delete;

  const ModbusEndpoint& endpoint() const;
  int add_poller(Poll poll);           // first turn as soon as possible
  void remove_poller(int id);          // after return the poll is never started again
  void submit(Task task);              // runs before any further poll
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Per-device settings from the site configuration.
struct ModbusDeviceOptions {
  std::string id;
  std::optional<int> unit_id;                           // overrides the profile's
  std::optional<int> retries;                           // overrides the profile's (bus config)
  std::chrono::milliseconds poll_interval{1000};        // real time between polls
  double failsafe_current_a = 6;                        // written at start where supported
  std::chrono::seconds failsafe_timeout{60};            // device-side communication timeout;
                                                        // capped at the profile's `max` for it
};

// A charger driven entirely by its profile.
class ModbusCharger final : public ChargerDriver {
 public:
  ModbusCharger(ModbusDeviceOptions options, DeviceProfile profile, ModbusBusWorker& bus,
                boost::asio::any_io_executor core, DeviceEvents events, const Clock& clock);
  ~ModbusCharger() override;

  // Configures the failsafe (where the profile has one) and starts polling.
  void start();
  void stop();

  const std::string& id() const override;
  Capabilities capabilities() const override;
  void apply_limit(const PowerLimit& limit) override;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

class ModbusMeter final : public MeterDriver {
 public:
  ModbusMeter(ModbusDeviceOptions options, DeviceProfile profile, ModbusBusWorker& bus,
              boost::asio::any_io_executor core, DeviceEvents events, const Clock& clock);
  ~ModbusMeter() override;
  void start();
  void stop();
  const std::string& id() const override;

 private:
  std::shared_ptr<ModbusCharger::State> state_;
};

}  // namespace orderly::drivers
