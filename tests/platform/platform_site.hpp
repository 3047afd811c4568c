#pragma once
// A gateway with [platform] enabled against a PlatformSim, on a manual clock, its core loop on a
// thread of its own (the platform's pulls come over HTTP), with in-process chargers the test
// plays through the device events. The gateway can be stopped and started again on the same
// store, as a restart does.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"
#include "platform_sim.hpp"

namespace orderly::test {

// The pair's secrets: one set per direction, as a platform issues them.
inline gateway::tcec::Secrets push_secrets() {
  return {"PlatformIssued01", "1234567890abcdef", "fedcba0987654321", "SigSecret0123456"};
}
inline gateway::tcec::Secrets pull_secrets() {
  return {"GatewayIssued001", "abcdef1234567890", "0987654321fedcba", "SigSecretPull001"};
}
// The same, as the secret file ([platform] secret_file) holds them.
inline const std::string kPlatformSecretsToml = R"(
[to_platform]
operator_secret = "PlatformIssued01"
data_secret = "1234567890abcdef"
data_secret_iv = "fedcba0987654321"
sig_secret = "SigSecret0123456"
[from_platform]
operator_id = "MA0CITY01"
operator_secret = "GatewayIssued001"
data_secret = "abcdef1234567890"
data_secret_iv = "0987654321fedcba"
sig_secret = "SigSecretPull001"
)";

class PlatformSite {
 public:
  // Local (+08:00) 2026-01-05 00:00.
  static TimePoint start_time() {
    using namespace std::chrono;
    return TimePoint(sys_days(year{2026} / January / 5) - hours(8));
  }

  static PlatformSimOptions sim_options() {
    PlatformSimOptions o;
    o.to_platform = push_secrets();
    o.from_platform = pull_secrets();
    return o;
  }

  // `platform_keys`: more [platform] lines (TLS, proxy, timeouts); `url`: instead of the sim's.
  // In both, "{sim}" stands for the simulator's "127.0.0.1:<port>".
  explicit PlatformSite(PlatformSimOptions sim = sim_options(), const std::string& platform_keys = "",
                        const std::string& url = "");
  ~PlatformSite();

  void start_gateway();
  void stop_gateway();
  RunningGateway& running() { return *gateway_; }
  gateway::Gateway& gateway() { return gateway_->gateway(); }
  std::string web_url() const { return gateway_->web_url(); }

  // Device reports, handled on the core thread before these return. online(): the pile
  // answers, without a car.
  void online(const std::string& charger_id);
  void car(const std::string& charger_id, drivers::ChargerState state, double power_w, double energy_wh);
  void meter(double power_kw);
  // One session on `charger_id`: plugged in, charging `energy_kwh` at 7 kW in 5-minute steps
  // (the clock moves), unplugged. Returns the session's id (its StartChargeSeq).
  std::string session(const std::string& charger_id, double energy_kwh);

  // The outbox as the store holds it (opened beside the running gateway).
  std::vector<gateway::OutboxEntry> outbox() const;
  nlohmann::json status();

  ManualClock clock{start_time()};
  TempDir dir;
  PlatformSim platform;
  gateway::Config config;

 private:
  std::unique_ptr<RunningGateway> gateway_;
  drivers::DeviceEvents events_;
};

}  // namespace orderly::test
