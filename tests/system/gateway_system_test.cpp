// The foundation's promise end to end: a charger on a real Mosquitto broker receives a power
// limit from the gateway, and the gateway cuts it when the transformer's base load rises.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>


#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;
using sim::MosquittoBroker;
using sim::SimChargerOptions;
using sim::SimMqttCharger;
using sim::SimMqttMeter;

std::string site_config(int mqtt_port, const std::filesystem::path& db) {
  return test::site_toml({.mqtt_port = mqtt_port, .db = db}) +
         "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n"
         "[[charger]]\nid = \"c1\"\nkind = \"private\"\nhousehold = \"1-1-101\"\nphase = \"A\"\ndriver = \"mqtt\"\nmax_power_kw = 7\n"
         "[[charger]]\nid = \"c2\"\nkind = \"shared\"\nphase = \"B\"\ndriver = \"mqtt\"\nmax_power_kw = 7\n";
}

class GatewaySystem : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = MosquittoBroker::start();
    site_ = std::make_unique<test::RunningGateway>(
        clock_, gateway::parse_config(site_config(broker_->port(), dir_ / "orderly.db"), "test.toml"));
    meter_ = std::make_unique<SimMqttMeter>("tm-1", "127.0.0.1", broker_->port(), clock_,
                                            [](TimePoint) { return 20'000.0; }, 200ms);
    meter_->start();
    for (const char* id : {"c1", "c2"}) {
      SimChargerOptions o;
      o.id = id;
      o.port = broker_->port();
      o.publish_period = 200ms;
      piles_.push_back(std::make_unique<SimMqttCharger>(o, clock_));
      piles_.back()->start();
    }
  }

  void TearDown() override {
    for (auto& p : piles_) p->stop();
    if (meter_) meter_->stop();
    site_.reset();
  }

  // The gateway's status as the web page gets it, read on the core thread.
  nlohmann::json status() {
    return test::on_core(site_->io(), [this] { return site_->gateway().status(); });
  }
  // These tests are about the limiter, not the plan: each car asks for "charge now".
  void plug_in_and_boost(SimMqttCharger& pile, double need_wh) {
    pile.plug_in(need_wh, 7'000);
    const auto refused = test::boost_when_plugged(site_->io(), site_->gateway(), pile.id());
    ASSERT_EQ(refused, "") << pile.id() << ": boost not taken";
  }
  const nlohmann::json* charger_status(const nlohmann::json& status, const std::string& id) {
    for (const auto& c : status["chargers"])
      if (c["id"] == id) return &c;
    return nullptr;
  }

  test::TempDir dir_;
  RealClock clock_;
  std::unique_ptr<MosquittoBroker> broker_;
  std::unique_ptr<test::RunningGateway> site_;
  std::unique_ptr<SimMqttMeter> meter_;
  std::vector<std::unique_ptr<SimMqttCharger>> piles_;
};

TEST_F(GatewaySystem, PowerLimitArrivesAtChargerAndFollowsTheTransformerLoad) {
  auto& c1 = *piles_[0];
  plug_in_and_boost(c1, 20'000);

  // Headroom 50 - 2 margin - 20 base = 28 kW: the only car gets its full 7 kW.
  ASSERT_TRUE(test::wait_until([&] { return c1.limits_received() > 0 && std::fabs(c1.limit_w() - 7000) < 1; }, 15s))
      << "limits received " << c1.limits_received() << ", limit " << c1.limit_w() << " W";
  ASSERT_TRUE(test::wait_until([&] { return c1.power_w() > 6900; }, 10s)) << c1.power_w();

  // The base load rises to 45 kW: headroom 3 kW; the gateway must cut the car to fit.
  meter_->set_base_load_offset_w(25'000);
  ASSERT_TRUE(test::wait_until([&] { return c1.limit_w() <= 3000 + 1; }, 10s)) << c1.limit_w();
  EXPECT_GE(c1.limit_w(), 6 * 230 - 1) << "a useful rate (>= 6 A) fits in 3 kW, so the car keeps charging";

  // A second car arrives: the 3 kW cannot carry two cars at 6 A each, so one pauses rather
  // than both running below the minimum.
  plug_in_and_boost(*piles_[1], 10'000);
  ASSERT_TRUE(test::wait_until([&] { return piles_[1]->limits_received() > 0; }, 10s));
  ASSERT_TRUE(test::wait_until([&] { return c1.limit_w() + piles_[1]->limit_w() <= 3000 + 1; }, 10s))
      << c1.limit_w() << " + " << piles_[1]->limit_w();
  for (auto* p : {&c1, piles_[1].get()}) {
    const double l = p->limit_w();
    EXPECT_TRUE(l == 0 || l >= 6 * 230 - 1) << p->id() << " limit " << l;
  }
}

TEST_F(GatewaySystem, ChargerIgnoringItsLimitIsDetectedWithinTenSecondsAndOthersAreCut) {
  auto& rogue = *piles_[0];
  auto& good = *piles_[1];
  rogue.ignore_limits(true);
  meter_->set_base_load_offset_w(25'000);  // base 45 kW of 50: 3 kW headroom
  plug_in_and_boost(good, 20'000);
  ASSERT_TRUE(test::wait_until([&] { return good.limits_received() > 0 && good.limit_w() > 0; }, 15s));
  ASSERT_TRUE(test::wait_until([&] { return meter_->chargers_power_w() > 0; }, 10s));

  plug_in_and_boost(rogue, 20'000);
  ASSERT_TRUE(test::wait_until([&] { return rogue.limits_received() > 0 && rogue.limit_w() <= 3000; }, 10s));
  ASSERT_TRUE(test::wait_until([&] { return rogue.power_w() > 6900; }, 5s)) << "the fault injection draws 7 kW";
  const auto limit_arrived = std::chrono::steady_clock::now();

  nlohmann::json st;
  ASSERT_TRUE(test::wait_until([&] {
    st = status();
    const auto* c = charger_status(st, "c1");
    return c && (*c)["not_following"].get<bool>();
  }, 10s)) << "not detected within 10 s of the limit arriving: " << st.dump();
  EXPECT_LE(std::chrono::steady_clock::now() - limit_arrived, 10s);
  EXPECT_NE((*charger_status(st, "c1"))["error"].get<std::string>().find("not following"), std::string::npos);

  // Its 7 kW is taken as fixed; the headroom is gone, so the charger that does follow pauses.
  EXPECT_TRUE(test::wait_until([&] { return good.limit_w() == 0; }, 5s)) << good.limit_w();

  // When it follows again, it is trusted again.
  rogue.ignore_limits(false);
  EXPECT_TRUE(test::wait_until([&] {
    st = status();
    const auto* c = charger_status(st, "c1");
    return c && !(*c)["not_following"].get<bool>();
  }, 10s)) << st.dump();
}

TEST_F(GatewaySystem, CommandsAreWrittenToTheAuditLog) {
  plug_in_and_boost(*piles_[0], 20'000);
  // Full power is only granted once a meter reading shows the headroom, so by then both a
  // command and a meter sample are queued for the store.
  ASSERT_TRUE(test::wait_until([&] { return std::fabs(piles_[0]->limit_w() - 7000) < 1; }, 15s));
  site_->stop();  // commits what the writer queued
  ASSERT_TRUE(test::wait_until([&] {
    try {
      gateway::Store store(dir_ / "orderly.db");
      return store.row_count("commands") > 0 && store.row_count("meter_samples") > 0;
    } catch (const std::exception&) {
      return false;
    }
  }, 10s));
  gateway::Store store(dir_ / "orderly.db");
  const auto commands = store.recent_commands(10);
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands.front().kind, "limit");
  EXPECT_EQ(store.journal_mode(), "wal");
}

}  // namespace
}  // namespace orderly
