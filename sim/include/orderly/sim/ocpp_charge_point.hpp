#pragma once
// A simulated OCPP 1.6J charge point (one or more connectors, a car behind each) on a thread of
// its own: a Beast WebSocket client (ws://, or wss:// against a CA file) that connects to a
// central system with the ocpp1.6 subprotocol and HTTP basic auth, boots, reports status and
// meter values per connector, starts a transaction when a card is presented, answers
// TriggerMessage, and follows its charging profiles as OCPP 1.6 section 3.13 says: per
// connector the TxProfile of its running transaction while in force, else its TxDefaultProfile
// (its own, or connector 0's), and all connectors together never above the
// ChargePointMaxProfile. Profiles outlive the connection, so a central system that disappears
// leaves the TxDefaultProfile in force once the last TxProfile's duration has run out. Energy
// integrates on the injected Clock; the transport runs in real time. Its own clock may be set
// off the injected one (clock_offset), as a pile without NTP is.
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
  int connectors = 1;                               // connectorId 1..connectors, one car each
  // Whether every connector's status is sent on each new connection; some piles send it only
  // after a boot or a change, so a central system has to ask (TriggerMessage).
  bool status_on_connect = true;
  // The pile's clock minus the Clock's: its timestamps carry this error.
  std::chrono::seconds clock_offset{0};
  // Take the time from the BootNotification and Heartbeat answers (currentTime), as piles
  // without NTP do: the offset is then corrected.
  bool clock_from_central_system = false;
  // Non-empty: connect with wss:// and accept only a server certificate this CA (PEM) signed,
  // for `host`.
  std::string tls_ca_file;
};

// A SetChargingProfile.req the pile accepted.
struct ReceivedProfile {
  std::string purpose;                              // TxProfile, TxDefaultProfile, ChargePointMaxProfile
  double limit_a = 0;
  std::optional<int> duration_s;
  std::optional<int> transaction_id;
  int connector_id = 0;
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

  // Connector ids are 1..connectors; observations take 0 as the charge point as a whole.
  // A car arrives (status Preparing) and takes up to `car_max_power_w` until `energy_need_wh`.
  void plug_in(double energy_need_wh, double car_max_power_w, int connector_id = 1);
  // An RFID card at the reader: Authorize, then StartTransaction with this idTag.
  void present_card(const std::string& id_tag, int connector_id = 1);
  void unplug(int connector_id = 1);  // StopTransaction (EVDisconnected) when one runs, then Available
  // The link drops without a close frame, as a pile whose network goes away; it reconnects
  // after reconnect_delay without booting again.
  void drop_connection();

  // Observations (thread-safe).
  bool connected() const;
  bool booted() const;                              // BootNotification accepted
  std::uint64_t connections() const;                // WebSocket handshakes that succeeded
  std::optional<int> transaction_id(int connector_id = 1) const;
  double limit_w(int connector_id = 1) const;       // what the profiles allow now
  std::string limiting_profile(int connector_id = 1) const;  // the purpose setting limit_w(); "" = none
  double power_w(int connector_id = 0) const;       // 0: all connectors together
  double session_energy_wh(int connector_id = 1) const;
  std::chrono::seconds meter_value_interval() const;
  std::chrono::seconds clock_offset() const;        // the pile's clock minus the Clock's, now
  std::vector<ReceivedProfile> profiles() const;    // every accepted SetChargingProfile, oldest first
  std::vector<std::string> triggers() const;        // TriggerMessages accepted: "StatusNotification:1"
  std::uint64_t call_errors_sent() const;           // requests it refused as malformed
  std::uint64_t upgrades_refused() const;           // handshakes the central system refused (401, ...)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace orderly::sim
