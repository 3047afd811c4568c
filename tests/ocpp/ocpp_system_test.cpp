// Issue 13, OCPP check: the whole gateway (RunningGateway: core thread, web server, SQLite) with
// a simulated OCPP 1.6J charge point over a real WebSocket on loopback, and a simulated
// transformer meter on a real Mosquitto broker that measures the base load plus what the pile
// draws. The verdicts come from what the simulated pile received and when.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "orderly/drivers/ocpp.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/sim/ocpp_charge_point.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr double kLimitW = 50'000;
constexpr double kBaseW = 20'000;
constexpr double kPileW = 7'000;
constexpr double kFailsafeA = 6;
constexpr int kValidityS = 10;  // the shortest [control] allows: the TxProfile's duration

std::string site_config(int mqtt_port, const std::filesystem::path& db) {
  std::ostringstream t;
  t << test::site_toml({.limit_kw = kLimitW / 1000, .mqtt_port = mqtt_port, .db = db,
                        .control = "control_period_s = 1\nlimit_validity_s = " + std::to_string(kValidityS) +
                                   "\nsafety_margin_kw = 2\n"})
    << "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n"
    << "[[charger]]\nid = \"op-1\"\nkind = \"shared\"\nphase = \"A\"\ndriver = \"ocpp\"\nocpp_id = \"CP-0001\"\n"
    << "ocpp_password = \"pile-secret\"\nocpp_meter_interval_s = 1\nmax_power_kw = 7\nfailsafe_current_a = "
    << kFailsafeA << "\n";
  return t.str();
}

class OcppSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = sim::MosquittoBroker::start();
    site_ = std::make_unique<test::RunningGateway>(
        clock_, gateway::parse_config(site_config(broker_->port(), dir_ / "orderly.db"), "ocpp.toml"));
    pile_ = make_pile("pile-secret");
    meter_ = std::make_unique<sim::SimMqttMeter>("tm-1", "127.0.0.1", broker_->port(), clock_,
                                                 [this](TimePoint) { return kBaseW + pile_->power_w(); }, 250ms);
    meter_->on_reading([this](const sim::MeterReading& r) {
      std::lock_guard lock(mutex_);
      readings_.push_back(r);
    });
    meter_->start();
  }

  void TearDown() override {
    if (pile_) pile_->stop();
    if (meter_) meter_->stop();
    site_.reset();
  }

  std::unique_ptr<sim::SimOcppChargePoint> make_pile(const std::string& password, const std::string& id = "CP-0001") {
    sim::SimOcppOptions o;
    o.charge_point_id = id;
    o.port = site_->gateway().web_port();
    o.password = password;
    o.max_power_w = kPileW;
    auto pile = std::make_unique<sim::SimOcppChargePoint>(o, clock_);
    pile->start();
    return pile;
  }

  std::optional<sim::ReceivedProfile> last_profile(const std::string& purpose) const {
    std::optional<sim::ReceivedProfile> out;
    for (const auto& p : pile_->profiles())
      if (p.purpose == purpose) out = p;
    return out;
  }

  test::TempDir dir_;
  RealClock clock_;
  std::unique_ptr<sim::MosquittoBroker> broker_;
  std::unique_ptr<test::RunningGateway> site_;
  std::unique_ptr<sim::SimOcppChargePoint> pile_;
  std::unique_ptr<sim::SimMqttMeter> meter_;
  std::mutex mutex_;
  std::vector<sim::MeterReading> readings_;
};

TEST_F(OcppSystem, BootsStartsFromACardFollowsAnOverloadAndFallsBackToItsTxDefaultProfile) {
  // Boot: accepted, then the failsafe and the ceiling installed and the meter interval set.
  ASSERT_TRUE(test::wait_until([&] { return pile_->booted(); }, 10s)) << "BootNotification not accepted";
  ASSERT_TRUE(test::wait_until([&] { return last_profile("TxDefaultProfile") && last_profile("ChargePointMaxProfile"); }, 10s));
  EXPECT_DOUBLE_EQ(last_profile("TxDefaultProfile")->limit_a, kFailsafeA);
  EXPECT_DOUBLE_EQ(last_profile("ChargePointMaxProfile")->limit_a, drivers::ocpp::limit_current_a(kPileW, 1));
  EXPECT_EQ(pile_->meter_value_interval(), 1s);

  // An RFID card starts the transaction and becomes the shared pile's session owner.
  pile_->plug_in(30'000, kPileW);
  pile_->present_card("CARD-0042");
  ASSERT_TRUE(test::wait_until([&] { return pile_->transaction_id().has_value(); }, 10s)) << "no transaction";
  std::string household;
  ASSERT_TRUE(test::wait_until([&] {
    household = test::on_core(site_->io(), [&] {
      const auto s = site_->gateway().sessions().open_session("op-1");
      return s ? s->household : std::string();
    });
    return household == "rfid:CARD-0042";
  }, 10s)) << "session owner: '" << household << "'";

  // Charge now, so the pile draws its full power whatever the time of day.
  ASSERT_EQ(test::boost_when_plugged(site_->io(), site_->gateway(), "op-1"), "");
  ASSERT_TRUE(test::wait_until([&] { return pile_->power_w() > kPileW - 100; }, 15s))
      << "pile at " << pile_->power_w() << " W under " << pile_->limiting_profile();
  EXPECT_EQ(pile_->limiting_profile(), "TxProfile");
  const auto tx_profile = last_profile("TxProfile");
  ASSERT_TRUE(tx_profile);
  EXPECT_EQ(tx_profile->transaction_id, pile_->transaction_id());
  EXPECT_EQ(tx_profile->duration_s, kValidityS);

  // Overload: the base load steps by 26 kW (20 + 26 + 7 = 53 kW against 50). The pile must get a
  // lower TxProfile within one control period (1 s) of the first meter reading showing it.
  const std::size_t before = [&] {
    std::lock_guard lock(mutex_);
    return readings_.size();
  }();
  meter_->set_base_load_offset_w(26'000);
  steady::time_point first_over{};
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard lock(mutex_);
    for (std::size_t i = before; i < readings_.size(); ++i)
      if (readings_[i].power_w > kLimitW) {
        first_over = readings_[i].published_at;
        return true;
      }
    return false;
  }, 5s)) << "no meter reading showed the overload";
  std::optional<sim::ReceivedProfile> cut;
  ASSERT_TRUE(test::wait_until([&] {
    for (const auto& p : pile_->profiles())
      if (p.purpose == "TxProfile" && p.received_at >= first_over && p.limit_a < tx_profile->limit_a) {
        cut = p;
        return true;
      }
    return false;
  }, 5s)) << "no lower TxProfile after the overload";
  const auto reaction = std::chrono::duration_cast<std::chrono::milliseconds>(cut->received_at - first_over);
  std::printf("overload to lower TxProfile: %lld ms (limit %.1f A)\n", static_cast<long long>(reaction.count()), cut->limit_a);
  EXPECT_LE(reaction, 1000ms) << "the profile came " << reaction.count() << " ms after the overload reading";
  // 50 - 2 (margin) - 46 (base) = 2 kW for the pile, 8.6 A at 230 V.
  EXPECT_LE(cut->limit_a, drivers::ocpp::limit_current_a(2'000, 1) + 0.05);
  ASSERT_TRUE(test::wait_until([&] { return meter_->last_power_w() <= kLimitW; }, 5s));

  // The gateway dies: the last TxProfile runs out after its duration and the pile falls back to
  // the TxDefaultProfile, 6 A, not to its full power.
  site_.reset();
  ASSERT_TRUE(test::wait_until([&] { return !pile_->connected(); }, 5s));
  ASSERT_TRUE(test::wait_until([&] { return pile_->limiting_profile() == "TxDefaultProfile"; },
                               std::chrono::seconds(kValidityS + 5)))
      << "still limited by '" << pile_->limiting_profile() << "' at " << pile_->limit_w() << " W";
  EXPECT_DOUBLE_EQ(pile_->limit_w(), kFailsafeA * kNominalPhaseVoltageV);
  EXPECT_TRUE(test::wait_until([&] { return std::abs(pile_->power_w() - kFailsafeA * kNominalPhaseVoltageV) < 1; }, 2s));
}

TEST_F(OcppSystem, TheUpgradeIsRefusedWithoutThePasswordOrForAnUnknownPile) {
  auto intruder = make_pile("guess");
  auto stranger = make_pile("pile-secret", "CP-9999");
  EXPECT_TRUE(test::wait_until([&] { return intruder->upgrades_refused() >= 1 && stranger->upgrades_refused() >= 1; }, 10s));
  EXPECT_FALSE(intruder->connected());
  EXPECT_FALSE(intruder->booted());
  EXPECT_FALSE(stranger->booted());
  // The configured pile with its password is unaffected.
  EXPECT_TRUE(test::wait_until([&] { return pile_->booted(); }, 10s));
  intruder->stop();
  stranger->stop();
}

// A bare WebSocket handshake, to see the HTTP answer itself.
struct Handshake {
  int status = 0;
  std::string subprotocol;
  std::string www_authenticate;
};
Handshake handshake(std::uint16_t port, const std::string& target, const std::string& protocol,
                    const std::string& authorization) {
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  boost::asio::io_context io;
  websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).expires_after(5s);
  beast::get_lowest_layer(ws).connect(
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& r) {
    if (!protocol.empty()) r.set(beast::http::field::sec_websocket_protocol, protocol);
    if (!authorization.empty()) r.set(beast::http::field::authorization, authorization);
  }));
  websocket::response_type response;
  beast::error_code ec;
  ws.handshake(response, "127.0.0.1", target, ec);
  return {static_cast<int>(response.result_int()), std::string(response[beast::http::field::sec_websocket_protocol]),
          std::string(response[beast::http::field::www_authenticate])};
}

TEST_F(OcppSystem, TheHandshakeAnswersEachRefusalWithItsStatus) {
  pile_->stop();  // the test's own handshakes replace the simulated pile's link
  const auto port = site_->gateway().web_port();
  const auto auth = drivers::ocpp::basic_authorization("CP-0001", "pile-secret");
  const auto ok = handshake(port, "/ocpp/CP-0001", "ocpp1.6", auth);
  EXPECT_EQ(ok.status, 101);
  EXPECT_EQ(ok.subprotocol, "ocpp1.6");
  const auto wrong = handshake(port, "/ocpp/CP-0001", "ocpp1.6", drivers::ocpp::basic_authorization("CP-0001", "x"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.www_authenticate, ::testing::StartsWith("Basic"));
  EXPECT_EQ(handshake(port, "/ocpp/CP-0001", "ocpp1.6", "").status, 401);
  EXPECT_EQ(handshake(port, "/ocpp/CP-0001", "ocpp2.0.1", auth).status, 400);  // only 1.6J spoken here
  EXPECT_EQ(handshake(port, "/ocpp/CP-0001", "", auth).status, 400);
  EXPECT_EQ(handshake(port, "/somewhere/else", "ocpp1.6", auth).status, 404);
}

}  // namespace
}  // namespace orderly
