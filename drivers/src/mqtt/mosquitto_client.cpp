#include "mqtt/mosquitto_client.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <mutex>
#include <stdexcept>

namespace orderly::drivers::mqtt {
namespace {

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

}  // namespace

MosquittoClient::MosquittoClient(Config config, ConnectHandler on_connect, MessageHandler on_message)
    : config_(std::move(config)), on_connect_(std::move(on_connect)), on_message_(std::move(on_message)) {
  init_library();
  mosq_ = mosquitto_new(config_.client_id.c_str(), true, this);
  if (!mosq_) throw std::runtime_error("libmosquitto: cannot create client \"" + config_.client_id + "\" (out of memory?)");
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);  // small status/ack packets: no Nagle delay
  mosquitto_reconnect_delay_set(mosq_, 1, 2, false);
  mosquitto_connect_callback_set(mosq_, &MosquittoClient::on_connect_cb);
  mosquitto_disconnect_callback_set(mosq_, &MosquittoClient::on_disconnect_cb);
  mosquitto_message_callback_set(mosq_, &MosquittoClient::on_message_cb);
  if (!config_.will_topic.empty())
    mosquitto_will_set(mosq_, config_.will_topic.c_str(), static_cast<int>(config_.will_payload.size()),
                       config_.will_payload.data(), 1, true);
}

MosquittoClient::~MosquittoClient() {
  if (running_) mosquitto_disconnect(mosq_);
  halt();
  mosquitto_destroy(mosq_);
}

void MosquittoClient::start() {
  if (running_) return;
  running_ = true;
  // A refused first attempt is fine: the network thread keeps retrying, like a device that
  // boots before the broker.
  mosquitto_connect_async(mosq_, config_.host.c_str(), config_.port, config_.keepalive_s);
  mosquitto_loop_start(mosq_);
}

void MosquittoClient::stop(const std::string& topic, const std::string& payload) {
  if (!running_) return;
  if (connected_ && !topic.empty()) {
    int mid = 0;
    mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, true);
  }
  mosquitto_disconnect(mosq_);
  halt();
}

void MosquittoClient::drop() {
  if (!running_) return;
  mosquitto_disconnect_v5(mosq_, MQTT_RC_DISCONNECT_WITH_WILL_MSG, nullptr);
  halt();
}

void MosquittoClient::halt() {
  if (!running_) return;
  // force=false: the network thread finishes sending the DISCONNECT the caller queued (and
  // anything queued before it), then exits.
  mosquitto_loop_stop(mosq_, false);
  running_ = false;
  connected_ = false;
}

bool MosquittoClient::publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
  return mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, retain) ==
         MOSQ_ERR_SUCCESS;
}

bool MosquittoClient::subscribe(const std::string& topic_filter, int qos) {
  return mosquitto_subscribe(mosq_, nullptr, topic_filter.c_str(), qos) == MOSQ_ERR_SUCCESS;
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

}  // namespace orderly::drivers::mqtt
