// `[mqtt] tls = true` end to end: the configuration file's TLS keys reach the gateway's MQTT
// client, which talks to a pile through a Mosquitto TLS listener demanding client certificates,
// and a refused certificate shows in the status the web page reads, not only in the log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"
#include "orderly/test/test_pki.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;

class TlsSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = pki_.make_ca("site-ca");
    sim::MosquittoBroker::Options o;
    const auto server = pki_.server(ca_, "broker", "IP:127.0.0.1");
    o.tls = {ca_.cert_file, server.cert_file, server.key_file};
    o.require_certificate = true;
    broker_ = sim::MosquittoBroker::start(o);
  }

  gateway::Config config(const test::TestPki::Issued& client) {
    const std::string tls = "tls = true\nca_file = \"" + ca_.cert_file.string() + "\"\ncert_file = \"" +
                            client.cert_file.string() + "\"\nkey_file = \"" + client.key_file.string() + "\"\n";
    return gateway::parse_config(
        test::site_toml({.mqtt_port = broker_->port(), .mqtt_extra = tls, .db = dir_ / "orderly.db"}) +
            "[[charger]]\nid = \"c1\"\nkind = \"shared\"\nphase = \"A\"\ndriver = \"mqtt\"\nmax_power_kw = 7\n",
        "test.toml");
  }

  nlohmann::json charger_status(test::RunningGateway& site) {
    const auto status = test::on_core(site.io(), [&] { return site.gateway().status(); });
    for (const auto& c : status["chargers"])
      if (c["id"] == "c1") return c;
    return {};
  }

  test::TempDir dir_;
  test::TestPki pki_;
  test::TestPki::Issued ca_;
  RealClock clock_;
  std::unique_ptr<sim::MosquittoBroker> broker_;
};

TEST_F(TlsSystem, ConfiguredTlsCarriesStatusAndLimitsToAPile) {
  test::RunningGateway site(clock_, config(pki_.client(ca_, "orderly-gateway")));
  const auto pile_cert = pki_.client(ca_, "c1");
  sim::SimChargerOptions o;
  o.id = "c1";
  o.port = broker_->port();
  o.tls = {ca_.cert_file, pile_cert.cert_file, pile_cert.key_file};
  o.publish_period = 200ms;
  sim::SimMqttCharger pile(o, clock_);
  pile.start();
  pile.plug_in(10'000, 7'000);
  ASSERT_TRUE(test::wait_until([&] { return charger_status(site).value("online", false); }, 20s))
      << charger_status(site).dump() << "\nbroker log:\n" << broker_->log();
  ASSERT_TRUE(test::wait_until([&] { return pile.limits_received() > 0; }, 20s))
      << "the gateway sent no limit over TLS; broker log:\n" << broker_->log();
  pile.stop();
}

TEST_F(TlsSystem, RefusedClientCertificateIsTheChargersOfflineReasonInTheStatus) {
  test::TestPki::Issued foreign_ca = pki_.make_ca("foreign-ca");
  test::RunningGateway site(clock_, config(pki_.client(foreign_ca, "orderly-gateway")));
  const std::string where = "127.0.0.1:" + std::to_string(broker_->port());
  ASSERT_TRUE(test::wait_until(
      [&] { return charger_status(site).value("error", "").find("TLS handshake") != std::string::npos; }, 20s))
      << charger_status(site).dump();
  const auto c = charger_status(site);
  EXPECT_FALSE(c["online"].get<bool>());
  EXPECT_THAT(c["error"].get<std::string>(),
              AllOf(HasSubstr("ssl://" + where), HasSubstr("TLS handshake with " + where + " failed"),
                    HasSubstr("check [mqtt] cert_file/key_file")));
}

}  // namespace
}  // namespace orderly
