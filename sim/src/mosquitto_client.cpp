#include "mosquitto_client.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <mutex>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

namespace orderly::sim {
namespace {

constexpr int kReconnectDelayMs = 1000;
constexpr int kPollMs = 100;  // keep-alive bookkeeping (mosquitto_loop_misc) runs at least this often

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
  raise_open_file_limit();
}

}  // namespace

void raise_open_file_limit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
  });
}

MosquittoClient::MosquittoClient(Config config, ConnectHandler on_connect, MessageHandler on_message)
    : config_(std::move(config)), on_connect_(std::move(on_connect)), on_message_(std::move(on_message)) {
  init_library();
  mosq_ = mosquitto_new(config_.client_id.c_str(), true, this);
  if (!mosq_) throw std::runtime_error("libmosquitto: cannot create client \"" + config_.client_id + "\" (out of memory?)");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    mosquitto_destroy(mosq_);
    throw std::runtime_error("libmosquitto client \"" + config_.client_id + "\": eventfd failed (too many open files?)");
  }
  // We run the network loop on our own thread: libmosquitto must lock, and must not write from
  // the publishing thread (mosquitto_threaded_set documentation).
  mosquitto_threaded_set(mosq_, true);
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);  // small status/ack packets: no Nagle delay
  mosquitto_connect_callback_set(mosq_, &MosquittoClient::on_connect_cb);
  mosquitto_disconnect_callback_set(mosq_, &MosquittoClient::on_disconnect_cb);
  mosquitto_message_callback_set(mosq_, &MosquittoClient::on_message_cb);
  if (config_.tls.enabled()) {
    const auto& t = config_.tls;
    const std::string cert = t.cert_file.string(), key = t.key_file.string();
    const int rc = mosquitto_tls_set(mosq_, t.ca_file.c_str(), nullptr, cert.empty() ? nullptr : cert.c_str(),
                                     key.empty() ? nullptr : key.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_destroy(mosq_);
      ::close(wake_fd_);
      throw std::runtime_error("libmosquitto client \"" + config_.client_id + "\": TLS files not usable (ca " +
                               t.ca_file.string() + ", cert " + cert + ", key " + key + "): " + mosquitto_strerror(rc));
    }
  }
  if (!config_.username.empty())
    mosquitto_username_pw_set(mosq_, config_.username.c_str(), config_.password.empty() ? nullptr : config_.password.c_str());
  if (!config_.will_topic.empty())
    mosquitto_will_set(mosq_, config_.will_topic.c_str(), static_cast<int>(config_.will_payload.size()),
                       config_.will_payload.data(), 1, true);
}

MosquittoClient::~MosquittoClient() {
  halt(Exit::clean, {}, {});
  mosquitto_destroy(mosq_);
  ::close(wake_fd_);
}

void MosquittoClient::start() {
  if (running_) return;
  running_ = true;
  stop_requested_ = false;
  thread_ = std::thread([this] { run(); });
}

void MosquittoClient::stop(const std::string& topic, const std::string& payload) { halt(Exit::clean, topic, payload); }

void MosquittoClient::drop() { halt(Exit::with_will, {}, {}); }

void MosquittoClient::halt(Exit how, const std::string& topic, const std::string& payload) {
  if (!running_) return;
  exit_ = how;
  exit_topic_ = topic;
  exit_payload_ = payload;
  stop_requested_ = true;
  wake();
  thread_.join();
  running_ = false;
  connected_ = false;
}

void MosquittoClient::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void MosquittoClient::wait_or_wake(int timeout_ms) {
  pollfd p{wake_fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) > 0) {
    std::uint64_t v = 0;
    [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
  }
}

// Writes out what is queued (the final DISCONNECT included), for at most ~1 s.
void MosquittoClient::flush() {
  for (int i = 0; i < 100 && mosquitto_socket(mosq_) >= 0 && mosquitto_want_write(mosq_); ++i) {
    pollfd p{mosquitto_socket(mosq_), POLLOUT, 0};
    if (::poll(&p, 1, 10) > 0 && mosquitto_loop_write(mosq_, 10) != MOSQ_ERR_SUCCESS) break;
  }
}

void MosquittoClient::run() {
  bool have_socket = false;
  bool first = true;
  while (!stop_requested_) {
    if (!have_socket) {
      // A refused attempt is fine: retry every second, like a device that boots before the broker.
      const int rc = first ? mosquitto_connect(mosq_, config_.host.c_str(), config_.port, config_.keepalive_s)
                           : mosquitto_reconnect(mosq_);
      if (rc != MOSQ_ERR_SUCCESS) {
        wait_or_wake(kReconnectDelayMs);
        continue;
      }
      first = false;
      have_socket = true;
    }
    const int sock = mosquitto_socket(mosq_);
    pollfd fds[2] = {{sock, static_cast<short>(POLLIN | (mosquitto_want_write(mosq_) ? POLLOUT : 0)), 0},
                     {wake_fd_, POLLIN, 0}};
    ::poll(fds, 2, kPollMs);
    if (fds[1].revents & POLLIN) {
      std::uint64_t v = 0;
      [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
    }
    int rc = MOSQ_ERR_SUCCESS;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) rc = mosquitto_loop_read(mosq_, 10);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(mosq_)) rc = mosquitto_loop_write(mosq_, 10);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(mosq_);
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq_) < 0) {
      connected_ = false;
      have_socket = false;
      wait_or_wake(kReconnectDelayMs);
    }
  }
  if (!have_socket || !connected_) return;
  if (exit_ == Exit::with_will) {
    // MQTT 5.0 section 3.14.2.1: reason code 0x04 "Disconnect with Will Message" makes the broker
    // publish the will, as if the device had vanished.
    mosquitto_disconnect_v5(mosq_, MQTT_RC_DISCONNECT_WITH_WILL_MSG, nullptr);
  } else {
    if (!exit_topic_.empty())
      mosquitto_publish(mosq_, nullptr, exit_topic_.c_str(), static_cast<int>(exit_payload_.size()),
                        exit_payload_.data(), 1, true);
    mosquitto_disconnect(mosq_);
  }
  flush();
}

bool MosquittoClient::publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
  const bool ok = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(),
                                    qos, retain) == MOSQ_ERR_SUCCESS;
  wake();
  return ok;
}

bool MosquittoClient::subscribe(const std::string& topic_filter, int qos) {
  const bool ok = mosquitto_subscribe(mosq_, nullptr, topic_filter.c_str(), qos) == MOSQ_ERR_SUCCESS;
  wake();
  return ok;
}

void MosquittoClient::on_connect_cb(mosquitto*, void* self, int rc) {
  auto* c = static_cast<MosquittoClient*>(self);
  if (rc != 0) return;
  c->connected_ = true;
  if (c->on_connect_) c->on_connect_();
}

void MosquittoClient::on_disconnect_cb(mosquitto*, void* self, int) { static_cast<MosquittoClient*>(self)->connected_ = false; }

void MosquittoClient::on_message_cb(mosquitto*, void* self, const mosquitto_message* msg) {
  auto* c = static_cast<MosquittoClient*>(self);
  if (!msg || !msg->topic || !c->on_message_) return;
  std::string payload(static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen));
  c->on_message_(msg->topic, payload);
}

}  // namespace orderly::sim
