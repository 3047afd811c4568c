// Issue 16: what keeps a flooding or hostile MQTT client from hurting the gateway, through a
// real Mosquitto broker: the driver's per-device rate limit, and the shipped broker config
// (packaging/mosquitto/orderly.conf, its own lines) - client ids are user names, so a device's
// login cannot kick the gateway off; oversized packets and anonymous clients are refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "orderly/drivers/mqtt.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/test/support.hpp"
#include "device_recorder.hpp"
#include "raw_client.hpp"

namespace orderly::drivers {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class MqttHardening : public CoreThreadTest {
 protected:
  MqttOptions options(std::uint16_t port) {
    MqttOptions o;
    o.port = port;
    o.client_id = "orderly-gateway-test";
    o.reconnect_min_delay = 100ms;
    o.reconnect_max_delay = 300ms;
    o.error_log_interval = 100ms;
    return o;
  }
  std::string status_payload() const {
    ChargerSnapshot s;
    s.at = clock_.now();
    s.state = ChargerState::charging;
    s.power_w = 3680;
    return mqtt::encode_charger_status(s);
  }
};

TEST_F(MqttHardening, AFloodFromOneDeviceIsDroppedAndCountedAndTheOthersAreServed) {
  auto broker = sim::MosquittoBroker::start();
  MqttOptions o = options(broker->port());
  o.max_messages_per_s = 10;
  o.message_burst = 20;
  MqttDevices devices(io_.get_executor(), clock_, o, rec_.events());
  devices.add_charger("p-101", caps_7kw());
  devices.add_charger("p-102", caps_7kw());
  devices.start();
  ASSERT_TRUE(pump_until([&] { return devices.connected(); })) << broker->log();
  test::RawClient flood(broker->port(), "flood");
  ASSERT_TRUE(test::wait_until([&] { return flood.connack == 0; })) << broker->log();

  const std::string topic = mqtt::device_topic("orderly/v1", mqtt::DeviceKind::charger, "p-101", "status");
  constexpr int kFlood = 300;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kFlood; ++i) ASSERT_TRUE(flood.publish(topic, status_payload()));
  // Every message is let through or counted as dropped. Drops not yet handed to the core come
  // with the next message let through, so a probe goes out now and then until that happened.
  int sent = kFlood;
  const auto accounted = [&] { return rec_.snapshots["p-101"] + static_cast<int>(rec_.health["p-101"].dropped); };
  auto last_probe = std::chrono::steady_clock::now();
  ASSERT_TRUE(pump_until([&] {
    if (std::chrono::steady_clock::now() - last_probe > 200ms) {
      EXPECT_TRUE(flood.publish(topic, status_payload()));
      ++sent;
      last_probe = std::chrono::steady_clock::now();
    }
    return sent > kFlood && accounted() == sent;
  })) << "sent " << sent << ", let through " << rec_.snapshots["p-101"] << ", dropped " << rec_.health["p-101"].dropped;
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LE(rec_.snapshots["p-101"], 20 + 10 * elapsed_s + 1) << "more let through than burst + rate x " << elapsed_s << " s";
  EXPECT_GE(rec_.health["p-101"].dropped, static_cast<std::uint64_t>(kFlood - 20 - 10 * elapsed_s - 1));
  EXPECT_THAT(rec_.health["p-101"].last_error, HasSubstr("dropped over the rate limit of 10/s"));

  // The neighbour has a bucket of its own.
  test::RawClient neighbour(broker->port(), "neighbour");
  ASSERT_TRUE(test::wait_until([&] { return neighbour.connack == 0; }));
  neighbour.publish(mqtt::device_topic("orderly/v1", mqtt::DeviceKind::charger, "p-102", "status"), status_payload());
  EXPECT_TRUE(pump_until([&] { return rec_.snapshots["p-102"] == 1; }));
  EXPECT_EQ(rec_.health["p-102"].dropped, 0u);
}

// The broker runs the shipped config's own lines (paths and the listener address aside), with
// a password file made by mosquitto_passwd as orderly-add-device does.
class ShippedBrokerConfig : public MqttHardening {
 protected:
  void SetUp() override {
    const auto passwd = dir_ / "orderly.passwd";
    for (const auto& [user, password] : {std::pair{"orderly", "gateway-secret"}, std::pair{"p-101", "pile-101"},
                                         std::pair{"p-102", "pile-102"}}) {
      const std::string cmd = std::string("mosquitto_passwd ") + (std::filesystem::exists(passwd) ? "" : "-c ") + "-b " +
                              passwd.string() + " " + user + " " + password;
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    std::filesystem::copy_file(test::source_dir() / "packaging" / "mosquitto" / "orderly.acl", dir_ / "orderly.acl");
    sim::MosquittoBroker::Options o;
    std::ifstream shipped(test::source_dir() / "packaging" / "mosquitto" / "orderly.conf");
    for (std::string line; std::getline(shipped, line);) {
      if (line.empty() || line[0] == '#' || line.starts_with("listener ")) continue;
      if (line.starts_with("password_file ")) line = "password_file " + passwd.string();
      if (line.starts_with("acl_file ")) line = "acl_file " + (dir_ / "orderly.acl").string();
      o.config_lines.push_back(line);
    }
    ASSERT_THAT(o.config_lines, ::testing::Contains("use_username_as_clientid true"));
    broker_ = sim::MosquittoBroker::start(o);
  }

  // The gateway as packaging/orderly.toml configures it: client id = user name.
  MqttOptions gateway_options() {
    MqttOptions o = options(broker_->port());
    o.username = o.client_id = "orderly";
    o.password = "gateway-secret";
    return o;
  }

  test::TempDir dir_;
  std::unique_ptr<sim::MosquittoBroker> broker_;
};

TEST_F(ShippedBrokerConfig, ADeviceLoginUsingTheGatewaysClientIdDoesNotKickItOff) {
  MqttDevices devices(io_.get_executor(), clock_, gateway_options(), rec_.events());
  devices.add_charger("p-101", caps_7kw());
  devices.start();
  sim::SimChargerOptions pile;
  pile.id = "p-101";
  pile.port = broker_->port();
  pile.username = "p-101";  // its client id becomes its user name: the ACL's %u topics are its own
  pile.password = "pile-101";
  pile.publish_period = 100ms;
  sim::SimMqttCharger sim(pile, clock_);
  sim.start();
  sim.plug_in(10000, 7000);
  ASSERT_TRUE(pump_until([&] { return rec_.charger.count("p-101") && rec_.charger["p-101"].state == ChargerState::charging; }))
      << broker_->log();

  test::RawClient rogue(broker_->port(), "orderly", "p-102", "pile-102");
  ASSERT_TRUE(test::wait_until([&] { return rogue.connack == 0; })) << broker_->log();
  const int before = rec_.snapshots["p-101"];
  EXPECT_TRUE(pump_until([&] { return rec_.snapshots["p-101"] >= before + 5; })) << broker_->log();
  EXPECT_TRUE(devices.connected());
  EXPECT_THAT(broker_->log(), HasSubstr(" as p-102 "));
  EXPECT_THAT(broker_->log(), Not(HasSubstr("Client orderly already connected")));
}

TEST_F(ShippedBrokerConfig, APacketOverMaxPacketSizeDisconnectsItsSender) {
  test::RawClient big(broker_->port(), "big", "p-102", "pile-102");
  ASSERT_TRUE(test::wait_until([&] { return big.connack == 0; })) << broker_->log();
  big.publish(mqtt::device_topic("orderly/v1", mqtt::DeviceKind::charger, "p-102", "status"), std::string(30000, 'x'));
  EXPECT_TRUE(test::wait_until([&] { return big.disconnected.load(); })) << broker_->log();
}

TEST_F(ShippedBrokerConfig, AClientWithoutAUserNameIsRefused) {
  test::RawClient anonymous(broker_->port(), "anonymous");
  ASSERT_TRUE(test::wait_until([&] { return anonymous.connack != -1; })) << broker_->log();
  EXPECT_EQ(anonymous.connack, 5) << "CONNACK 5: not authorised (MQTT 3.1.1 section 3.2.2.3)";
}

}  // namespace
}  // namespace orderly::drivers
