#pragma once
// A small libmosquitto client with its own network thread, used by the simulated devices so they
// reach the broker exactly as a separate device would. Private to the simulators (orderly::sim).
//
// The thread is ours rather than mosquitto_loop_start()'s because libmosquitto 2.0's loop uses
// select(), which fails for descriptors >= FD_SETSIZE (1024): with three descriptors per client
// a demo process broke down above ~330 simulated piles. Ours uses poll() and an eventfd to wake
// up when another thread queues a message.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "orderly/sim/tls.hpp"

struct mosquitto;
struct mosquitto_message;

namespace orderly::sim {

// Simulators open three descriptors per device (socket and libmosquitto's wake-up pair), and
// the demo runs up to 500 piles plus a broker that inherits our limits: raise the soft
// RLIMIT_NOFILE to the hard limit once. Idempotent; called by the clients and the broker launcher.
void raise_open_file_limit();

class MosquittoClient {
 public:
  struct Config {
    std::string client_id;
    std::string host = "127.0.0.1";
    std::uint16_t port = 1883;
    std::string will_topic;    // empty = no last will
    std::string will_payload;
    int keepalive_s = 5;
    TlsFiles tls;  // enabled: TLS with the broker's certificate and host name verified
    std::string username, password;  // empty username = anonymous
  };
  // Both handlers run on the client's network thread; they may call publish() and subscribe().
  using ConnectHandler = std::function<void()>;
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;

  // Throws std::runtime_error naming the file when the TLS files cannot be used.
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
  enum class Exit { clean, with_will };
  static void on_connect_cb(mosquitto*, void* self, int rc);
  static void on_disconnect_cb(mosquitto*, void* self, int rc);
  static void on_message_cb(mosquitto*, void* self, const mosquitto_message* msg);
  void run();
  void wait_or_wake(int timeout_ms);
  void wake();
  void flush();
  void halt(Exit how, const std::string& topic, const std::string& payload);

  Config config_;
  ConnectHandler on_connect_;
  MessageHandler on_message_;
  mosquitto* mosq_ = nullptr;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stop_requested_{false};
  // How the network thread leaves, set before stop_requested_.
  Exit exit_ = Exit::clean;
  std::string exit_topic_, exit_payload_;
  bool running_ = false;
};

}  // namespace orderly::sim
