#include <cmath>
#include <limits>
#include <stdexcept>

#include "orderly/drivers/dlt645.hpp"

namespace orderly::drivers::dlt645 {

namespace {
constexpr std::uint8_t kStart = 0x68;
constexpr std::uint8_t kEnd = 0x16;
constexpr std::uint8_t kPreamble = 0xFE;
constexpr std::uint8_t kOffset = 0x33;  // DL/T 645-2007 7.1.2: data bytes are sent plus 33H
}  // namespace

Address parse_address(std::string_view d) {
  if (d.size() != 12) throw std::invalid_argument("DL/T 645 address '" + std::string(d) + "' must be 12 digits");
  Address a{};
  for (std::size_t i = 0; i < 6; ++i) {
    // The nameplate reads most significant first; the wire carries the lowest byte first.
    const char hi = d[10 - 2 * i], lo = d[11 - 2 * i];
    if (hi < '0' || hi > '9' || lo < '0' || lo > '9')
      throw std::invalid_argument("DL/T 645 address '" + std::string(d) + "' must be 12 decimal digits");
    a[i] = static_cast<std::uint8_t>(((hi - '0') << 4) | (lo - '0'));
  }
  return a;
}

std::string format_address(const Address& a) {
  std::string s;
  static const char* hex = "0123456789ABCDEF";
  for (int i = 5; i >= 0; --i) {
    s.push_back(hex[a[static_cast<std::size_t>(i)] >> 4]);
    s.push_back(hex[a[static_cast<std::size_t>(i)] & 0xF]);
  }
  return s;
}

std::vector<std::uint8_t> encode(const Frame& f, bool preamble) {
  std::vector<std::uint8_t> out;
  if (preamble) out.insert(out.end(), 4, kPreamble);
  const std::size_t start = out.size();
  out.push_back(kStart);
  out.insert(out.end(), f.address.begin(), f.address.end());
  out.push_back(kStart);
  out.push_back(f.control);
  out.push_back(static_cast<std::uint8_t>(f.data.size()));
  for (std::uint8_t b : f.data) out.push_back(static_cast<std::uint8_t>(b + kOffset));
  std::uint8_t cs = 0;
  for (std::size_t i = start; i < out.size(); ++i) cs = static_cast<std::uint8_t>(cs + out[i]);
  out.push_back(cs);
  out.push_back(kEnd);
  return out;
}

Decoded decode(std::span<const std::uint8_t> bytes) {
  Decoded r;
  std::size_t i = 0;
  while (i < bytes.size() && bytes[i] != kStart) ++i;  // preamble FE and noise
  if (bytes.size() - i < 12) {
    r.status = DecodeStatus::incomplete;
    return r;
  }
  if (bytes[i + 7] != kStart) {
    r.status = DecodeStatus::invalid;
    r.consumed = i + 1;
    r.error = "second 68H missing after the address";
    return r;
  }
  const std::size_t len = bytes[i + 9];
  const std::size_t total = 10 + len + 2;
  if (bytes.size() - i < total) {
    r.status = DecodeStatus::incomplete;
    return r;
  }
  std::uint8_t cs = 0;
  for (std::size_t k = i; k < i + 10 + len; ++k) cs = static_cast<std::uint8_t>(cs + bytes[k]);
  r.consumed = i + total;
  if (cs != bytes[i + 10 + len]) {
    r.status = DecodeStatus::invalid;
    r.error = "checksum mismatch";
    return r;
  }
  if (bytes[i + 11 + len] != kEnd) {
    r.status = DecodeStatus::invalid;
    r.error = "end byte 16H missing";
    return r;
  }
  for (std::size_t k = 0; k < 6; ++k) r.frame.address[k] = bytes[i + 1 + k];
  r.frame.control = bytes[i + 8];
  for (std::size_t k = 0; k < len; ++k) r.frame.data.push_back(static_cast<std::uint8_t>(bytes[i + 10 + k] - kOffset));
  r.status = DecodeStatus::ok;
  return r;
}

std::vector<std::uint8_t> read_request(const Address& a, std::uint32_t di) {
  Frame f;
  f.address = a;
  f.control = kReadData;
  for (int k = 0; k < 4; ++k) f.data.push_back(static_cast<std::uint8_t>(di >> (8 * k)));  // DI0 first
  return encode(f);
}

std::optional<ReadReply> parse_read_reply(const Frame& f) {
  ReadReply r;
  if (f.control == kReadDataError) {
    r.ok = false;
    r.error_code = f.data.empty() ? 0 : f.data[0];
    return r;
  }
  if (f.control != kReadDataReply || f.data.size() < 4) return std::nullopt;
  r.ok = true;
  for (int k = 0; k < 4; ++k) r.di |= static_cast<std::uint32_t>(f.data[static_cast<std::size_t>(k)]) << (8 * k);
  r.value.assign(f.data.begin() + 4, f.data.end());
  return r;
}

double decode_bcd(std::span<const std::uint8_t> value, int decimals, bool sign_bit) {
  double v = 0;
  bool negative = false;
  for (std::size_t k = value.size(); k-- > 0;) {
    std::uint8_t b = value[k];
    if (k == value.size() - 1 && sign_bit) {
      negative = (b & 0x80) != 0;
      b &= 0x7F;
    }
    const int hi = b >> 4, lo = b & 0xF;
    if (hi > 9 || lo > 9) return std::numeric_limits<double>::quiet_NaN();
    v = v * 100 + hi * 10 + lo;
  }
  v /= std::pow(10.0, decimals);
  return negative ? -v : v;
}

std::vector<std::uint8_t> encode_bcd(double v, int bytes, int decimals, bool sign_bit) {
  const bool negative = v < 0;
  auto n = static_cast<std::uint64_t>(std::llround(std::abs(v) * std::pow(10.0, decimals)));
  std::vector<std::uint8_t> out(static_cast<std::size_t>(bytes), 0);
  for (auto& b : out) {
    const auto lo = static_cast<std::uint8_t>(n % 10);
    n /= 10;
    const auto hi = static_cast<std::uint8_t>(n % 10);
    n /= 10;
    b = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  if (sign_bit && negative && !out.empty()) out.back() |= 0x80;
  return out;
}

}  // namespace orderly::drivers::dlt645
