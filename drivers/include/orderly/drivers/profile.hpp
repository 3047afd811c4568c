#pragma once
// Device profiles: everything model-specific about a charger or meter, as data. A profile file
// (drivers/profiles/*.toml, format in docs/device-profiles.md) is parsed and validated once at
// start-up into these plain structs; adding a charger model needs a profile file, not code.
//
// Semantic point names the drivers understand (anything else is read and checked, not used;
// points.hpp maps them to snapshots):
//   chargers: state, plug, power_w, current_l1_a..current_l3_a, voltage_l1_v..voltage_l3_v,
//             session_energy_wh, total_energy_wh, applied_current_a, rfid,
//             set_current_a (write), enable (write), failsafe_current_a, failsafe_timeout_s,
//             heartbeat
//   meters:   power_w, power_l1_w..power_l3_w, current_l1_a.., voltage_l1_v..,
//             import_energy_wh, export_energy_wh
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "orderly/drivers/device.hpp"

namespace orderly::drivers {

enum class Transport { modbus_tcp, modbus_rtu, mqtt, dlt645 };
enum class DeviceKind { charger, meter };
enum class RegisterTable { coil, discrete_input, holding, input };
enum class ValueType { u16, s16, u32, s32, float32, float64, string, coil, bcd16, bcd32 };

const char* to_string(Transport t);
const char* to_string(RegisterTable t);
const char* to_string(ValueType t);

// One Modbus value: where it lives and how raw register words become an engineering value.
// engineering = (((raw >> shift) & mask) * scale) + offset; a write inverts that.
struct PointDef {
  std::string name;
  RegisterTable table = RegisterTable::holding;
  std::uint16_t address = 0;
  ValueType type = ValueType::u16;
  std::uint16_t string_registers = 0;   // registers of a `string` point
  bool byte_swap = false;               // byte_order = "little": bytes inside each register swapped
  bool word_swap = false;               // word_order = "little": low word first
  double scale = 1.0;
  double offset = 0.0;
  unsigned shift = 0;
  std::uint64_t mask = 0;               // 0 = all bits
  std::vector<double> sentinels;        // raw values meaning "not available"; may hold NaN (floats)
  std::map<std::int64_t, std::string> value_map;  // raw value -> word (states)
  std::map<std::string, std::string> text_map;    // text of a `string` point -> word (states)
  std::optional<int> unit_id;           // a unit of its own (station beside socket); else the device's
  std::optional<double> min, max;       // plausible engineering range; outside = device error
  bool readable = true;
  bool writable = false;
  int write_function = 16;              // 5 (coil), 6 (single register) or 16
  int line = 0;                         // where it was defined, for error messages

  std::uint16_t register_count() const;
  int read_function() const;            // 1, 2, 3 or 4
  bool not_available(double raw) const; // raw is one of the sentinels (NaN matches NaN)
};

struct SerialSettings {
  int baud = 9600;
  char parity = 'N';                    // N, E or O
  int data_bits = 8;
  int stop_bits = 1;
  bool operator==(const SerialSettings&) const = default;
  std::string describe() const;         // "9600 8N1"
};

struct ModbusSettings {
  int unit_id = 1;
  // How the device leaves the factory, where its vendor documents it. The bus in the site
  // configuration ([[modbus.bus]]) decides what is used: a device on a bus that differs does not
  // answer until one of them is changed, so the configuration check warns about it.
  std::optional<int> factory_tcp_port;
  std::optional<SerialSettings> factory_serial;
  int inter_request_gap_ms = 20;        // silence between two requests on the bus
  int response_timeout_ms = 1000;
  int retries = 1;                      // extra attempts after a timeout while the device is online
};

// How the device falls back when the gateway goes quiet.
enum class FailsafeMechanism { none, timeout_register, expiring_setpoint };
enum class Keepalive { none, heartbeat, rewrite_timeout, rewrite_setpoint, poll };

struct FailsafeDef {
  FailsafeMechanism mechanism = FailsafeMechanism::none;
  Keepalive keepalive = Keepalive::none;
  double heartbeat_value = 1;
  // For expiring setpoints the device's own expiry; the timeout register overrides it.
  double setpoint_expiry_s = 0;
};

struct ControlDef {
  PauseMethod pause = PauseMethod::zero_current;  // zero_current or enable_register
  bool pause_given = false;             // written in the profile (MQTT chargers must say it)
  double enable_on = 1;
  double enable_off = 0;
};

// A value carried in an MQTT payload (format only; the MQTT driver consumes it).
struct MqttPointDef {
  std::string name;
  std::string topic;                    // may contain {base}
  std::string json_path;                // empty = the payload is the value itself; "a.b", "values[11]"
  double scale = 1.0;
  // Reads: payload text -> word. The enable write point: "true" / "false" -> the text sent.
  std::map<std::string, std::string> value_map;
  int line = 0;
};

// A topic the device (or the broker, from its last will) sets to say whether it is there.
struct MqttAvailabilityDef {
  std::string topic;                    // may contain {base}; empty = none
  std::string online = "online";
  std::string offline = "offline";
  std::string json_path;                // empty = the payload is the word itself
};

struct MqttDef {
  std::string base_topic;
  // How often the device publishes on its own (OpenEVSE: every 30 s). The gateway reports it
  // offline only after 3 periods of silence; 0 = the gateway's default staleness applies.
  double publish_period_s = 0;
  std::map<std::string, MqttPointDef> read;
  std::map<std::string, MqttPointDef> write;  // json_path = key to set in the command payload
  std::string ack_topic;
  std::string ack_json_path;
  // Empty: the ack carries the applied current (an echo). Set: it carries a result text, and
  // this one means the command was carried out (anything else is the device's refusal).
  std::string ack_success;
  MqttAvailabilityDef availability;
};

// A DL/T 645-2007 data item: identifier DI3..DI0 and its BCD layout.
struct Dlt645PointDef {
  std::string name;
  std::uint32_t di = 0;
  int bytes = 4;
  int decimals = 2;
  bool sign_bit = false;                // most significant bit of the top byte is the sign
  double scale = 1.0;                   // to the unit in `name`, e.g. 1000 for kW -> W
};

struct DeviceProfile {
  std::string id;                       // file stem
  std::filesystem::path file;
  DeviceKind kind = DeviceKind::meter;
  std::string manufacturer;
  std::string model;
  std::vector<std::string> documents;   // vendor documents the profile was written from
  std::vector<std::string> unverified;  // what could not be checked against a document
  Transport transport = Transport::modbus_tcp;
  ModbusSettings modbus;
  Capabilities capabilities;            // failsafe is derived from `failsafe`
  std::map<std::string, PointDef> points;
  ControlDef control;
  FailsafeDef failsafe;
  std::optional<MqttDef> mqtt;
  std::map<std::string, Dlt645PointDef> dlt645_points;

  const PointDef* point(const std::string& name) const;
  bool supports_failsafe() const { return failsafe.mechanism != FailsafeMechanism::none; }
};

// Thrown for a malformed profile; what() holds every problem of the file, one per line, each
// "file:line:column: key: problem; what to do".
class ProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

DeviceProfile load_profile(const std::filesystem::path& file);
DeviceProfile parse_profile(const std::string& text, const std::filesystem::path& file_for_errors);

// Every *.toml in a directory, by id (file stem). Throws ProfileError on the first bad file.
class ProfileCatalog {
 public:
  static ProfileCatalog load_dir(const std::filesystem::path& dir);
  const DeviceProfile* find(const std::string& id) const;
  const DeviceProfile& at(const std::string& id) const;  // throws with the known ids listed
  const std::map<std::string, DeviceProfile>& all() const { return profiles_; }
  void add(DeviceProfile p);

 private:
  std::map<std::string, DeviceProfile> profiles_;
};

// ---- register codec, shared by the drivers and the simulator --------------------------------

// Raw numeric value from the point's registers (before mask, scale and offset). NaN for a
// float that is NaN on the wire; strings are not numbers (use decode_string).
double decode_raw(const PointDef& p, std::span<const std::uint16_t> regs);
std::string decode_string(const PointDef& p, std::span<const std::uint16_t> regs);
double raw_to_engineering(const PointDef& p, double raw);
// Engineering -> raw; `round_down` for limits, which must never round up past what was asked.
double engineering_to_raw(const PointDef& p, double value, bool round_down = false);
std::vector<std::uint16_t> encode_raw(const PointDef& p, double raw);
std::vector<std::uint16_t> encode_string(const PointDef& p, const std::string& text);

}  // namespace orderly::drivers
