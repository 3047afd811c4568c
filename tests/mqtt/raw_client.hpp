#pragma once
// A bare libmosquitto client for tests that play a broken or hostile device: it publishes as
// fast as it is asked to, with any client id and login, and records what the broker answered.
// Shared by the MQTT hardening tests and the gateway's flapping-pile test.
#include <mosquitto.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace orderly::test {

class RawClient {
 public:
  RawClient(std::uint16_t port, const std::string& client_id, const std::string& username = "",
            const std::string& password = "") {
    mosquitto_lib_init();
    m_ = mosquitto_new(client_id.c_str(), true, this);
    if (!username.empty()) mosquitto_username_pw_set(m_, username.c_str(), password.c_str());
    mosquitto_connect_callback_set(m_, [](mosquitto*, void* self, int rc) { static_cast<RawClient*>(self)->connack = rc; });
    mosquitto_disconnect_callback_set(m_, [](mosquitto*, void* self, int) {
      static_cast<RawClient*>(self)->disconnected = true;
    });
    mosquitto_connect(m_, "127.0.0.1", port, 30);
    mosquitto_loop_start(m_);
  }
  ~RawClient() {
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, true);
    mosquitto_destroy(m_);
  }
  bool publish(const std::string& topic, const std::string& payload) {
    return mosquitto_publish(m_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false) ==
           MOSQ_ERR_SUCCESS;
  }
  std::atomic<int> connack{-1};  // the broker's CONNACK code; -1 = none yet
  std::atomic<bool> disconnected{false};

 private:
  mosquitto* m_ = nullptr;
};

}  // namespace orderly::test
