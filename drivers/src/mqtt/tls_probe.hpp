#pragma once
// Why a TLS connection to the broker fails, found by a handshake of our own with the same files.
//
// Paho reports a failed TLS connect as return code -1 and nothing else: its OpenSSL error
// callback is unusable in Paho C++ 1.2.0 (ssl_options::on_error gets a pointer to a copy that
// is already destroyed; eclipse-paho/paho.mqtt.cpp issues #325 and #439). So after a failure
// the driver repeats the handshake here, blocking, off the core thread.
#include <chrono>
#include <cstdint>
#include <string>

namespace orderly::drivers::mqtt_tls {

struct ProbeTarget {
  std::string host;
  std::uint16_t port = 8883;
  std::string ca_file, cert_file, key_file;  // as in MqttOptions
};

// Empty when the handshake (and the broker's verdict on our certificate) succeeds; otherwise
// what failed, e.g. "certificate verify failed (unable to get local issuer certificate)",
// "tlsv13 alert certificate required", "key values mismatch", "connect: Connection refused".
// Verifies the chain and the host name as the driver does. Waits at most about 2 x `timeout`.
std::string probe(const ProbeTarget& target, std::chrono::milliseconds timeout);

// Whether a probe result says the broker was not reached at all (no TLS was spoken).
bool unreachable(const std::string& failure);

// What to check for a probe result, naming the [mqtt] keys to look at.
std::string advice(const std::string& failure, const std::string& host);

}  // namespace orderly::drivers::mqtt_tls
