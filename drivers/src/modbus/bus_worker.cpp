#include <modbus/modbus.h>

#include <cerrno>

#include "modbus/bus_thread.hpp"
#include "orderly/drivers/modbus.hpp"

namespace orderly::drivers {

std::string ModbusEndpoint::describe() const {
  if (transport == Transport::modbus_rtu) return "rtu " + serial_port + " " + serial.describe();
  return "tcp " + host + ":" + std::to_string(port);
}

ModbusEndpoint ModbusEndpoint::tcp(const std::string& host, int port, const ModbusSettings& s) {
  ModbusEndpoint e;
  e.transport = Transport::modbus_tcp;
  e.host = host;
  e.port = port;
  e.inter_request_gap = std::chrono::milliseconds(s.inter_request_gap_ms);
  e.response_timeout = std::chrono::milliseconds(s.response_timeout_ms);
  return e;
}

ModbusEndpoint ModbusEndpoint::rtu(const std::string& serial_port, const SerialSettings& serial,
                                   const ModbusSettings& s) {
  ModbusEndpoint e;
  e.transport = Transport::modbus_rtu;
  e.serial_port = serial_port;
  e.serial = serial;
  e.inter_request_gap = std::chrono::milliseconds(s.inter_request_gap_ms);
  e.response_timeout = std::chrono::milliseconds(s.response_timeout_ms);
  return e;
}

namespace {
using Steady = std::chrono::steady_clock;
// A refused or dropped connection is retried at most this often, so a dead TCP host does not
// turn every poll into a connect storm.
constexpr auto kReconnectBackoff = std::chrono::milliseconds(300);
}  // namespace

struct ModbusBusWorker::Impl final : ModbusLink {
  ModbusEndpoint ep;
  detail::BusThread<ModbusLink> thread;

  // Worker-thread only.
  modbus_t* ctx = nullptr;
  bool connected = false;
  Steady::time_point last_end{};
  Steady::time_point next_connect{};

  explicit Impl(ModbusEndpoint e) : ep(std::move(e)) { thread.start(*this); }

  ~Impl() override {
    thread.stop();
    disconnect();
    if (ctx != nullptr) modbus_free(ctx);
  }

  void disconnect() {
    if (ctx != nullptr && connected) modbus_close(ctx);
    connected = false;
  }

  bool ensure_connected(std::string& why) {
    if (connected) return true;
    if (Steady::now() < next_connect) {
      why = "not connected to " + ep.describe() + " (reconnecting)";
      return false;
    }
    next_connect = Steady::now() + kReconnectBackoff;
    if (ctx == nullptr) {
      if (ep.transport == Transport::modbus_rtu)
        ctx = modbus_new_rtu(ep.serial_port.c_str(), ep.serial.baud, ep.serial.parity, ep.serial.data_bits,
                             ep.serial.stop_bits);
      else
        ctx = modbus_new_tcp(ep.host.c_str(), ep.port);
      if (ctx == nullptr) {
        why = std::string("cannot set up ") + ep.describe() + ": " + modbus_strerror(errno);
        return false;
      }
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(ep.response_timeout).count();
      modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(us / 1000000), static_cast<std::uint32_t>(us % 1000000));
    }
    if (modbus_connect(ctx) == -1) {
      why = std::string("cannot connect to ") + ep.describe() + ": " + modbus_strerror(errno);
      return false;
    }
    connected = true;
    return true;
  }


  template <class Op>
  ModbusResult exec(int unit_id, int retries, Op op) {
    ModbusResult r;
    for (int attempt = 0; attempt <= retries; ++attempt) {
      if (!thread.sleep_until(last_end + ep.inter_request_gap)) {
        r.error = ModbusErrorKind::connection;
        r.message = "bus worker stopping";
        return r;
      }
      std::string why;
      if (!ensure_connected(why)) {
        last_end = Steady::now();
        r.error = ModbusErrorKind::connection;
        r.message = why;
        return r;
      }
      if (modbus_set_slave(ctx, unit_id) != 0) {
        // libmodbus 3.1 takes 0-247, and 255 over TCP; asking anyway would go to the last unit.
        r.error = ModbusErrorKind::invalid;
        r.message = "unit id " + std::to_string(unit_id) + " cannot be addressed on this bus (0-247, or 255 over TCP)";
        return r;
      }
      const int rc = op(ctx);
      const int err = errno;
      last_end = Steady::now();
      if (rc >= 0) {
        r.error = ModbusErrorKind::none;
        r.message.clear();
        return r;
      }
      r.message = modbus_strerror(err);
      if (err > MODBUS_ENOBASE && err <= EMBXGTAR) {
        r.error = ModbusErrorKind::exception;
        r.exception_code = err - MODBUS_ENOBASE;
        return r;  // the device answered; asking again gives the same answer
      }
      if (err == ETIMEDOUT) {
        r.error = ModbusErrorKind::timeout;
        // A late answer would otherwise be taken as the reply to the next request.
        if (ep.transport == Transport::modbus_tcp) {
          disconnect();
          next_connect = Steady::now();  // the host answered TCP; only the device was slow
        } else {
          modbus_flush(ctx);
        }
        continue;
      }
      if (err == EMBBADCRC || err == EMBBADDATA || err == EMBBADSLAVE || err == EMBMDATA) {
        r.error = ModbusErrorKind::invalid;
        modbus_flush(ctx);
        continue;
      }
      r.error = ModbusErrorKind::connection;
      disconnect();
    }
    return r;
  }

  ModbusResult read(int unit_id, int function, std::uint16_t address, std::uint16_t count, int retries) override {
    std::vector<std::uint16_t> regs(count, 0);
    std::vector<std::uint8_t> bits(count, 0);
    ModbusResult r = exec(unit_id, retries, [&](modbus_t* c) {
      switch (function) {
        case 1: return modbus_read_bits(c, address, count, bits.data());
        case 2: return modbus_read_input_bits(c, address, count, bits.data());
        case 4: return modbus_read_input_registers(c, address, count, regs.data());
        default: return modbus_read_registers(c, address, count, regs.data());
      }
    });
    if (r.ok()) {
      if (function == 1 || function == 2)
        for (std::size_t i = 0; i < count; ++i) regs[i] = bits[i];
      r.registers = std::move(regs);
    }
    return r;
  }

  ModbusResult write(int unit_id, int function, std::uint16_t address, const std::vector<std::uint16_t>& words,
                     int retries) override {
    return exec(unit_id, retries, [&](modbus_t* c) {
      switch (function) {
        case 5: return modbus_write_bit(c, address, words.empty() || words[0] == 0 ? 0 : 1);
        case 6: return modbus_write_register(c, address, words.empty() ? 0 : words[0]);
        default: return modbus_write_registers(c, address, static_cast<int>(words.size()), words.data());
      }
    });
  }
};

ModbusBusWorker::ModbusBusWorker(ModbusEndpoint endpoint) : impl_(std::make_unique<Impl>(std::move(endpoint))) {}

ModbusBusWorker::~ModbusBusWorker() = default;

const ModbusEndpoint& ModbusBusWorker::endpoint() const { return impl_->ep; }

int ModbusBusWorker::add_poller(Poll poll) { return impl_->thread.add_poller(std::move(poll)); }
void ModbusBusWorker::remove_poller(int id) { impl_->thread.remove_poller(id); }
void ModbusBusWorker::submit(Task task) { impl_->thread.submit(std::move(task)); }
void ModbusBusWorker::stop() { impl_->thread.stop(); }

}  // namespace orderly::drivers
