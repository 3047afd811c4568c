// The OCPP 1.6J JSON schemas (OCPP 1.6 edition 2, schemas/*.json) of the actions docs/ocpp.md
// lists, as data, and the subset of JSON Schema draft-04 they use: types, required properties,
// enums, maxLength, the date-time format, multipleOf 0.1 on a limit, and
// additionalProperties = false on every object. Error codes per OCPP-J 1.6, section 4.2.3.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "orderly/drivers/ocpp.hpp"

namespace orderly::drivers::ocpp {
namespace {

using nlohmann::json;

enum class Kind { string, integer, number, boolean, date_time, object, array };

struct Property;

struct Schema {
  Kind kind = Kind::object;
  std::size_t max_length = 0;            // strings: 0 = unbounded
  std::vector<std::string> one_of;       // strings: the enum, empty = any
  bool tenths = false;                   // numbers: multipleOf 0.1
  std::vector<Property> properties;      // objects
  std::vector<Schema> items;             // arrays: exactly one element schema
};

struct Property {
  std::string name;
  bool required = false;
  Schema schema;
};

Schema text(std::size_t max_length) { return Schema{Kind::string, max_length, {}, false, {}, {}}; }
Schema choice(std::vector<std::string> values) { return Schema{Kind::string, 0, std::move(values), false, {}, {}}; }
Schema integer() { return Schema{Kind::integer, 0, {}, false, {}, {}}; }
Schema number(bool tenths = false) { return Schema{Kind::number, 0, {}, tenths, {}, {}}; }
Schema date_time() { return Schema{Kind::date_time, 0, {}, false, {}, {}}; }
Schema object(std::vector<Property> properties) { return Schema{Kind::object, 0, {}, false, std::move(properties), {}}; }
Schema array(Schema item) { return Schema{Kind::array, 0, {}, false, {}, {std::move(item)}}; }
Property req(std::string name, Schema s) { return Property{std::move(name), true, std::move(s)}; }
Property opt(std::string name, Schema s) { return Property{std::move(name), false, std::move(s)}; }

// ---- shared types (the schemas repeat them inline; written once here) ---------------------------

Schema id_tag_info() {
  return object({opt("expiryDate", date_time()), opt("parentIdTag", text(20)),
                 req("status", choice({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"}))});
}

Schema meter_value() {
  const Schema sampled = object({
      req("value", text(0)),
      opt("context", choice({"Interruption.Begin", "Interruption.End", "Sample.Clock", "Sample.Periodic",
                             "Transaction.Begin", "Transaction.End", "Trigger", "Other"})),
      opt("format", choice({"Raw", "SignedData"})),
      opt("measurand",
          choice({"Energy.Active.Export.Register", "Energy.Active.Import.Register", "Energy.Reactive.Export.Register",
                  "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
                  "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval", "Power.Active.Export",
                  "Power.Active.Import", "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import",
                  "Power.Factor", "Current.Import", "Current.Export", "Current.Offered", "Voltage", "Frequency",
                  "Temperature", "SoC", "RPM"})),
      opt("phase", choice({"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"})),
      opt("location", choice({"Cable", "EV", "Inlet", "Outlet", "Body"})),
      opt("unit", choice({"Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar", "A", "V", "K",
                          "Celcius", "Celsius", "Fahrenheit", "Percent"})),
  });
  return object({req("timestamp", date_time()), req("sampledValue", array(sampled))});
}

Schema charging_profile() {
  const Schema period = object({req("startPeriod", integer()), req("limit", number(true)), opt("numberPhases", integer())});
  const Schema schedule = object({opt("duration", integer()), opt("startSchedule", date_time()),
                                  req("chargingRateUnit", choice({"A", "W"})),
                                  req("chargingSchedulePeriod", array(period)), opt("minChargingRate", number(true))});
  return object({req("chargingProfileId", integer()), opt("transactionId", integer()), req("stackLevel", integer()),
                 req("chargingProfilePurpose", choice({"ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"})),
                 req("chargingProfileKind", choice({"Absolute", "Recurring", "Relative"})),
                 opt("recurrencyKind", choice({"Daily", "Weekly"})), opt("validFrom", date_time()),
                 opt("validTo", date_time()), req("chargingSchedule", schedule)});
}

Schema status_only(std::vector<std::string> values) { return object({req("status", choice(std::move(values)))}); }

struct ActionSchemas {
  Schema request;
  Schema response;
};

const std::map<std::string, ActionSchemas, std::less<>>& schemas() {
  static const std::map<std::string, ActionSchemas, std::less<>> all = [] {
    std::map<std::string, ActionSchemas, std::less<>> m;
    // Charge point -> central system.
    m["BootNotification"] = {
        object({req("chargePointVendor", text(20)), req("chargePointModel", text(20)),
                opt("chargePointSerialNumber", text(25)), opt("chargeBoxSerialNumber", text(25)),
                opt("firmwareVersion", text(50)), opt("iccid", text(20)), opt("imsi", text(20)),
                opt("meterType", text(25)), opt("meterSerialNumber", text(25))}),
        object({req("status", choice({"Accepted", "Pending", "Rejected"})), req("currentTime", date_time()),
                req("interval", integer())})};
    m["Heartbeat"] = {object({}), object({req("currentTime", date_time())})};
    m["StatusNotification"] = {
        object({req("connectorId", integer()),
                req("errorCode",
                    choice({"ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
                            "InternalError", "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure",
                            "PowerMeterFailure", "PowerSwitchFailure", "ReaderFailure", "ResetFailure",
                            "UnderVoltage", "OverVoltage", "WeakSignal"})),
                opt("info", text(50)),
                req("status", choice({"Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV",
                                      "Finishing", "Reserved", "Unavailable", "Faulted"})),
                opt("timestamp", date_time()), opt("vendorId", text(255)), opt("vendorErrorCode", text(50))}),
        object({})};
    m["MeterValues"] = {object({req("connectorId", integer()), opt("transactionId", integer()),
                                req("meterValue", array(meter_value()))}),
                        object({})};
    m["StartTransaction"] = {
        object({req("connectorId", integer()), req("idTag", text(20)), req("meterStart", integer()),
                opt("reservationId", integer()), req("timestamp", date_time())}),
        object({req("idTagInfo", id_tag_info()), req("transactionId", integer())})};
    m["StopTransaction"] = {
        object({opt("idTag", text(20)), req("meterStop", integer()), req("timestamp", date_time()),
                req("transactionId", integer()),
                opt("reason", choice({"EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss",
                                      "Reboot", "Remote", "SoftReset", "UnlockCommand", "DeAuthorized"})),
                opt("transactionData", array(meter_value()))}),
        object({opt("idTagInfo", id_tag_info())})};
    m["Authorize"] = {object({req("idTag", text(20))}), object({req("idTagInfo", id_tag_info())})};
    // Central system -> charge point.
    m["SetChargingProfile"] = {object({req("connectorId", integer()), req("csChargingProfiles", charging_profile())}),
                               status_only({"Accepted", "Rejected", "NotSupported"})};
    m["ClearChargingProfile"] = {
        object({opt("id", integer()), opt("connectorId", integer()),
                opt("chargingProfilePurpose", choice({"ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"})),
                opt("stackLevel", integer())}),
        status_only({"Accepted", "Unknown"})};
    m["RemoteStartTransaction"] = {
        object({opt("connectorId", integer()), req("idTag", text(20)), opt("chargingProfile", charging_profile())}),
        status_only({"Accepted", "Rejected"})};
    m["RemoteStopTransaction"] = {object({req("transactionId", integer())}), status_only({"Accepted", "Rejected"})};
    m["ChangeConfiguration"] = {object({req("key", text(50)), req("value", text(500))}),
                                status_only({"Accepted", "Rejected", "RebootRequired", "NotSupported"})};
    // 5.17: asks the pile to send one of its own messages now (its state after a reconnect).
    m["TriggerMessage"] = {
        object({req("requestedMessage", choice({"BootNotification", "DiagnosticsStatusNotification",
                                                "FirmwareStatusNotification", "Heartbeat", "MeterValues",
                                                "StatusNotification"})),
                opt("connectorId", integer())}),
        status_only({"Accepted", "Rejected", "NotImplemented"})};
    return m;
  }();
  return all;
}

const char* type_name(Kind k) {
  switch (k) {
    case Kind::string: return "a string";
    case Kind::integer: return "an integer";
    case Kind::number: return "a number";
    case Kind::boolean: return "a boolean";
    case Kind::date_time: return "a date-time string";
    case Kind::object: return "an object";
    case Kind::array: return "an array";
  }
  return "a value";
}

bool is_integer(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && d == std::floor(d);
}

std::string join_values(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

std::optional<Violation> check(const Schema& s, const json& v, const std::string& at) {
  auto type_error = [&] { return Violation{ErrorCode::TypeConstraintViolation, at, "is not " + std::string(type_name(s.kind))}; };
  switch (s.kind) {
    case Kind::string:
    case Kind::date_time: {
      if (!v.is_string()) return type_error();
      const auto& str = v.get_ref<const std::string&>();
      if (s.max_length && str.size() > s.max_length)
        return Violation{ErrorCode::PropertyConstraintViolation, at,
                         "is " + std::to_string(str.size()) + " characters, at most " + std::to_string(s.max_length) +
                             " allowed"};
      if (!s.one_of.empty() && std::find(s.one_of.begin(), s.one_of.end(), str) == s.one_of.end())
        return Violation{ErrorCode::PropertyConstraintViolation, at,
                         "'" + str + "' is not one of " + join_values(s.one_of)};
      if (s.kind == Kind::date_time && !parse_date_time(str))
        return Violation{ErrorCode::PropertyConstraintViolation, at,
                         "'" + str + "' is not an RFC 3339 date-time such as 2026-12-07T08:30:00Z"};
      return std::nullopt;
    }
    case Kind::integer:
      if (!is_integer(v)) return type_error();
      return std::nullopt;
    case Kind::number:
      if (!v.is_number()) return type_error();
      if (s.tenths) {
        const double tenths = v.get<double>() * 10;
        if (std::abs(tenths - std::round(tenths)) > 1e-6)
          return Violation{ErrorCode::PropertyConstraintViolation, at, "is not a multiple of 0.1"};
      }
      return std::nullopt;
    case Kind::boolean:
      if (!v.is_boolean()) return type_error();
      return std::nullopt;
    case Kind::array: {
      if (!v.is_array()) return type_error();
      for (std::size_t i = 0; i < v.size(); ++i)
        if (auto bad = check(s.items.front(), v[i], at + "[" + std::to_string(i) + "]")) return bad;
      return std::nullopt;
    }
    case Kind::object: {
      if (!v.is_object()) return type_error();
      const std::string prefix = at.empty() ? "" : at + ".";
      for (const auto& [key, value] : v.items()) {
        const auto p = std::find_if(s.properties.begin(), s.properties.end(),
                                    [&, &k = key](const Property& prop) { return prop.name == k; });
        if (p == s.properties.end())
          return Violation{ErrorCode::FormationViolation, prefix + key, "is not a property of this PDU"};
        if (auto bad = check(p->schema, value, prefix + key)) return bad;
      }
      for (const auto& p : s.properties)
        if (p.required && !v.contains(p.name))
          return Violation{ErrorCode::OccurenceConstraintViolation, prefix + p.name, "is required"};
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

bool known_action(std::string_view action) { return schemas().find(action) != schemas().end(); }

std::optional<Violation> validate(std::string_view action, Direction direction, const json& payload) {
  const auto it = schemas().find(action);
  if (it == schemas().end())
    return Violation{ErrorCode::NotImplemented, "", "action '" + std::string(action) + "' is not handled here"};
  return check(direction == Direction::request ? it->second.request : it->second.response, payload, "");
}

}  // namespace orderly::drivers::ocpp
