// The central system frame by frame, with no network: what a charge point sends goes into a
// Link, what the central system sends is collected from the Link's send function, and the
// DeviceEvents are what the gateway's controller would see.
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include <boost/asio/io_context.hpp>

#include "orderly/drivers/ocpp.hpp"

namespace orderly::drivers::ocpp {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class CentralSystemTest : public ::testing::Test {
 protected:
  void SetUp() override { make(ChargePointSettings{}); }
  // Requests still pending fail on stop and report to the collections below: stop first.
  void TearDown() override { central.reset(); }

  void make(ChargePointSettings s) {
    DeviceEvents events;
    events.charger_snapshot = [this](const std::string& id, const ChargerSnapshot& snap) {
      snapshots.push_back(snap);
      latest[id] = snap;
    };
    events.limit_ack = [this](const std::string& id, const LimitAck& a) {
      acks.push_back(a);
      acked_by.push_back(id);
    };
    events.health = [this](const std::string&, const Health& h) { health = h; };
    CentralSystemOptions o;
    o.call_timeout = 200ms;
    central.reset();
    central = std::make_unique<CentralSystem>(io.get_executor(), clock, o, events);
    if (s.id.empty()) s = one_pile();
    charger = central->add_charger(s);
  }

  // p-1 on charge point CP-1: one phase, 7 kW, a 6 A failsafe.
  static ChargePointSettings one_pile() {
    ChargePointSettings s;
    s.id = "p-1";
    s.charge_point_id = "CP-1";
    s.password = "s3cret";
    s.caps.phases = 1;
    s.caps.max_power_w = 7000;
    s.failsafe_current_a = 6;
    return s;
  }

  void connect() {
    link = central->open("CP-1", [this](std::string text) { sent.push_back(std::move(text)); },
                         [this] { ++closes; });
    ASSERT_TRUE(link);
  }

  // The charge point's CALL; returns what the central system answered it with.
  Message cp_call(const std::string& action, json payload) {
    const std::size_t before = sent.size();
    link->receive(encode(Call{std::to_string(++cp_ids), action, std::move(payload)}));
    EXPECT_GT(sent.size(), before) << action << " not answered";
    auto answer = std::get<Message>(decode(sent.at(before)));
    sent.erase(sent.begin() + static_cast<std::ptrdiff_t>(before));
    return answer;
  }

  // The next CALL the central system sent, which must be `action`.
  Call next_call(const std::string& action) {
    EXPECT_FALSE(sent.empty()) << "expected " << action;
    if (sent.empty()) return {};
    auto m = std::get<Message>(decode(sent.front()));
    sent.pop_front();
    EXPECT_TRUE(std::holds_alternative<Call>(m));
    auto c = std::get<Call>(m);
    EXPECT_EQ(c.action, action);
    EXPECT_EQ(validate(c.action, Direction::request, c.payload), std::nullopt) << c.payload.dump();
    return c;
  }

  void answer(const Call& c, json payload) { link->receive(encode(CallResult{c.id, std::move(payload)})); }

  // Answers the configuration the central system sends on a link's first message.
  void answer_configuration(int default_profiles = 1) {
    answer(next_call("ChangeConfiguration"), {{"status", "Accepted"}});
    answer(next_call("ClearChargingProfile"), {{"status", "Accepted"}});
    answer(next_call("ClearChargingProfile"), {{"status", "Unknown"}});
    for (int i = 0; i < default_profiles + 1; ++i) answer(next_call("SetChargingProfile"), {{"status", "Accepted"}});
  }

  std::string now_text(std::chrono::seconds off = 0s) const { return format_date_time(clock.now() + off); }

  // Boots and answers the configuration the central system sends on every link.
  void boot_and_configure() {
    connect();
    const auto r = std::get<CallResult>(cp_call("BootNotification", {{"chargePointVendor", "V"}, {"chargePointModel", "M"}}));
    EXPECT_EQ(r.payload["status"], "Accepted");
    answer_configuration();
    EXPECT_TRUE(sent.empty());
  }

  int start_transaction(const std::string& id_tag) {
    cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Preparing"}});
    const auto r = std::get<CallResult>(cp_call("StartTransaction", {{"connectorId", 1}, {"idTag", id_tag},
                                                                      {"meterStart", 1000}, {"timestamp", now_text()}}));
    EXPECT_EQ(r.payload["idTagInfo"]["status"], "Accepted");
    return r.payload["transactionId"].get<int>();
  }

  boost::asio::io_context io;
  ManualClock clock{TimePoint{} + std::chrono::hours(24 * 20000)};
  std::unique_ptr<CentralSystem> central;
  std::shared_ptr<OcppCharger> charger;
  std::shared_ptr<CentralSystem::Link> link;
  std::deque<std::string> sent;
  int closes = 0;
  int cp_ids = 0;
  std::vector<ChargerSnapshot> snapshots;
  std::map<std::string, ChargerSnapshot> latest;  // by charger id
  std::vector<LimitAck> acks;
  std::vector<std::string> acked_by;
  Health health;
};

TEST_F(CentralSystemTest, BasicAuthNeedsTheChargePointIdAndItsPassword) {
  EXPECT_TRUE(central->authorize("CP-1", basic_authorization("CP-1", "s3cret")));
  EXPECT_FALSE(central->authorize("CP-1", basic_authorization("CP-1", "s3cret!")));
  EXPECT_FALSE(central->authorize("CP-1", basic_authorization("CP-2", "s3cret")));
  EXPECT_FALSE(central->authorize("CP-2", basic_authorization("CP-2", "s3cret")));
  EXPECT_FALSE(central->authorize("CP-1", ""));
  EXPECT_FALSE(central->authorize("CP-1", "Bearer s3cret"));
  EXPECT_EQ(central->open("CP-9", [](std::string) {}, [] {}), nullptr);
}

TEST_F(CentralSystemTest, BootIsAcceptedAndTheFailsafeAndCeilingAreInstalled) {
  connect();
  EXPECT_TRUE(health.online);
  const auto r = std::get<CallResult>(cp_call("BootNotification", {{"chargePointVendor", "V"}, {"chargePointModel", "M"}}));
  EXPECT_EQ(r.payload["status"], "Accepted");
  EXPECT_EQ(r.payload["interval"], 60);
  // One CALL in flight at a time (OCPP-J 4.1.1): the next goes out when this one is answered.
  const auto interval = next_call("ChangeConfiguration");
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(interval.payload["key"], "MeterValueSampleInterval");
  EXPECT_EQ(interval.payload["value"], "10");
  answer(interval, {{"status", "Accepted"}});
  EXPECT_EQ(next_call("ClearChargingProfile").payload["chargingProfilePurpose"], "TxDefaultProfile");
  EXPECT_TRUE(sent.empty());
  // A pile that answers with a CallError is logged and counted, and the rest still goes out.
  const auto errors_before = health.errors;
  link->receive(R"([4,"2","NotSupported","no clearing here",{}])");
  EXPECT_EQ(health.errors, errors_before + 1);
  answer(next_call("ClearChargingProfile"), {{"status", "Unknown"}});
  const auto failsafe = next_call("SetChargingProfile");
  EXPECT_EQ(failsafe.payload["connectorId"], 0);
  const auto& fp = failsafe.payload["csChargingProfiles"];
  EXPECT_EQ(fp["chargingProfilePurpose"], "TxDefaultProfile");
  EXPECT_EQ(fp["chargingProfileKind"], "Relative");
  EXPECT_FALSE(fp["chargingSchedule"].contains("duration"));
  EXPECT_EQ(fp["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"], 6.0);
  answer(failsafe, {{"status", "Accepted"}});
  const auto ceiling = next_call("SetChargingProfile");
  EXPECT_EQ(ceiling.payload["csChargingProfiles"]["chargingProfilePurpose"], "ChargePointMaxProfile");
  EXPECT_DOUBLE_EQ(ceiling.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"].get<double>(),
                   30.4);  // 7000 W / 230 V, rounded down to 0.1 A
  answer(ceiling, {{"status", "Accepted"}});
  EXPECT_TRUE(sent.empty());
  EXPECT_TRUE(charger->capabilities().failsafe);
}

TEST_F(CentralSystemTest, ACardStartsATransactionWhoseOwnerIsTheIdTag) {
  boot_and_configure();
  EXPECT_EQ(std::get<CallResult>(cp_call("Authorize", {{"idTag", "CARD-0042"}})).payload["idTagInfo"]["status"],
            "Accepted");
  const int tx = start_transaction("CARD-0042");
  EXPECT_EQ(charger->transaction_id(), tx);
  ASSERT_FALSE(snapshots.empty());
  EXPECT_EQ(snapshots.back().rfid, "CARD-0042");
  EXPECT_EQ(snapshots.back().state, ChargerState::plugged);

  cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Charging"}});
  EXPECT_EQ(snapshots.back().state, ChargerState::charging);
  cp_call("MeterValues", json::parse(R"({"connectorId":1,"transactionId":)" + std::to_string(tx) + R"(,"meterValue":[
    {"timestamp":"2026-12-07T08:01:00Z","sampledValue":[
      {"value":"3.5","measurand":"Energy.Active.Import.Register","unit":"kWh"},
      {"value":"7.2","measurand":"Power.Active.Import","unit":"kW"},
      {"value":"31.1","measurand":"Current.Import","unit":"A","phase":"L1"},
      {"value":"229","measurand":"Voltage","unit":"V","phase":"L1-N"}]}]})"));
  const auto& s = snapshots.back();
  EXPECT_DOUBLE_EQ(s.total_energy_wh, 3500);
  EXPECT_DOUBLE_EQ(s.session_energy_wh, 2500);  // meterStart was 1000 Wh
  EXPECT_DOUBLE_EQ(s.power_w, 7200);
  EXPECT_DOUBLE_EQ(s.current_a[0], 31.1);
  EXPECT_DOUBLE_EQ(s.voltage_v[0], 229);

  EXPECT_TRUE(std::holds_alternative<CallResult>(cp_call("StopTransaction",
      {{"transactionId", tx}, {"meterStop", 4000}, {"timestamp", "2026-12-07T09:00:00Z"}, {"reason", "EVDisconnected"}})));
  EXPECT_EQ(charger->transaction_id(), std::nullopt);
  cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Available"}});
  EXPECT_EQ(snapshots.back().state, ChargerState::unplugged);
  EXPECT_EQ(snapshots.back().rfid, "");
}

TEST_F(CentralSystemTest, LimitsBecomeTxProfilesOfTheRunningTransaction) {
  boot_and_configure();
  charger->apply_limit(PowerLimit{4600, 60s, 7});  // no transaction yet: nothing to limit
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks.back().accepted);
  EXPECT_TRUE(sent.empty());

  const int tx = start_transaction("CARD-1");
  // The limit still in force goes out for the new transaction at once.
  const auto first = next_call("SetChargingProfile");
  EXPECT_EQ(first.payload["csChargingProfiles"]["transactionId"], tx);
  EXPECT_EQ(first.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"], 20.0);
  answer(first, {{"status", "Accepted"}});
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks.back().seq, 7u);

  charger->apply_limit(PowerLimit{2300, 30s, 8});
  const auto c = next_call("SetChargingProfile");
  EXPECT_EQ(c.payload["connectorId"], 1);
  const auto& p = c.payload["csChargingProfiles"];
  EXPECT_EQ(p["chargingProfilePurpose"], "TxProfile");
  EXPECT_EQ(p["chargingProfileKind"], "Absolute");
  EXPECT_EQ(p["chargingSchedule"]["duration"], 30);  // the limit's validity: then TxDefaultProfile
  EXPECT_EQ(parse_date_time(p["chargingSchedule"]["startSchedule"].get<std::string>()),
            std::chrono::floor<std::chrono::milliseconds>(clock.now()));
  EXPECT_EQ(p["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"], 10.0);
  answer(c, {{"status", "Accepted"}});
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_TRUE(acks.back().accepted);
  EXPECT_EQ(acks.back().seq, 8u);
  EXPECT_DOUBLE_EQ(acks.back().applied_limit_w, 2300);

  charger->apply_limit(PowerLimit{0, 30s, 9});
  const auto pause = next_call("SetChargingProfile");
  EXPECT_EQ(pause.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"], 0.0);
  answer(pause, {{"status", "Rejected"}});
  EXPECT_FALSE(acks.back().accepted);
  EXPECT_NE(acks.back().error.find("Rejected"), std::string::npos) << acks.back().error;

  // A pile that never answers: the limit counts as not applied after call_timeout.
  charger->apply_limit(PowerLimit{1380, 30s, 10});
  next_call("SetChargingProfile");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (acks.back().seq != 10u && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
  EXPECT_EQ(acks.back().seq, 10u);
  EXPECT_FALSE(acks.back().accepted);
  EXPECT_NE(acks.back().error.find("no answer"), std::string::npos) << acks.back().error;
}

TEST_F(CentralSystemTest, BadRequestsAreAnsweredWithTheRightCallError) {
  boot_and_configure();
  auto error_of = [&](const std::string& action, json payload) {
    const auto m = cp_call(action, std::move(payload));
    EXPECT_TRUE(std::holds_alternative<CallError>(m)) << action;
    return std::holds_alternative<CallError>(m) ? std::get<CallError>(m).code : ErrorCode::GenericError;
  };
  EXPECT_EQ(error_of("StartTransaction", {{"connectorId", 1}, {"idTag", "X"}}), ErrorCode::OccurenceConstraintViolation);
  EXPECT_EQ(error_of("Authorize", {{"idTag", 42}}), ErrorCode::TypeConstraintViolation);
  EXPECT_EQ(error_of("Authorize", {{"idTag", std::string(21, 'A')}}), ErrorCode::PropertyConstraintViolation);
  EXPECT_EQ(error_of("Heartbeat", {{"extra", true}}), ErrorCode::FormationViolation);
  EXPECT_EQ(error_of("DataTransfer", {{"vendorId", "X"}}), ErrorCode::NotSupported);
  EXPECT_EQ(error_of("Teleport", json::object()), ErrorCode::NotImplemented);
  EXPECT_EQ(error_of("SetChargingProfile", json::parse(R"({"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,
    "stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{
    "chargingRateUnit":"A","chargingSchedulePeriod":[]}}})")), ErrorCode::NotSupported);  // not the pile's to send

  link->receive("this is not json");
  ASSERT_FALSE(sent.empty());
  const auto e = std::get<CallError>(std::get<Message>(decode(sent.back())));
  EXPECT_EQ(e.id, kUnknownMessageId);
  EXPECT_EQ(e.code, ErrorCode::FormationViolation);
  sent.clear();
  link->receive(R"([3,"999",{}])");  // a result for nothing we asked: logged, never answered
  EXPECT_TRUE(sent.empty());
  EXPECT_GT(health.errors, 0u);
}

TEST_F(CentralSystemTest, AClosedOrReplacedLinkTakesThePileOffline) {
  boot_and_configure();
  auto old_link = link;
  connect();  // the pile reconnects: the old link is closed and ignored from now on
  EXPECT_EQ(closes, 1);
  EXPECT_TRUE(health.online);
  sent.clear();
  old_link->receive(encode(Call{"x", "Heartbeat", json::object()}));
  EXPECT_TRUE(sent.empty());
  old_link->closed();
  EXPECT_TRUE(health.online);
  // A reconnected pile that does not boot again is configured on its first message.
  cp_call("Heartbeat", json::object());
  next_call("ChangeConfiguration");
  link->closed();
  EXPECT_FALSE(health.online);
  charger->apply_limit(PowerLimit{2300, 30s, 11});
  ASSERT_FALSE(acks.empty());
  EXPECT_FALSE(acks.back().accepted);
  EXPECT_NE(acks.back().error.find("not connected"), std::string::npos);
}

TEST_F(CentralSystemTest, APluggedCarIsRemoteStartedWhenTheSiteAsksForIt) {
  ChargePointSettings s;
  s.id = "p-1";
  s.charge_point_id = "CP-1";
  s.password = "pw";
  s.remote_start_id_tag = "HOUSE-1201";
  make(s);
  boot_and_configure();
  cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Preparing"}});
  const auto start = next_call("RemoteStartTransaction");
  EXPECT_EQ(start.payload["idTag"], "HOUSE-1201");
  EXPECT_EQ(start.payload["connectorId"], 1);
  answer(start, {{"status", "Accepted"}});
  const int tx = std::get<CallResult>(cp_call("StartTransaction", {{"connectorId", 1}, {"idTag", "HOUSE-1201"},
                                                                     {"meterStart", 0}, {"timestamp", "2026-12-07T08:00:00Z"}}))
                     .payload["transactionId"]
                     .get<int>();
  std::optional<bool> stopped;
  charger->remote_stop([&](bool ok) { stopped = ok; });
  const auto stop = next_call("RemoteStopTransaction");
  EXPECT_EQ(stop.payload["transactionId"], tx);
  answer(stop, {{"status", "Accepted"}});
  EXPECT_EQ(stopped, true);
}

TEST_F(CentralSystemTest, AReconnectedPileIsAskedForItsStateAndGetsItsTxProfileAgain) {
  boot_and_configure();
  const int tx = start_transaction("CARD-1");
  charger->apply_limit(PowerLimit{4600, 60s, 1});
  answer(next_call("SetChargingProfile"), {{"status", "Accepted"}});

  // The link drops and the pile comes back without booting and without telling its status.
  link->closed();
  connect();
  cp_call("Heartbeat", json::object());
  answer_configuration();
  const auto status = next_call("TriggerMessage");
  EXPECT_EQ(status.payload["requestedMessage"], "StatusNotification");
  EXPECT_EQ(status.payload["connectorId"], 1);
  answer(status, {{"status", "Accepted"}});
  const auto meter = next_call("TriggerMessage");
  EXPECT_EQ(meter.payload["requestedMessage"], "MeterValues");
  answer(meter, {{"status", "Accepted"}});
  // The TxProfile may have run out while the pile was away: the limit in force goes again.
  const auto again = next_call("SetChargingProfile");
  EXPECT_EQ(again.payload["csChargingProfiles"]["transactionId"], tx);
  EXPECT_EQ(again.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"], 20.0);
  answer(again, {{"status", "Accepted"}});
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(charger->transaction_id(), tx);

  // A pile that tells its status on its own is not asked for it.
  link->closed();
  connect();
  cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Charging"}});
  cp_call("MeterValues", {{"connectorId", 1}, {"transactionId", tx},
                          {"meterValue", {{{"timestamp", now_text()}, {"sampledValue", {{{"value", "1200"}}}}}}}});
  answer_configuration();
  EXPECT_EQ(next_call("SetChargingProfile").payload["csChargingProfiles"]["transactionId"], tx);
}

TEST_F(CentralSystemTest, ATransactionAGatewayNeverSawIsTakenOnFromTheMeterValues) {
  // A restarted gateway: the pile kept charging in transaction 4711 and reconnects.
  connect();
  cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Charging"}});
  EXPECT_EQ(latest["p-1"].state, ChargerState::charging);
  answer_configuration();
  const auto meter = next_call("TriggerMessage");
  EXPECT_EQ(meter.payload["requestedMessage"], "MeterValues");
  answer(meter, {{"status", "Accepted"}});
  EXPECT_TRUE(sent.empty());
  charger->apply_limit(PowerLimit{2300, 60s, 3});  // before it is known: remembered
  cp_call("MeterValues", {{"connectorId", 1}, {"transactionId", 4711},
                          {"meterValue", {{{"timestamp", now_text()}, {"sampledValue", {{{"value", "5000"}}}}}}}});
  EXPECT_EQ(charger->transaction_id(), 4711);
  EXPECT_EQ(latest["p-1"].state, ChargerState::charging);
  EXPECT_DOUBLE_EQ(latest["p-1"].total_energy_wh, 5000);
  EXPECT_TRUE(std::isnan(latest["p-1"].session_energy_wh));  // its meterStart is not known
  const auto tx_profile = next_call("SetChargingProfile");
  EXPECT_EQ(tx_profile.payload["csChargingProfiles"]["transactionId"], 4711);
  answer(tx_profile, {{"status", "Accepted"}});
  cp_call("StopTransaction", {{"transactionId", 4711}, {"meterStop", 6000}, {"timestamp", now_text()}});
  EXPECT_EQ(charger->transaction_id(), std::nullopt);
}

TEST_F(CentralSystemTest, EachConnectorIsItsOwnChargerUnderTheStationsCeiling) {
  ChargePointSettings first = one_pile();
  first.station_max_power_w = 11000;
  make(first);
  ChargePointSettings second = first;
  second.id = "p-2";
  second.connector_id = 2;
  second.failsafe_current_a = 8;
  auto charger2 = central->add_charger(second);
  EXPECT_EQ(charger2->id(), "p-2");
  second.id = "p-3";
  EXPECT_THROW(central->add_charger(second), std::invalid_argument);  // connector 2 again
  second.connector_id = 3;
  second.password = "other";
  EXPECT_THROW(central->add_charger(second), std::invalid_argument);  // one link, one password

  connect();
  cp_call("BootNotification", {{"chargePointVendor", "V"}, {"chargePointModel", "M"}});
  answer(next_call("ChangeConfiguration"), {{"status", "Accepted"}});
  answer(next_call("ClearChargingProfile"), {{"status", "Accepted"}});
  answer(next_call("ClearChargingProfile"), {{"status", "Accepted"}});
  // Each connector its own failsafe; the ceiling on connector 0 for the station as a whole.
  for (const auto& [connector, amps] : {std::pair{1, 6.0}, std::pair{2, 8.0}}) {
    const auto d = next_call("SetChargingProfile");
    EXPECT_EQ(d.payload["connectorId"], connector);
    EXPECT_EQ(d.payload["csChargingProfiles"]["chargingProfilePurpose"], "TxDefaultProfile");
    EXPECT_EQ(d.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"], amps);
    answer(d, {{"status", "Accepted"}});
  }
  const auto ceiling = next_call("SetChargingProfile");
  EXPECT_EQ(ceiling.payload["connectorId"], 0);
  EXPECT_EQ(ceiling.payload["csChargingProfiles"]["chargingProfilePurpose"], "ChargePointMaxProfile");
  EXPECT_DOUBLE_EQ(ceiling.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"].get<double>(),
                   limit_current_a(11000, 1));
  answer(ceiling, {{"status", "Accepted"}});
  EXPECT_TRUE(sent.empty());

  // Status, transactions and limits per connector, each reported as its own charger.
  cp_call("StatusNotification", {{"connectorId", 2}, {"errorCode", "NoError"}, {"status", "Preparing"}});
  cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Available"}});
  EXPECT_EQ(latest["p-2"].state, ChargerState::plugged);
  EXPECT_EQ(latest["p-1"].state, ChargerState::unplugged);
  const auto r = std::get<CallResult>(cp_call("StartTransaction", {{"connectorId", 2}, {"idTag", "CARD-2"},
                                                                   {"meterStart", 0}, {"timestamp", now_text()}}));
  const int tx2 = r.payload["transactionId"].get<int>();
  EXPECT_EQ(charger2->transaction_id(), tx2);
  EXPECT_EQ(charger->transaction_id(), std::nullopt);
  EXPECT_EQ(latest["p-2"].rfid, "CARD-2");
  cp_call("MeterValues", {{"connectorId", 2}, {"transactionId", tx2},
                          {"meterValue", {{{"timestamp", now_text()}, {"sampledValue", {{{"value", "250"}}}}}}}});
  EXPECT_DOUBLE_EQ(latest["p-2"].session_energy_wh, 250);
  charger2->apply_limit(PowerLimit{2300, 60s, 5});
  const auto tx_profile = next_call("SetChargingProfile");
  EXPECT_EQ(tx_profile.payload["connectorId"], 2);
  EXPECT_EQ(tx_profile.payload["csChargingProfiles"]["transactionId"], tx2);
  answer(tx_profile, {{"status", "Accepted"}});
  EXPECT_EQ(acked_by.back(), "p-2");
  EXPECT_TRUE(acks.back().accepted);

  // A connector the site has no charger for may not draw: the gateway could not limit it.
  const auto stray = std::get<CallResult>(cp_call("StartTransaction", {{"connectorId", 3}, {"idTag", "CARD-3"},
                                                                       {"meterStart", 0}, {"timestamp", now_text()}}));
  EXPECT_EQ(stray.payload["idTagInfo"]["status"], "Invalid");
  EXPECT_NE(health.last_error.find("connector 3"), std::string::npos) << health.last_error;

  cp_call("StopTransaction", {{"transactionId", tx2}, {"meterStop", 300}, {"timestamp", now_text()}});
  EXPECT_EQ(charger2->transaction_id(), std::nullopt);
  EXPECT_DOUBLE_EQ(latest["p-2"].total_energy_wh, 300);
}

TEST_F(CentralSystemTest, APileWhoseClockIsOffIsWarnedAndTheGatewayBooksAtItsReceiveTime) {
  boot_and_configure();
  const int tx = start_transaction("CARD-1");
  auto meter_values = [&](std::chrono::seconds pile_clock_off, const std::string& wh) {
    cp_call("MeterValues", {{"connectorId", 1}, {"transactionId", tx},
                            {"meterValue", {{{"timestamp", now_text(pile_clock_off)}, {"sampledValue", {{{"value", wh}}}}}}}});
  };
  const auto errors = health.errors;
  meter_values(-5s, "1100");  // within the tolerance (60 s): no warning
  EXPECT_EQ(health.errors, errors);
  EXPECT_EQ(latest["p-1"].at, clock.now());

  // Ten minutes ahead: one warning, and the reading still at the gateway's receive time.
  clock.advance(10s);
  meter_values(600s, "1200");
  EXPECT_EQ(latest["p-1"].at, clock.now());
  EXPECT_EQ(health.errors, errors + 1);
  EXPECT_NE(health.last_error.find("clock off by 600 s"), std::string::npos) << health.last_error;
  clock.advance(10s);
  meter_values(-600s, "1300");
  EXPECT_EQ(latest["p-1"].at, clock.now());
  EXPECT_EQ(health.errors, errors + 1);  // warned once while it stays off

  // The Heartbeat answer carries the gateway's time, for the pile to set its clock by; once it
  // has, and drifts off again, it is warned again.
  const auto beat = std::get<CallResult>(cp_call("Heartbeat", json::object()));
  EXPECT_EQ(parse_date_time(beat.payload["currentTime"].get<std::string>()),
            std::chrono::floor<std::chrono::milliseconds>(clock.now()));
  meter_values(-1s, "1400");
  cp_call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Charging"},
                                 {"timestamp", now_text(-120s)}});
  EXPECT_EQ(health.errors, errors + 2);
}

}  // namespace
}  // namespace orderly::drivers::ocpp
