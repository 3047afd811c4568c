// Device profiles read with the shared TOML section reader, so a profile file gets what
// orderly.toml gets: every problem at once, each with file:line:column, and unknown keys refused.
#include "orderly/drivers/profile.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "orderly/base/toml_section.hpp"
#include "orderly/base/units.hpp"
#include "orderly/drivers/mqtt_payload.hpp"

namespace orderly::drivers {

std::string SerialSettings::describe() const {
  return std::to_string(baud) + " " + std::to_string(data_bits) + parity + std::to_string(stop_bits);
}

const char* to_string(Transport t) {
  switch (t) {
    case Transport::modbus_tcp: return "modbus-tcp";
    case Transport::modbus_rtu: return "modbus-rtu";
    case Transport::mqtt: return "mqtt";
    case Transport::dlt645: return "dlt645";
  }
  return "?";
}

const char* to_string(RegisterTable t) {
  switch (t) {
    case RegisterTable::coil: return "coil";
    case RegisterTable::discrete_input: return "discrete input";
    case RegisterTable::holding: return "holding register";
    case RegisterTable::input: return "input register";
  }
  return "?";
}

const char* to_string(ValueType t) {
  switch (t) {
    case ValueType::u16: return "u16";
    case ValueType::s16: return "s16";
    case ValueType::u32: return "u32";
    case ValueType::s32: return "s32";
    case ValueType::float32: return "float32";
    case ValueType::float64: return "float64";
    case ValueType::string: return "string";
    case ValueType::coil: return "coil";
    case ValueType::bcd16: return "bcd16";
    case ValueType::bcd32: return "bcd32";
  }
  return "?";
}

std::uint16_t PointDef::register_count() const {
  switch (type) {
    case ValueType::u16:
    case ValueType::s16:
    case ValueType::coil:
    case ValueType::bcd16: return 1;
    case ValueType::u32:
    case ValueType::s32:
    case ValueType::float32:
    case ValueType::bcd32: return 2;
    case ValueType::float64: return 4;
    case ValueType::string: return string_registers;
  }
  return 1;
}

int PointDef::read_function() const {
  switch (table) {
    case RegisterTable::coil: return 1;
    case RegisterTable::discrete_input: return 2;
    case RegisterTable::holding: return 3;
    case RegisterTable::input: return 4;
  }
  return 3;
}

bool PointDef::not_available(double raw) const {
  return std::any_of(sentinels.begin(), sentinels.end(),
                     [raw](double s) { return s == raw || (std::isnan(s) && std::isnan(raw)); });
}

const PointDef* DeviceProfile::point(const std::string& name) const {
  auto it = points.find(name);
  return it == points.end() ? nullptr : &it->second;
}

namespace {

using toml_section::assign;
using toml_section::Errors;
using toml_section::Section;

// Profiles take whole numbers written either way (1 or 1.0), as they always have.
void assign(int& target, const std::optional<double>& value) {
  if (value) target = static_cast<int>(*value);
}

// Section::choice in the words profile messages have always used (docs/device-profiles.md):
// "'int16' is not one of: u16, s16, ...".
template <class E>
std::optional<E> choose(Section& s, std::string_view key,
                        const std::vector<std::pair<std::string, E>>& options,
                        bool required = false) {
  std::vector<std::string> names;
  for (const auto& option : options) names.push_back(option.first);
  const std::string list = toml_section::join(names, ", ");
  const auto word = s.string(key, required, "one of: " + list);
  if (!word) return std::nullopt;
  for (const auto& [name, value] : options) {
    if (name == *word) return value;
  }
  s.error(s.table().get(key), key, "'" + *word + "' is not one of: " + list);
  return std::nullopt;
}

const std::vector<std::pair<std::string, ValueType>> kValueTypes = {
    {"u16", ValueType::u16},         {"s16", ValueType::s16},       {"u32", ValueType::u32},
    {"s32", ValueType::s32},         {"float32", ValueType::float32},
    {"float64", ValueType::float64}, {"string", ValueType::string}, {"coil", ValueType::coil},
    {"bcd16", ValueType::bcd16},     {"bcd32", ValueType::bcd32}};
// byte_order / word_order: true = swapped.
const std::vector<std::pair<std::string, bool>> kOrders = {{"big", false}, {"little", true}};

std::optional<RegisterTable> read_function(Section& s) {
  const auto code = s.any_number("function");
  if (!code) return std::nullopt;
  switch (static_cast<int>(*code)) {
    case 1: return RegisterTable::coil;
    case 2: return RegisterTable::discrete_input;
    case 3: return RegisterTable::holding;
    case 4: return RegisterTable::input;
    default: break;
  }
  s.error(s.table().get("function"), "function", "read function code must be 1, 2, 3 or 4");
  return std::nullopt;
}

// [defaults]: what a point takes for the keys it does not set.
struct PointDefaults {
  RegisterTable table = RegisterTable::holding;
  ValueType type = ValueType::u16;
  bool byte_swap = false;
  bool word_swap = false;
};

PointDefaults read_defaults(Section& root) {
  PointDefaults d;
  auto s = root.section("defaults");
  if (!s) return d;
  assign(d.table, read_function(*s));
  assign(d.type, choose(*s, "type", kValueTypes));
  assign(d.byte_swap, choose(*s, "byte_order", kOrders));
  assign(d.word_swap, choose(*s, "word_order", kOrders));
  s->finish();
  return d;
}

PointDef read_point(const std::string& name, Section& s, const PointDefaults& defaults) {
  const toml::table& t = s.table();
  PointDef p;
  p.name = name;
  p.line = static_cast<int>(t.source().begin.line);
  const std::size_t problems_before = s.errors().count();
  p.table = read_function(s).value_or(defaults.table);
  p.type = choose(s, "type", kValueTypes).value_or(defaults.type);
  const bool is_string = p.type == ValueType::string;
  const auto registers = s.any_number("registers", is_string, "the registers of the string, 1..120");
  if (registers && !is_string)
    s.error(t.get("registers"), "registers", "is used only with type = \"string\"");
  else if (registers && (*registers < 1 || *registers > 120))
    s.error(t.get("registers"), "registers", "a string needs 1..120 registers");
  else if (registers)
    p.string_registers = static_cast<std::uint16_t>(*registers);
  // After a wrong function or type, the checks that combine them would only repeat it.
  const bool typed = s.errors().count() == problems_before;
  if (typed && (p.table == RegisterTable::coil || p.table == RegisterTable::discrete_input) !=
                   (p.type == ValueType::coil))
    s.error(nullptr, "type", "function codes 1 and 2 go with type \"coil\" and only they do");
  if (const auto address = s.any_number("address", true, "the 0-based protocol address")) {
    if (*address < 0 || *address > 65535 || *address != static_cast<int>(*address))
      s.error(t.get("address"), "address", "must be an integer 0..65535 (0-based protocol address)");
    else
      p.address = static_cast<std::uint16_t>(*address);
  }
  p.byte_swap = choose(s, "byte_order", kOrders).value_or(defaults.byte_swap);
  p.word_swap = choose(s, "word_order", kOrders).value_or(defaults.word_swap);
  assign(p.scale, s.any_number("scale"));
  if (p.scale == 0) s.error(t.get("scale"), "scale", "must not be 0");
  assign(p.offset, s.any_number("offset"));
  // Shifts and masks work on the 64 bits a register value is assembled into; anything wider (or
  // negative, or fractional) is no bit layout at all and would be undefined behaviour to apply.
  if (const auto shift = s.integer("shift", 0, 63)) p.shift = static_cast<unsigned>(*shift);
  if (const auto mask = s.integer("mask", 0, std::numeric_limits<std::int64_t>::max())) p.mask = static_cast<std::uint64_t>(*mask);
  p.min = s.any_number("min");
  p.max = s.any_number("max");
  assign(p.sentinels, s.numbers("sentinels"));
  const bool is_float = p.type == ValueType::float32 || p.type == ValueType::float64;
  if (!is_float && std::any_of(p.sentinels.begin(), p.sentinels.end(), [](double v) { return std::isnan(v); }))
    s.error(t.get("sentinels"), "sentinels", "nan is a sentinel of float32 and float64 points only");
  // A string point's states are its texts ("Charging"), a number's its raw values.
  if (is_string) assign(p.text_map, s.string_table("map"));
  else assign(p.value_map, s.integer_keyed_table("map"));
  if (const auto unit = s.any_number("unit_id")) {
    if (*unit < 0 || *unit > 255 || *unit != static_cast<int>(*unit))
      s.error(t.get("unit_id"), "unit_id", "must be an integer 0..255 (the unit this point lives on)");
    else
      p.unit_id = static_cast<int>(*unit);
  }
  if (const auto access = s.string("access")) {
    if (*access != "r" && *access != "w" && *access != "rw") {
      s.error(t.get("access"), "access", "must be \"r\", \"w\" or \"rw\"");
    } else {
      p.readable = access->find('r') != std::string::npos;
      p.writable = access->find('w') != std::string::npos;
    }
  }
  const auto write_function = s.any_number("write_function");
  if (write_function && !p.writable)
    s.error(t.get("write_function"), "write_function", "is used only with access = \"w\" or \"rw\"");
  if (!p.writable || !typed) return p;
  if (p.table == RegisterTable::input || p.table == RegisterTable::discrete_input) {
    s.error(nullptr, "access", "input registers and discrete inputs cannot be written; use function 3 or 1");
    return p;
  }
  p.write_function = p.table == RegisterTable::coil ? 5 : (p.register_count() == 1 ? 6 : 16);
  assign(p.write_function, write_function);
  const bool ok = p.table == RegisterTable::coil
                      ? p.write_function == 5
                      : (p.write_function == 16 || (p.write_function == 6 && p.register_count() == 1));
  if (!ok)
    s.error(t.get("write_function"), "write_function",
            "use 5 for coils, 6 for one register, 16 for one or more registers");
  return p;
}

// A json_path as mqtt::extract_value reads it; written payloads take keys only (a command is
// one object, not an array with a hole in it).
std::string read_json_path(Section& s, const std::string& key, bool indices_allowed) {
  const auto path = s.string(key);
  if (!path || path->empty()) return {};
  const auto steps = mqtt::parse_json_path(*path);
  if (!steps) {
    s.error(s.table().get(key), key,
            "'" + *path + "' is not a path: dot-separated keys, each with optional [n] indices, e.g. \"values[11]\"");
    return {};
  }
  if (!indices_allowed && std::any_of(steps->begin(), steps->end(), [](const auto& st) { return st.is_index(); })) {
    s.error(s.table().get(key), key, "array indices are for reading; a written path takes keys only");
    return {};
  }
  return *path;
}

std::map<std::string, MqttPointDef> read_mqtt_points(Section& mqtt, const std::string& which) {
  std::map<std::string, MqttPointDef> out;
  for (auto& [name, s] : mqtt.named_sections(which, "a table of [mqtt." + which + ".<name>] tables")) {
    MqttPointDef p;
    p.name = name;
    p.line = static_cast<int>(s.table().source().begin.line);
    assign(p.topic, s.string("topic", true, "the MQTT topic; {base} is the device's base topic"));
    p.json_path = read_json_path(s, "json_path", which == "read");
    assign(p.scale, s.any_number("scale"));
    assign(p.value_map, s.string_table("map"));
    s.finish();
    out.emplace(name, std::move(p));
  }
  return out;
}

MqttAvailabilityDef read_availability(Section& mqtt) {
  MqttAvailabilityDef a;
  auto s = mqtt.section("availability");
  if (!s) return a;
  assign(a.topic, s->string("topic", true, "the topic the device or its last will publishes its presence on"));
  assign(a.online, s->string("online"));
  assign(a.offline, s->string("offline"));
  a.json_path = read_json_path(*s, "json_path", true);
  if (a.online == a.offline) s->error(s->table().get("offline"), "offline", "must differ from online");
  s->finish();
  return a;
}

std::optional<MqttDef> read_mqtt(Section& root) {
  auto s = root.section("mqtt");
  if (!s) return std::nullopt;
  MqttDef m;
  assign(m.base_topic, s->string("base_topic"));
  assign(m.ack_topic, s->string("ack_topic"));
  m.ack_json_path = read_json_path(*s, "ack_json_path", true);
  assign(m.ack_success, s->string("ack_success"));
  if (!m.ack_success.empty() && m.ack_topic.empty())
    s->error(s->table().get("ack_success"), "ack_success", "needs the ack_topic the result is published on");
  m.availability = read_availability(*s);
  assign(m.publish_period_s, s->any_number("publish_period_s"));
  if (m.publish_period_s < 0 || m.publish_period_s > 3600)
    s->error(s->table().get("publish_period_s"), "publish_period_s", "must be between 0 and 3600 seconds");
  m.read = read_mqtt_points(*s, "read");
  m.write = read_mqtt_points(*s, "write");
  s->finish();
  return m;
}

std::map<std::string, Dlt645PointDef> read_dlt645_points(Section& root) {
  std::map<std::string, Dlt645PointDef> out;
  for (auto& [name, s] : root.named_sections("dlt645", "a table of [dlt645.<name>] tables")) {
    Dlt645PointDef p;
    p.name = name;
    if (const auto di = s.string("di", true, "8 hex digits DI3DI2DI1DI0")) {
      if (di->size() != 8 ||
          !std::all_of(di->begin(), di->end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
        s.error(s.table().get("di"), "di", "must be 8 hex digits DI3DI2DI1DI0, e.g. \"02030000\"");
      else
        p.di = static_cast<std::uint32_t>(std::stoul(*di, nullptr, 16));
    }
    assign(p.bytes, s.any_number("bytes", true, "the number of data bytes"));
    assign(p.decimals, s.any_number("decimals", true, "the decimal places of the value"));
    assign(p.sign_bit, s.boolean("sign_bit"));
    assign(p.scale, s.any_number("scale"));
    if (p.bytes < 1 || p.bytes > 8 || p.decimals < 0 || p.decimals > 2 * p.bytes)
      s.errors().add(s.table().source(), s.path() + ": bytes 1..8 and decimals 0..2*bytes expected");
    s.finish();
    out.emplace(name, std::move(p));
  }
  return out;
}

// The deepest node along `path` from `root`, for pointing at what a whole-profile check is about.
const toml::node* deepest(const toml::table& root, std::initializer_list<const char*> path) {
  const toml::node* at = &root;
  for (const char* key : path) {
    const toml::table* t = at->as_table();
    const toml::node* next = t != nullptr ? t->get(key) : nullptr;
    if (next == nullptr) break;
    at = next;
  }
  return at;
}

// What the MQTT driver sends must be said, not assumed: how the pile pauses, and only points
// it actually writes.
void validate_mqtt_charger(const DeviceProfile& d, const toml::table& root, Errors& errors) {
  const MqttDef& m = *d.mqtt;
  auto report = [&](const toml::node* where, const std::string& what) { errors.add(where->source(), what); };
  if (!m.write.count("set_current_a"))
    report(deepest(root, {"mqtt", "write"}), "mqtt.write.set_current_a: an MQTT charger needs it to be limited");
  for (const auto& [name, p] : m.write)
    if (name != "set_current_a" && name != "enable")
      report(deepest(root, {"mqtt", "write", name.c_str()}),
             "mqtt.write." + name + ": the driver writes only set_current_a and enable; remove it");
  if (!d.control.pause_given) {
    report(deepest(root, {"control"}),
           "control.pause: an MQTT charger profile must say how the pile pauses: \"zero-current\" (a 0 A "
           "set_current_a pauses it, where its vendor says so) or \"enable-register\" ([mqtt.write.enable] switched off)");
    return;
  }
  const auto enable = m.write.find("enable");
  if (d.control.pause == PauseMethod::enable_register && enable == m.write.end())
    report(deepest(root, {"control", "pause"}), "control.pause: \"enable-register\" needs an [mqtt.write.enable] point");
  if (d.control.pause != PauseMethod::enable_register && enable != m.write.end())
    report(deepest(root, {"mqtt", "write", "enable"}),
           "mqtt.write.enable: is sent only with [control] pause = \"enable-register\"; set that or remove it");
  if (enable != m.write.end())
    for (const auto& [key, text] : enable->second.value_map)
      if (key != "true" && key != "false")
        report(deepest(root, {"mqtt", "write", "enable", "map"}),
               "mqtt.write.enable.map: keys are \"true\" (charging allowed) and \"false\" (paused), not '" + key + "'");
}

// What a profile needs as a whole, beyond each key being well-formed.
void validate(const DeviceProfile& d, const toml::table& root, Errors& errors) {
  const bool modbus = d.transport == Transport::modbus_tcp || d.transport == Transport::modbus_rtu;
  auto at = [&](const std::string& name) -> const toml::node* {
    const toml::node* pts = root.get("points");
    if (pts == nullptr || pts->as_table() == nullptr) return &root;
    const toml::node* n = pts->as_table()->get(name);
    return n != nullptr ? n : pts;
  };
  auto report = [&](const toml::node* where, const std::string& key, const std::string& what) {
    errors.add(where->source(), key + ": " + what);
  };
  if (modbus && d.points.empty()) {
    report(&root, "points", "a Modbus profile needs [points.<name>] tables");
    return;
  }
  if (d.transport == Transport::mqtt && !d.mqtt) report(&root, "mqtt", "an MQTT profile needs an [mqtt] table");
  if (d.transport == Transport::mqtt && d.mqtt && d.kind == DeviceKind::charger) validate_mqtt_charger(d, root, errors);
  if (d.transport == Transport::dlt645 && d.dlt645_points.empty())
    report(&root, "dlt645", "a DL/T 645 profile needs [dlt645.<name>] tables");
  if (!modbus) return;
  if (d.kind == DeviceKind::charger) {
    const PointDef* set = d.point("set_current_a");
    if (set == nullptr || !set->writable)
      report(at("set_current_a"), "points.set_current_a", "a charger needs a writable set_current_a point");
    if (d.control.pause == PauseMethod::enable_register && (d.point("enable") == nullptr || !d.point("enable")->writable))
      report(at("enable"), "points.enable", "pause = \"enable-register\" needs a writable enable point");
    if (d.failsafe.mechanism == FailsafeMechanism::timeout_register) {
      for (const char* name : {"failsafe_timeout_s", "failsafe_current_a"}) {
        const PointDef* p = d.point(name);
        if (p == nullptr || !p->writable)
          report(at(name), std::string("points.") + name, "failsafe mechanism \"timeout-register\" needs it, writable");
      }
    }
    if (d.failsafe.keepalive == Keepalive::heartbeat && (d.point("heartbeat") == nullptr || !d.point("heartbeat")->writable))
      report(at("heartbeat"), "points.heartbeat", "keepalive = \"heartbeat\" needs a writable heartbeat point");
  } else if (d.point("power_w") == nullptr) {
    report(at("power_w"), "points.power_w", "a meter needs a power_w point");
  }
}

DeviceProfile read_profile(Section& root, const std::filesystem::path& file) {
  DeviceProfile d;
  d.file = file;
  d.id = file.stem().string();
  std::optional<DeviceKind> kind;
  if (auto dev = root.section("device", true, "the [device] table")) {
    kind = choose<DeviceKind>(*dev, "kind", {{"charger", DeviceKind::charger}, {"meter", DeviceKind::meter}}, true);
    assign(d.kind, kind);
    assign(d.manufacturer, dev->string("manufacturer", true, "the manufacturer's name"));
    assign(d.model, dev->string("model", true, "the model's name"));
    const auto documents = dev->strings("documents");
    assign(d.documents, documents);
    if (d.documents.empty() && (documents || !dev->table().contains("documents")))
      dev->error(nullptr, "documents", "name the vendor document(s) this profile was written from");
    assign(d.unverified, dev->strings("unverified"));
    dev->finish();
  }

  std::optional<Transport> transport;
  if (auto tr = root.section("transport", true, "the [transport] table")) {
    transport = choose<Transport>(*tr, "type",
                                  {{"modbus-tcp", Transport::modbus_tcp}, {"modbus-rtu", Transport::modbus_rtu},
                                   {"mqtt", Transport::mqtt}, {"dlt645", Transport::dlt645}},
                                  true);
    assign(d.transport, transport);
    auto& mb = d.modbus;
    assign(mb.unit_id, tr->any_number("unit_id"));
    if (mb.unit_id < 0 || mb.unit_id > 255) tr->error(tr->table().get("unit_id"), "unit_id", "must be 0..255");
    if (const auto port = tr->any_number("tcp_port")) mb.factory_tcp_port = static_cast<int>(*port);
    SerialSettings serial;
    const auto baud = tr->any_number("baud");
    const auto parity = tr->string("parity");
    const auto data_bits = tr->any_number("data_bits");
    const auto stop_bits = tr->any_number("stop_bits");
    assign(serial.baud, baud);
    if (parity) {
      if (*parity != "N" && *parity != "E" && *parity != "O")
        tr->error(tr->table().get("parity"), "parity", "must be \"N\", \"E\" or \"O\"");
      else
        serial.parity = (*parity)[0];
    }
    assign(serial.data_bits, data_bits);
    assign(serial.stop_bits, stop_bits);
    if (baud || parity || data_bits || stop_bits) mb.factory_serial = serial;
    assign(mb.inter_request_gap_ms, tr->any_number("inter_request_gap_ms"));
    assign(mb.response_timeout_ms, tr->any_number("response_timeout_ms"));
    assign(mb.retries, tr->any_number("retries"));
    if (mb.response_timeout_ms <= 0 || mb.inter_request_gap_ms < 0 || mb.retries < 0 || mb.retries > 5)
      tr->errors().add(tr->table().source(),
                       "transport: response_timeout_ms > 0, inter_request_gap_ms >= 0 and retries 0..5 expected");
    tr->finish();
  }

  if (auto cs = root.section("capabilities")) {
    auto& cap = d.capabilities;
    assign(cap.phases, cs->any_number("phases"));
    if (cap.phases != 1 && cap.phases != 3) cs->error(cs->table().get("phases"), "phases", "must be 1 or 3");
    assign(cap.min_current_a, cs->any_number("min_current_a"));
    assign(cap.max_current_a, cs->any_number("max_current_a"));
    cap.max_power_w = cs->any_number("max_power_w").value_or(power_w_at_nominal(cap.max_current_a, cap.phases));
    assign(cap.bidirectional, cs->boolean("bidirectional"));
    if (cap.min_current_a < 0 || cap.max_current_a < cap.min_current_a)
      cs->errors().add(cs->table().source(), "capabilities: need 0 <= min_current_a <= max_current_a");
    cs->finish();
  }

  const PointDefaults defaults = read_defaults(root);
  for (auto& [name, s] : root.named_sections("points", "a table of [points.<name>] tables")) {
    d.points.emplace(name, read_point(name, s, defaults));
    s.finish();
  }

  if (auto cs = root.section("control")) {
    const auto pause = choose<PauseMethod>(*cs, "pause",
                                           {{"zero-current", PauseMethod::zero_current},
                                            {"enable-register", PauseMethod::enable_register}});
    assign(d.control.pause, pause);
    d.control.pause_given = pause.has_value();
    assign(d.control.enable_on, cs->any_number("enable_on"));
    assign(d.control.enable_off, cs->any_number("enable_off"));
    cs->finish();
  }

  if (auto fs = root.section("failsafe")) {
    assign(d.failsafe.mechanism,
           choose<FailsafeMechanism>(*fs, "mechanism",
                                     {{"none", FailsafeMechanism::none},
                                      {"timeout-register", FailsafeMechanism::timeout_register},
                                      {"expiring-setpoint", FailsafeMechanism::expiring_setpoint}},
                                     true));
    assign(d.failsafe.keepalive,
           choose<Keepalive>(*fs, "keepalive",
                             {{"none", Keepalive::none}, {"heartbeat", Keepalive::heartbeat},
                              {"rewrite-timeout", Keepalive::rewrite_timeout},
                              {"rewrite-setpoint", Keepalive::rewrite_setpoint}, {"poll", Keepalive::poll}}));
    assign(d.failsafe.heartbeat_value, fs->any_number("heartbeat_value"));
    assign(d.failsafe.setpoint_expiry_s, fs->any_number("setpoint_expiry_s"));
    fs->finish();
  }
  d.capabilities.failsafe = d.supports_failsafe();

  d.mqtt = read_mqtt(root);
  d.dlt645_points = read_dlt645_points(root);

  // Without knowing what the device is and how it talks, the checks below would only guess.
  if (kind && transport) validate(d, root.table(), root.errors());
  return d;
}

}  // namespace

DeviceProfile parse_profile(const std::string& text, const std::filesystem::path& file_for_errors) {
  Errors errors(file_for_errors.string());
  DeviceProfile d;
  if (const auto root = toml_section::parse(text, errors)) {
    Section s(errors, *root, "", "the top level");
    d = read_profile(s, file_for_errors);
    s.finish();
  }
  if (!errors.empty()) throw ProfileError(toml_section::join(errors.errors(), "\n"));
  return d;
}

DeviceProfile load_profile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ProfileError(file.string() + ": cannot open the profile; check the path and permissions");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_profile(ss.str(), file);
}

ProfileCatalog ProfileCatalog::load_dir(const std::filesystem::path& dir) {
  ProfileCatalog c;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw ProfileError(dir.string() + ": not a directory of device profiles; set the profiles path");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) c.add(load_profile(f));
  return c;
}

void ProfileCatalog::add(DeviceProfile p) {
  std::string id = p.id;
  profiles_.insert_or_assign(id, std::move(p));
}

const DeviceProfile* ProfileCatalog::find(const std::string& id) const {
  auto it = profiles_.find(id);
  return it == profiles_.end() ? nullptr : &it->second;
}

const DeviceProfile& ProfileCatalog::at(const std::string& id) const {
  if (const DeviceProfile* p = find(id)) return *p;
  std::string known;
  for (const auto& [k, v] : profiles_) known += (known.empty() ? "" : ", ") + k;
  throw ProfileError("no device profile '" + id + "'; known profiles: " + known);
}

}  // namespace orderly::drivers
