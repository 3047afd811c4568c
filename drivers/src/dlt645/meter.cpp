// DL/T 645-2007 bus worker and meter. The bus is a byte stream (a local RS-485 port or a
// transparent TCP gateway); one thread per bus sends one request at a time and waits for its
// reply, so meters sharing the two wires never talk over each other.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "modbus/bus_thread.hpp"
#include "orderly/drivers/dlt645.hpp"
#include "orderly/drivers/points.hpp"

namespace orderly::drivers::dlt645 {

namespace {
using Steady = std::chrono::steady_clock;

speed_t baud_constant(int baud) {
  switch (baud) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    default: return B2400;
  }
}

std::string di_hex(std::uint32_t di) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08X", di);
  return buf;
}
}  // namespace

std::string BusEndpoint::describe() const {
  if (!serial_port.empty()) return "dlt645 " + serial_port + " " + serial.describe();
  return "dlt645 tcp " + host + ":" + std::to_string(port);
}

struct Dlt645Bus::Impl {
  BusEndpoint ep;
  detail::BusThread<Dlt645Bus> thread;

  int fd = -1;  // worker thread only
  Steady::time_point last_end{};

  void close_fd() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  bool open_fd(std::string& why) {
    if (fd >= 0) return true;
    if (!ep.serial_port.empty()) {
      fd = ::open(ep.serial_port.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK);
      if (fd < 0) {
        why = "cannot open " + ep.serial_port + ": " + std::strerror(errno);
        return false;
      }
      termios t{};
      ::tcgetattr(fd, &t);
      ::cfmakeraw(&t);
      ::cfsetispeed(&t, baud_constant(ep.serial.baud));
      ::cfsetospeed(&t, baud_constant(ep.serial.baud));
      t.c_cflag |= CLOCAL | CREAD;
      t.c_cflag &= ~static_cast<tcflag_t>(PARENB | PARODD | CSTOPB);
      if (ep.serial.parity == 'E') t.c_cflag |= PARENB;
      if (ep.serial.parity == 'O') t.c_cflag |= PARENB | PARODD;
      if (ep.serial.stop_bits == 2) t.c_cflag |= CSTOPB;
      ::tcsetattr(fd, TCSANOW, &t);
      return true;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(ep.host.c_str(), std::to_string(ep.port).c_str(), &hints, &res) != 0 || res == nullptr) {
      why = "cannot resolve " + ep.host;
      return false;
    }
    fd = ::socket(res->ai_family, SOCK_STREAM, 0);
    const int rc = fd < 0 ? -1 : ::connect(fd, res->ai_addr, res->ai_addrlen);
    ::freeaddrinfo(res);
    if (rc != 0) {
      why = "cannot connect to " + ep.describe() + ": " + std::strerror(errno);
      close_fd();
      return false;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return true;
  }


  Exchange read(const Address& a, std::uint32_t di) {
    Exchange x;
    if (!thread.sleep_until(last_end + ep.inter_request_gap)) {
      x.error = "bus stopping";
      return x;
    }
    std::string why;
    if (!open_fd(why)) {
      x.error = why;
      x.timeout = true;
      last_end = Steady::now();
      return x;
    }
    // Drop anything left over from an earlier, late answer.
    std::uint8_t junk[256];
    while (::read(fd, junk, sizeof junk) > 0) {
    }
    const auto req = read_request(a, di);
    if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
      x.error = std::string("write failed: ") + std::strerror(errno);
      close_fd();
      last_end = Steady::now();
      return x;
    }
    std::vector<std::uint8_t> buf;
    const auto deadline = Steady::now() + ep.response_timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()).count();
      if (left <= 0) {
        x.timeout = true;
        x.error = "no answer within " + std::to_string(ep.response_timeout.count()) + " ms";
        break;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      std::uint8_t chunk[256];
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        x.error = "connection closed by " + ep.describe();
        x.timeout = true;
        close_fd();
        break;
      }
      if (n < 0) continue;
      buf.insert(buf.end(), chunk, chunk + n);
      Decoded d = decode(buf);
      if (d.status == DecodeStatus::incomplete) continue;
      if (d.status == DecodeStatus::invalid) {
        x.error = "malformed frame (" + d.error + ")";
        break;
      }
      if (d.frame.address != a) {
        x.error = "answer from address " + format_address(d.frame.address) + ", expected " + format_address(a);
        break;
      }
      auto reply = parse_read_reply(d.frame);
      if (!reply) {
        x.error = "unexpected control code";
        break;
      }
      x.reply = *reply;
      if (!reply->ok) {
        char buf2[8];
        std::snprintf(buf2, sizeof buf2, "%02X", reply->error_code);
        x.error = std::string("meter answered with error SERR=") + buf2 + "H (data identifier not supported?)";
        break;
      }
      if (reply->di != di) {
        x.error = "answer for DI " + di_hex(reply->di) + ", expected " + di_hex(di);
        break;
      }
      x.ok = true;
      break;
    }
    last_end = Steady::now();
    return x;
  }

};

Dlt645Bus::Dlt645Bus(BusEndpoint endpoint) : impl_(std::make_unique<Impl>()) {
  impl_->ep = std::move(endpoint);
  impl_->thread.start(*this);
}

Dlt645Bus::~Dlt645Bus() {
  impl_->thread.stop();
  impl_->close_fd();
}

const BusEndpoint& Dlt645Bus::endpoint() const { return impl_->ep; }
Dlt645Bus::Exchange Dlt645Bus::read(const Address& a, std::uint32_t di) { return impl_->read(a, di); }
int Dlt645Bus::add_poller(Poll p) { return impl_->thread.add_poller(std::move(p)); }
void Dlt645Bus::remove_poller(int id) { impl_->thread.remove_poller(id); }

struct Dlt645Meter::State : std::enable_shared_from_this<Dlt645Meter::State> {
  Dlt645MeterOptions opt;
  DeviceProfile profile;
  Address address{};
  Dlt645Bus& bus;
  boost::asio::any_io_executor core;
  DeviceEvents events;
  const Clock& clock;
  int poller_id = 0;
  Health health_w;
  std::map<std::string, std::string> logged_errors;  // by point name
  std::string poll_error;

  State(Dlt645MeterOptions o, DeviceProfile p, Dlt645Bus& b, boost::asio::any_io_executor c, DeviceEvents e,
        const Clock& cl)
      : opt(std::move(o)), profile(std::move(p)), address(parse_address(opt.address)), bus(b), core(std::move(c)),
        events(std::move(e)), clock(cl) {}

  // One log line per data identifier and failure episode, not one per poll.
  void note_error(const std::string& key, const std::string& what) {
    if (poll_error.empty()) poll_error = what;
    auto& logged = logged_errors[key];
    if (logged != what) {
      spdlog::warn("device '{}' (DL/T 645 meter {}): {}", opt.id, opt.address, what);
      logged = what;
    }
  }

  Steady::duration poll(Dlt645Bus& b) {
    PointValues values;
    poll_error.clear();
    bool answered = false, unreachable = false, clean = true;
    for (const auto& [name, p] : profile.dlt645_points) {
      auto x = b.read(address, p.di);
      if (!x.ok) {
        clean = false;
        if (x.timeout) {
          ++health_w.timeouts;
          note_error(name, "data identifier " + di_hex(p.di) + " (" + name + "): " + x.error +
                     "; check the address, wiring and 2400 8E1 settings");
          unreachable = true;
          break;
        }
        ++health_w.errors;
        answered = true;
        note_error(name, "data identifier " + di_hex(p.di) + " (" + name + "): " + x.error);
        continue;
      }
      answered = true;
      ++health_w.reads_ok;
      if (x.reply.value.size() != static_cast<std::size_t>(p.bytes)) {
        ++health_w.errors;
        clean = false;
        note_error(name, "data identifier " + di_hex(p.di) + " (" + name + "): " + std::to_string(x.reply.value.size()) +
                   " data bytes, expected " + std::to_string(p.bytes));
        continue;
      }
      const double v = decode_bcd(x.reply.value, p.decimals, p.sign_bit) * p.scale;
      if (!std::isfinite(v)) {
        ++health_w.errors;
        clean = false;
        note_error(name, "data identifier " + di_hex(p.di) + " (" + name + "): value is not BCD; rejected");
        continue;
      }
      logged_errors.erase(name);
      values.numbers[name] = v;
    }
    const TimePoint now = clock.now();
    health_w.online = answered && !unreachable;
    if (health_w.online) health_w.last_good = now;
    health_w.last_error = poll_error;
    if (clean && health_w.online) logged_errors.clear();
    MeterSnapshot s = meter_snapshot(values);
    s.at = now;
    auto self = shared_from_this();
    Health h = health_w;
    boost::asio::post(core, [self, s, h] {
      if (self->events.meter_snapshot) self->events.meter_snapshot(self->opt.id, s);
      if (self->events.health) self->events.health(self->opt.id, h);
    });
    if (!health_w.online) return std::max<Steady::duration>(opt.poll_interval, std::chrono::seconds(5));
    return opt.poll_interval;
  }
};

Dlt645Meter::Dlt645Meter(Dlt645MeterOptions options, DeviceProfile profile, Dlt645Bus& bus,
                         boost::asio::any_io_executor core, DeviceEvents events, const Clock& clock)
    : state_(std::make_shared<State>(std::move(options), std::move(profile), bus, std::move(core), std::move(events),
                                     clock)) {
  if (state_->profile.transport != Transport::dlt645)
    throw ProfileError(state_->profile.file.string() + ": profile '" + state_->profile.id +
                       "' is not a DL/T 645 profile; device '" + state_->opt.id + "' needs one");
}

Dlt645Meter::~Dlt645Meter() { stop(); }

void Dlt645Meter::start() {
  std::weak_ptr<State> weak = state_;
  state_->poller_id = state_->bus.add_poller([weak](Dlt645Bus& b) -> Steady::duration {
    if (auto s = weak.lock()) return s->poll(b);
    return std::chrono::hours(1);
  });
}

void Dlt645Meter::stop() {
  if (state_->poller_id != 0) state_->bus.remove_poller(state_->poller_id);
  state_->poller_id = 0;
}

const std::string& Dlt645Meter::id() const { return state_->opt.id; }

}  // namespace orderly::drivers::dlt645
