// The section readers of orderly.toml, one per section in the order of docs/configuration.md;
// the tariff is in tariff.cpp.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "config_readers.hpp"
#include "orderly/base/units.hpp"

namespace orderly::gateway::config_detail {

namespace {


// Ids appear in MQTT topics, Mosquitto ACLs (packaging/orderly-add-device), URLs and SQLite
// rows: keep them to an alphabet that is safe in all of them.
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

std::optional<std::string> read_id(Section& s, std::string_view key, bool required,
                                   const std::string& what) {
  auto id = s.string(key, required, what);
  if (id && !valid_id(*id)) {
    s.error(s.table().get(key), key,
            "'" + *id + "' is not a valid id; use 1-64 letters, digits, '-' or '_'");
    return std::nullopt;
  }
  return id;
}

const std::vector<std::pair<std::string, Phase>> kPhases = {
    {"A", Phase::A}, {"B", Phase::B}, {"C", Phase::C}, {"ABC", Phase::ABC}};
const std::vector<std::pair<std::string, DriverKind>> kDrivers = {
    {"mqtt", DriverKind::mqtt}, {"profile", DriverKind::profile}, {"ocpp", DriverKind::ocpp}};

// ---- site -----------------------------------------------------------------------------------

// phase_a/b/c_limit_kw of a three-phase node: each at most the node's own limit (a phase can
// never carry more than the whole node may).
std::array<std::optional<double>, 3> read_phase_limits(Section& s, double node_limit_kw) {
  static const char* const keys[3] = {"phase_a_limit_kw", "phase_b_limit_kw", "phase_c_limit_kw"};
  std::array<std::optional<double>, 3> out{};
  for (int p = 0; p < 3; ++p) {
    out[p] = s.number(keys[p], 0.1, 100000);
    if (out[p] && node_limit_kw > 0 && *out[p] > node_limit_kw)
      s.error(s.table().get(keys[p]), keys[p],
              number_text(*out[p]) + " kW is above the node's limit_kw " + number_text(node_limit_kw) +
                  "; a phase cannot carry more than the whole node");
  }
  return out;
}

// base_load_phase_split = [A, B, C]: shares of the non-EV load, each 0..1, summing to 1.
std::optional<std::array<double, 3>> read_phase_split(Section& s) {
  const auto v = s.numbers("base_load_phase_split");
  if (!v) return std::nullopt;
  const auto* where = s.table().get("base_load_phase_split");
  double sum = 0;
  bool ok = v->size() == 3;
  for (double x : *v) {
    ok = ok && x >= 0 && x <= 1;
    sum += x;
  }
  if (!ok || std::fabs(sum - 1.0) > 0.01) {
    s.error(where, "base_load_phase_split",
            "expected three shares [A, B, C], each 0-1 and summing to 1 (e.g. [0.4, 0.3, 0.3])");
    return std::nullopt;
  }
  return std::array<double, 3>{(*v)[0] / sum, (*v)[1] / sum, (*v)[2] / sum};
}

std::optional<std::chrono::minutes> parse_utc_offset(std::string_view s) {
  // "+08:00" / "-05:30" / "Z"; fixed offsets only, because the tariff is defined in local
  // standard time and China has no daylight saving.
  if (s == "Z") return std::chrono::minutes(0);
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return std::nullopt;
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (!digit(1) || !digit(2) || !digit(4) || !digit(5)) return std::nullopt;
  const int h = (s[1] - '0') * 10 + (s[2] - '0');
  const int m = (s[4] - '0') * 10 + (s[5] - '0');
  if (h > 14 || m > 59) return std::nullopt;
  const int total = h * 60 + m;
  return std::chrono::minutes(s[0] == '-' ? -total : total);
}


// A TLS file named by [mqtt] must be there and be PEM when the gateway starts: Paho would only
// say "TLS connection failed" at every reconnect, far from the line to fix.
void check_pem_file(Section& s, const char* key, const std::filesystem::path& path, const std::string& what) {
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in) {
    s.error(s.table().get(key), key,
            "cannot read '" + path.string() + "' (" + std::strerror(errno) + "); give " + what +
                " in PEM format, readable by the orderly user");
    return;
  }
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("-----BEGIN ", 0) == 0) return;
  s.error(s.table().get(key), key,
          "'" + path.string() + "' is not a PEM file (no \"-----BEGIN\" line); give " + what + " in PEM format");
}

}  // namespace

void read_site(Section& root, Config& c) {
  const toml::table* t = root.subtable("site", true, "the [site] section");
  if (!t) return;
  Section s(root.errors(), *t, "site", "[site]");
  assign(c.site.name, s.string("name", true, "the community's name, shown in the UI"));
  if (auto off = s.string("utc_offset", false, "a UTC offset like \"+08:00\"")) {
    if (auto parsed = parse_utc_offset(*off)) {
      c.site.utc_offset = *parsed;
      c.site.utc_offset_text = *off;
    } else {
      s.error(t->get("utc_offset"), "utc_offset",
              "expected a fixed UTC offset like \"+08:00\" (China Standard Time), got \"" +
                  *off + "\"");
    }
  }
  if (const toml::table* tt = s.subtable("transformer", true, "the [site.transformer] section")) {
    Section tr(root.errors(), *tt, "site.transformer", "[site.transformer]");
    auto& x = c.site.transformer;
    assign(x.id, read_id(tr, "id", false, "the transformer's id"));
    assign(x.limit_kw, tr.number("limit_kw", 1, 100000, true,
                                 "the power the site may draw in kW, e.g. 400 kVA x 0.9 = 360"));
    x.rated_kva = tr.number("rated_kva", 1, 100000);
    x.phase_limit_kw = read_phase_limits(tr, x.limit_kw);
    if (const auto split = read_phase_split(tr)) x.base_load_phase_split = *split;
    x.assumed_load_kw = tr.number("assumed_load_kw", 0, 100000);
    assign(x.pv_peak_kw, tr.number("pv_peak_kw", 0, 100000));
    x.base_load_peak_kw = tr.number("base_load_peak_kw", 0, 100000);
    if (x.rated_kva && x.limit_kw > *x.rated_kva) {
      tr.error(tt->get("limit_kw"), "limit_kw",
               "limit_kw " + number_text(x.limit_kw) + " exceeds rated_kva " +
                   number_text(*x.rated_kva) + "; the limit must stay within the rating");
    }
    tr.finish();
  }
  s.finish();
}

void read_capacity(Section& root, Config& c, std::vector<const toml::table*>& where) {
  int index = 0;
  for (const toml::table* t : root.tables("capacity")) {
    Section s = root.element("capacity", ++index, *t);
    CapacityNodeConfig n;
    assign(n.id, read_id(s, "id", true, "the node's id"));
    assign(n.parent, read_id(s, "parent", false, "the parent node's id"));
    assign(n.limit_kw, s.number("limit_kw", 0.1, 100000, true, "the node's limit in kW"));
    assign(n.phase, s.choice("phase", kPhases));
    n.phase_limit_kw = read_phase_limits(s, n.limit_kw);
    n.base_load_phase_split = read_phase_split(s);
    if (n.phase != Phase::ABC) {
      // A single-phase node's limit is its phase's limit and all its load is on that phase.
      for (const char* key : {"phase_a_limit_kw", "phase_b_limit_kw", "phase_c_limit_kw", "base_load_phase_split"})
        if (t->contains(key))
          s.error(t->get(key), key, std::string("a node with phase = \"") + to_string(n.phase) +
                                         "\" carries one phase and its limit_kw is that phase's limit; remove " + key);
      n.phase_limit_kw = {};
      n.base_load_phase_split.reset();
    }
    n.assumed_load_kw = s.number("assumed_load_kw", 0, 100000);
    n.assumed_load_share = s.number("assumed_load_share", 0, 1);
    if (n.assumed_load_kw && n.assumed_load_share) {
      s.error(t->get("assumed_load_share"), "assumed_load_share",
              "give assumed_load_kw or assumed_load_share, not both");
    }
    s.finish();
    c.capacity.push_back(n);
    where.push_back(t);
  }
}

// ---- communication --------------------------------------------------------------------------

void read_mqtt(Section& root, Config& c) {
  const toml::table* t = root.subtable("mqtt");
  if (!t) return;
  Section s(root.errors(), *t, "mqtt", "[mqtt]");
  auto& m = c.mqtt;
  assign(m.host, s.string("host", false, "a host name or address"));
  assign(m.port, s.integer("port", 1, 65535));
  const auto client_id = s.string("client_id");
  assign(m.username, s.string("username"));
  // The shipped Mosquitto config sets use_username_as_clientid, so the broker names every
  // client after its login and a device cannot take the gateway's client id to kick it off.
  // The gateway's own id is then its user name; a different one would be silently replaced.
  if (client_id && !m.username.empty() && *client_id != m.username) {
    s.error(t->get("client_id"), "client_id",
            "must equal username \"" + m.username + "\" (the broker's use_username_as_clientid gives every "
            "client its user name as id); remove client_id or set it to \"" + m.username + "\"");
  }
  if (client_id) m.client_id = *client_id;
  else if (!m.username.empty()) m.client_id = m.username;
  assign(m.password, s.string("password"));
  if (auto f = s.string("password_file", false, "a file path")) m.password_file = *f;
  if (!m.password.empty() && !m.password_file.empty()) {
    s.error(t->get("password_file"), "password_file",
            "give either password or password_file, not both");
  }
  if (auto p = s.string("topic_prefix")) {
    if (p->empty() || p->front() == '/' || p->back() == '/' ||
        p->find_first_of("+#") != std::string::npos) {
      s.error(t->get("topic_prefix"), "topic_prefix",
              "expected topic levels like \"orderly/v1\" (no leading or trailing '/', no + or #)");
    } else {
      m.topic_prefix = *p;
    }
  }
  assign(m.keepalive_s, s.integer("keepalive_s", 5, 3600));
  assign(m.tls, s.boolean("tls"));
  if (auto f = s.string("ca_file")) m.ca_file = *f;
  if (auto f = s.string("cert_file")) m.cert_file = *f;
  if (auto f = s.string("key_file")) m.key_file = *f;
  if (!m.tls && (!m.ca_file.empty() || !m.cert_file.empty() || !m.key_file.empty())) {
    s.errors().add(t->source(), "mqtt: ca_file/cert_file/key_file are set but tls = false; "
                                "set tls = true or remove them");
  }
  if (m.cert_file.empty() != m.key_file.empty()) {
    s.errors().add(t->source(), "mqtt: cert_file and key_file go together; give both or neither");
  }
  if (m.tls) {
    check_pem_file(s, "ca_file", m.ca_file, "the certificate of the CA that signed the broker's certificate");
    check_pem_file(s, "cert_file", m.cert_file, "the gateway's client certificate");
    check_pem_file(s, "key_file", m.key_file, "the private key of cert_file");
  }
  // Documented once as "start a private mosquitto", but the daemon never did: only `orderly
  // demo` starts one, on its own. A key without an effect is an error, not a silent no.
  if (const toml::node* n = s.take("embedded_broker")) {
    s.error(n, "embedded_broker",
            "is not supported; remove it (the gateway connects to the site's mosquitto at host:port; "
            "`orderly demo` starts a private broker by itself)");
  }
  s.finish();
}

void read_modbus(Section& root, Config& c, std::vector<const toml::table*>& where) {
  const toml::table* t = root.subtable("modbus");
  if (!t) return;
  Section s(root.errors(), *t, "modbus", "[modbus]");
  int index = 0;
  for (const toml::table* bt : s.tables("bus")) {
    Section b = s.element("bus", ++index, *bt);
    ModbusBusConfig bus;
    assign(bus.id, read_id(b, "id", true, "the bus's id, named by chargers and meters"));
    auto transport = b.choice<ModbusTransport>(
        "transport", {{"tcp", ModbusTransport::tcp}, {"rtu", ModbusTransport::rtu}}, true);
    assign(bus.transport, transport);
    auto host = b.string("host", false, "a host name or address");
    auto port = b.integer("port", 1, 65535);
    auto device = b.string("device", false, "a serial device path like \"/dev/ttyS1\"");
    const toml::node* baud_node = b.take("baud");
    auto parity = b.choice<char>("parity", {{"none", 'N'}, {"even", 'E'}, {"odd", 'O'}});
    auto data_bits = b.integer("data_bits", 7, 8);
    auto stop_bits = b.integer("stop_bits", 1, 2);
    assign(bus.timeout_ms, b.integer("timeout_ms", 10, 10000));
    assign(bus.inter_request_gap_ms, b.integer("inter_request_gap_ms", 0, 1000));
    assign(bus.retries, b.integer("retries", 0, 10));
    b.finish();
    if (!transport) {
      c.modbus_buses.push_back(bus);
      where.push_back(bt);
      continue;
    }
    auto only = [&](bool present, const char* key, const char* transport_name) {
      if (present) {
        b.error(bt->get(key), key,
                std::string("applies only to transport = \"") + transport_name + "\"");
      }
    };
    if (*transport == ModbusTransport::tcp) {
      if (!host) b.missing("host", "the Modbus TCP server's address");
      assign(bus.host, host);
      if (port) bus.port = static_cast<int>(*port);
      only(device.has_value(), "device", "rtu");
      only(baud_node != nullptr, "baud", "rtu");
      only(parity.has_value(), "parity", "rtu");
      only(data_bits.has_value(), "data_bits", "rtu");
      only(stop_bits.has_value(), "stop_bits", "rtu");
    } else {
      if (!device) b.missing("device", "the serial port, e.g. \"/dev/ttyS1\"");
      assign(bus.device, device);
      only(host.has_value(), "host", "tcp");
      only(port.has_value(), "port", "tcp");
      if (baud_node) {
        static const std::vector<std::int64_t> kBauds = {1200, 2400, 4800, 9600,
                                                         19200, 38400, 57600, 115200};
        auto v = baud_node->value<std::int64_t>();
        if (!baud_node->is_integer() ||
            std::find(kBauds.begin(), kBauds.end(), *v) == kBauds.end()) {
          b.error(baud_node, "baud",
                  "expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, got " +
                      (baud_node->is_integer() ? std::to_string(*v)
                                               : std::string(node_type_name(*baud_node))));
        } else {
          bus.baud = static_cast<int>(*v);
        }
      }
      assign(bus.parity, parity);
      assign(bus.data_bits, data_bits);
      assign(bus.stop_bits, stop_bits);
    }
    c.modbus_buses.push_back(bus);
    where.push_back(bt);
  }
  s.finish();
}

// driver/profile/bus/unit_id/poll_interval_ms, shared by chargers and meters. Whether a profile
// device needs a bus depends on the profile's transport, so that is checked with the catalog.
namespace {

struct DeviceLink {
  DriverKind driver = DriverKind::mqtt;
  std::string profile;
  std::string bus;
  std::optional<int> unit_id;
  int poll_interval_ms = 1000;
};

DeviceLink read_link(Section& s) {
  DeviceLink l;
  const toml::table& t = s.table();
  assign(l.driver, s.choice("driver", kDrivers));
  auto profile = s.string("profile", false, "a device profile name like \"abb-terra-ac\"");
  auto bus = read_id(s, "bus", false, "a [[modbus.bus]] id");
  // 0-255 as Modbus TCP carries it: piles answering on their own IP often use 255 (KEBA,
  // Webasto), RS-485 gateways the RTU addresses 1-247 behind them.
  auto unit = s.integer("unit_id", 0, 255);
  auto poll = s.integer("poll_interval_ms", 100, 60000);
  if (l.driver == DriverKind::profile) {
    if (!profile) s.missing("profile", "the device profile name, required with driver = \"profile\"");
    assign(l.profile, profile);
    assign(l.bus, bus);
    if (unit) l.unit_id = static_cast<int>(*unit);
    assign(l.poll_interval_ms, poll);
  } else {
    for (const char* key : {"profile", "bus", "unit_id", "poll_interval_ms"}) {
      if (t.contains(key)) {
        s.error(t.get(key), key,
                std::string("is used only with driver = \"profile\" (this device uses ") + to_string(l.driver) + ")");
      }
    }
  }
  return l;
}


}  // namespace

// Limits are refreshed at half their validity, checked once a control period; a pile that
// gives up on the gateway sooner (its communication timeout, docs/mqtt-protocol.md) would sit
// at its failsafe current between refreshes while the gateway runs.
static void check_failsafe_timeout(Errors& errors, const ControlConfig& control, int timeout_s, const toml::node* at,
                            const std::string& key) {
  const double keepalive_gap_s = control.limit_validity_s / 2.0 + 2 * control.control_period_s;
  if (timeout_s > keepalive_gap_s) return;
  errors.add(at->source(), key + ": " + std::to_string(timeout_s) +
                               " s is not longer than the gap between limit refreshes (limit_validity_s / 2 + 2 "
                               "control periods = " + number_text(keepalive_gap_s) +
                               " s): piles would fall back to failsafe while the gateway runs; raise "
                               "failsafe_timeout_s or lower limit_validity_s");
}

namespace {

// The first [[charger]] of each charge point, to hold its other connectors' keys against.
struct OcppStation {
  std::string first_id;
  std::string keys;  // ocpp_station_keys of the first
  std::set<int> connectors;
};

// The keys of the charge point as a whole, as its connectors' [[charger]] entries give them.
std::string ocpp_station_keys(const ChargerConfig& ch) {
  return ch.ocpp_password + "\n" + ch.ocpp_password_file.string() + "\n" + std::to_string(ch.ocpp_meter_interval_s) +
         "\n" + std::to_string(ch.ocpp_clock_tolerance_s) + "\n" +
         (ch.ocpp_station_max_power_kw ? number_text(*ch.ocpp_station_max_power_kw) : std::string("-"));
}

// The ocpp_* keys of a [[charger]] (docs/ocpp.md); refused on other drivers.
void read_ocpp_keys(Section& s, ChargerConfig& ch, std::map<std::string, OcppStation>& stations) {
  const toml::table& t = s.table();
  auto id = read_id(s, "ocpp_id", false, "the charge point id at the end of its URL, /ocpp/<ocpp_id>");
  auto password = s.string("ocpp_password", false, "the pile's basic-auth password");
  auto password_file = s.string("ocpp_password_file", false, "a file path");
  auto interval = s.integer("ocpp_meter_interval_s", 1, 3600);
  auto tag = s.string("ocpp_remote_start_id_tag", false, "an idTag of at most 20 characters");
  auto connector = s.integer("ocpp_connector", 1, 99);
  auto station_max = s.number("ocpp_station_max_power_kw", 1.4, 1000, false, "the charge point's ceiling");
  auto tolerance = s.integer("ocpp_clock_tolerance_s", 1, 86400);
  if (ch.driver != DriverKind::ocpp) {
    for (const char* key : {"ocpp_id", "ocpp_password", "ocpp_password_file", "ocpp_meter_interval_s",
                            "ocpp_remote_start_id_tag", "ocpp_connector", "ocpp_station_max_power_kw",
                            "ocpp_clock_tolerance_s"})
      if (t.contains(key))
        s.error(t.get(key), key, std::string("is used only with driver = \"ocpp\" (this charger uses ") +
                                     to_string(ch.driver) + ")");
    return;
  }
  ch.ocpp_id = id.value_or(ch.id);
  assign(ch.ocpp_password, password);
  if (password_file) ch.ocpp_password_file = *password_file;
  if (!ch.ocpp_password.empty() && !ch.ocpp_password_file.empty()) {
    s.error(t.get("ocpp_password_file"), "ocpp_password_file", "give either ocpp_password or ocpp_password_file, not both");
  } else if (ch.ocpp_password.empty() && ch.ocpp_password_file.empty()) {
    s.missing("ocpp_password", "the password the pile sends with HTTP basic auth (or ocpp_password_file); "
                               "a pile without one is refused with 401");
  }
  assign(ch.ocpp_meter_interval_s, interval);
  if (tag) {
    if (tag->empty() || tag->size() > 20)
      s.error(t.get("ocpp_remote_start_id_tag"), "ocpp_remote_start_id_tag",
              "must be 1 to 20 characters (an OCPP idToken, CiString20Type)");
    else
      ch.ocpp_remote_start_id_tag = *tag;
  }
  if (connector) ch.ocpp_connector = static_cast<int>(*connector);
  if (station_max) ch.ocpp_station_max_power_kw = *station_max;
  if (tolerance) ch.ocpp_clock_tolerance_s = static_cast<int>(*tolerance);
  if (ch.ocpp_id.empty()) return;
  OcppStation& station = stations[ch.ocpp_id];
  const toml::node* at = t.contains("ocpp_connector") ? t.get("ocpp_connector")
                         : t.contains("ocpp_id")      ? t.get("ocpp_id")
                                                      : t.get("id");
  if (!station.connectors.insert(ch.ocpp_connector).second) {
    s.error(at, "ocpp_connector",
            "charge point '" + ch.ocpp_id + "' connector " + std::to_string(ch.ocpp_connector) +
                " is used by another charger; give each connector its own ocpp_connector (1, 2, ...)");
  } else if (station.first_id.empty()) {
    station.first_id = ch.id;
    station.keys = ocpp_station_keys(ch);
  } else if (station.keys != ocpp_station_keys(ch)) {
    s.error(at, "ocpp_id",
            "charge point '" + ch.ocpp_id + "' is also charger '" + station.first_id +
                "': its connectors share one connection, so give them the same ocpp_password (or "
                "ocpp_password_file), ocpp_meter_interval_s, ocpp_clock_tolerance_s and ocpp_station_max_power_kw");
  }
}

}  // namespace

void read_chargers(Section& root, Config& c, std::vector<const toml::table*>& where) {
  std::map<std::string, OcppStation> ocpp_stations;
  int index = 0;
  for (const toml::table* t : root.tables("charger")) {
    Section s = root.element("charger", ++index, *t);
    ChargerConfig ch;
    ch.failsafe_current_a = c.control.failsafe_current_a;
    ch.failsafe_timeout_s = c.control.failsafe_timeout_s;
    assign(ch.id, read_id(s, "id", true, "the charger's id, used in topics and the UI"));
    assign(ch.name, s.string("name"));
    if (ch.name.empty()) ch.name = ch.id;
    assign(ch.kind, s.choice<ChargerKind>(
                        "kind", {{"private", ChargerKind::private_pile},
                                 {"shared", ChargerKind::shared_pile}}, true));
    assign(ch.household, s.string("household", false, "the household, e.g. \"3-2-1201\""));
    if (ch.kind == ChargerKind::private_pile && ch.household.empty() && t->contains("kind")) {
      s.missing("household", "the owner's household, required for kind = \"private\"");
    }
    assign(ch.phase, s.choice("phase", kPhases, true));
    assign(ch.node, read_id(s, "node", false, "a capacity node id"));
    const DeviceLink link = read_link(s);
    ch.driver = link.driver;
    ch.profile = link.profile;
    ch.bus = link.bus;
    ch.unit_id = link.unit_id;
    ch.poll_interval_ms = link.poll_interval_ms;
    if (auto base = s.string("mqtt_base_topic", false, "the pile's MQTT base topic, e.g. \"openevse-1a2b\"")) {
      if (ch.driver != DriverKind::profile) {
        s.error(t->get("mqtt_base_topic"), "mqtt_base_topic",
                "is used only with driver = \"profile\" and an MQTT profile (native MQTT chargers use their id)");
      } else if (base->empty() || base->find_first_of("+#") != std::string::npos) {
        s.error(t->get("mqtt_base_topic"), "mqtt_base_topic",
                "must be a plain topic without the MQTT wildcards + and #, e.g. \"openevse-1a2b\"");
      } else {
        ch.mqtt_base_topic = *base;
      }
    }
    assign(ch.max_power_kw, s.number("max_power_kw", 1.4, 350, true, "the pile's rated power"));
    assign(ch.min_current_a, s.number("min_current_a", 1, 80));
    assign(ch.bidirectional, s.boolean("bidirectional"));
    assign(ch.failsafe_current_a, s.number("failsafe_current_a", 0, 80));
    // One pile may need a longer communication timeout than the rest (a slow RS-485 bus, a
    // pile whose register counts in coarse steps); whether it has one is checked with its profile.
    const auto timeout = s.integer("failsafe_timeout_s", 10, 3600);
    if (timeout) ch.failsafe_timeout_s = static_cast<int>(*timeout);
    read_ocpp_keys(s, ch, ocpp_stations);
    s.finish();
    if (timeout) check_failsafe_timeout(s.errors(), c.control, ch.failsafe_timeout_s, t->get("failsafe_timeout_s"),
                                        s.key_path("failsafe_timeout_s"));
    // 32 A on one phase: the most a single-phase residential connection delivers (GB/T 18487.1).
    if (ch.phase != Phase::ABC && ch.max_power_kw > kSinglePhaseMaxKw) {
      s.errors().warn(t->source(), s.path() + ": max_power_kw " + number_text(ch.max_power_kw) +
                                       " is above 7.4 kW (32 A at 230 V) for a single-phase "
                                       "pile; check phase or max_power_kw");
    }
    if (ch.failsafe_current_a > 0 && ch.failsafe_current_a < ch.min_current_a) {
      s.error(t->get("failsafe_current_a"), "failsafe_current_a",
              "failsafe current " + number_text(ch.failsafe_current_a) +
                  " A is below min_current_a " + number_text(ch.min_current_a) +
                  " A; use 0 (stop) or at least the minimum");
    }
    c.chargers.push_back(ch);
    where.push_back(t);
  }
}

void read_meters(Section& root, Config& c, std::vector<const toml::table*>& where) {
  int index = 0;
  for (const toml::table* t : root.tables("meter")) {
    Section s = root.element("meter", ++index, *t);
    MeterConfig m;
    assign(m.id, read_id(s, "id", true, "the meter's id"));
    assign(m.name, s.string("name"));
    if (m.name.empty()) m.name = m.id;
    auto role = s.choice<MeterRole>("role",
                                    {{"transformer", MeterRole::transformer},
                                     {"feeder", MeterRole::feeder},
                                     {"household", MeterRole::household}},
                                    true);
    assign(m.role, role);
    assign(m.node, read_id(s, "node", false, "a capacity node id"));
    if (t->contains("driver") && t->get("driver")->value<std::string>() == std::string("ocpp"))
      s.error(t->get("driver"), "driver", "\"ocpp\" is for chargers; a meter uses \"mqtt\" or \"profile\"");
    // A household meter was polled and its readings dropped (the controller reads transformer
    // and feeder meters only, nothing stores the rest): refused until something uses it.
    if (role == MeterRole::household) {
      s.error(t->get("role"), "role",
              "\"household\" is not supported yet: nothing reads household meters; remove this [[meter]] "
              "(a meter of a capacity node is role = \"feeder\")");
    }
    if (const toml::node* n = s.take("household")) {
      s.error(n, "household", "is not supported yet (it belongs to household meters); remove it");
    }
    const DeviceLink link = read_link(s);
    m.driver = link.driver;
    m.profile = link.profile;
    m.bus = link.bus;
    m.unit_id = link.unit_id;
    m.poll_interval_ms = link.poll_interval_ms;
    if (auto address = s.string("address", false, "the 12-digit meter address")) {
      const bool digits = address->size() == 12 &&
                          std::all_of(address->begin(), address->end(),
                                      [](char ch) { return ch >= '0' && ch <= '9'; });
      if (!digits) {
        s.error(t->get("address"), "address",
                "expected the 12-digit DL/T 645 meter address from the nameplate, e.g. "
                "\"000012345678\", got \"" + *address + "\"");
      } else if (m.driver != DriverKind::profile) {
        s.error(t->get("address"), "address", "is used only with driver = \"profile\"");
      } else {
        m.address = *address;
      }
    }
    s.finish();
    c.meters.push_back(m);
    where.push_back(t);
  }
}

// ---- behaviour ------------------------------------------------------------------------------

void read_control(Section& root, Config& c) {
  const toml::table* t = root.subtable("control");
  if (!t) return;
  Section s(root.errors(), *t, "control", "[control]");
  auto& x = c.control;
  if (auto slot = s.integer("slot_minutes", 5, 15)) {
    if (*slot != 5 && *slot != 15) {
      s.error(t->get("slot_minutes"), "slot_minutes",
              "expected 5 or 15, got " + std::to_string(*slot));
    } else {
      x.slot_minutes = static_cast<int>(*slot);
    }
  }
  assign(x.control_period_s, s.number("control_period_s", 0.1, 60));
  assign(x.limit_validity_s, s.integer("limit_validity_s", 10, 3600));
  assign(x.failsafe_current_a, s.number("failsafe_current_a", 0, 80));
  assign(x.failsafe_timeout_s, s.integer("failsafe_timeout_s", 10, 3600));
  assign(x.safety_margin_kw, s.number("safety_margin_kw", 0, 1000));
  assign(x.meter_range_factor, s.number("meter_range_factor", 1.05, 10));
  assign(x.meter_negative_tolerance_kw, s.number("meter_negative_tolerance_kw", 0, 1000));
  assign(x.meter_stuck_s, s.integer("meter_stuck_s", 5, 3600));
  assign(x.meter_stuck_change_kw, s.number("meter_stuck_change_kw", 0.1, 1000));
  assign(x.meter_below_chargers_kw, s.number("meter_below_chargers_kw", 0, 1000));
  assign(x.meter_fallback_margin_kw, s.number("meter_fallback_margin_kw", 0, 10000));
  assign(x.meter_fallback_s, s.integer("meter_fallback_s", 0, 86400));
  assign(x.phase_lp_iterations, s.integer("phase_lp_iterations", 1, 100'000'000));
  s.finish();
  if (x.limit_validity_s < 3 * x.control_period_s) {
    s.errors().add(t->source(), "control: limit_validity_s " + std::to_string(x.limit_validity_s) +
                                    " is shorter than 3 control periods; piles would fall back "
                                    "to failsafe between updates");
  }
  const toml::node* at = t->get("failsafe_timeout_s");
  check_failsafe_timeout(s.errors(), x, x.failsafe_timeout_s, at ? at : t, "control.failsafe_timeout_s");
}

void read_web(Section& root, Config& c) {
  const toml::table* t = root.subtable("web");
  if (!t) return;
  Section s(root.errors(), *t, "web", "[web]");
  assign(c.web.listen, s.string("listen", false, "an address like \"0.0.0.0\""));
  assign(c.web.port, s.integer("port", 1, 65535));
  if (auto d = s.string("static_dir")) c.web.static_dir = *d;
  assign(c.web.allowed_hosts, s.strings("allowed_hosts"));
  if (auto f = s.string("tls_certificate")) c.web.tls_certificate = *f;
  if (auto f = s.string("tls_key")) c.web.tls_key = *f;
  if (c.web.tls_certificate.empty() != c.web.tls_key.empty()) {
    const char* given = c.web.tls_key.empty() ? "tls_certificate" : "tls_key";
    s.error(s.table().get(given), given, "HTTPS needs both tls_certificate and tls_key; give the other one or neither");
  }
  s.finish();
}

namespace {

// One direction's secrets from the secret file. The standard's DataSecret and DataSecretIV are
// the AES-128 key and IV themselves, so exactly 16 bytes.
void read_secrets(Section& file, std::string_view key, tcec::Secrets& out, std::string* operator_id) {
  auto s = file.section(key, true, "the secrets of one direction");
  if (!s) return;
  if (operator_id) assign(*operator_id, s->string("operator_id", true, "the platform's OperatorID"));
  assign(out.operator_secret, s->string("operator_secret", true, "the OperatorSecret of query_token"));
  assign(out.sig_secret, s->string("sig_secret", true, "the SigSecret (HMAC-MD5 key)"));
  for (auto [name, field] : {std::pair{"data_secret", &out.data_secret}, {"data_secret_iv", &out.data_secret_iv}}) {
    const auto value = s->string(name, true, "16 characters");
    if (value && value->size() != 16) {
      s->error(s->table().get(name), name,
               "must be exactly 16 bytes (the AES-128 key or IV itself), got " + std::to_string(value->size()) +
                   "; copy it as the platform issued it");
    } else {
      assign(*field, value);
    }
  }
  s->finish();
}

// The secret file is TOML of its own (docs/configuration.md, "[platform]"), kept apart so the
// main file can be shown and shared; its problems are reported at the secret_file key.
void read_secret_file(Section& s, const toml::node* at, PlatformConfig& p) {
  std::ifstream in(p.secret_file, std::ios::binary);
  if (!in) {
    s.error(at, "secret_file", "cannot read '" + p.secret_file.string() + "' (" + std::strerror(errno) +
                                   "); it must be readable by the orderly user");
    return;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Errors errors(p.secret_file.string());
  if (const auto doc = toml_section::parse(text, errors)) {
    Section file(errors, *doc, "", "the secret file");
    read_secrets(file, "to_platform", p.to_platform, nullptr);
    read_secrets(file, "from_platform", p.from_platform, &p.platform_operator_id);
    file.finish();
  }
  for (const auto& e : errors.errors()) s.error(at, "secret_file", e);
}

}  // namespace

void read_platform(Section& root, Config& c) {
  const toml::table* t = root.subtable("platform");
  if (!t) return;
  Section s(root.errors(), *t, "platform", "[platform]");
  auto& p = c.platform;
  assign(p.enabled, s.boolean("enabled"));
  assign(p.url, s.string("url", false, "the platform's base URL, \"https://...\""));
  assign(p.operator_id, s.string("operator_id"));
  if (auto f = s.string("secret_file")) p.secret_file = *f;
  assign(p.push_interval_s, s.integer("push_interval_s", 10, 86400));
  assign(p.push_extensions, s.boolean("push_extensions"));
  assign(p.station_id, s.string("station_id"));
  if (auto f = s.string("ca_file")) p.ca_file = *f;
  if (auto f = s.string("client_cert_file")) p.client_cert_file = *f;
  if (auto f = s.string("client_key_file")) p.client_key_file = *f;
  assign(p.proxy, s.string("proxy", false, "a proxy URL like \"http://10.0.0.1:3128\""));
  assign(p.connect_timeout_s, s.integer("connect_timeout_s", 1, 300));
  assign(p.timeout_s, s.integer("timeout_s", 1, 600));
  assign(p.retry_initial_s, s.integer("retry_initial_s", 1, 3600));
  assign(p.retry_max_s, s.integer("retry_max_s", 1, 86400));
  s.finish();
  if (p.retry_max_s < p.retry_initial_s) {
    s.error(t->get("retry_max_s"), "retry_max_s", "must be at least retry_initial_s (" +
                                                      std::to_string(p.retry_initial_s) + ")");
  }
  if (p.client_cert_file.empty() != p.client_key_file.empty()) {
    s.error(t->get(p.client_cert_file.empty() ? "client_key_file" : "client_cert_file"),
            p.client_cert_file.empty() ? "client_key_file" : "client_cert_file",
            "give both client_cert_file and client_key_file, or neither");
  }
  // The other keys only matter when the sync runs; a disabled section may be half filled in.
  if (!p.enabled) return;
  const auto required = [&](std::string_view key, bool present, const char* what) {
    if (!present) s.missing(key, what);
  };
  required("url", !p.url.empty(), "the platform's base URL, \"https://...\"");
  required("operator_id", !p.operator_id.empty(), "the OperatorID the platform assigned to this operator");
  required("station_id", !p.station_id.empty(), "the StationID the platform knows this site by");
  required("secret_file", !p.secret_file.empty(), "the path of the file holding the pair's secrets");
  if (!p.url.empty() && !p.url.starts_with("https://") && !p.url.starts_with("http://")) {
    s.error(t->get("url"), "url", "must start with https:// (or http:// on a closed test network)");
  } else if (p.url.starts_with("http://")) {
    s.errors().warn(t->get("url")->source(),
                    "platform.url is plain http://: Data is encrypted but the token and the metadata are not; "
                    "use https:// outside a test network");
  }
  if (!p.secret_file.empty()) read_secret_file(s, t->get("secret_file"), p);
}

void read_store(Section& root, Config& c) {
  const toml::table* t = root.subtable("store");
  if (!t) return;
  Section s(root.errors(), *t, "store", "[store]");
  if (auto p = s.string("path", false, "a file path")) c.store.path = *p;
  assign(c.store.raw_retention_days, s.integer("raw_retention_days", 1, 3650));
  assign(c.store.aggregate_retention_days, s.integer("aggregate_retention_days", 1, 36500));
  s.finish();
  if (c.store.aggregate_retention_days < c.store.raw_retention_days) {
    s.errors().add(t->source(), "store: aggregate_retention_days must be at least "
                                "raw_retention_days");
  }
}

void read_sessions(Section& root, Config& c) {
  const toml::table* t = root.subtable("sessions");
  if (!t) return;
  Section s(root.errors(), *t, "sessions", "[sessions]");
  auto& x = c.sessions;
  if (auto d = s.string("default_departure", false, "a local time \"HH:MM\"")) {
    const auto minute = parse_clock(*d);
    if (!minute || *minute == 1440) {
      s.error(t->get("default_departure"), "default_departure",
              "expected a local time \"HH:MM\" from \"00:00\" to \"23:59\", got \"" + *d + "\"");
    } else {
      x.default_departure_text = *d;
      x.default_departure_minute = *minute;
    }
  }
  assign(x.default_energy_kwh, s.number("default_energy_kwh", 0.1, 150));
  assign(x.learning_days, s.integer("learning_days", 1, 3650));
  assign(x.learning_min_sessions, s.integer("learning_min_sessions", 1, 1000));
  assign(x.learning_max_spread_minutes, s.integer("learning_max_spread_minutes", 0, 1440));
  assign(x.discharge_price_yuan_per_kwh, s.number("discharge_price_yuan_per_kwh", 0, 100));
  s.finish();
}

void read_log(Section& root, Config& c) {
  const toml::table* t = root.subtable("log");
  if (!t) return;
  Section s(root.errors(), *t, "log", "[log]");
  assign(c.log.level, s.choice<LogLevel>("level", {{"trace", LogLevel::trace},
                                                   {"debug", LogLevel::debug},
                                                   {"info", LogLevel::info},
                                                   {"warn", LogLevel::warn},
                                                   {"error", LogLevel::error}}));
  assign(c.log.sink, s.choice<LogSink>(
                         "sink", {{"stdout", LogSink::stdout_sink}, {"journald", LogSink::journald}}));
  s.finish();
}

}  // namespace orderly::gateway::config_detail
