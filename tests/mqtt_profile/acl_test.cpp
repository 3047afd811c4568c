// The packaged Mosquitto ACL (packaging/mosquitto/orderly.acl) gives the gateway only
// orderly/v1/#, so an MQTT-profile pile on its vendor's own topics is cut off from it. With the
// lines mosquitto_acl_for_profile_charger makes (what `orderly check-config --mosquitto-acl`
// prints) appended, the same pile is driven. Real broker, logins from a mosquitto_passwd file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <map>

#include "orderly/drivers/mqtt.hpp"
#include "orderly/drivers/profile.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/profile_mqtt_charger.hpp"
#include "orderly/test/support.hpp"
#include "pile_fixture.hpp"

namespace orderly::drivers {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class MqttProfileAcl : public testing::ProfilePileTest {
 protected:
  void SetUp() override {
    profile_ = load_profile(test::source_dir() / "drivers" / "profiles" / "openevse.toml");
    profile_.mqtt->publish_period_s = 0.8;  // the simulator below publishes every 200 ms
    passwd_ = dir_ / "orderly.passwd";
    const std::string add = "mosquitto_passwd -b ";
    ASSERT_EQ(std::system((add + "-c " + passwd_.string() + " orderly gw-secret").c_str()), 0);
    ASSERT_EQ(std::system((add + passwd_.string() + " evse-1 pile-secret").c_str()), 0);
  }

  // A broker with the packaged ACL plus `extra`, the gateway's driver logged in as `orderly`
  // and the simulated OpenEVSE as `evse-1` (its charger id, as orderly-add-device makes it).
  void run_site(const std::string& extra) {
    const auto acl = dir_ / ("orderly-" + std::to_string(++sites_) + ".acl");
    std::ofstream(acl) << test::read_file(test::source_dir() / "packaging" / "mosquitto" / "orderly.acl") << extra;
    sim::MosquittoBroker::Options bo;
    bo.password_file = passwd_;
    bo.acl_file = acl;
    broker_ = sim::MosquittoBroker::start(bo);
    MqttOptions o;
    o.port = broker_->port();
    o.username = "orderly";
    o.password = "gw-secret";
    o.ack_timeout = 2s;
    DeviceEvents e;
    e.limit_ack = [this](const std::string&, const LimitAck& a) { acks[a.seq] = a; };
    e.health = [this](const std::string&, const Health& h) { health = h; };
    start_pile("evse-1", "openevse-1a2b", o, e, Capabilities{}, clock_, "evse-1", "pile-secret");
    ASSERT_TRUE(pump_until([&] { return pile_->connected() && devices_->connected(); }))
        << "logins refused; broker log:\n" << broker_->log();
  }

  test::TempDir dir_;
  std::filesystem::path passwd_;
  int sites_ = 0;
  std::map<std::uint64_t, LimitAck> acks;
  Health health;
};

TEST_F(MqttProfileAcl, PackagedAclAloneCutsThePileOff) {
  run_site("");
  driver_->apply_limit(PowerLimit{3000, 60s, 1});
  // The driver's own ack timer decides, not the test: 2 s in which the pile published ten times.
  ASSERT_TRUE(pump_until([&] { return acks.count(1) > 0; }));
  EXPECT_FALSE(acks.at(1).accepted);
  EXPECT_THAT(acks.at(1).error, HasSubstr("no acknowledgement"));
  EXPECT_EQ(pile_->claims_received(), 0u) << "the gateway's claim must have been denied";
  EXPECT_FALSE(health.online);
  EXPECT_EQ(health.reads_ok, 0u) << "the pile's status must have been kept from the gateway";
}

TEST_F(MqttProfileAcl, GeneratedLinesLetThePileBeDriven) {
  const std::string lines = mosquitto_acl_for_profile_charger("evse-1", profile_, "openevse-1a2b", "orderly");
  EXPECT_THAT(lines, HasSubstr("user orderly\ntopic read openevse-1a2b/amp\n"));
  EXPECT_THAT(lines, HasSubstr("topic write openevse-1a2b/claim/set\nuser evse-1\n"));
  EXPECT_THAT(lines, ::testing::Not(HasSubstr("#\n"))) << "exact topics, no wildcards";
  run_site(lines);
  ASSERT_TRUE(pump_until([&] { return health.online; })) << health.last_error << "\n" << broker_->log();
  driver_->apply_limit(PowerLimit{3000, 60s, 2});
  ASSERT_TRUE(pump_until([&] { return acks.count(2) > 0; }));
  EXPECT_TRUE(acks.at(2).accepted) << acks.at(2).error;
  EXPECT_EQ(pile_->claimed_current_a(), 13);
}

}  // namespace
}  // namespace orderly::drivers
