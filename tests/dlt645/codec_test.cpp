// Frames built by hand from DL/T 645-2007 clause 7 (frame format), 7.1.2 (data +33H), 7.2
// (control code: 11H read, 91H normal reply, D1H error reply) and appendix A (data identifiers
// and formats), for the meter with nameplate address 123456789012.
#include <gtest/gtest.h>

#include <cmath>

#include "orderly/drivers/dlt645.hpp"

namespace orderly::drivers::dlt645 {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Nameplate 12 34 56 78 90 12 goes on the wire lowest byte first: A0=12 A1=90 A2=78 A3=56 A4=34 A5=12.
const Address kMeter{0x12, 0x90, 0x78, 0x56, 0x34, 0x12};

TEST(Dlt645, AddressIsReversedBcd) {
  EXPECT_EQ(parse_address("123456789012"), kMeter);
  EXPECT_EQ(format_address(kMeter), "123456789012");
  EXPECT_THROW(parse_address("12345678901"), std::invalid_argument);
  EXPECT_THROW(parse_address("12345678901A"), std::invalid_argument);
}

TEST(Dlt645, ReadTotalActivePowerRequest) {
  // DI 02030000 is sent DI0 DI1 DI2 DI3 = 00 00 03 02, each +33H = 33 33 36 35.
  // CS = 68+12+90+78+56+34+12+68+11+04+33+33+36+35 = 36CH -> 6C.
  const Bytes expected{0xFE, 0xFE, 0xFE, 0xFE, 0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68,
                       0x11, 0x04, 0x33, 0x33, 0x36, 0x35, 0x6C, 0x16};
  EXPECT_EQ(read_request(kMeter, 0x02030000), expected);
}

TEST(Dlt645, ReadForwardActiveEnergyRequest) {
  // DI 00010000 -> 00 00 01 00 -> 33 33 34 33; CS = 368H -> 68.
  const Bytes expected{0xFE, 0xFE, 0xFE, 0xFE, 0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68,
                       0x11, 0x04, 0x33, 0x33, 0x34, 0x33, 0x68, 0x16};
  EXPECT_EQ(read_request(kMeter, 0x00010000), expected);
}

TEST(Dlt645, PowerReplyDecodes) {
  // 91H, L = 4 DI + 3 data bytes; XX.XXXX kW = 01.2345 -> 45 23 01 (low first) -> +33H 78 56 34.
  const Bytes reply{0xFE, 0xFE, 0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68, 0x91, 0x07,
                    0x33, 0x33, 0x36, 0x35, 0x78, 0x56, 0x34, 0xF1, 0x16};
  Decoded d = decode(reply);
  ASSERT_EQ(d.status, DecodeStatus::ok) << d.error;
  EXPECT_EQ(d.consumed, reply.size());
  EXPECT_EQ(d.frame.address, kMeter);
  auto r = parse_read_reply(d.frame);
  ASSERT_TRUE(r && r->ok);
  EXPECT_EQ(r->di, 0x02030000u);
  EXPECT_NEAR(decode_bcd(r->value, 4, true), 1.2345, 1e-9);
}

TEST(Dlt645, NegativePowerUsesTheTopBit) {
  // -0.5000 kW: 00 50 00 with bit 7 of the top byte set -> 00 50 80 -> +33H 33 83 B3.
  const Bytes reply{0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68, 0x91, 0x07,
                    0x33, 0x33, 0x36, 0x35, 0x33, 0x83, 0xB3, 0x58, 0x16};
  Decoded d = decode(reply);
  ASSERT_EQ(d.status, DecodeStatus::ok) << d.error;
  EXPECT_NEAR(decode_bcd(parse_read_reply(d.frame)->value, 4, true), -0.5, 1e-9);
  EXPECT_EQ(encode_bcd(-0.5, 3, 4, true), (Bytes{0x00, 0x50, 0x80}));
}

TEST(Dlt645, EnergyReplyDecodes) {
  // XXXXXX.XX kWh = 123456.78 -> 78 56 34 12 -> +33H AB 89 67 45; L = 8; CS = CC.
  const Bytes reply{0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68, 0x91, 0x08, 0x33,
                    0x33, 0x34, 0x33, 0xAB, 0x89, 0x67, 0x45, 0xCC, 0x16};
  Decoded d = decode(reply);
  ASSERT_EQ(d.status, DecodeStatus::ok) << d.error;
  auto r = parse_read_reply(d.frame);
  ASSERT_TRUE(r && r->ok);
  EXPECT_EQ(r->di, 0x00010000u);
  EXPECT_NEAR(decode_bcd(r->value, 2, false), 123456.78, 1e-6);
  Frame f;
  f.address = kMeter;
  f.control = kReadDataReply;
  f.data = {0x00, 0x00, 0x01, 0x00, 0x78, 0x56, 0x34, 0x12};
  EXPECT_EQ(encode(f, false), reply);
}

TEST(Dlt645, ErrorReply) {
  // D1H, L = 1, SERR = 02H ("no data requested") -> 35; CS = 8D.
  const Bytes reply{0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68, 0xD1, 0x01, 0x35, 0x8D, 0x16};
  Decoded d = decode(reply);
  ASSERT_EQ(d.status, DecodeStatus::ok) << d.error;
  auto r = parse_read_reply(d.frame);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->error_code, 0x02);
}

TEST(Dlt645, BadChecksumIncompleteAndNoise) {
  Bytes good{0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68, 0xD1, 0x01, 0x35, 0x8D, 0x16};
  Bytes bad = good;
  bad[11] = 0x8E;
  EXPECT_EQ(decode(bad).status, DecodeStatus::invalid);
  EXPECT_EQ(decode(bad).error, "checksum mismatch");
  EXPECT_EQ(decode(Bytes(good.begin(), good.begin() + 9)).status, DecodeStatus::incomplete);
  EXPECT_EQ(decode(Bytes(good.begin(), good.end() - 1)).status, DecodeStatus::incomplete);
  Bytes noisy{0x00, 0xFE, 0x13};
  noisy.insert(noisy.end(), good.begin(), good.end());
  Decoded d = decode(noisy);
  EXPECT_EQ(d.status, DecodeStatus::ok);
  EXPECT_EQ(d.consumed, noisy.size());
}

TEST(Dlt645, NonBcdIsNaN) {
  const Bytes v{0x1A, 0x00};
  EXPECT_TRUE(std::isnan(decode_bcd(v, 1, false)));
}

}  // namespace
}  // namespace orderly::drivers::dlt645
