#pragma once
// DL/T 645-2007 (多功能电能表通信协议): the frame codec and a meter driver for RS-485 buses or
// transparent RS-485/TCP gateways.
//
// Frame (clause 7.1): [FE FE FE FE wake-up preamble] 68 A0..A5 68 C L DATA CS 16
//   A0..A5  meter address, 12 BCD digits, lowest two digits first
//   C       control code: 0x11 read data (master), 0x91 normal reply, 0xD1 error reply
//   L       length of DATA
//   DATA    each byte sent plus 0x33; a read carries DI0 DI1 DI2 DI3 (DI0 first)
//   CS      sum modulo 256 of every byte from the first 68 to the end of DATA
#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/drivers/profile.hpp"

namespace orderly::drivers::dlt645 {

using Address = std::array<std::uint8_t, 6>;  // wire order: A0 (lowest two digits) first

// "123456789012" (as printed on the nameplate) -> 12 90 78 56 34 12. Throws std::invalid_argument.
Address parse_address(std::string_view twelve_digits);
std::string format_address(const Address& a);
inline constexpr Address kBroadcastAddress{0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA};

inline constexpr std::uint8_t kReadData = 0x11;
inline constexpr std::uint8_t kReadDataReply = 0x91;
inline constexpr std::uint8_t kReadDataError = 0xD1;

struct Frame {
  Address address{};
  std::uint8_t control = 0;
  std::vector<std::uint8_t> data;  // as meant, without the +0x33
};

std::vector<std::uint8_t> encode(const Frame& f, bool preamble = true);

enum class DecodeStatus { ok, incomplete, invalid };
struct Decoded {
  DecodeStatus status = DecodeStatus::incomplete;
  Frame frame;
  std::size_t consumed = 0;  // bytes of the input used (preamble and noise included)
  std::string error;
};
// Finds the first frame in `bytes`, skipping the FE preamble and line noise before it.
Decoded decode(std::span<const std::uint8_t> bytes);

std::vector<std::uint8_t> read_request(const Address& a, std::uint32_t di);

struct ReadReply {
  bool ok = false;
  std::uint32_t di = 0;
  std::vector<std::uint8_t> value;  // low byte first, as on the wire (after -0x33)
  std::uint8_t error_code = 0;      // for error replies (SERR bits, DL/T 645-2007 table 7)
};
std::optional<ReadReply> parse_read_reply(const Frame& f);

// BCD value of `value.size()` bytes, low byte first; NaN if a nibble is not a decimal digit.
double decode_bcd(std::span<const std::uint8_t> value, int decimals, bool sign_bit);
std::vector<std::uint8_t> encode_bcd(double v, int bytes, int decimals, bool sign_bit);

// ---- driver ----------------------------------------------------------------------------------

struct BusEndpoint {
  std::string host;          // TCP transparent gateway, or
  int port = 0;
  std::string serial_port;   // a local RS-485 port (termios)
  SerialSettings serial{2400, 'E', 8, 1};
  std::chrono::milliseconds inter_request_gap{100};
  std::chrono::milliseconds response_timeout{1500};
  std::string describe() const;
};

// One thread per bus; meters on it take turns, one request at a time, with the gap between.
class Dlt645Bus {
 public:
  explicit Dlt645Bus(BusEndpoint endpoint);
  ~Dlt645Bus();
  Dlt645Bus(const Dlt645Bus&) = delete;
  Dlt645Bus& operator=(const Dlt645Bus&) = delete;
  const BusEndpoint& endpoint() const;

  struct Exchange {
    bool ok = false;
    bool timeout = false;
    ReadReply reply;
    std::string error;
  };
  using Poll = std::function<std::chrono::steady_clock::duration(Dlt645Bus&)>;
  Exchange read(const Address& a, std::uint32_t di);  // worker thread only
  int add_poller(Poll p);
  void remove_poller(int id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct Dlt645MeterOptions {
  std::string id;
  std::string address;                           // 12 digits from the nameplate
  std::chrono::milliseconds poll_interval{2000};
};

class Dlt645Meter final : public MeterDriver {
 public:
  Dlt645Meter(Dlt645MeterOptions options, DeviceProfile profile, Dlt645Bus& bus,
              boost::asio::any_io_executor core, DeviceEvents events, const Clock& clock);
  ~Dlt645Meter() override;
  void start();
  void stop();
  const std::string& id() const override;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace orderly::drivers::dlt645
