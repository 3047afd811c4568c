#pragma once
// A city platform speaking T/CEC 102 over real HTTP on loopback, for the integration tests: it
// issues tokens, verifies and records the gateway's pushes (deduplicating by the
// Orderly-Message-Id header, as a platform that honours it would), and pulls from the gateway
// as the platform does; over HTTPS with a client certificate when asked to. start() / stop()
// play the platform coming and going; the port is kept, so the gateway's configured URL stays
// right across an outage. It also serves as an HTTP proxy: a request with an absolute URI is
// answered like one to its own URL, which is how the tests see [platform] proxy take effect.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "orderly/gateway/tcec.hpp"

namespace orderly::test {

struct PlatformSimOptions {
  std::string operator_id = "MA0CITY01";          // the platform's own, on its pulls
  std::string gateway_operator_id = "MA59J8YL8";  // whom it expects on pushes
  gateway::tcec::Secrets to_platform;             // what the gateway's pushes use
  gateway::tcec::Secrets from_platform;           // what its pulls use
  int token_validity_s = 7200;
  // HTTPS when set: the server's certificate and key (PEM), and the CA a client certificate
  // must be signed by (empty: none asked for).
  std::filesystem::path tls_cert_file, tls_key_file, tls_client_ca_file;
  // Pushes are read but never answered (a platform that hangs), until this is set false again.
  bool stall = false;
};

class PlatformSim {
 public:
  struct Push {
    std::string kind;
    std::string message_id;
    nlohmann::json data;
  };
  struct Answer {
    int http_status = 0;
    gateway::tcec::Decoded<gateway::tcec::Response> decoded;
    std::chrono::milliseconds took{};
  };

  explicit PlatformSim(PlatformSimOptions options);
  ~PlatformSim();
  PlatformSim(const PlatformSim&) = delete;
  PlatformSim& operator=(const PlatformSim&) = delete;

  // Listens on 127.0.0.1 (a free port the first time, the same one after). Throws when it cannot.
  void start();
  // Closes the listener and every connection: the gateway's next request is refused.
  void stop();
  std::string url() const;  // the base URL the gateway is configured with
  std::uint16_t port() const { return port_; }

  // Pushes accepted (Ret=0), first delivery of each message id only, in arrival order.
  std::vector<Push> pushes() const;
  std::vector<Push> pushes(const std::string& kind) const;
  int duplicates() const;     // resends of a message id already accepted
  int tokens_issued() const;
  // Forgets the tokens it issued: the gateway's next push is answered 4002.
  void revoke_tokens();

  // As the platform pulls: query_token first (once per sim), then `interface` with `data`.
  Answer pull(const std::string& gateway_url, const std::string& interface, const nlohmann::json& data);
  // One POST of `body` as given, for malformed requests.
  Answer post(const std::string& gateway_url, const std::string& interface, const std::string& body,
              const std::string& authorization);
  // A well-formed request envelope under the pull secrets.
  std::string envelope(const nlohmann::json& data) const;
  std::string pull_token() const { return pull_token_; }
  void set_stall(bool stall);
  int requests() const;       // every request read, answered or not

 private:
  struct Server;
  std::string answer_push(const std::string& kind, const std::string& body, const std::string& authorization,
                          const std::string& message_id);

  PlatformSimOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Server> server_;
  mutable std::mutex mutex_;  // the server thread records, the test thread reads
  std::vector<Push> pushes_;
  std::set<std::string> seen_ids_;
  std::set<std::string> tokens_;
  int duplicates_ = 0;
  int tokens_issued_ = 0;
  int requests_ = 0;
  std::string pull_token_;    // the test thread's
};

}  // namespace orderly::test
