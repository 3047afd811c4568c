#include "orderly/sim/modbus_sim.hpp"

#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "orderly/base/units.hpp"

namespace orderly::sim {

// The simulators serve the drivers' own profile formats and codecs.
using namespace orderly::drivers;

namespace {
using Steady = std::chrono::steady_clock;
constexpr std::size_t kMaxLog = 20000;

struct Range {
  int lo = 0x10000, hi = -1;  // [lo, hi] inclusive
  void add(int a, int n) {
    lo = std::min(lo, a);
    hi = std::max(hi, a + n - 1);
  }
  int start() const { return hi < 0 ? 0 : lo; }
  int size() const { return hi < 0 ? 0 : hi - lo + 1; }
};

struct Device {
  DeviceProfile profile;
  modbus_mapping_t* map = nullptr;
  bool charger = false;
  bool plugged = false;
  double car_max_a = 16;
  double meter_power_w = 0;
  double voltage_v = kNominalPhaseVoltageV;
  double total_wh = 1000;
  double session_wh = 0;
  double import_wh = 1000;
  double export_wh = 0;
  double drawn_a = 0;
  // Monotonic, as a pile's own timer: a wall step on the gateway's box is no time passing here.
  MonoPoint last_update{};
  MonoPoint last_write{};
  bool no_answer = false, garbage = false, ignore_limits = false;
  int exception = 0;
  std::vector<std::string> not_available;  // points held at their first sentinel

  ~Device() {
    if (map != nullptr) modbus_mapping_free(map);
  }

  std::uint16_t* words(const PointDef& p, std::uint16_t address) const {
    switch (p.table) {
      case RegisterTable::holding:
        return map->tab_registers + (address - map->start_registers);
      case RegisterTable::input:
        return map->tab_input_registers + (address - map->start_input_registers);
      default: return nullptr;
    }
  }

  void set_words(const PointDef& p, const std::vector<std::uint16_t>& w) {
    if (p.table == RegisterTable::coil) {
      map->tab_bits[p.address - map->start_bits] = w.empty() || w[0] == 0 ? 0 : 1;
    } else if (p.table == RegisterTable::discrete_input) {
      map->tab_input_bits[p.address - map->start_input_bits] = w.empty() || w[0] == 0 ? 0 : 1;
    } else {
      std::uint16_t* dst = words(p, p.address);
      for (std::size_t i = 0; i < w.size(); ++i) dst[i] = w[i];
    }
  }

  void set(const std::string& name, double value) {
    const PointDef* p = profile.point(name);
    if (p == nullptr || p->type == ValueType::string) return;
    set_words(*p, encode_raw(*p, engineering_to_raw(*p, value)));
  }

  double get(const std::string& name) const {
    const PointDef* p = profile.point(name);
    if (p == nullptr || p->type == ValueType::string) return std::nan("");
    std::vector<std::uint16_t> w(p->register_count(), 0);
    if (p->table == RegisterTable::coil) w[0] = map->tab_bits[p->address - map->start_bits];
    else if (p->table == RegisterTable::discrete_input) w[0] = map->tab_input_bits[p->address - map->start_input_bits];
    else {
      const std::uint16_t* src = words(*p, p->address);
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = src[i];
    }
    return raw_to_engineering(*p, decode_raw(*p, w));
  }

  void set_word(const std::string& point, const std::string& word) {
    const PointDef* p = profile.point(point);
    if (p == nullptr) return;
    if (p->type == ValueType::string) {
      std::string text = word;
      for (const auto& [t, w] : p->text_map)
        if (w == word) text = t;
      set_words(*p, encode_string(*p, text));
      return;
    }
    for (const auto& [raw, w] : p->value_map)
      if (w == word) {
        set(point, static_cast<double>(raw));
        return;
      }
  }

  bool has(const std::string& name) const { return profile.point(name) != nullptr; }

  void update(MonoPoint now) {
    const double hours = std::chrono::duration<double, std::ratio<3600>>(now - last_update).count();
    last_update = now;
    const int phases = profile.capabilities.phases;
    if (garbage) {
      for (const auto& [name, p] : profile.points) {
        if (!p.readable || p.type == ValueType::string) continue;
        std::vector<std::uint16_t> w(p.register_count(), 0xFFFF);
        if (p.type == ValueType::float32) w = encode_raw(p, std::nan(""));
        if (p.type == ValueType::float64) w = encode_raw(p, std::nan(""));
        if (p.table == RegisterTable::coil || p.table == RegisterTable::discrete_input) continue;
        set_words(p, w);
      }
      return;
    }
    if (charger) {
      double limit = has("set_current_a") ? get("set_current_a") : car_max_a;
      if (has("enable") && profile.control.pause == PauseMethod::enable_register &&
          std::llround(get("enable")) == std::llround(profile.control.enable_off))
        limit = 0;
      const double timeout_s = has("failsafe_timeout_s") ? get("failsafe_timeout_s") : 0;
      if (timeout_s > 0 && now - last_write > std::chrono::duration<double>(timeout_s))
        limit = has("failsafe_current_a") ? get("failsafe_current_a") : 0;
      if (ignore_limits) limit = car_max_a;
      double current = plugged ? std::min(limit, car_max_a) : 0;
      if (current < 6) current = 0;  // IEC 61851: no PWM duty cycle below 6 A
      session_wh += drawn_a * voltage_v * phases * hours;
      total_wh += drawn_a * voltage_v * phases * hours;
      drawn_a = current;
      const double power = current * voltage_v * phases;
      set("power_w", power);
      for (int i = 1; i <= 3; ++i) {
        set("current_l" + std::to_string(i) + "_a", i <= phases ? current : 0);
        set("voltage_l" + std::to_string(i) + "_v", voltage_v);
      }
      set("session_energy_wh", session_wh);
      set("total_energy_wh", total_wh);
      if (has("applied_current_a") && profile.point("applied_current_a")->address != profile.point("set_current_a")->address)
        set("applied_current_a", std::max(0.0, ignore_limits ? car_max_a : limit));
      set_word("state", !plugged ? "unplugged" : current > 0 ? "charging" : "plugged");
      set_word("plug", plugged ? "plugged" : "unplugged");
    } else {
      if (meter_power_w >= 0) import_wh += meter_power_w * hours;
      else export_wh += -meter_power_w * hours;
      set("power_w", meter_power_w);
      for (int i = 1; i <= 3; ++i) {
        const bool on = i <= phases;
        set("power_l" + std::to_string(i) + "_w", on ? meter_power_w / phases : 0);
        set("current_l" + std::to_string(i) + "_a", on ? std::abs(meter_power_w) / phases / voltage_v : 0);
        set("voltage_l" + std::to_string(i) + "_v", voltage_v);
      }
      set("import_energy_wh", import_wh);
      set("export_energy_wh", export_wh);
    }
    for (const auto& name : not_available) {
      const PointDef* p = profile.point(name);
      if (p != nullptr && !p->sentinels.empty()) set_words(*p, encode_raw(*p, p->sentinels.front()));
    }
  }
};

}  // namespace

struct ModbusSimServer::Impl {
  const Clock& clock;
  std::uint16_t port;
  mutable std::mutex m;
  // A device whose profile puts points on units of their own (a station unit) is found at each.
  std::map<int, std::shared_ptr<Device>> devices;
  int unknown_unit_exception = 0;
  std::vector<SimRequest> log;
  bool refuse = false;
  bool drop_clients = false;
  std::atomic<bool> stopping{false};
  std::thread thread;
  modbus_t* ctx = nullptr;
  int server_fd = -1;

  Impl(const Clock& c, std::uint16_t p) : clock(c), port(p) {}

  ~Impl() { stop(); }

  void stop() {
    stopping = true;
    if (thread.joinable()) thread.join();
    if (server_fd >= 0) ::close(server_fd);
    server_fd = -1;
    if (ctx != nullptr) modbus_free(ctx);
    ctx = nullptr;
  }

  // Brings the model up to now, applies the change, and lets it take effect at once.
  template <class F>
  void change(int unit, F f) {
    std::lock_guard lk(m);
    Device& d = dev(unit);
    d.update(clock.monotonic());
    f(d);
    d.update(clock.monotonic());
  }

  Device& dev(int unit) const {
    auto it = devices.find(unit);
    if (it == devices.end()) throw std::invalid_argument("simulator has no device at unit id " + std::to_string(unit));
    return *it->second;
  }

  void start() {
    ctx = modbus_new_tcp("127.0.0.1", port);
    if (ctx == nullptr) throw std::runtime_error("modbus simulator: cannot create server context");
    server_fd = modbus_tcp_listen(ctx, 16);
    if (server_fd < 0)
      throw std::runtime_error("modbus simulator: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                               modbus_strerror(errno));
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(server_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    thread = std::thread([this] { run(); });
  }

  void run() {
    std::vector<int> clients;
    std::vector<std::uint8_t> query(MODBUS_TCP_MAX_ADU_LENGTH);
    while (!stopping) {
      {
        std::lock_guard lk(m);
        if (drop_clients) {
          for (int fd : clients) ::close(fd);
          clients.clear();
          drop_clients = false;
        }
      }
      fd_set rd;
      FD_ZERO(&rd);
      FD_SET(server_fd, &rd);
      int maxfd = server_fd;
      for (int fd : clients) {
        FD_SET(fd, &rd);
        maxfd = std::max(maxfd, fd);
      }
      timeval tv{0, 20000};
      if (::select(maxfd + 1, &rd, nullptr, nullptr, &tv) <= 0) continue;
      if (FD_ISSET(server_fd, &rd)) {
        int fd = ::accept(server_fd, nullptr, nullptr);
        if (fd >= 0) {
          std::lock_guard lk(m);
          if (refuse) ::close(fd); else clients.push_back(fd);
        }
      }
      for (auto it = clients.begin(); it != clients.end();) {
        if (!FD_ISSET(*it, &rd)) {
          ++it;
          continue;
        }
        modbus_set_socket(ctx, *it);
        const int rc = modbus_receive(ctx, query.data());
        if (rc < 0) {
          ::close(*it);
          it = clients.erase(it);
          continue;
        }
        if (rc > 0) serve(query.data(), rc);
        ++it;
      }
    }
    for (int fd : clients) ::close(fd);
  }

  void serve(const std::uint8_t* q, int len) {
    const int header = modbus_get_header_length(ctx);
    SimRequest r;
    r.received = Steady::now();
    r.unit_id = q[header - 1];
    r.function = q[header];
    r.address = static_cast<std::uint16_t>((q[header + 1] << 8) | q[header + 2]);
    r.count = (r.function == 5 || r.function == 6) ? 1 : static_cast<std::uint16_t>((q[header + 3] << 8) | q[header + 4]);
    std::lock_guard lk(m);
    auto it = devices.find(r.unit_id);
    if (it != devices.end() && !it->second->no_answer) {
      Device& d = *it->second;
      d.update(clock.monotonic());
      // Stamped before the reply leaves: the client can only see it after this instant, so the
      // log's gap (next received - replied) never over-states the gap the driver kept.
      r.replied = Steady::now();
      if (d.exception != 0) {
        modbus_reply_exception(ctx, q, static_cast<unsigned>(d.exception));
      } else {
        modbus_reply(ctx, q, len, d.map);
        // Heidelberg-style watchdogs count any request; the others only writes.
        const bool any_request_counts = d.profile.failsafe.keepalive == Keepalive::poll;
        if (any_request_counts || r.function == 5 || r.function == 6 || r.function == 15 || r.function == 16) {
          d.last_write = clock.monotonic();
          d.update(clock.monotonic());  // a new limit takes effect at once
        }
      }
      r.answered = true;
    } else if (it == devices.end() && unknown_unit_exception != 0) {
      r.replied = Steady::now();
      modbus_reply_exception(ctx, q, static_cast<unsigned>(unknown_unit_exception));
      r.answered = true;
    } else {
      r.replied = r.received;
    }
    if (log.size() < kMaxLog) log.push_back(r);
  }
};

ModbusSimServer::ModbusSimServer(const Clock& clock, std::uint16_t port) : impl_(std::make_unique<Impl>(clock, port)) {}
ModbusSimServer::~ModbusSimServer() { impl_->stop(); }

void ModbusSimServer::add_device(int unit_id, const DeviceProfile& profile) {
  auto d = std::make_shared<Device>();
  d->profile = profile;
  d->charger = profile.kind == DeviceKind::charger;
  Range bits, in_bits, regs, in_regs;
  for (const auto& [name, p] : profile.points) {
    switch (p.table) {
      case RegisterTable::coil: bits.add(p.address, 1); break;
      case RegisterTable::discrete_input: in_bits.add(p.address, 1); break;
      case RegisterTable::holding: regs.add(p.address, p.register_count()); break;
      case RegisterTable::input: in_regs.add(p.address, p.register_count()); break;
    }
  }
  d->map = modbus_mapping_new_start_address(
      static_cast<unsigned>(bits.start()), static_cast<unsigned>(bits.size()), static_cast<unsigned>(in_bits.start()),
      static_cast<unsigned>(in_bits.size()), static_cast<unsigned>(regs.start()), static_cast<unsigned>(regs.size()),
      static_cast<unsigned>(in_regs.start()), static_cast<unsigned>(in_regs.size()));
  if (d->map == nullptr) throw std::runtime_error("modbus simulator: cannot allocate the register map");
  const MonoPoint now = impl_->clock.monotonic();
  d->last_update = now;
  d->last_write = now;
  if (d->charger) d->set("set_current_a", profile.capabilities.max_current_a);
  if (d->charger && profile.control.pause == PauseMethod::enable_register) d->set("enable", profile.control.enable_on);
  d->update(now);
  std::lock_guard lk(impl_->m);
  for (const auto& [name, p] : profile.points) {
    if (!p.unit_id || *p.unit_id == unit_id) continue;
    if (auto other = impl_->devices.find(*p.unit_id); other != impl_->devices.end() && other->second != d)
      throw std::invalid_argument("simulator: unit id " + std::to_string(*p.unit_id) + " of point " + name +
                                  " is taken by another device");
    impl_->devices[*p.unit_id] = d;
  }
  impl_->devices[unit_id] = std::move(d);
}

void ModbusSimServer::start() { impl_->start(); }
void ModbusSimServer::stop() { impl_->stop(); }
std::uint16_t ModbusSimServer::port() const { return impl_->port; }

void ModbusSimServer::plug_car(int unit_id, double car_max_current_a) {
  impl_->change(unit_id, [&](Device& d) {
    d.plugged = true;
    d.car_max_a = car_max_current_a;
    d.session_wh = 0;
  });
}

void ModbusSimServer::unplug_car(int unit_id) {
  impl_->change(unit_id, [](Device& d) { d.plugged = false; });
}

void ModbusSimServer::set_meter_power(int unit_id, double power_w) {
  impl_->change(unit_id, [&](Device& d) { d.meter_power_w = power_w; });
}

void ModbusSimServer::set_voltage(int unit_id, double voltage_v) {
  impl_->change(unit_id, [&](Device& d) { d.voltage_v = voltage_v; });
}

void ModbusSimServer::set_no_answer(int unit_id, bool on) {
  impl_->change(unit_id, [&](Device& d) { d.no_answer = on; });
}

void ModbusSimServer::set_exception(int unit_id, int code) {
  impl_->change(unit_id, [&](Device& d) { d.exception = code; });
}

void ModbusSimServer::set_garbage(int unit_id, bool on) {
  impl_->change(unit_id, [&](Device& d) { d.garbage = on; });
}

void ModbusSimServer::set_ignore_limits(int unit_id, bool on) {
  impl_->change(unit_id, [&](Device& d) { d.ignore_limits = on; });
}


void ModbusSimServer::set_not_available(int unit_id, const std::string& point, bool on) {
  impl_->change(unit_id, [&](Device& d) {
    std::erase(d.not_available, point);
    if (on) d.not_available.push_back(point);
  });
}

void ModbusSimServer::set_unknown_unit_exception(int code) {
  std::lock_guard lk(impl_->m);
  impl_->unknown_unit_exception = code;
}

void ModbusSimServer::set_refuse_connections(bool on) {
  std::lock_guard lk(impl_->m);
  impl_->refuse = on;
}

void ModbusSimServer::disconnect_clients() {
  std::lock_guard lk(impl_->m);
  impl_->drop_clients = true;
}

double ModbusSimServer::point_value(int unit_id, const std::string& name) const {
  std::lock_guard lk(impl_->m);
  return impl_->dev(unit_id).get(name);
}

double ModbusSimServer::drawn_current_a(int unit_id) const {
  std::lock_guard lk(impl_->m);
  Device& d = impl_->dev(unit_id);
  d.update(impl_->clock.monotonic());
  return d.drawn_a;
}

std::vector<SimRequest> ModbusSimServer::request_log() const {
  std::lock_guard lk(impl_->m);
  return impl_->log;
}

void ModbusSimServer::clear_log() {
  std::lock_guard lk(impl_->m);
  impl_->log.clear();
}

}  // namespace orderly::sim
