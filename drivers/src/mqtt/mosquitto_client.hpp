#pragma once
// A small libmosquitto client with its own network thread (mosquitto_loop_start), used by the
// simulated devices so they reach the broker exactly as a separate device would. Private to the
// drivers library.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

struct mosquitto;
struct mosquitto_message;

namespace orderly::drivers::mqtt {

class MosquittoClient {
 public:
  struct Config {
    std::string client_id;
    std::string host = "127.0.0.1";
    std::uint16_t port = 1883;
    std::string will_topic;    // empty = no last will
    std::string will_payload;
    int keepalive_s = 5;
  };
  // Both handlers run on the client's network thread; they may call publish() and subscribe().
  using ConnectHandler = std::function<void()>;
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;

  MosquittoClient(Config config, ConnectHandler on_connect, MessageHandler on_message);
  ~MosquittoClient();
  MosquittoClient(const MosquittoClient&) = delete;
  MosquittoClient& operator=(const MosquittoClient&) = delete;

  // Connects in the background and keeps reconnecting (1..2 s) until stop() or drop().
  void start();
  // Publishes `topic`=`payload` (retained) if connected, then disconnects cleanly: no last will.
  void stop(const std::string& topic = {}, const std::string& payload = {});
  // Disconnects abruptly as far as the broker is concerned: MQTT 5 DISCONNECT with reason code
  // 0x04 "Disconnect with Will Message" (MQTT 5.0 section 3.14.2.1), so the will is published.
  void drop();

  bool publish(const std::string& topic, const std::string& payload, int qos, bool retain);
  bool subscribe(const std::string& topic_filter, int qos);
  bool connected() const { return connected_; }

 private:
  static void on_connect_cb(mosquitto*, void* self, int rc);
  static void on_disconnect_cb(mosquitto*, void* self, int rc);
  static void on_message_cb(mosquitto*, void* self, const mosquitto_message* msg);
  void halt();

  Config config_;
  ConnectHandler on_connect_;
  MessageHandler on_message_;
  mosquitto* mosq_ = nullptr;
  std::atomic<bool> connected_{false};
  bool running_ = false;
};

}  // namespace orderly::drivers::mqtt
