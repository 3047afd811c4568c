#include <gtest/gtest.h>

#include <cmath>

#include "orderly/drivers/mqtt_payload.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"

namespace orderly::drivers::mqtt {
namespace {

using namespace std::chrono_literals;

const ChargerBounds kBounds{7000, 32};
const std::string kTs = R"("ts":"2026-11-23T11:07:07.123Z")";

std::string charger_status(const std::string& fields) { return R"({"v":1,)" + kTs + "," + fields + "}"; }

TEST(MqttProtocol, TopicsRoundTrip) {
  EXPECT_EQ(device_topic("orderly/v1", DeviceKind::charger, "p-101", "status"), "orderly/v1/charger/p-101/status");
  EXPECT_EQ(gateway_online_topic("orderly/v1"), "orderly/v1/gateway/online");
  auto ref = parse_topic("orderly/v1", "orderly/v1/meter/t1/status");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->kind, DeviceKind::meter);
  EXPECT_EQ(ref->id, "t1");
  EXPECT_EQ(ref->leaf, "status");
  EXPECT_FALSE(parse_topic("orderly/v1", "orderly/v2/meter/t1/status"));
  EXPECT_FALSE(parse_topic("orderly/v1", "orderly/v1/pump/t1/status"));
  EXPECT_FALSE(parse_topic("orderly/v1", "orderly/v1/charger/a/b/status"));
  EXPECT_FALSE(parse_topic("orderly/v1", "orderly/v1/charger//status"));
}

TEST(MqttProtocol, DeviceIdsThatBreakTopicsAreRefused) {
  EXPECT_TRUE(check_device_id("p-101").empty());
  EXPECT_FALSE(check_device_id("").empty());
  EXPECT_FALSE(check_device_id("a/b").empty());
  EXPECT_FALSE(check_device_id("a+").empty());
  EXPECT_FALSE(check_device_id("#").empty());
}

TEST(MqttProtocol, Iso8601RoundTripsWithMilliseconds) {
  const TimePoint t = std::chrono::sys_days(std::chrono::year{2026} / 11 / 23) + 11h + 7min + 7s + 123ms;
  EXPECT_EQ(format_iso8601(t), "2026-11-23T11:07:07.123Z");
  auto back = parse_iso8601("2026-11-23T11:07:07.123Z");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  EXPECT_TRUE(parse_iso8601("2026-11-23T11:07:07Z"));
  EXPECT_FALSE(parse_iso8601("2026-02-30T11:07:07Z"));
  // Found by the mqtt_native fuzz target: a year TimePoint cannot hold overflowed on conversion.
  EXPECT_FALSE(parse_iso8601("3026-11-23T22:15:00.000Z"));
  EXPECT_FALSE(parse_iso8601("0226-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_iso8601("2026-11-23 11:07"));
  EXPECT_FALSE(parse_iso8601("2026-11-23T11:07:07+08:00"));
}

TEST(MqttProtocol, ChargerStatusRoundTrips) {
  ChargerSnapshot s;
  s.at = std::chrono::sys_days(std::chrono::year{2026} / 11 / 23) + 3h;
  s.state = ChargerState::charging;
  s.power_w = 3680;
  s.current_a = {16, kNotMeasured, kNotMeasured};
  s.voltage_v = {230, kNotMeasured, kNotMeasured};
  s.session_energy_wh = 1200;
  s.total_energy_wh = 98765;
  s.applied_limit_w = 3680;
  s.rfid = "04A1B2C3";
  auto d = decode_charger_status(encode_charger_status(s), kBounds);
  ASSERT_TRUE(d) << d.error;
  EXPECT_EQ(d.value->at, s.at);
  EXPECT_EQ(d.value->state, ChargerState::charging);
  EXPECT_DOUBLE_EQ(d.value->power_w, 3680);
  EXPECT_DOUBLE_EQ(d.value->current_a[0], 16);
  EXPECT_TRUE(std::isnan(d.value->current_a[1]));
  EXPECT_DOUBLE_EQ(d.value->total_energy_wh, 98765);
  EXPECT_EQ(d.value->rfid, "04A1B2C3");
}

// Issue 16: a device's payload is bounded in size and nesting before anything walks it.
TEST(MqttProtocol, OversizedOrDeeplyNestedPayloadIsRejectedWithTheLimit) {
  const std::string deep = std::string(8000, '[') + std::string(8000, ']');
  const auto d = decode_charger_status(charger_status(R"("state":"charging","power_w":1,"x":)" + deep), kBounds);
  EXPECT_FALSE(d);
  EXPECT_NE(d.error.find("nested deeper than 32 levels"), std::string::npos) << d.error;
  const auto big = decode_meter_status(R"({"v":1,"pad":")" + std::string(kMaxPayloadBytes, 'x') + R"("})");
  EXPECT_FALSE(big);
  EXPECT_NE(big.error.find("over the limit of 16384 bytes"), std::string::npos) << big.error;
  std::string error;
  EXPECT_FALSE(extract_value("{\"a\":" + deep + "}", "a", error));
  EXPECT_NE(error.find("nested deeper than 32 levels"), std::string::npos) << error;
  EXPECT_FALSE(extract_value("{\"a\":\"" + std::string(kMaxPayloadBytes, '1') + "\"}", "a", error));
  EXPECT_NE(error.find("over the limit"), std::string::npos) << error;
  EXPECT_EQ(extract_value(R"({"claim":{"charge_current":16}})", "claim.charge_current", error), "16");
}

TEST(MqttProtocol, BadChargerStatusIsRejectedWithTheReason) {
  struct Case {
    std::string payload;
    std::string expect_in_error;
  };
  const std::vector<Case> cases = {
      {"{not json", "not valid JSON"},
      {"[1,2,3]", "not an object"},
      {R"({"ts":"2026-11-23T11:07:07Z","state":"charging","power_w":1})", "missing protocol version"},
      {R"({"v":2,"ts":"2026-11-23T11:07:07Z","state":"charging","power_w":1})", "protocol version 2 not supported"},
      {R"({"v":"1","ts":"2026-11-23T11:07:07Z","state":"charging","power_w":1})", "\"v\" must be an integer"},
      {charger_status(R"("state":"charging","power_w":"NaN")"), "\"power_w\" must be a number"},
      {charger_status(R"("state":"charging","power_w":1e999)"), "not valid JSON"},  // overflow: nlohmann refuses it
      {charger_status(R"("state":"charging","power_w":70001)"), "outside plausible range"},
      {charger_status(R"("state":"exploding","power_w":1)"), "unknown state \"exploding\""},
      {charger_status(R"("state":7,"power_w":1)"), "\"state\" must be a string"},
      {charger_status(R"("state":"charging")"), "missing field \"power_w\""},
      {charger_status(R"("state":"charging","power_w":1,"current_a":[1,2,3,4])"), "at most 3"},
      {charger_status(R"("state":"charging","power_w":1,"current_a":[1,"x"])"), "\"current_a\"[1]"},
      {charger_status(R"("state":"charging","power_w":1,"session_energy_wh":-5)"), "session_energy_wh"},
      {R"({"v":1,"ts":"yesterday","state":"charging","power_w":1})", "not ISO 8601"},
  };
  for (const auto& c : cases) {
    auto d = decode_charger_status(c.payload, kBounds);
    EXPECT_FALSE(d) << c.payload;
    EXPECT_NE(d.error.find(c.expect_in_error), std::string::npos) << "payload " << c.payload << " gave: " << d.error;
  }
}

TEST(MqttProtocol, MeterStatusRoundTrips) {
  MeterSnapshot s;
  s.at = std::chrono::sys_days(std::chrono::year{2026} / 1 / 1);
  s.power_w = 120000;
  s.power_w_phase = {40000, 40000, 40000};
  s.import_energy_wh = 5e8;
  auto d = decode_meter_status(encode_meter_status(s));
  ASSERT_TRUE(d) << d.error;
  EXPECT_DOUBLE_EQ(d.value->power_w, 120000);
  EXPECT_DOUBLE_EQ(d.value->power_w_phase[2], 40000);
  EXPECT_TRUE(std::isnan(d.value->current_a[0]));
  EXPECT_FALSE(decode_meter_status(R"({"v":1,"ts":"2026-11-23T11:07:07Z","power_w":null})"));
}

TEST(MqttProtocol, LimitAndAckRoundTrip) {
  auto l = decode_limit(encode_limit({7, 3680, 90}));
  ASSERT_TRUE(l) << l.error;
  EXPECT_EQ(l.value->seq, 7u);
  EXPECT_DOUBLE_EQ(l.value->power_w, 3680);
  EXPECT_DOUBLE_EQ(l.value->valid_for_s, 90);
  EXPECT_FALSE(decode_limit(R"({"v":1,"seq":-1,"power_w":1,"valid_for_s":5})"));
  EXPECT_FALSE(decode_limit(R"({"v":1,"seq":1,"power_w":1,"valid_for_s":0})"));

  auto ok = decode_ack(encode_ack({7, true, 3000, ""}));
  ASSERT_TRUE(ok) << ok.error;
  EXPECT_TRUE(ok.value->accepted);
  EXPECT_DOUBLE_EQ(ok.value->applied_w, 3000);
  auto refused = decode_ack(encode_ack({8, false, kNotMeasured, "cannot discharge"}));
  ASSERT_TRUE(refused) << refused.error;
  EXPECT_FALSE(refused.value->accepted);
  EXPECT_EQ(refused.value->error, "cannot discharge");
  EXPECT_FALSE(decode_ack(R"({"v":1,"seq":1,"accepted":"yes"})"));
}

TEST(MqttProtocol, FailsafeAndItsAckRoundTrip) {
  EXPECT_EQ(encode_failsafe({3, 6, 120}), R"({"current_a":6.0,"seq":3,"timeout_s":120.0,"v":1})");
  auto f = decode_failsafe(encode_failsafe({3, 6, 120}));
  ASSERT_TRUE(f) << f.error;
  EXPECT_EQ(f.value->seq, 3u);
  EXPECT_DOUBLE_EQ(f.value->current_a, 6);
  EXPECT_DOUBLE_EQ(f.value->timeout_s, 120);

  AckMessage applied{3, true, kNotMeasured, "", 6, 60};
  auto ack = decode_ack(encode_ack(applied));
  ASSERT_TRUE(ack) << ack.error;
  EXPECT_TRUE(ack.value->accepted);
  EXPECT_DOUBLE_EQ(ack.value->applied_current_a, 6);
  EXPECT_DOUBLE_EQ(ack.value->applied_timeout_s, 60);
  EXPECT_TRUE(std::isnan(ack.value->applied_w));
  // A limit's answer carries no failsafe fields.
  auto limit_ack = decode_ack(encode_ack({4, true, 3000, ""}));
  ASSERT_TRUE(limit_ack);
  EXPECT_TRUE(std::isnan(limit_ack.value->applied_current_a));
}

TEST(MqttProtocol, BadFailsafeCommandsAndAcksAreRejectedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> commands = {
      {R"({"v":1,"seq":1,"timeout_s":60})", "missing field \"current_a\""},
      {R"({"v":1,"seq":1,"current_a":-1,"timeout_s":60})", "\"current_a\""},
      {R"({"v":1,"seq":1,"current_a":600,"timeout_s":60})", "outside plausible range"},
      {R"({"v":1,"seq":1,"current_a":6,"timeout_s":0})", "\"timeout_s\" must be positive"},
      {R"({"v":1,"seq":1,"current_a":"6","timeout_s":60})", "must be a number"},
      {R"({"v":2,"seq":1,"current_a":6,"timeout_s":60})", "protocol version 2"},
      {R"({"v":1,"current_a":6,"timeout_s":60})", "missing field \"seq\""},
  };
  for (const auto& [payload, expect] : commands) {
    auto d = decode_failsafe(payload);
    EXPECT_FALSE(d) << payload;
    EXPECT_NE(d.error.find(expect), std::string::npos) << payload << " gave: " << d.error;
  }
  EXPECT_FALSE(decode_ack(R"({"v":1,"seq":1,"accepted":true,"applied_current_a":"six"})"));
  EXPECT_FALSE(decode_ack(R"({"v":1,"seq":1,"accepted":true,"applied_timeout_s":-5})"));
}

TEST(MqttProtocol, OnlineFlagIsExactlyTrueOrFalse) {
  EXPECT_EQ(decode_online("true").value, true);
  EXPECT_EQ(decode_online("false").value, false);
  EXPECT_FALSE(decode_online("1"));
  EXPECT_FALSE(decode_online(""));
}

}  // namespace
}  // namespace orderly::drivers::mqtt
