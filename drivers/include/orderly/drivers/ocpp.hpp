#pragma once
// OCPP-J 1.6 (OCPP 1.6 edition 2 over WebSocket, "OCPP-J 1.6 Specification"): the message layer
// and the gateway's local central system. Transport-agnostic: text frames come in through
// CentralSystem::Link::receive and go out through the send function the transport gives; the
// WebSocket itself is web/'s, wired by gateway/. docs/ocpp.md lists what is handled, message
// by message.
//
// Threads: everything here runs on the core executor (the web server shares it), so nothing
// is posted and nothing is locked. DeviceEvents are called there too.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"

namespace orderly::drivers::ocpp {

// The WebSocket subprotocol a 1.6J charge point asks for (OCPP-J 1.6, section 3.1.2).
inline constexpr const char* kSubprotocol = "ocpp1.6";

// OCPP-J 1.6, section 4.2.3, spelled as the standard spells them ("Occurence" included).
enum class ErrorCode {
  NotImplemented,               // the action is not known
  NotSupported,                 // known, but this side does not handle it
  InternalError,
  ProtocolError,                // payload incomplete for the action (e.g. a frame of the wrong length)
  SecurityError,
  FormationViolation,           // not JSON, or not the structure of a frame or of the PDU
  PropertyConstraintViolation,  // a value outside its enum, too long, out of range
  OccurenceConstraintViolation, // a required field missing
  TypeConstraintViolation,      // a field of the wrong JSON type
  GenericError,
};
const char* to_string(ErrorCode code);
std::optional<ErrorCode> error_code_from_string(std::string_view text);

struct Call {
  std::string id;
  std::string action;
  nlohmann::json payload = nlohmann::json::object();
};
struct CallResult {
  std::string id;
  nlohmann::json payload = nlohmann::json::object();
};
struct CallError {
  std::string id;
  ErrorCode code = ErrorCode::GenericError;
  std::string description;
  nlohmann::json details = nlohmann::json::object();
};
using Message = std::variant<Call, CallResult, CallError>;

// The message id a frame that cannot be read at all is answered with (there is none to echo).
inline constexpr const char* kUnknownMessageId = "-1";

// A frame that cannot be read: the CallError to answer it with (its id when one could be read).
// Only CALLs are answered (OCPP-J 1.6, 4.2.3); a bad CALLRESULT or CALLERROR is only logged.
struct BadFrame {
  CallError answer;
  bool is_call = true;
};
// [2,id,action,payload] / [3,id,payload] / [4,id,code,description,details].
std::variant<Message, BadFrame> decode(std::string_view text);
std::string encode(const Message& message);

// Schema validation of a payload (the OCPP 1.6J JSON schemas, for the actions in docs/ocpp.md).
enum class Direction { request, response };
struct Violation {
  ErrorCode code = ErrorCode::FormationViolation;
  std::string field;  // JSON pointer-ish path, e.g. "meterValue[0].sampledValue[1].unit"
  std::string what;   // "is not one of Wh, kWh, ..."
  std::string describe() const { return field.empty() ? what : field + ": " + what; }
};
// NotImplemented for an action without a schema here; nullopt when the payload conforms.
std::optional<Violation> validate(std::string_view action, Direction direction, const nlohmann::json& payload);
// Whether a schema for the action is known (both directions are).
bool known_action(std::string_view action);

// RFC 3339 as the schemas' "date-time" format, e.g. "2026-12-07T08:30:00Z" or "...+08:00".
std::optional<TimePoint> parse_date_time(std::string_view text);
std::string format_date_time(TimePoint t);  // UTC, millisecond precision, "Z"

// ---- central system ----------------------------------------------------------------------------

struct CentralSystemOptions {
  // BootNotification.conf interval: how often the pile sends Heartbeat when otherwise silent.
  std::chrono::seconds heartbeat_interval{60};
  // A request the pile does not answer within this counts as failed (LimitAck rejected).
  std::chrono::milliseconds call_timeout{10000};
};

// One connector of a charge point is one charger of the gateway. The connectors of one charge
// point share its link; its own settings (password, intervals, tolerance, ceiling) are taken
// from the first connector added.
struct ChargePointSettings {
  std::string id;                   // the gateway's charger id
  std::string charge_point_id;      // the last path segment the pile connects to (/ocpp/<id>)
  int connector_id = 1;             // OCPP connectorId, 1..N (0 is the charge point as a whole)
  std::string password;             // HTTP basic auth; empty = no password accepted (refused)
  Capabilities caps;                // configured electrical fields
  double failsafe_current_a = 6;    // TxDefaultProfile: what a transaction draws with no gateway
  std::chrono::seconds meter_value_interval{10};  // ChangeConfiguration MeterValueSampleInterval
  // Non-empty: a car plugged in (Preparing) without a transaction is started with
  // RemoteStartTransaction for this idTag (piles that insist on a card before charging).
  std::string remote_start_id_tag;
  // Marks a pile offline when nothing arrived for this long (a pile reports at least every
  // meter_value_interval while charging and every heartbeat otherwise).
  std::chrono::seconds silence_timeout{150};
  // ChargePointMaxProfile on connector 0; not finite = the sum of its connectors' max_power_w.
  double station_max_power_w = kNotMeasured;
  // A pile whose timestamps are further off than this from the gateway's time is warned about
  // (health). Its timestamps are never used: the gateway books at its receive time.
  std::chrono::seconds clock_tolerance{60};
};

class CentralSystem;
struct ConnectorState;

// The OCPP pile as the gateway's controller sees it: limits become SetChargingProfile.
class OcppCharger : public ChargerDriver {
 public:
  const std::string& id() const override;
  Capabilities capabilities() const override;
  void apply_limit(const PowerLimit& limit) override;
  // RemoteStartTransaction on connector 1 / RemoteStopTransaction of the running transaction;
  // `done` gets whether the pile accepted (false with no connection or no transaction).
  void remote_start(const std::string& id_tag, std::function<void(bool accepted)> done = {});
  void remote_stop(std::function<void(bool accepted)> done = {});
  bool connected() const;
  std::optional<int> transaction_id() const;

  struct State;
  OcppCharger(std::shared_ptr<State> state, int connector_id);

 private:
  std::shared_ptr<State> state_;
  ConnectorState* connector_;  // owned by state_
};

class CentralSystem {
 public:
  CentralSystem(boost::asio::any_io_executor core, const Clock& clock, CentralSystemOptions options,
                DeviceEvents events);
  ~CentralSystem();
  CentralSystem(const CentralSystem&) = delete;
  CentralSystem& operator=(const CentralSystem&) = delete;

  // Throws std::invalid_argument for an empty or repeated charge point id or charger id.
  std::shared_ptr<OcppCharger> add_charger(const ChargePointSettings& settings);

  // Whether a WebSocket upgrade for `charge_point_id` with this Authorization header value may
  // proceed (OCPP 1.6 security profile 1: "Basic base64(id:password)"). Unknown ids are refused.
  bool authorize(std::string_view charge_point_id, std::string_view authorization) const;

  // One open connection. The transport calls receive() for every text frame and closed() once;
  // `send` writes one text frame, `close` ends the connection (a newer one for the same pile
  // replaces the old).
  class Link {
   public:
    virtual ~Link() = default;
    virtual void receive(std::string_view text) = 0;
    virtual void closed() = 0;
  };
  // Null for an unknown charge point id.
  std::shared_ptr<Link> open(std::string_view charge_point_id, std::function<void(std::string)> send,
                             std::function<void()> close);

  // Closes every link and cancels timers. Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The Authorization header value of HTTP basic auth ("Basic " + base64(user:password)).
std::string basic_authorization(std::string_view user, std::string_view password);

// Amps per phase for `power_w` on `phases` at the nominal voltage, to 0.1 A (the schema's
// multipleOf), never above what the power allows.
double limit_current_a(double power_w, int phases);

}  // namespace orderly::drivers::ocpp
