// The DL/T 645 meter driver against a scripted meter behind a loopback TCP "transparent gateway".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "../modbus/harness.hpp"
#include "orderly/drivers/dlt645.hpp"

namespace orderly::drivers::dlt645 {
namespace {

using ::testing::HasSubstr;
using orderly::drivers::testing::Core;
using orderly::drivers::testing::near;
using orderly::drivers::testing::Recorder;

// Answers read requests for one address from a table of DI -> value bytes; can go silent.
class ScriptedMeter {
 public:
  explicit ScriptedMeter(Address a) : address_(a) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedMeter() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  void set(std::uint32_t di, std::vector<std::uint8_t> value) {
    std::lock_guard lk(m_);
    values_[di] = std::move(value);
  }
  void set_silent(bool s) { silent_ = s; }
  int requests() const { return requests_; }

 private:
  void run() {
    int client = -1;
    std::vector<std::uint8_t> buf;
    while (!stop_) {
      pollfd p{client >= 0 ? client : listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      if (client < 0) {
        client = ::accept(listen_fd_, nullptr, nullptr);
        continue;
      }
      std::uint8_t chunk[256];
      const ssize_t n = ::read(client, chunk, sizeof chunk);
      if (n <= 0) {
        ::close(client);
        client = -1;
        buf.clear();
        continue;
      }
      buf.insert(buf.end(), chunk, chunk + n);
      Decoded d = decode(buf);
      if (d.status == DecodeStatus::incomplete) continue;
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(d.consumed));
      if (d.status != DecodeStatus::ok || d.frame.control != kReadData || d.frame.address != address_) continue;
      ++requests_;
      if (silent_) continue;
      std::uint32_t di = 0;
      for (int k = 0; k < 4; ++k) di |= static_cast<std::uint32_t>(d.frame.data[static_cast<std::size_t>(k)]) << (8 * k);
      Frame reply;
      reply.address = address_;
      {
        std::lock_guard lk(m_);
        auto it = values_.find(di);
        if (it == values_.end()) {
          reply.control = kReadDataError;
          reply.data = {0x02};
        } else {
          reply.control = kReadDataReply;
          reply.data = d.frame.data;
          reply.data.insert(reply.data.end(), it->second.begin(), it->second.end());
        }
      }
      auto bytes = encode(reply);
      (void)::write(client, bytes.data(), bytes.size());
    }
    if (client >= 0) ::close(client);
  }

  Address address_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::mutex m_;
  std::map<std::uint32_t, std::vector<std::uint8_t>> values_;
  std::atomic<bool> stop_{false}, silent_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class Dlt645MeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    profile = load_profile(orderly::test::source_dir() / "drivers" / "profiles" / "dlt645-2007-meter.toml");
    meter.set(0x02030000, encode_bcd(3.4567, 3, 4, true));
    meter.set(0x00010000, encode_bcd(1234.56, 4, 2, false));
    meter.set(0x00020000, encode_bcd(0, 4, 2, false));
    meter.set(0x02010100, encode_bcd(229.8, 2, 1, false));
    meter.set(0x02020100, encode_bcd(5.123, 3, 3, true));
    BusEndpoint ep;
    ep.host = "127.0.0.1";
    ep.port = meter.port();
    ep.inter_request_gap = std::chrono::milliseconds(10);
    ep.response_timeout = std::chrono::milliseconds(200);
    bus = std::make_unique<Dlt645Bus>(ep);
  }

  ScriptedMeter meter{parse_address("123456789012")};
  DeviceProfile profile;
  RealClock clock;
  Core core;
  Recorder recorder;
  std::unique_ptr<Dlt645Bus> bus;
};

TEST_F(Dlt645MeterTest, ReadsPowerAndEnergyThroughATransparentGateway) {
  Dlt645Meter m({"dlt-1", "123456789012", std::chrono::milliseconds(50)}, profile, *bus, core.executor(),
                recorder.events(), clock);
  m.start();
  EXPECT_TRUE(recorder.wait_meter([](const MeterSnapshot& s) {
    return near(s.power_w, 3456.7, 0.01) && near(s.import_energy_wh, 1234560, 0.1) &&
           near(s.voltage_v[0], 229.8, 0.01) && near(s.current_a[0], 5.123, 0.0001);
  }));
  // Health is reported right after the snapshot of the same poll.
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return h.online; }));
  EXPECT_EQ(recorder.health().errors, 0u) << recorder.health().last_error;
}

TEST_F(Dlt645MeterTest, UnsupportedIdentifierIsAnErrorNotACrash) {
  meter.set(0x02010100, {});  // wrong length: treated as malformed data
  Dlt645Meter m({"dlt-2", "123456789012", std::chrono::milliseconds(50)}, profile, *bus, core.executor(),
                recorder.events(), clock);
  m.start();
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return h.errors > 0; }));
  EXPECT_THAT(recorder.health().last_error, HasSubstr("02010100 (voltage_l1_v)"));
  EXPECT_TRUE(recorder.wait_meter([](const MeterSnapshot& s) { return near(s.power_w, 3456.7, 0.01); }));
}

TEST_F(Dlt645MeterTest, SilentMeterBecomesTimeout) {
  meter.set_silent(true);
  Dlt645Meter m({"dlt-3", "123456789012", std::chrono::milliseconds(50)}, profile, *bus, core.executor(),
                recorder.events(), clock);
  m.start();
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return !h.online && h.timeouts > 0; }));
  EXPECT_THAT(recorder.health().last_error, HasSubstr("no answer within 200 ms"));
}

}  // namespace
}  // namespace orderly::drivers::dlt645
