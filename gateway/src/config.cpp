// The entry points of orderly.toml: parse, run every section reader and cross-check
// (config_readers.hpp), throw every problem at once.
#include "orderly/gateway/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "config_readers.hpp"

namespace orderly::gateway {

namespace {

using namespace config_detail;

Config parse_table(const toml::table& doc, const std::string& source_name, Errors& errors,
                   const drivers::ProfileCatalog* profiles) {
  Config c;
  c.source_name = source_name;
  Section root(errors, doc, "", "the top level");
  std::vector<const toml::table*> node_where, bus_where, charger_where, meter_where;
  read_site(root, c);
  read_capacity(root, c, node_where);
  read_tariff(root, c);
  read_mqtt(root, c);
  read_modbus(root, c, bus_where);
  read_control(root, c);  // before chargers: it supplies their failsafe default
  read_chargers(root, c, charger_where);
  read_meters(root, c, meter_where);
  read_web(root, c);
  read_platform(root, c);
  read_store(root, c);
  read_sessions(root, c);
  read_log(root, c);
  root.finish();
  check_references(errors, c, node_where, bus_where, charger_where, meter_where);
  if (profiles) check_profiles(errors, c, *profiles, charger_where, meter_where);
  if (!errors.empty()) throw ConfigError(errors.errors());
  c.warnings = std::move(errors.warnings());
  return c;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join(errors, "\n")), errors_(std::move(errors)) {}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::A: return "A";
    case Phase::B: return "B";
    case Phase::C: return "C";
    case Phase::ABC: return "ABC";
  }
  return "ABC";
}
const char* to_string(ModbusTransport t) { return t == ModbusTransport::tcp ? "tcp" : "rtu"; }
const char* to_string(DriverKind d) {
  switch (d) {
    case DriverKind::mqtt: return "mqtt";
    case DriverKind::profile: return "profile";
    case DriverKind::ocpp: return "ocpp";
  }
  return "mqtt";
}
const char* to_string(ChargerKind k) {
  return k == ChargerKind::private_pile ? "private" : "shared";
}
const char* to_string(MeterRole r) {
  switch (r) {
    case MeterRole::transformer: return "transformer";
    case MeterRole::feeder: return "feeder";
    case MeterRole::household: return "household";
  }
  return "feeder";
}

namespace {
// A secret given literally or as the first line of a file (which keeps it out of the config).
std::string resolve_secret(const std::string& literal, const std::filesystem::path& file, const std::string& key) {
  if (file.empty()) return literal;
  std::ifstream in(file);
  if (!in) {
    throw ConfigError({key + ": cannot read '" + file.string() +
                       "'; check that it exists and is readable by the orderly user"});
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}
}  // namespace

std::string MqttConfig::resolved_password() const { return resolve_secret(password, password_file, "mqtt.password_file"); }

std::string ChargerConfig::resolved_ocpp_password() const {
  return resolve_secret(ocpp_password, ocpp_password_file, "charger '" + id + "' ocpp_password_file");
}

namespace {
template <typename T>
const T* find_by_id(const std::vector<T>& items, std::string_view id) {
  const auto it = std::find_if(items.begin(), items.end(), [&](const T& x) { return x.id == id; });
  return it == items.end() ? nullptr : &*it;
}
}  // namespace

const ChargerConfig* Config::find_charger(std::string_view id) const {
  return find_by_id(chargers, id);
}
const MeterConfig* Config::find_meter(std::string_view id) const { return find_by_id(meters, id); }
const ModbusBusConfig* Config::find_bus(std::string_view id) const {
  return find_by_id(modbus_buses, id);
}
const CapacityNodeConfig* Config::find_node(std::string_view id) const {
  return find_by_id(capacity, id);
}

Config parse_config(std::string_view text, const std::string& source_name,
                    const drivers::ProfileCatalog* profiles) {
  Errors errors(source_name);
  const auto doc = toml_section::parse(text, errors);
  if (!doc) throw ConfigError(errors.errors());
  return parse_table(*doc, source_name, errors, profiles);
}

Config load_config(const std::filesystem::path& path, const drivers::ProfileCatalog* profiles) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    throw ConfigError({path.string() + ": " +
                       (exists ? "cannot read the file; check its permissions"
                               : "no such file; give the path of orderly.toml (the package "
                                 "installs /etc/orderly/orderly.toml)")});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.string(), profiles);
}

std::filesystem::path default_profile_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (const char* env = std::getenv("ORDERLY_PROFILE_DIR"); env && *env) return env;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "orderly" / "profiles";
    if (fs::is_directory(installed, ec)) return installed;
  }
  const fs::path source = fs::path(ORDERLY_SOURCE_DIR) / "drivers" / "profiles";
  if (fs::is_directory(source, ec)) return source;
  return {};
}

}  // namespace orderly::gateway
