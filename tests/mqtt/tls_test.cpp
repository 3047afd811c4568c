// The gateway's MQTT driver over TLS against a real Mosquitto TLS listener that demands client
// certificates. The certificates are made here with the openssl command line: a site CA, the
// broker's certificate for 127.0.0.1, a client certificate for the gateway and one for a
// simulated pile, and a second CA standing in for a wrong or foreign one.
//
// The test thread is the core thread, as in devices_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "device_recorder.hpp"
#include "orderly/drivers/mqtt.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/test/support.hpp"
#include "orderly/test/test_pki.hpp"

namespace orderly::drivers {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

using test::TestPki;

class MqttTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = pki_.make_ca("site-ca");
    foreign_ca_ = pki_.make_ca("foreign-ca");
    broker_cert_ = pki_.server(ca_, "broker", "IP:127.0.0.1,DNS:localhost");
    gateway_cert_ = pki_.client(ca_, "orderly-gateway");
    pile_cert_ = pki_.client(ca_, "p-201");
    // The broker's cafile checks clients; its cert/key are what the gateway checks.
    broker_ = start_broker(broker_cert_);

    log_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(200);
    previous_logger_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("tls-test", log_));
  }

  void TearDown() override { spdlog::set_default_logger(previous_logger_); }

  std::unique_ptr<sim::MosquittoBroker> start_broker(const TestPki::Issued& cert) {
    sim::MosquittoBroker::Options o;
    o.tls = {ca_.cert_file, cert.cert_file, cert.key_file};
    o.require_certificate = true;
    return sim::MosquittoBroker::start(o);
  }

  MqttOptions options(const TestPki::Issued& client, const std::filesystem::path& ca_file) {
    MqttOptions o;
    o.port = broker_->port();
    o.client_id = "orderly-gateway-tls-test";
    o.reconnect_min_delay = 100ms;
    o.reconnect_max_delay = 300ms;
    o.ack_timeout = 5s;
    o.stale_after = 1500ms;
    o.tls = true;
    o.ca_file = ca_file.string();
    o.cert_file = client.cert_file.string();
    o.key_file = client.key_file.string();
    return o;
  }
  MqttOptions options() { return options(gateway_cert_, ca_.cert_file); }

  bool pump_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 15s) {
    return test::wait_until(
        [&] {
          io_.poll();
          return condition();
        },
        timeout);
  }

  // The offline reason the charger's health carries once the first attempt has failed.
  std::string failure_reason(MqttDevices& devices, const std::string& id) {
    const bool reported = pump_until([&] {
      return rec_.health.count(id) && rec_.health[id].last_error.find("not connected") != std::string::npos &&
             rec_.health[id].last_error.find(": ") != std::string::npos;
    });
    EXPECT_TRUE(reported) << "no failure reason in the health of " << id << "; last: " << rec_.health[id].last_error
                          << "\nbroker log:\n" << broker_->log();
    EXPECT_FALSE(devices.connected());
    EXPECT_FALSE(rec_.health[id].online);
    return rec_.health[id].last_error;
  }

  std::string log_text() const {
    std::string all;
    for (const auto& line : log_->last_formatted()) all += line;
    return all;
  }

  std::string host_port() const { return "127.0.0.1:" + std::to_string(broker_->port()); }

  TestPki pki_;
  TestPki::Issued ca_, foreign_ca_, broker_cert_, gateway_cert_, pile_cert_;
  std::unique_ptr<sim::MosquittoBroker> broker_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_;
  std::shared_ptr<spdlog::logger> previous_logger_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(io_);
  RealClock clock_;
  Recorder rec_;
};

TEST_F(MqttTlsTest, GatewayAndPileExchangeStatusAndLimitsOverTls) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  auto charger = devices.add_charger("p-201", caps_7kw());
  devices.start();
  sim::SimChargerOptions pile;
  pile.id = "p-201";
  pile.port = broker_->port();
  pile.tls = {ca_.cert_file, pile_cert_.cert_file, pile_cert_.key_file};
  pile.publish_period = 200ms;
  sim::SimMqttCharger sim(pile, clock_);
  sim.start();
  sim.plug_in(20000, 7000);

  ASSERT_TRUE(pump_until([&] { return rec_.health["p-201"].online; }))
      << "p-201 never came online over TLS; health: " << rec_.health["p-201"].last_error << "\nbroker log:\n"
      << broker_->log();
  EXPECT_TRUE(devices.connected());
  EXPECT_THAT(log_text(), HasSubstr("mqtt connected broker=ssl://" + host_port()));
  charger->apply_limit(PowerLimit{3000, 60s, 7});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(7).has_value(); })) << "no acknowledgement over TLS";
  EXPECT_TRUE(rec_.ack_for(7)->accepted) << rec_.ack_for(7)->error;
  EXPECT_DOUBLE_EQ(sim.limit_w(), 3000);
  ASSERT_TRUE(pump_until([&] { return rec_.charger["p-201"].power_w == 3000; }));
  // Both clients were admitted by their certificates, on the TLS listener.
  EXPECT_THAT(broker_->log(), AllOf(HasSubstr("orderly-gateway-tls-test"), HasSubstr("orderly-sim-charger-p-201")));
  devices.stop();
}

TEST_F(MqttTlsTest, ClientCertificateFromAnotherCaIsRefusedWithAClearReason) {
  const auto stranger = pki_.client(foreign_ca_, "stranger");
  MqttDevices devices(io_.get_executor(), clock_, options(stranger, ca_.cert_file), rec_.events());
  devices.add_charger("p-202", caps_7kw());
  devices.start();
  const std::string why = failure_reason(devices, "p-202");
  EXPECT_THAT(why, AllOf(HasSubstr("ssl://" + host_port()), HasSubstr("TLS handshake with " + host_port() + " failed"),
                         HasSubstr("refused the client certificate"), HasSubstr("check [mqtt] cert_file")));
  EXPECT_THAT(log_text(), AllOf(HasSubstr("mqtt broker unreachable"), HasSubstr("refused the client certificate")));
  // Nothing was ever subscribed or published: the broker saw no MQTT session from us.
  EXPECT_THAT(broker_->log(), Not(HasSubstr("New client connected")));
}

TEST_F(MqttTlsTest, BrokerCertificateFromAnUnknownCaFailsVerification) {
  MqttDevices devices(io_.get_executor(), clock_, options(gateway_cert_, foreign_ca_.cert_file), rec_.events());
  devices.add_charger("p-203", caps_7kw());
  devices.start();
  EXPECT_THAT(failure_reason(devices, "p-203"),
              AllOf(HasSubstr("TLS handshake with " + host_port() + " failed: certificate verify failed"),
                    HasSubstr("check [mqtt] ca_file")));
}

TEST_F(MqttTlsTest, KeyNotMatchingTheCertificateIsNamed) {
  const TestPki::Issued mismatched{gateway_cert_.cert_file, pile_cert_.key_file};
  MqttDevices devices(io_.get_executor(), clock_, options(mismatched, ca_.cert_file), rec_.events());
  devices.add_charger("p-204", caps_7kw());
  devices.start();
  EXPECT_THAT(failure_reason(devices, "p-204"),
              AllOf(HasSubstr("TLS handshake with " + host_port() + " failed"),
                    HasSubstr("[mqtt] key_file is not the private key of [mqtt] cert_file")));
}

TEST_F(MqttTlsTest, BrokerCertificateForAnotherHostIsRefused) {
  // Signed by the right CA, but for another name: only the host name check stops it.
  broker_.reset();
  broker_ = start_broker(pki_.server(ca_, "elsewhere", "DNS:broker.elsewhere.example"));
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  devices.add_charger("p-205", caps_7kw());
  devices.start();
  EXPECT_THAT(failure_reason(devices, "p-205"), AllOf(HasSubstr(host_port()), HasSubstr("127.0.0.1"),
                                                      HasSubstr("subjectAltName")));
}

TEST_F(MqttTlsTest, PlainConnectionToTheTlsPortFailsClearly) {
  MqttOptions plain = options();
  plain.tls = false;
  plain.ca_file = plain.cert_file = plain.key_file = "";
  MqttDevices devices(io_.get_executor(), clock_, plain, rec_.events());
  devices.add_charger("p-206", caps_7kw());
  devices.start();
  EXPECT_THAT(failure_reason(devices, "p-206"),
              AllOf(HasSubstr("tcp://" + host_port()), HasSubstr("set [mqtt] tls = true")));
}

TEST_F(MqttTlsTest, BrokerDownIsUnreachableNotAHandshakeFailure) {
  MqttOptions o = options();
  broker_.reset();  // nobody listens on o.port any more
  MqttDevices devices(io_.get_executor(), clock_, o, rec_.events());
  devices.add_charger("p-208", caps_7kw());
  devices.start();
  const std::string where = "127.0.0.1:" + std::to_string(o.port);
  const bool reported = pump_until([&] { return rec_.health["p-208"].last_error.find("cannot reach") != std::string::npos; });
  ASSERT_TRUE(reported) << rec_.health["p-208"].last_error;
  EXPECT_THAT(rec_.health["p-208"].last_error,
              AllOf(HasSubstr("cannot reach " + where + " (connect: Connection refused)"),
                    HasSubstr("check that mosquitto runs"), Not(HasSubstr("TLS handshake"))));
}

TEST_F(MqttTlsTest, PileWithoutACertificateIsNotAdmitted) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  devices.add_charger("p-207", caps_7kw());
  devices.start();
  ASSERT_TRUE(pump_until([&] { return devices.connected(); })) << broker_->log();
  sim::SimChargerOptions pile;
  pile.id = "p-207";
  pile.port = broker_->port();
  pile.tls = {ca_.cert_file, {}, {}};
  pile.publish_period = 200ms;
  sim::SimMqttCharger sim(pile, clock_);
  sim.start();
  // Fail fast rather than wait out a timeout: the broker's log names the refusal.
  ASSERT_TRUE(test::wait_until([&] { return broker_->log().find("OpenSSL Error") != std::string::npos; }))
      << broker_->log();
  io_.poll();
  EXPECT_FALSE(sim.connected());
  EXPECT_FALSE(rec_.health["p-207"].online);
}

}  // namespace
}  // namespace orderly::drivers
