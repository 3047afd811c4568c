// Register decoding (drivers/src/profile/codec.cpp) for whatever a Modbus device answers: the
// first bytes describe a point as a profile could (type, byte and word order, scale, offset,
// shift, mask, string length) within what parse_profile accepts, the rest are the registers read. Decoding must give a number
// (NaN for "not available"), never read past the registers or overflow a shift.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "orderly/drivers/profile.hpp"

using namespace orderly::drivers;

namespace {

struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  template <class T>
  T take() {
    T v{};
    const std::size_t n = size < sizeof(T) ? size : sizeof(T);
    std::memcpy(&v, data, n);
    data += n;
    size -= n;
    return v;
  }
};

constexpr unsigned kMaxShift = 63;

// Every type a profile may name; kept here as data so a type added to the enum without a
// decoder case shows up as a new entry to add.
constexpr ValueType kTypes[] = {ValueType::u16,     ValueType::s16,     ValueType::u32,    ValueType::s32,
                                ValueType::float32, ValueType::float64, ValueType::string, ValueType::coil,
                                ValueType::bcd16,   ValueType::bcd32};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  PointDef p;
  p.name = "fuzz";
  p.type = kTypes[in.take<std::uint8_t>() % std::size(kTypes)];
  const auto flags = in.take<std::uint8_t>();
  p.byte_swap = flags & 1;
  p.word_swap = flags & 2;
  p.string_registers = in.take<std::uint8_t>() % 64;
  p.shift = in.take<std::uint8_t>() % (kMaxShift + 1);  // what parse_profile accepts
  p.mask = in.take<std::uint64_t>();
  p.scale = in.take<double>();
  p.offset = in.take<double>();
  std::vector<std::uint16_t> regs(in.size / 2);
  if (!regs.empty()) std::memcpy(regs.data(), in.data, regs.size() * 2);
  if (regs.size() < p.register_count()) return 0;  // the bus worker reads register_count() registers
  const std::span<const std::uint16_t> read(regs.data(), p.register_count());
  if (p.type == ValueType::string) {
    (void)decode_string(p, read);
  } else {
    (void)raw_to_engineering(p, decode_raw(p, read));
  }
  return 0;
}
