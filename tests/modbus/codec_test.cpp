// Register codec: byte and word orders, signed types, floats, BCD, strings, masks and scale.
#include <gtest/gtest.h>

#include <cmath>

#include "orderly/drivers/profile.hpp"

namespace orderly::drivers {
namespace {

PointDef pt(ValueType t, bool word_swap = false, bool byte_swap = false) {
  PointDef p;
  p.type = t;
  p.word_swap = word_swap;
  p.byte_swap = byte_swap;
  return p;
}

TEST(Codec, U32HighWordFirstAndLowWordFirst) {
  const std::vector<std::uint16_t> regs{0x0001, 0x0002};
  EXPECT_EQ(decode_raw(pt(ValueType::u32), regs), 65538.0);
  EXPECT_EQ(decode_raw(pt(ValueType::u32, true), regs), 131073.0);
  EXPECT_EQ(encode_raw(pt(ValueType::u32, true), 131073.0), regs);
}

TEST(Codec, ByteSwapInsideRegisters) {
  const std::vector<std::uint16_t> regs{0x3412};
  EXPECT_EQ(decode_raw(pt(ValueType::u16, false, true), regs), 0x1234);
}

TEST(Codec, SignedTypes) {
  EXPECT_EQ(decode_raw(pt(ValueType::s16), std::vector<std::uint16_t>{0xFFFE}), -2.0);
  EXPECT_EQ(decode_raw(pt(ValueType::s32), std::vector<std::uint16_t>{0xFFFF, 0xFFFF}), -1.0);
  EXPECT_EQ(encode_raw(pt(ValueType::s16), -2.0), (std::vector<std::uint16_t>{0xFFFE}));
}

TEST(Codec, Float32AsEastronSendsIt) {
  // 230.0f = 0x43660000, high word first (Eastron SDM630 protocol, IEEE 754).
  const std::vector<std::uint16_t> regs{0x4366, 0x0000};
  EXPECT_EQ(decode_raw(pt(ValueType::float32), regs), 230.0);
  EXPECT_EQ(encode_raw(pt(ValueType::float32), 230.0), regs);
  EXPECT_TRUE(std::isnan(decode_raw(pt(ValueType::float32), std::vector<std::uint16_t>{0x7FC0, 0x0000})));
}

TEST(Codec, Float64RoundTrips) {
  auto p = pt(ValueType::float64, true);
  EXPECT_EQ(decode_raw(p, encode_raw(p, -1234.5678)), -1234.5678);
}

TEST(Codec, BcdAndNonBcd) {
  EXPECT_EQ(decode_raw(pt(ValueType::bcd16), std::vector<std::uint16_t>{0x1234}), 1234.0);
  EXPECT_EQ(decode_raw(pt(ValueType::bcd32), std::vector<std::uint16_t>{0x0012, 0x3456}), 123456.0);
  EXPECT_TRUE(std::isnan(decode_raw(pt(ValueType::bcd16), std::vector<std::uint16_t>{0x12A4})));
  EXPECT_EQ(encode_raw(pt(ValueType::bcd16), 987.0), (std::vector<std::uint16_t>{0x0987}));
}

TEST(Codec, StringsStopAtNul) {
  PointDef p = pt(ValueType::string);
  p.string_registers = 4;
  const auto regs = encode_string(p, "ABC");
  EXPECT_EQ(regs[0], 0x4142);
  EXPECT_EQ(decode_string(p, regs), "ABC");
}

TEST(Codec, ScaleOffsetMaskShift) {
  PointDef p = pt(ValueType::u16);
  p.scale = 0.1;
  EXPECT_NEAR(raw_to_engineering(p, 160), 16.0, 1e-9);
  EXPECT_EQ(engineering_to_raw(p, 16.0, true), 160);  // no 159 from binary rounding
  EXPECT_EQ(engineering_to_raw(p, 16.09, true), 160);
  EXPECT_EQ(engineering_to_raw(p, 16.09, false), 161);
  PointDef s = pt(ValueType::u16);
  s.shift = 8;
  s.mask = 0x7F;
  EXPECT_EQ(raw_to_engineering(s, 0x8400), 4);  // ABB Terra AC status byte, bit 7 ignored
  EXPECT_EQ(engineering_to_raw(s, 4), 0x0400);
}

// Found writing the modbus_registers fuzz target (its corpus keeps the input): a float register
// read through a mask or a shift held a value no 64-bit integer can, and converting it was
// undefined behaviour.
TEST(Codec, MaskOnAValueBeyondSixtyFourBitsIsNotANumber) {
  PointDef p = pt(ValueType::float64);
  p.mask = 0xFF;
  EXPECT_TRUE(std::isnan(raw_to_engineering(p, 1e300)));
  EXPECT_TRUE(std::isnan(raw_to_engineering(p, -1e300)));
  EXPECT_EQ(raw_to_engineering(p, 0x1234), 0x34);
  PointDef q = pt(ValueType::u16);
  q.shift = 8;
  EXPECT_EQ(engineering_to_raw(q, -5), 0);  // a negative setpoint has no bits to shift
}

}  // namespace
}  // namespace orderly::drivers
