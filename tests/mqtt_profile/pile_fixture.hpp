#pragma once
// What the MQTT-profile tests share: the test thread as the gateway's core (what the driver
// posts runs when a test pumps), a real broker, the gateway's profile driver and one simulated
// pile, stopped pile first so the driver sees nothing half torn down.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "orderly/drivers/mqtt.hpp"
#include "orderly/drivers/profile.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/profile_mqtt_charger.hpp"
#include "orderly/test/support.hpp"

namespace orderly::drivers::testing {

class ProfilePileTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (pile_) pile_->stop();
    if (devices_) devices_->stop();
  }

  // The gateway's driver for charger `id` on `base` and its simulated pile (publishing every
  // 200 ms, faster than real piles, to keep tests short), both started; the pile's clock and
  // broker login as given.
  void start_pile(const std::string& id, const std::string& base, const MqttOptions& gateway, DeviceEvents events,
                  const Capabilities& caps, const Clock& pile_clock, const std::string& user = {},
                  const std::string& password = {}) {
    devices_ = std::make_unique<MqttDevices>(io_.get_executor(), clock_, gateway, std::move(events));
    driver_ = devices_->add_profile_charger(id, profile_, base, caps);
    devices_->start();
    sim::SimProfileChargerOptions so;
    so.id = id;
    so.port = broker_->port();
    so.base_topic = base;
    so.publish_period = std::chrono::milliseconds(200);
    so.username = user;
    so.password = password;
    pile_ = std::make_unique<sim::SimProfileMqttCharger>(so, profile_, pile_clock);
    pile_->start();
  }

  bool pump_until(const std::function<bool()>& condition,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return test::wait_until([&] {
      io_.poll();
      return condition();
    }, timeout);
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(io_);
  RealClock clock_;
  std::unique_ptr<sim::MosquittoBroker> broker_;
  DeviceProfile profile_;
  std::unique_ptr<MqttDevices> devices_;
  std::shared_ptr<ChargerDriver> driver_;
  std::unique_ptr<sim::SimProfileMqttCharger> pile_;
};

}  // namespace orderly::drivers::testing
