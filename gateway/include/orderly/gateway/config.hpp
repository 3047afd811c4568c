#pragma once
// The gateway's configuration: one TOML file (/etc/orderly/orderly.toml), parsed and validated
// once at start into the plain structs below. Every key, default and range is documented in
// docs/configuration.md; packaging/orderly.toml is the complete commented example.
//
// Validation collects every problem before throwing, so an installer fixes the whole file in
// one pass instead of one error per restart.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/base/units.hpp"
#include "orderly/gateway/log.hpp"
#include "orderly/gateway/tariff.hpp"
#include "orderly/gateway/tcec.hpp"

namespace orderly::drivers {
class ProfileCatalog;
}

namespace orderly::gateway {

// what() holds every error, one per line, each `file:line:column: key: what is wrong; what is
// expected`. errors() gives them one by one.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

// The phase(s) a load hangs on. ABC = a three-phase load, counted on all three phases.
enum class Phase { A, B, C, ABC };
const char* to_string(Phase p);
// Phases a load on `p` draws from: 1 on a single phase, all of them for ABC.
inline int phase_count(Phase p) { return p == Phase::ABC ? kPhaseCount : 1; }
// 32 A on one phase at the nominal voltage is 7.36 kW (GB/T 18487.1: the most a single-phase
// residential connection delivers); a rated power above this cannot be one phase.
inline constexpr double kSinglePhaseMaxKw = 7.4;
static_assert(kSinglePhaseMaxKw >= 32 * kNominalPhaseVoltageV / 1000.0);

struct TransformerConfig {
  std::string id = "transformer";
  double limit_kw = 0;                                // required: what the site may draw in total
  std::optional<double> rated_kva;                    // nameplate; limit_kw must not exceed it
  std::array<std::optional<double>, 3> phase_limit_kw{};  // optional per-phase limits, A, B, C
  // How its non-EV load spreads over A, B, C when no per-phase meter says so (sums to 1).
  std::array<double, 3> base_load_phase_split{1.0 / 3, 1.0 / 3, 1.0 / 3};
  // Non-EV load taken when no plausible meter reading nor forecast is there; unset: limit_kw
  // (no headroom). docs/control.md, "No node without a load figure".
  std::optional<double> assumed_load_kw;
  double pv_peak_kw = 0;                              // PV behind the meter: it may read export
  // Peak non-EV load, for the failsafe budget when no forecast is at hand (check-config, or
  // before the first plan); none = the budget counts the piles alone and says so.
  std::optional<double> base_load_peak_kw;
};

struct SiteConfig {
  std::string name;
  std::string utc_offset_text = "+08:00";  // as written in the file
  std::chrono::minutes utc_offset{8 * 60};  // fixed offset, no daylight saving (China uses none)
  TransformerConfig transformer;
};

// A node of the capacity tree below the transformer (a feeder, a cable, a distribution board).
struct CapacityNodeConfig {
  std::string id;
  std::string parent;                      // capacity node id or the transformer id (default)
  double limit_kw = 0;
  Phase phase = Phase::ABC;                // a single-phase node carries only that phase
  std::array<std::optional<double>, 3> phase_limit_kw{};  // three-phase nodes: optional, A, B, C
  // Non-EV load over A, B, C without a per-phase meter; default: the transformer's split.
  std::optional<std::array<double, 3>> base_load_phase_split;
  // Non-EV load on the node when it has no fresh plausible meter: a figure in kW, or a share of
  // the transformer's non-EV load; neither: limit_kw / transformer limit_kw as the share.
  std::optional<double> assumed_load_kw;
  std::optional<double> assumed_load_share;
};

// ---- communication --------------------------------------------------------------------------

struct MqttConfig {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id = "orderly-gateway";
  std::string username;                    // empty = anonymous
  std::string password;                    // literal, or
  std::filesystem::path password_file;     // read at start (keeps secrets out of the config)
  std::string topic_prefix = "orderly/v1";
  int keepalive_s = 30;
  bool tls = false;
  std::filesystem::path ca_file;           // tls only; empty = system trust store
  std::filesystem::path cert_file;         // tls client certificate, optional
  std::filesystem::path key_file;

  // password, or the first line of password_file. Throws ConfigError naming the file.
  std::string resolved_password() const;
};

enum class ModbusTransport { tcp, rtu };
const char* to_string(ModbusTransport t);

struct ModbusBusConfig {
  std::string id;
  ModbusTransport transport = ModbusTransport::tcp;
  std::string host;                        // tcp
  int port = 502;                          // tcp
  std::string device;                      // rtu, e.g. /dev/ttyS1 or /dev/ttyUSB0
  int baud = 9600;                         // rtu
  char parity = 'N';                       // rtu: 'N', 'E' or 'O' (libmodbus convention)
  int data_bits = 8;                       // rtu
  int stop_bits = 1;                       // rtu
  int timeout_ms = 500;
  int inter_request_gap_ms = 20;
  int retries = 2;
};

enum class DriverKind { mqtt, profile, ocpp };
const char* to_string(DriverKind d);

enum class ChargerKind { private_pile, shared_pile };   // "private" / "shared" in the file
const char* to_string(ChargerKind k);

struct ChargerConfig {
  std::string id;
  std::string name;                        // default: id
  ChargerKind kind = ChargerKind::private_pile;
  std::string household;                   // required for private piles, e.g. "3-2-1201"
  Phase phase = Phase::A;
  std::string node;                        // capacity node id; default: the transformer id
  DriverKind driver = DriverKind::mqtt;
  std::string profile;                     // driver == profile: device profile name
  std::string bus;                         // driver == profile: [[modbus.bus]] id
  std::optional<int> unit_id;              // Modbus unit (slave) id; unset = the profile's
  int poll_interval_ms = 1000;             // driver == profile: time between polls
  std::string mqtt_base_topic;             // MQTT profiles: {base} in its topics; default: the profile's
  double max_power_kw = 7;
  double min_current_a = 6;                // IEC 61851-1: AC charging below 6 A is not allowed
  bool bidirectional = false;
  double failsafe_current_a = 6;           // default: [control].failsafe_current_a
  int failsafe_timeout_s = 120;            // default: [control].failsafe_timeout_s
  // driver == ocpp (docs/ocpp.md): the pile connects to ws://<gateway>:<web port>/ocpp/<ocpp_id>
  // with HTTP basic auth (user ocpp_id, this password).
  std::string ocpp_id;                     // default: id
  std::string ocpp_password;               // literal, or
  std::filesystem::path ocpp_password_file;  // its first line, read at start
  int ocpp_meter_interval_s = 10;          // MeterValueSampleInterval sent to the pile
  std::string ocpp_remote_start_id_tag;    // non-empty: a plugged car is started with this idTag
  // A charge point with several connectors is one [[charger]] per connector, all with its
  // ocpp_id; the keys of the charge point itself (password, interval, tolerance, station
  // ceiling) must then be the same on each.
  int ocpp_connector = 1;                  // OCPP connectorId, 1..N
  std::optional<double> ocpp_station_max_power_kw;  // ChargePointMaxProfile; default: the connectors' sum
  int ocpp_clock_tolerance_s = 60;         // beyond this the pile's timestamps are not trusted

  // ocpp_password, or the first line of ocpp_password_file. Throws ConfigError naming the file.
  std::string resolved_ocpp_password() const;
};

enum class MeterRole { transformer, feeder, household };  // household: refused by the reader for now
const char* to_string(MeterRole r);

struct MeterConfig {
  std::string id;
  std::string name;                        // default: id
  MeterRole role = MeterRole::transformer;
  std::string node;                        // capacity node measured; default: the transformer id
  DriverKind driver = DriverKind::mqtt;
  std::string profile;
  std::string bus;
  std::optional<int> unit_id;              // unset = the profile's
  int poll_interval_ms = 1000;
  std::string address;                     // DL/T 645 meters: 12 digits from the nameplate
};

// ---- behaviour ------------------------------------------------------------------------------

struct ControlConfig {
  int slot_minutes = 15;                   // 5 or 15: planning granularity
  double control_period_s = 1;             // limiter tick when no meter sample arrives
  int limit_validity_s = 60;               // validity sent with every power limit
  double failsafe_current_a = 6;           // written to piles that support a fallback current
  int failsafe_timeout_s = 120;            // communication timeout configured on those piles
  double safety_margin_kw = 2;             // kept free below every capacity limit
  // Meter plausibility (docs/control.md, "Implausible meters") and what the limiter does
  // without a believable transformer reading: the forecast plus the margin, then the failsafe.
  double meter_range_factor = 1.5;         // |reading| above factor x the node's rating
  double meter_negative_tolerance_kw = 1;  // a consumption meter may read this far below 0
  int meter_stuck_s = 60;                  // identical readings this long ...
  double meter_stuck_change_kw = 3;        // ... while the chargers below change more than this
  double meter_below_chargers_kw = 2;      // reading below the chargers' measured sum by more
  double meter_fallback_margin_kw = 10;    // added to the forecast base load while running on it
  int meter_fallback_s = 900;              // how long to run on the forecast before the failsafe
  // Simplex iterations the exact phase LP may take on the core thread before the plan drops
  // its phase limits to the per-phase limiter (docs/control.md, "When the planner fails").
  long phase_lp_iterations = 50'000;
};

struct WebConfig {
  // Every address: residents' phones on the community Wi-Fi are the page's users. Safe since
  // every API route needs an account (docs/security.md "Web"); 127.0.0.1 keeps it on the box.
  std::string listen = "0.0.0.0";
  int port = 8080;
  std::filesystem::path static_dir;        // empty = the packaged UI
  std::vector<std::string> allowed_hosts;  // DNS names of the box besides its IP addresses
  std::filesystem::path tls_certificate;   // both set: HTTPS only (PEM chain and key)
  std::filesystem::path tls_key;
};

// [platform]: the city charging platform over T/CEC 102 (docs/platform-api.md).
struct PlatformConfig {
  bool enabled = false;
  std::string url;                         // base URL; the interface name is appended ("/query_token")
  std::string operator_id;                 // ours: the OperatorID our requests carry
  std::filesystem::path secret_file;       // the pair's secrets, both directions (TOML)
  int push_interval_s = 60;                // periodic pushes while charging
  bool push_extensions = false;            // also push the orderly_notification_* area messages
  std::string station_id;                  // the StationID the platform knows this site by
  std::filesystem::path ca_file;           // empty: the system's CA store
  std::filesystem::path client_cert_file;  // PEM; with client_key_file, or neither
  std::filesystem::path client_key_file;
  std::string proxy;                       // empty: no proxy (the environment's is ignored)
  int connect_timeout_s = 10;
  int timeout_s = 30;                      // a whole request, answer included
  int retry_initial_s = 10;                // first retry delay; doubles up to retry_max_s
  int retry_max_s = 1800;
  // From secret_file:
  tcec::Secrets to_platform;               // issued by the platform: our pushes and query_token
  std::string platform_operator_id;        // the platform's OperatorID on its pulls
  tcec::Secrets from_platform;             // issued by us: what the platform's pulls use
};

struct StoreConfig {
  std::filesystem::path path = "/var/lib/orderly/orderly.db";
  int raw_retention_days = 90;
  int aggregate_retention_days = 1095;
};

// [sessions]: what a session is taken to want when its resident asked for nothing, and how a
// household's habits are learned (docs/sessions.md).
struct SessionsConfig {
  std::string default_departure_text = "07:30";  // as written in the file
  int default_departure_minute = 7 * 60 + 30;    // local minute of the day
  double default_energy_kwh = 20;
  int learning_days = 56;                  // closed sessions this far back are learned from
  int learning_min_sessions = 3;           // fewer than this: site defaults
  int learning_max_spread_minutes = 120;   // departures spread wider (IQR): no habit, default
  double discharge_price_yuan_per_kwh = 0; // V2G compensation paid for energy given back
};

struct Config {
  std::string source_name;                 // file name used in messages
  SiteConfig site;
  std::vector<CapacityNodeConfig> capacity;  // parents before children
  TariffConfig tariff;
  MqttConfig mqtt;
  std::vector<ModbusBusConfig> modbus_buses;
  std::vector<ChargerConfig> chargers;
  std::vector<MeterConfig> meters;
  ControlConfig control;
  WebConfig web;
  PlatformConfig platform;
  StoreConfig store;
  SessionsConfig sessions;
  LogConfig log;
  std::vector<std::string> warnings;       // not fatal; check-config prints them

  const ChargerConfig* find_charger(std::string_view id) const;
  const MeterConfig* find_meter(std::string_view id) const;
  const ModbusBusConfig* find_bus(std::string_view id) const;
  const CapacityNodeConfig* find_node(std::string_view id) const;
};

// Reads and validates a file. Throws ConfigError (all problems, one per line) for an unreadable
// file, a TOML syntax error or invalid contents. With a profile catalog, device profiles are
// checked too: the profile exists, is for the right kind of device, and the device has what its
// transport needs (a bus for Modbus and DL/T 645, a meter address for DL/T 645).
Config load_config(const std::filesystem::path& path,
                   const drivers::ProfileCatalog* profiles = nullptr);
// Same for text in memory (the demo embeds its configuration); source_name prefixes messages.
Config parse_config(std::string_view text, const std::string& source_name,
                    const drivers::ProfileCatalog* profiles = nullptr);

// Where the device profiles are: $ORDERLY_PROFILE_DIR if set, else <prefix>/share/orderly/profiles
// next to the running executable (the package), else the source tree's drivers/profiles
// (a build tree). Empty when none exists.
std::filesystem::path default_profile_dir();

}  // namespace orderly::gateway
