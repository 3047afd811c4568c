// The section readers of orderly.toml, one per section in the order of docs/configuration.md;
// the tariff is in tariff.cpp.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
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
const std::vector<std::pair<std::string, DriverKind>> kDrivers = {{"mqtt", DriverKind::mqtt},
                                                                  {"profile", DriverKind::profile}};

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
  int unit_id = 1;
  int poll_interval_ms = 1000;
};

DeviceLink read_link(Section& s) {
  DeviceLink l;
  const toml::table& t = s.table();
  assign(l.driver, s.choice("driver", kDrivers));
  auto profile = s.string("profile", false, "a device profile name like \"abb-terra-ac\"");
  auto bus = read_id(s, "bus", false, "a [[modbus.bus]] id");
  auto unit = s.integer("unit_id", 1, 247);
  auto poll = s.integer("poll_interval_ms", 100, 60000);
  if (l.driver == DriverKind::profile) {
    if (!profile) s.missing("profile", "the device profile name, required with driver = \"profile\"");
    assign(l.profile, profile);
    assign(l.bus, bus);
    assign(l.unit_id, unit);
    assign(l.poll_interval_ms, poll);
  } else {
    for (const char* key : {"profile", "bus", "unit_id", "poll_interval_ms"}) {
      if (t.contains(key)) {
        s.error(t.get(key), key, "is used only with driver = \"profile\" (this device uses mqtt)");
      }
    }
  }
  return l;
}


}  // namespace

void read_chargers(Section& root, Config& c, std::vector<const toml::table*>& where) {
  int index = 0;
  for (const toml::table* t : root.tables("charger")) {
    Section s = root.element("charger", ++index, *t);
    ChargerConfig ch;
    ch.failsafe_current_a = c.control.failsafe_current_a;
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
    s.finish();
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
  // Limits are refreshed at half their validity, checked once a control period; a pile that
  // gives up on the gateway sooner (its communication timeout, docs/mqtt-protocol.md) would sit
  // at its failsafe current between refreshes while the gateway runs.
  const double keepalive_gap_s = x.limit_validity_s / 2.0 + 2 * x.control_period_s;
  if (x.failsafe_timeout_s <= keepalive_gap_s) {
    const toml::node* at = t->get("failsafe_timeout_s");
    s.errors().add(at ? at->source() : t->source(),
                   "control.failsafe_timeout_s: " + std::to_string(x.failsafe_timeout_s) +
                       " s is not longer than the gap between limit refreshes (limit_validity_s / 2 + 2 "
                       "control periods = " + number_text(keepalive_gap_s) +
                       " s): piles would fall back to failsafe while the gateway runs; raise "
                       "failsafe_timeout_s or lower limit_validity_s");
  }
}

void read_web(Section& root, Config& c) {
  const toml::table* t = root.subtable("web");
  if (!t) return;
  Section s(root.errors(), *t, "web", "[web]");
  assign(c.web.listen, s.string("listen", false, "an address like \"0.0.0.0\""));
  assign(c.web.port, s.integer("port", 1, 65535));
  if (auto d = s.string("static_dir")) c.web.static_dir = *d;
  s.finish();
}

void read_platform(Section& root, Config& c) {
  const toml::table* t = root.subtable("platform");
  if (!t) return;
  Section s(root.errors(), *t, "platform", "[platform]");
  auto& p = c.platform;
  assign(p.enabled, s.boolean("enabled"));
  assign(p.url, s.string("url"));
  assign(p.operator_id, s.string("operator_id"));
  if (auto f = s.string("secret_file")) p.secret_file = *f;
  assign(p.push_interval_s, s.integer("push_interval_s", 10, 86400));
  s.finish();
  // Until the sender exists, enabled = true would look like a site that reports to the city
  // while nothing is sent.
  if (p.enabled) {
    s.error(t->get("enabled"), "enabled",
            "is not supported yet: the city platform sync arrives with issue #15 [platform]; set "
            "enabled = false (the other [platform] keys are accepted but have no effect until then)");
  }
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
