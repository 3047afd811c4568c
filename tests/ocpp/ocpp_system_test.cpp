// Issue 13, OCPP check: the whole gateway (RunningGateway: core thread, web server, SQLite) with
// a simulated OCPP 1.6J charge point over a real WebSocket on loopback, and a simulated
// transformer meter on a real Mosquitto broker that measures the base load plus what the pile
// draws. The verdicts come from what the simulated pile received and when.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
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
#include "orderly/test/test_pki.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr double kLimitW = 50'000;
constexpr double kBaseW = 20'000;
constexpr double kPileW = 7'000;
constexpr double kFailsafeA = 6;
constexpr int kValidityS = 10;  // the shortest [control] allows: the TxProfile's duration

// A shared OCPP charger on charge point CP-0001 with the password "pile-secret".
std::string ocpp_charger(const std::string& id, const std::string& phase, const std::string& keys = "") {
  std::ostringstream t;
  t << "[[charger]]\nid = \"" << id << "\"\nkind = \"shared\"\nphase = \"" << phase << "\"\ndriver = \"ocpp\"\n"
    << "ocpp_id = \"CP-0001\"\nocpp_password = \"pile-secret\"\nocpp_meter_interval_s = 1\nmax_power_kw = 7\n"
    << "failsafe_current_a = " << kFailsafeA << "\n" << keys;
  return t.str();
}

// `chargers` after the site and its transformer meter; `web_keys` added to [web].
std::string site_config(int mqtt_port, const std::filesystem::path& db, const std::string& chargers,
                        const std::string& web_keys) {
  std::string site = test::site_toml({.limit_kw = kLimitW / 1000, .mqtt_port = mqtt_port, .db = db,
                                      .control = "control_period_s = 1\nlimit_validity_s = " + std::to_string(kValidityS) +
                                                 "\nsafety_margin_kw = 2\n"});
  site.replace(site.find("[web]\n"), 6, "[web]\n" + web_keys);
  return site + "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n" + chargers;
}

class OcppSystem : public ::testing::Test {
 protected:
  // What the fixtures below change: the site's chargers, [web] keys, the simulated pile.
  virtual std::string chargers() const { return ocpp_charger("op-1", "A"); }
  virtual std::string web_keys() const { return ""; }
  virtual void set_up_pile(sim::SimOcppOptions&) const {}

  void SetUp() override {
    broker_ = sim::MosquittoBroker::start();
    config_text_ = site_config(broker_->port(), dir_ / "orderly.db", chargers(), web_keys());
    start_gateway();
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

  // The same configuration, store and port: a restarted gateway.
  void start_gateway() {
    site_ = std::make_unique<test::RunningGateway>(clock_, gateway::parse_config(config_text_, "ocpp.toml"));
  }

  std::unique_ptr<sim::SimOcppChargePoint> make_pile(const std::string& password, const std::string& id = "CP-0001",
                                                     const std::function<void(sim::SimOcppOptions&)>& more = {}) {
    sim::SimOcppOptions o;
    o.charge_point_id = id;
    o.port = site_->gateway().web_port();
    o.password = password;
    o.max_power_w = kPileW;
    set_up_pile(o);
    if (more) more(o);
    auto pile = std::make_unique<sim::SimOcppChargePoint>(o, clock_);
    pile->start();
    return pile;
  }

  // A car on `connector` started with `card` and boosted ("charge now", so the time of day does
  // not matter): returns once the pile draws `car_w` under a TxProfile.
  void charge(const std::string& charger_id, const std::string& card, int connector = 1, double car_w = kPileW) {
    pile_->plug_in(30'000, car_w, connector);
    pile_->present_card(card, connector);
    ASSERT_TRUE(test::wait_until([&] { return pile_->transaction_id(connector).has_value(); }, 10s))
        << "no transaction on connector " << connector;
    std::string household;
    ASSERT_TRUE(test::wait_until([&] {
      household = test::on_core(site_->io(), [&] {
        const auto s = site_->gateway().sessions().open_session(charger_id);
        return s ? s->household : std::string();
      });
      return household == "rfid:" + card;
    }, 10s)) << charger_id << " session owner: '" << household << "'";
    ASSERT_EQ(test::boost_when_plugged(site_->io(), site_->gateway(), charger_id), "");
    // A pile still being configured draws its own maximum at first: wait for the TxProfile too.
    ASSERT_TRUE(test::wait_until([&] {
      return tx_profile_since({}, connector) && pile_->power_w(connector) > car_w - 100;
    }, 15s)) << "connector " << connector << " at " << pile_->power_w(connector) << " W under '"
             << pile_->limiting_profile(connector) << "'";
    // ... and for its StatusNotification Charging to have arrived, so none is still on its way.
    ASSERT_TRUE(test::wait_until([&] { return charger_status(charger_id)["state"] == "charging"; }, 10s))
        << charger_status(charger_id).dump();
  }

  // The charger as the status page shows it.
  nlohmann::json charger_status(const std::string& id) {
    const auto status = test::on_core(site_->io(), [&] { return site_->gateway().status(); });
    for (const auto& c : status["chargers"])
      if (c["id"] == id) return c;
    return nullptr;
  }

  // A TxProfile for `connector`'s running transaction received after `since`.
  std::optional<sim::ReceivedProfile> tx_profile_since(steady::time_point since, int connector = 1) const {
    for (const auto& p : pile_->profiles())
      if (p.purpose == "TxProfile" && p.received_at > since && p.connector_id == connector &&
          p.transaction_id == pile_->transaction_id(connector))
        return p;
    return std::nullopt;
  }

  bool triggered(const std::string& what) const {
    const auto t = pile_->triggers();
    return std::find(t.begin(), t.end(), what) != t.end();
  }

  std::optional<sim::ReceivedProfile> last_profile(const std::string& purpose) const {
    std::optional<sim::ReceivedProfile> out;
    for (const auto& p : pile_->profiles())
      if (p.purpose == purpose) out = p;
    return out;
  }

  test::TempDir dir_;
  std::string config_text_;
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

  // An RFID card starts the transaction and becomes the shared pile's session owner; charge now.
  ASSERT_NO_FATAL_FAILURE(charge("op-1", "CARD-0042"));
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

// A pile that tells its status only after a boot or a change, as some do.
class OcppQuietPile : public OcppSystem {
 protected:
  void set_up_pile(sim::SimOcppOptions& o) const override { o.status_on_connect = false; }
};

TEST_F(OcppQuietPile, AReconnectedPileIsAskedForItsStateAndKeepsItsTxProfile) {
  ASSERT_NO_FATAL_FAILURE(charge("op-1", "CARD-0007"));
  const int tx = *pile_->transaction_id();
  const auto dropped = steady::now();
  pile_->drop_connection();
  ASSERT_TRUE(test::wait_until([&] { return pile_->connections() >= 2 && pile_->connected(); }, 10s));
  // Its periodic MeterValues may come before the gateway asks: only the status is sure to be asked for.
  EXPECT_TRUE(test::wait_until([&] { return triggered("StatusNotification:1"); }, 10s))
      << "the gateway did not ask the reconnected pile for its status";
  EXPECT_TRUE(test::wait_until([&] { return tx_profile_since(dropped).has_value(); }, 10s))
      << "no TxProfile after the reconnection";
  EXPECT_EQ(pile_->transaction_id(), tx);
  EXPECT_EQ(pile_->limiting_profile(), "TxProfile");
  const auto status = charger_status("op-1");
  EXPECT_EQ(status["state"], "charging") << status.dump();
  EXPECT_TRUE(status["online"].get<bool>());
}

TEST_F(OcppQuietPile, APileChargingThroughAGatewayRestartIsTakenOnWithItsTransaction) {
  ASSERT_NO_FATAL_FAILURE(charge("op-1", "CARD-0008"));
  const int tx = *pile_->transaction_id();
  site_.reset();
  ASSERT_TRUE(test::wait_until([&] { return !pile_->connected(); }, 5s));
  const auto restarted = steady::now();
  start_gateway();  // same port, same store
  ASSERT_TRUE(test::wait_until([&] { return pile_->connected(); }, 10s)) << "the pile did not reconnect";
  EXPECT_FALSE(pile_->profiles().empty());
  // It does not boot again and says nothing of its own: asked, it names its transaction in its
  // MeterValues, and the new gateway limits that transaction.
  EXPECT_TRUE(test::wait_until([&] { return triggered("StatusNotification:1"); }, 10s));
  nlohmann::json status;
  EXPECT_TRUE(test::wait_until([&] {
    status = charger_status("op-1");
    return status["state"] == "charging";
  }, 10s)) << status.dump();
  EXPECT_TRUE(test::wait_until([&] { return tx_profile_since(restarted).has_value(); }, 10s))
      << "no TxProfile for transaction " << tx << " from the restarted gateway";
  EXPECT_EQ(pile_->transaction_id(), tx);
}

// One charge point, two connectors, each its own charger, under an 11 kW station ceiling.
class OcppTwinPile : public OcppSystem {
 protected:
  std::string chargers() const override {
    return ocpp_charger("op-1", "A", "ocpp_station_max_power_kw = 11\n") +
           ocpp_charger("op-2", "B", "ocpp_connector = 2\nocpp_station_max_power_kw = 11\n");
  }
  void set_up_pile(sim::SimOcppOptions& o) const override { o.connectors = 2; }
};

TEST_F(OcppTwinPile, EachConnectorIsAPileWithItsOwnTransactionAndProfiles) {
  ASSERT_TRUE(test::wait_until([&] { return pile_->booted(); }, 10s));
  auto profile_on = [&](const std::string& purpose, int connector) {
    std::optional<sim::ReceivedProfile> out;
    for (const auto& p : pile_->profiles())
      if (p.purpose == purpose && p.connector_id == connector) out = p;
    return out;
  };
  ASSERT_TRUE(test::wait_until([&] { return profile_on("ChargePointMaxProfile", 0).has_value(); }, 10s));
  EXPECT_DOUBLE_EQ(profile_on("ChargePointMaxProfile", 0)->limit_a, drivers::ocpp::limit_current_a(11'000, 1));
  ASSERT_TRUE(profile_on("TxDefaultProfile", 1));
  ASSERT_TRUE(profile_on("TxDefaultProfile", 2));

  // 2 x 5 kW stays under the ceiling: each car has its own connector's TxProfile (connector 2
  // is then capped by what the ceiling leaves, 11 - 5 kW, above what its car takes).
  ASSERT_NO_FATAL_FAILURE(charge("op-1", "CARD-A", 1, 5'000));
  ASSERT_NO_FATAL_FAILURE(charge("op-2", "CARD-B", 2, 5'000));
  EXPECT_NE(pile_->transaction_id(1), pile_->transaction_id(2));
  EXPECT_TRUE(tx_profile_since({}, 1));
  EXPECT_TRUE(tx_profile_since({}, 2));
  EXPECT_TRUE(test::wait_until([&] {
    return charger_status("op-1")["state"] == "charging" && charger_status("op-2")["state"] == "charging" &&
           charger_status("op-2")["power_kw"].get<double>() > 4.9;
  }, 10s)) << charger_status("op-2").dump();

  // The car on connector 2 leaves: its session ends, connector 1 charges on.
  pile_->unplug(2);
  EXPECT_TRUE(test::wait_until([&] {
    return test::on_core(site_->io(), [&] { return !site_->gateway().sessions().open_session("op-2"); });
  }, 10s)) << "op-2's session still open";
  EXPECT_EQ(charger_status("op-2")["state"], "unplugged");
  EXPECT_EQ(charger_status("op-1")["state"], "charging");
  EXPECT_TRUE(test::on_core(site_->io(), [&] { return site_->gateway().sessions().open_session("op-1").has_value(); }));
}

// [web] with a certificate: the pile connects over wss (security profile 2).
class OcppOverTls : public OcppSystem {
 protected:
  OcppOverTls() {
    ca_ = pki_.make_ca("ocpp-ca");
    cert_ = pki_.server(ca_, "orderly-box", "IP:127.0.0.1,DNS:localhost");
  }
  std::string web_keys() const override {
    return "tls_certificate = \"" + cert_.cert_file.string() + "\"\ntls_key = \"" + cert_.key_file.string() + "\"\n";
  }
  void set_up_pile(sim::SimOcppOptions& o) const override { o.tls_ca_file = ca_.cert_file.string(); }
  test::TestPki pki_;
  test::TestPki::Issued ca_, cert_;
};

TEST_F(OcppOverTls, APileBootsAndChargesOverWssWithBasicAuth) {
  ASSERT_TRUE(test::wait_until([&] { return pile_->booted(); }, 10s)) << "no boot over wss";
  ASSERT_TRUE(test::wait_until([&] { return last_profile("TxDefaultProfile").has_value(); }, 10s));
  ASSERT_NO_FATAL_FAILURE(charge("op-1", "CARD-0009"));
  // The password is still checked inside TLS.
  auto intruder = make_pile("guess");
  EXPECT_TRUE(test::wait_until([&] { return intruder->upgrades_refused() >= 1; }, 10s));
  EXPECT_FALSE(intruder->booted());
  intruder->stop();
}

// A pile without NTP, ten minutes ahead.
class OcppSkewedClock : public OcppSystem {
 protected:
  void set_up_pile(sim::SimOcppOptions& o) const override { o.clock_offset = 600s; }
};

TEST_F(OcppSkewedClock, IsWarnedAndItsSessionIsBookedAtTheGatewaysTime) {
  nlohmann::json status;
  ASSERT_TRUE(test::wait_until([&] {
    status = charger_status("op-1");
    return status["error"].get<std::string>().find("clock off by 600 s") != std::string::npos;
  }, 10s)) << status.dump();
  const auto before = clock_.now();
  pile_->plug_in(30'000, kPileW);
  pile_->present_card("CARD-0010");
  std::optional<gateway::SessionRecord> session;
  ASSERT_TRUE(test::wait_until([&] {
    session = test::on_core(site_->io(), [&] { return site_->gateway().sessions().open_session("op-1"); });
    return session && session->household == "rfid:CARD-0010";
  }, 10s));
  EXPECT_GE(session->started_at, before);
  EXPECT_LE(session->started_at, clock_.now());  // not the pile's ten minutes ahead
  // Why it matters: to this pile every TxProfile (from the gateway's now, for 10 s) is over
  // before it starts, so it charges on its failsafe.
  ASSERT_TRUE(test::wait_until([&] { return tx_profile_since({}).has_value(); }, 10s));
  EXPECT_EQ(pile_->limiting_profile(), "TxDefaultProfile");

  // A pile that takes the time from the central system's answers is corrected by its boot.
  pile_->stop();
  auto corrected = make_pile("pile-secret", "CP-0001", [](sim::SimOcppOptions& o) { o.clock_from_central_system = true; });
  ASSERT_TRUE(test::wait_until([&] { return corrected->booted(); }, 10s));
  EXPECT_LE(std::chrono::abs(corrected->clock_offset()), 2s);
  corrected->stop();
}

}  // namespace
}  // namespace orderly
