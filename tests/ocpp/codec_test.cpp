// OCPP-J 1.6 frames and the 1.6J schemas: each way a frame or payload can be wrong gets the
// CallError code OCPP-J 1.6 section 4.2.3 names for it.
#include <gtest/gtest.h>

#include "orderly/drivers/ocpp.hpp"

namespace orderly::drivers::ocpp {
namespace {

using nlohmann::json;

BadFrame bad(std::string_view text) {
  auto d = decode(text);
  EXPECT_TRUE(std::holds_alternative<BadFrame>(d)) << text;
  return std::holds_alternative<BadFrame>(d) ? std::get<BadFrame>(d) : BadFrame{};
}

Message good(std::string_view text) {
  auto d = decode(text);
  EXPECT_TRUE(std::holds_alternative<Message>(d)) << text << ": " << std::get<BadFrame>(d).answer.description;
  return std::holds_alternative<Message>(d) ? std::get<Message>(d) : Message{};
}

TEST(OcppCodec, DecodesTheThreeMessageTypes) {
  const auto call = std::get<Call>(good(R"([2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}])"));
  EXPECT_EQ(call.id, "19223201");
  EXPECT_EQ(call.action, "BootNotification");
  EXPECT_EQ(call.payload["chargePointVendor"], "VendorX");

  const auto result = std::get<CallResult>(good(R"([3,"19223201",{"status":"Accepted"}])"));
  EXPECT_EQ(result.id, "19223201");
  EXPECT_EQ(result.payload["status"], "Accepted");

  const auto error = std::get<CallError>(good(R"([4,"7","NotSupported","no such thing",{}])"));
  EXPECT_EQ(error.id, "7");
  EXPECT_EQ(error.code, ErrorCode::NotSupported);
  EXPECT_EQ(error.description, "no such thing");
}

TEST(OcppCodec, EncodesWhatItDecodes) {
  for (const Message& m : {Message{Call{"1", "Heartbeat", json::object()}},
                           Message{CallResult{"2", {{"currentTime", "2026-12-07T08:00:00.000Z"}}}},
                           Message{CallError{"3", ErrorCode::PropertyConstraintViolation, "idTag: too long", json::object()}}}) {
    const std::string text = encode(m);
    EXPECT_EQ(encode(good(text)), text);
  }
  EXPECT_EQ(encode(CallError{"3", ErrorCode::OccurenceConstraintViolation, "x", json::object()}),
            R"([4,"3","OccurenceConstraintViolation","x",{}])");
}

TEST(OcppCodec, NotJsonIsAFormationViolationWithTheUnknownId) {
  const auto b = bad("[2,\"1\",\"Heartbeat\",{");
  EXPECT_EQ(b.answer.code, ErrorCode::FormationViolation);
  EXPECT_EQ(b.answer.id, kUnknownMessageId);
  EXPECT_TRUE(b.is_call);
}

TEST(OcppCodec, WrongFrameShapesNameTheirCode) {
  EXPECT_EQ(bad(R"({"action":"Heartbeat"})").answer.code, ErrorCode::FormationViolation);
  EXPECT_EQ(bad(R"(["2","1","Heartbeat",{}])").answer.code, ErrorCode::FormationViolation);
  EXPECT_EQ(bad(R"([2,1,"Heartbeat",{}])").answer.id, kUnknownMessageId);
  EXPECT_EQ(bad(R"([2,"0123456789012345678901234567890123456","Heartbeat",{}])").answer.code,
            ErrorCode::FormationViolation);  // ids are at most 36 characters
  const auto short_call = bad(R"([2,"5","Heartbeat"])");  // the payload is missing: incomplete
  EXPECT_EQ(short_call.answer.code, ErrorCode::ProtocolError);
  EXPECT_EQ(short_call.answer.id, "5");
  const auto long_call = bad(R"([2,"5","Heartbeat",{},{}])");
  EXPECT_EQ(long_call.answer.code, ErrorCode::ProtocolError);
  EXPECT_EQ(long_call.answer.id, "5");
  EXPECT_EQ(bad(R"([2,"5","Heartbeat",[]])").answer.code, ErrorCode::FormationViolation);
  const auto type9 = bad(R"([9,"5",{}])");
  EXPECT_EQ(type9.answer.code, ErrorCode::ProtocolError);
  EXPECT_FALSE(type9.is_call);
  EXPECT_FALSE(bad(R"([3,"5","Accepted"])").is_call);  // a bad CALLRESULT is never answered
}

TEST(OcppCodec, UnknownErrorCodesReadAsGenericError) {
  EXPECT_EQ(std::get<CallError>(good(R"([4,"1","Whatever","d",{}])")).code, ErrorCode::GenericError);
}

TEST(OcppSchema, ConformingPayloadsPass) {
  EXPECT_EQ(validate("BootNotification", Direction::request,
                     {{"chargePointVendor", "Wallbox"}, {"chargePointModel", "Pulsar"}, {"firmwareVersion", "5.1"}}),
            std::nullopt);
  EXPECT_EQ(validate("Heartbeat", Direction::request, json::object()), std::nullopt);
  const json meter = json::parse(R"({"connectorId":1,"transactionId":5,"meterValue":[{"timestamp":"2026-12-07T08:00:00Z",
    "sampledValue":[{"value":"1234.5","measurand":"Energy.Active.Import.Register","unit":"Wh"},
                    {"value":"7.1","measurand":"Power.Active.Import","unit":"kW","phase":"L1"}]}]})");
  EXPECT_EQ(validate("MeterValues", Direction::request, meter), std::nullopt);
  const json profile = json::parse(R"({"connectorId":1,"csChargingProfiles":{"chargingProfileId":3,"transactionId":5,
    "stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute",
    "chargingSchedule":{"duration":60,"startSchedule":"2026-12-07T08:00:00.000+08:00","chargingRateUnit":"A",
    "chargingSchedulePeriod":[{"startPeriod":0,"limit":10.5,"numberPhases":1}]}}})");
  EXPECT_EQ(validate("SetChargingProfile", Direction::request, profile), std::nullopt);
}

TEST(OcppSchema, EachRuleHasItsCode) {
  auto code_of = [](std::string_view action, Direction d, const json& payload) {
    const auto v = validate(action, d, payload);
    return v ? v->code : ErrorCode::GenericError;
  };
  // required
  const auto missing = validate("BootNotification", Direction::request, {{"chargePointVendor", "V"}});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->code, ErrorCode::OccurenceConstraintViolation);
  EXPECT_EQ(missing->field, "chargePointModel");
  // type
  EXPECT_EQ(code_of("StatusNotification", Direction::request,
                    {{"connectorId", "1"}, {"errorCode", "NoError"}, {"status", "Available"}}),
            ErrorCode::TypeConstraintViolation);
  EXPECT_EQ(code_of("StatusNotification", Direction::request,
                    {{"connectorId", 1.5}, {"errorCode", "NoError"}, {"status", "Available"}}),
            ErrorCode::TypeConstraintViolation);
  // enum
  const auto status = validate("StatusNotification", Direction::request,
                               {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Sleeping"}});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, ErrorCode::PropertyConstraintViolation);
  EXPECT_NE(status->what.find("Available"), std::string::npos) << status->what;
  // maxLength: an idTag is at most 20 characters (CiString20Type)
  EXPECT_EQ(code_of("Authorize", Direction::request, {{"idTag", "123456789012345678901"}}),
            ErrorCode::PropertyConstraintViolation);
  EXPECT_EQ(validate("Authorize", Direction::request, {{"idTag", "12345678901234567890"}}), std::nullopt);
  // additionalProperties = false
  const auto extra = validate("Heartbeat", Direction::request, {{"uptime", 5}});
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->code, ErrorCode::FormationViolation);
  EXPECT_EQ(extra->field, "uptime");
  // date-time
  EXPECT_EQ(code_of("StartTransaction", Direction::request,
                    {{"connectorId", 1}, {"idTag", "A"}, {"meterStart", 0}, {"timestamp", "yesterday"}}),
            ErrorCode::PropertyConstraintViolation);
  // nested: the path names the element
  const auto nested = validate("MeterValues", Direction::request, json::parse(R"({"connectorId":1,"meterValue":[
    {"timestamp":"2026-12-07T08:00:00Z","sampledValue":[{"value":"1"},{"value":"2","unit":"Joule"}]}]})"));
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->code, ErrorCode::PropertyConstraintViolation);
  EXPECT_EQ(nested->field, "meterValue[0].sampledValue[1].unit");
  // multipleOf 0.1 on a charging limit
  const json profile = json::parse(R"({"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,
    "chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Relative","chargingSchedule":{
    "chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":6.05}]}}})");
  EXPECT_EQ(code_of("SetChargingProfile", Direction::request, profile), ErrorCode::PropertyConstraintViolation);
  // responses are checked too
  EXPECT_EQ(code_of("SetChargingProfile", Direction::response, {{"status", "Maybe"}}),
            ErrorCode::PropertyConstraintViolation);
  // an action without a schema here
  EXPECT_EQ(code_of("GetCompositeSchedule", Direction::request, json::object()), ErrorCode::NotImplemented);
}

TEST(OcppDateTime, ReadsRfc3339AndWritesUtc) {
  using namespace std::chrono;
  const auto t = parse_date_time("2026-12-07T16:30:00.250+08:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_date_time(*t), "2026-12-07T08:30:00.250Z");
  EXPECT_EQ(parse_date_time("2026-12-07T08:30:00Z"), parse_date_time("2026-12-07T08:30:00.000z"));
  for (const char* bad_text : {"2026-12-07 08:30:00Z", "2026-13-07T08:30:00Z", "2026-02-30T08:30:00Z",
                               "2026-12-07T08:30:00", "2026-12-07T08:30:00+0800", "2026-12-07T08:30:00Zjunk"})
    EXPECT_EQ(parse_date_time(bad_text), std::nullopt) << bad_text;
}

TEST(OcppAuth, BasicAuthorizationIsBase64OfUserColonPassword) {
  // RFC 7617, section 2's example.
  EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(basic_authorization("a", "b"), "Basic YTpi");
  EXPECT_EQ(basic_authorization("ab", "c"), "Basic YWI6Yw==");
}

TEST(OcppLimits, CurrentPerPhaseRoundsDownToTenths) {
  EXPECT_DOUBLE_EQ(limit_current_a(2300, 1), 10.0);
  EXPECT_DOUBLE_EQ(limit_current_a(2299, 1), 9.9);
  EXPECT_DOUBLE_EQ(limit_current_a(11040, 3), 16.0);
  EXPECT_DOUBLE_EQ(limit_current_a(-500, 1), 0.0);
}

}  // namespace
}  // namespace orderly::drivers::ocpp
