#pragma once
// A simulated OCPP 1.6J charge point (one connector) with a car behind it: a Beast WebSocket
// client on a thread of its own that connects to a central system with the ocpp1.6
// subprotocol and HTTP basic auth, boots, reports status and meter values, starts a
// transaction when a card is presented, and follows its charging profiles as OCPP 1.6 section
// 3.13 says: the TxProfile of the running transaction while in force, else the
// TxDefaultProfile, never above the ChargePointMaxProfile. Profiles outlive the connection, so a
// central system that disappears leaves the TxDefaultProfile in force once the last TxProfile's
// duration has run out. Energy integrates on the injected Clock; the transport runs in real time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/base/units.hpp"

namespace orderly::sim {

struct SimOcppOptions {
  std::string charge_point_id;                      // the last path segment: ws://host:port/ocpp/<id>
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string password;                             // basic auth; user = charge_point_id
  double max_power_w = 7000;
  int phases = 1;
  double voltage_v = kNominalPhaseVoltageV;
  double min_current_a = 6;                         // IEC 61851-1: below this the pile pauses
  std::chrono::seconds heartbeat_interval{60};      // until BootNotification.conf says otherwise
  std::chrono::seconds meter_value_interval{10};    // until ChangeConfiguration says otherwise (Clock time)
  std::chrono::milliseconds reconnect_delay{500};   // real time
};

// A SetChargingProfile.req the pile accepted.
struct ReceivedProfile {
  std::string purpose;                              // TxProfile, TxDefaultProfile, ChargePointMaxProfile
  double limit_a = 0;
  std::optional<int> duration_s;
  std::optional<int> transaction_id;
  std::chrono::steady_clock::time_point received_at{};
};

class SimOcppChargePoint {
 public:
  SimOcppChargePoint(SimOcppOptions options, const Clock& clock);
  ~SimOcppChargePoint();
  SimOcppChargePoint(const SimOcppChargePoint&) = delete;
  SimOcppChargePoint& operator=(const SimOcppChargePoint&) = delete;

  void start();  // connects (and reconnects) in the background
  void stop();   // closes the WebSocket cleanly and joins its thread

  // A car arrives (status Preparing) and takes up to `car_max_power_w` until `energy_need_wh`.
  void plug_in(double energy_need_wh, double car_max_power_w);
  // An RFID card at the reader: Authorize, then StartTransaction with this idTag.
  void present_card(const std::string& id_tag);
  void unplug();  // StopTransaction (EVDisconnected) when one runs, then Available

  // Observations (thread-safe).
  bool connected() const;
  bool booted() const;                              // BootNotification accepted
  std::optional<int> transaction_id() const;
  double limit_w() const;                           // what the profiles allow now
  std::string limiting_profile() const;             // the purpose setting limit_w(); "" = none (pile max)
  double power_w() const;
  double session_energy_wh() const;
  std::chrono::seconds meter_value_interval() const;
  std::vector<ReceivedProfile> profiles() const;    // every accepted SetChargingProfile, oldest first
  std::uint64_t call_errors_sent() const;           // requests it refused as malformed
  std::uint64_t upgrades_refused() const;           // handshakes the central system refused (401, ...)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace orderly::sim
