// Register codec: the one place where Modbus words become numbers and back, shared by the
// drivers and the simulator so both read a profile the same way.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "orderly/drivers/profile.hpp"

namespace orderly::drivers {
namespace {

std::uint16_t swap_bytes(std::uint16_t w) { return static_cast<std::uint16_t>((w << 8) | (w >> 8)); }

// Words in big-endian (most significant first) order after applying the point's byte/word order.
std::uint64_t assemble(const PointDef& p, std::span<const std::uint16_t> regs, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n && i < regs.size(); ++i) {
    std::size_t idx = p.word_swap ? n - 1 - i : i;
    std::uint16_t w = idx < regs.size() ? regs[idx] : 0;
    if (p.byte_swap) w = swap_bytes(w);
    v = (v << 16) | w;
  }
  return v;
}

std::vector<std::uint16_t> disassemble(const PointDef& p, std::uint64_t v, std::size_t n) {
  std::vector<std::uint16_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto w = static_cast<std::uint16_t>(v >> (16 * (n - 1 - i)));
    if (p.byte_swap) w = swap_bytes(w);
    out[p.word_swap ? n - 1 - i : i] = w;
  }
  return out;
}

// Packed BCD: each nibble a decimal digit; a nibble > 9 is not BCD and yields NaN.
double from_bcd(std::uint64_t v, int digits) {
  double out = 0;
  for (int i = digits - 1; i >= 0; --i) {
    unsigned d = static_cast<unsigned>((v >> (4 * i)) & 0xF);
    if (d > 9) return std::numeric_limits<double>::quiet_NaN();
    out = out * 10 + d;
  }
  return out;
}

std::uint64_t to_bcd(double value, int digits) {
  auto n = static_cast<std::uint64_t>(std::llround(std::max(0.0, value)));
  std::uint64_t out = 0;
  for (int i = 0; i < digits; ++i) {
    out |= (n % 10) << (4 * i);
    n /= 10;
  }
  return out;
}

}  // namespace

double decode_raw(const PointDef& p, std::span<const std::uint16_t> regs) {
  const std::size_t n = p.register_count();
  const std::uint64_t v = assemble(p, regs, n);
  switch (p.type) {
    case ValueType::u16:
    case ValueType::coil: return static_cast<double>(v & 0xFFFF);
    case ValueType::s16: return static_cast<double>(static_cast<std::int16_t>(v & 0xFFFF));
    case ValueType::u32: return static_cast<double>(v & 0xFFFFFFFFu);
    case ValueType::s32: return static_cast<double>(static_cast<std::int32_t>(v & 0xFFFFFFFFu));
    case ValueType::float32: return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(v)));
    case ValueType::float64: return std::bit_cast<double>(v);
    case ValueType::bcd16: return from_bcd(v, 4);
    case ValueType::bcd32: return from_bcd(v, 8);
    case ValueType::string: break;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::string decode_string(const PointDef& p, std::span<const std::uint16_t> regs) {
  std::string s;
  for (std::size_t i = 0; i < p.register_count() && i < regs.size(); ++i) {
    std::uint16_t w = p.byte_swap ? swap_bytes(regs[i]) : regs[i];
    for (char c : {static_cast<char>(w >> 8), static_cast<char>(w & 0xFF)}) {
      if (c == '\0') return s;
      s.push_back(c);
    }
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

double raw_to_engineering(const PointDef& p, double raw) {
  if (!std::isfinite(raw)) return raw;
  if (p.shift != 0 || p.mask != 0) {
    // Bits of a value that fits no 64-bit integer (a float register read with a mask) mean
    // nothing, and converting it would be undefined behaviour.
    if (!(raw >= -0x1p63 && raw < 0x1p63)) return std::numeric_limits<double>::quiet_NaN();
    auto bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(raw));
    bits >>= p.shift;
    if (p.mask != 0) bits &= p.mask;
    raw = static_cast<double>(bits);
  }
  return raw * p.scale + p.offset;
}

double engineering_to_raw(const PointDef& p, double value, bool round_down) {
  double raw = (value - p.offset) / p.scale;
  if (p.type == ValueType::float32 || p.type == ValueType::float64) return raw;
  // A small epsilon so 16.0 A / 0.1 does not floor to 159 through binary rounding.
  raw = round_down ? std::floor(raw + 1e-9) : std::round(raw);
  if (p.shift != 0) raw = static_cast<double>(static_cast<std::uint64_t>(std::clamp(raw, 0.0, 0x1p64 - 2048)) << p.shift);
  return raw;
}

std::vector<std::uint16_t> encode_raw(const PointDef& p, double raw) {
  const std::size_t n = p.register_count();
  std::uint64_t v = 0;
  switch (p.type) {
    case ValueType::u16:
    case ValueType::coil: v = static_cast<std::uint16_t>(std::clamp(raw, 0.0, 65535.0)); break;
    case ValueType::s16: v = static_cast<std::uint16_t>(static_cast<std::int16_t>(std::clamp(raw, -32768.0, 32767.0))); break;
    case ValueType::u32: v = static_cast<std::uint32_t>(std::clamp(raw, 0.0, 4294967295.0)); break;
    case ValueType::s32:
      v = static_cast<std::uint32_t>(static_cast<std::int32_t>(std::clamp(raw, -2147483648.0, 2147483647.0)));
      break;
    case ValueType::float32: v = std::bit_cast<std::uint32_t>(static_cast<float>(raw)); break;
    case ValueType::float64: v = std::bit_cast<std::uint64_t>(raw); break;
    case ValueType::bcd16: v = to_bcd(raw, 4); break;
    case ValueType::bcd32: v = to_bcd(raw, 8); break;
    case ValueType::string: return std::vector<std::uint16_t>(n, 0);
  }
  return disassemble(p, v, n);
}

std::vector<std::uint16_t> encode_string(const PointDef& p, const std::string& text) {
  std::vector<std::uint16_t> out(p.register_count(), 0);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto hi = static_cast<unsigned char>(2 * i < text.size() ? text[2 * i] : 0);
    auto lo = static_cast<unsigned char>(2 * i + 1 < text.size() ? text[2 * i + 1] : 0);
    std::uint16_t w = static_cast<std::uint16_t>((hi << 8) | lo);
    out[i] = p.byte_swap ? swap_bytes(w) : w;
  }
  return out;
}

}  // namespace orderly::drivers
