#pragma once
// A real Mosquitto broker process for tests and the demo: Debian's /usr/sbin/mosquitto (or
// $ORDERLY_MOSQUITTO) on 127.0.0.1 with a generated config in a temporary directory. Anonymous
// access (or logins and ACLs with Options::password_file and acl_file), no persistence; plain
// MQTT, or TLS only with Options::tls. The process is terminated and reaped by the destructor, and is sent
// SIGTERM if the thread that started it exits first (so call start() from a long-lived thread).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "orderly/sim/tls.hpp"

namespace orderly::sim {

class MosquittoBroker {
 public:
  // Starts the broker on `port` (0 = pick a free one) and waits until it accepts TCP
  // connections. Throws std::runtime_error naming the binary, port and the broker's log when it
  // is missing, exits, or does not listen within 10 s.
  static std::unique_ptr<MosquittoBroker> start(std::uint16_t port = 0);

  // The listener is TLS-only when `tls` is enabled: cert_file/key_file are the broker's,
  // ca_file verifies clients' certificates, which the broker demands when
  // require_certificate is set (mosquitto.conf(5)).
  struct Options {
    std::uint16_t port = 0;  // 0 = a free one
    TlsFiles tls;
    bool require_certificate = true;
    // Both set: logins from password_file (mosquitto_passwd), topics confined by acl_file, as
    // the packaged packaging/mosquitto/orderly.conf runs it; no anonymous access.
    std::filesystem::path password_file, acl_file;
    // More configuration lines after the listener's (so listener options apply to it), e.g. the
    // shipped packaging/mosquitto/orderly.conf's limits; a key given here replaces the generated
    // line of the same key (allow_anonymous false, say).
    std::vector<std::string> config_lines;
  };
  static std::unique_ptr<MosquittoBroker> start(const Options& options);
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  std::uint16_t port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // The broker's log so far (for test failure messages).
  std::string log() const;

 private:
  MosquittoBroker() = default;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace orderly::sim
