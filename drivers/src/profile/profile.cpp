#include "orderly/drivers/profile.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "orderly/base/units.hpp"

namespace orderly::drivers {

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

const PointDef* DeviceProfile::point(const std::string& name) const {
  auto it = points.find(name);
  return it == points.end() ? nullptr : &it->second;
}

namespace {

class Parser {
 public:
  Parser(std::filesystem::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const toml::node* at, const std::string& key, const std::string& what) const {
    std::ostringstream os;
    os << file_.string();
    if (at != nullptr && at->source().begin.line > 0) os << ':' << at->source().begin.line;
    os << ": " << key << ": " << what;
    throw ProfileError(os.str());
  }

  std::string str(const toml::table& t, const std::string& key, const std::string& ctx,
                  std::optional<std::string> dflt = std::nullopt) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
      if (dflt) return *dflt;
      fail(&t, ctx + key, "missing; add it (a string)");
    }
    if (auto v = n->value<std::string>()) return *v;
    fail(n, ctx + key, "must be a string");
  }

  double num(const toml::table& t, const std::string& key, const std::string& ctx,
             std::optional<double> dflt = std::nullopt) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
      if (dflt) return *dflt;
      fail(&t, ctx + key, "missing; add it (a number)");
    }
    if (auto v = n->value<double>()) return *v;
    fail(n, ctx + key, "must be a number");
  }

  std::optional<double> opt_num(const toml::table& t, const std::string& key, const std::string& ctx) const {
    if (t.get(key) == nullptr) return std::nullopt;
    return num(t, key, ctx);
  }

  bool boolean(const toml::table& t, const std::string& key, const std::string& ctx, bool dflt) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return dflt;
    if (auto v = n->value<bool>()) return *v;
    fail(n, ctx + key, "must be true or false");
  }

  std::vector<std::string> strings(const toml::table& t, const std::string& key, const std::string& ctx) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (n == nullptr) return out;
    const toml::array* a = n->as_array();
    if (a == nullptr) fail(n, ctx + key, "must be an array of strings");
    for (const auto& e : *a) {
      auto v = e.value<std::string>();
      if (!v) fail(&e, ctx + key, "must be an array of strings");
      out.push_back(*v);
    }
    return out;
  }

  const toml::table& table(const toml::table& t, const std::string& key, const std::string& ctx) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) fail(&t, ctx + key, "missing table [" + ctx + key + "]");
    if (const toml::table* tt = n->as_table()) return *tt;
    fail(n, ctx + key, "must be a table");
  }

  template <class E>
  E choose(const toml::table& t, const std::string& key, const std::string& ctx,
           const std::vector<std::pair<std::string, E>>& options, std::optional<E> dflt = std::nullopt) const {
    const toml::node* n = t.get(key);
    if (n == nullptr && dflt) return *dflt;
    std::string v = str(t, key, ctx);
    for (const auto& [name, e] : options)
      if (name == v) return e;
    std::string list;
    for (const auto& [name, e] : options) list += (list.empty() ? "" : ", ") + name;
    fail(t.get(key), ctx + key, "'" + v + "' is not one of: " + list);
  }

  PointDef point(const std::string& name, const toml::table& t, const toml::table& defaults) {
    const std::string ctx = "points." + name + ".";
    PointDef p;
    p.name = name;
    p.line = static_cast<int>(t.source().begin.line);
    auto pick = [&](const std::string& key) -> const toml::table& {
      return t.get(key) != nullptr ? t : defaults;
    };
    int fc = static_cast<int>(num(pick("function"), "function", ctx, 3));
    switch (fc) {
      case 1: p.table = RegisterTable::coil; break;
      case 2: p.table = RegisterTable::discrete_input; break;
      case 3: p.table = RegisterTable::holding; break;
      case 4: p.table = RegisterTable::input; break;
      default: fail(t.get("function"), ctx + "function", "read function code must be 1, 2, 3 or 4");
    }
    double addr = num(t, "address", ctx);
    if (addr < 0 || addr > 65535 || addr != static_cast<int>(addr))
      fail(t.get("address"), ctx + "address", "must be an integer 0..65535 (0-based protocol address)");
    p.address = static_cast<std::uint16_t>(addr);
    p.type = choose<ValueType>(pick("type"), "type", ctx,
                               {{"u16", ValueType::u16}, {"s16", ValueType::s16}, {"u32", ValueType::u32},
                                {"s32", ValueType::s32}, {"float32", ValueType::float32},
                                {"float64", ValueType::float64}, {"string", ValueType::string},
                                {"coil", ValueType::coil}, {"bcd16", ValueType::bcd16}, {"bcd32", ValueType::bcd32}},
                               ValueType::u16);
    if (p.type == ValueType::string) {
      double n = num(t, "registers", ctx);
      if (n < 1 || n > 120) fail(t.get("registers"), ctx + "registers", "a string needs 1..120 registers");
      p.string_registers = static_cast<std::uint16_t>(n);
    }
    if ((p.table == RegisterTable::coil || p.table == RegisterTable::discrete_input) != (p.type == ValueType::coil))
      fail(&t, ctx + "type", "function codes 1 and 2 go with type \"coil\" and only they do");
    p.byte_swap = choose<bool>(pick("byte_order"), "byte_order", ctx, {{"big", false}, {"little", true}}, false);
    p.word_swap = choose<bool>(pick("word_order"), "word_order", ctx, {{"big", false}, {"little", true}}, false);
    p.scale = num(t, "scale", ctx, 1.0);
    if (p.scale == 0) fail(t.get("scale"), ctx + "scale", "must not be 0");
    p.offset = num(t, "offset", ctx, 0.0);
    p.shift = static_cast<unsigned>(num(t, "shift", ctx, 0));
    p.mask = static_cast<std::uint64_t>(num(t, "mask", ctx, 0));
    p.min = opt_num(t, "min", ctx);
    p.max = opt_num(t, "max", ctx);
    if (const toml::node* s = t.get("sentinels")) {
      const toml::array* a = s->as_array();
      if (a == nullptr) fail(s, ctx + "sentinels", "must be an array of numbers");
      for (const auto& e : *a) {
        auto v = e.value<double>();
        if (!v) fail(&e, ctx + "sentinels", "must be an array of numbers");
        p.sentinels.push_back(*v);
      }
    }
    if (const toml::node* m = t.get("map")) {
      const toml::table* mt = m->as_table();
      if (mt == nullptr) fail(m, ctx + "map", "must be a table of \"raw value\" = \"word\"");
      for (const auto& [k, v] : *mt) {
        std::int64_t raw = 0;
        try {
          std::size_t used = 0;
          raw = std::stoll(std::string(k.str()), &used, 0);
          if (used != k.str().size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
          fail(&v, ctx + "map." + std::string(k.str()), "map keys must be integers like \"3\" or \"0x10\"");
        }
        auto word = v.value<std::string>();
        if (!word) fail(&v, ctx + "map." + std::string(k.str()), "map values must be strings");
        p.value_map[raw] = *word;
      }
    }
    std::string access = str(t, "access", ctx, std::string("r"));
    if (access != "r" && access != "w" && access != "rw")
      fail(t.get("access"), ctx + "access", "must be \"r\", \"w\" or \"rw\"");
    p.readable = access.find('r') != std::string::npos;
    p.writable = access.find('w') != std::string::npos;
    if (p.writable) {
      if (p.table == RegisterTable::input || p.table == RegisterTable::discrete_input)
        fail(&t, ctx + "access", "input registers and discrete inputs cannot be written; use function 3 or 1");
      int dflt = p.table == RegisterTable::coil ? 5 : (p.register_count() == 1 ? 6 : 16);
      p.write_function = static_cast<int>(num(t, "write_function", ctx, dflt));
      bool ok = p.table == RegisterTable::coil ? p.write_function == 5
                                               : (p.write_function == 16 ||
                                                  (p.write_function == 6 && p.register_count() == 1));
      if (!ok) fail(t.get("write_function"), ctx + "write_function",
                    "use 5 for coils, 6 for one register, 16 for one or more registers");
    }
    return p;
  }

  DeviceProfile parse(const toml::table& root) {
    DeviceProfile d;
    d.file = file_;
    d.id = file_.stem().string();
    const auto& dev = table(root, "device", "");
    d.kind = choose<DeviceKind>(dev, "kind", "device.", {{"charger", DeviceKind::charger}, {"meter", DeviceKind::meter}});
    d.manufacturer = str(dev, "manufacturer", "device.");
    d.model = str(dev, "model", "device.");
    d.documents = strings(dev, "documents", "device.");
    if (d.documents.empty())
      fail(&dev, "device.documents", "name the vendor document(s) this profile was written from");
    d.unverified = strings(dev, "unverified", "device.");

    const auto& tr = table(root, "transport", "");
    d.transport = choose<Transport>(tr, "type", "transport.",
                                    {{"modbus-tcp", Transport::modbus_tcp}, {"modbus-rtu", Transport::modbus_rtu},
                                     {"mqtt", Transport::mqtt}, {"dlt645", Transport::dlt645}});
    auto& mb = d.modbus;
    mb.unit_id = static_cast<int>(num(tr, "unit_id", "transport.", 1));
    if (mb.unit_id < 0 || mb.unit_id > 255) fail(tr.get("unit_id"), "transport.unit_id", "must be 0..255");
    mb.tcp_port = static_cast<int>(num(tr, "tcp_port", "transport.", 502));
    mb.serial.baud = static_cast<int>(num(tr, "baud", "transport.", 9600));
    std::string parity = str(tr, "parity", "transport.", std::string("N"));
    if (parity != "N" && parity != "E" && parity != "O")
      fail(tr.get("parity"), "transport.parity", "must be \"N\", \"E\" or \"O\"");
    mb.serial.parity = parity[0];
    mb.serial.data_bits = static_cast<int>(num(tr, "data_bits", "transport.", 8));
    mb.serial.stop_bits = static_cast<int>(num(tr, "stop_bits", "transport.", 1));
    mb.inter_request_gap_ms = static_cast<int>(num(tr, "inter_request_gap_ms", "transport.", 20));
    mb.response_timeout_ms = static_cast<int>(num(tr, "response_timeout_ms", "transport.", 1000));
    mb.retries = static_cast<int>(num(tr, "retries", "transport.", 1));
    if (mb.response_timeout_ms <= 0 || mb.inter_request_gap_ms < 0 || mb.retries < 0 || mb.retries > 5)
      fail(&tr, "transport", "response_timeout_ms > 0, inter_request_gap_ms >= 0 and retries 0..5 expected");

    if (const toml::node* c = root.get("capabilities")) {
      const toml::table* ct = c->as_table();
      if (ct == nullptr) fail(c, "capabilities", "must be a table");
      auto& cap = d.capabilities;
      cap.phases = static_cast<int>(num(*ct, "phases", "capabilities.", 1));
      if (cap.phases != 1 && cap.phases != 3) fail(ct->get("phases"), "capabilities.phases", "must be 1 or 3");
      cap.min_current_a = num(*ct, "min_current_a", "capabilities.", 6);
      cap.max_current_a = num(*ct, "max_current_a", "capabilities.", 32);
      cap.max_power_w = num(*ct, "max_power_w", "capabilities.", power_w_at_nominal(cap.max_current_a, cap.phases));
      cap.bidirectional = boolean(*ct, "bidirectional", "capabilities.", false);
      if (cap.min_current_a < 0 || cap.max_current_a < cap.min_current_a)
        fail(ct, "capabilities", "need 0 <= min_current_a <= max_current_a");
    }

    toml::table empty;
    const toml::table* defaults = &empty;
    if (const toml::node* n = root.get("defaults")) {
      defaults = n->as_table();
      if (defaults == nullptr) fail(n, "defaults", "must be a table");
    }
    if (const toml::node* n = root.get("points")) {
      const toml::table* pts = n->as_table();
      if (pts == nullptr) fail(n, "points", "must be a table of [points.<name>]");
      for (const auto& [k, v] : *pts) {
        const toml::table* pt = v.as_table();
        if (pt == nullptr) fail(&v, "points." + std::string(k.str()), "must be a table");
        d.points.emplace(std::string(k.str()), point(std::string(k.str()), *pt, *defaults));
      }
    }

    if (const toml::node* n = root.get("control")) {
      const toml::table* ct = n->as_table();
      if (ct == nullptr) fail(n, "control", "must be a table");
      d.control.pause = choose<PauseMethod>(*ct, "pause", "control.",
                                            {{"zero-current", PauseMethod::zero_current},
                                             {"enable-register", PauseMethod::enable_register}},
                                            PauseMethod::zero_current);
      d.control.enable_on = num(*ct, "enable_on", "control.", 1);
      d.control.enable_off = num(*ct, "enable_off", "control.", 0);
    }

    if (const toml::node* n = root.get("failsafe")) {
      const toml::table* ft = n->as_table();
      if (ft == nullptr) fail(n, "failsafe", "must be a table");
      d.failsafe.mechanism = choose<FailsafeMechanism>(
          *ft, "mechanism", "failsafe.",
          {{"none", FailsafeMechanism::none}, {"timeout-register", FailsafeMechanism::timeout_register},
           {"expiring-setpoint", FailsafeMechanism::expiring_setpoint}});
      d.failsafe.keepalive = choose<Keepalive>(
          *ft, "keepalive", "failsafe.",
          {{"none", Keepalive::none}, {"heartbeat", Keepalive::heartbeat},
           {"rewrite-timeout", Keepalive::rewrite_timeout}, {"rewrite-setpoint", Keepalive::rewrite_setpoint},
           {"poll", Keepalive::poll}},
          Keepalive::none);
      d.failsafe.heartbeat_value = num(*ft, "heartbeat_value", "failsafe.", 1);
      d.failsafe.setpoint_expiry_s = num(*ft, "setpoint_expiry_s", "failsafe.", 0);
    }
    d.capabilities.failsafe = d.supports_failsafe();

    if (const toml::node* n = root.get("mqtt")) {
      const toml::table* mt = n->as_table();
      if (mt == nullptr) fail(n, "mqtt", "must be a table");
      MqttDef m;
      m.base_topic = str(*mt, "base_topic", "mqtt.", std::string());
      m.ack_topic = str(*mt, "ack_topic", "mqtt.", std::string());
      m.ack_json_path = str(*mt, "ack_json_path", "mqtt.", std::string());
      m.publish_period_s = num(*mt, "publish_period_s", "mqtt.", 0);
      if (m.publish_period_s < 0 || m.publish_period_s > 3600)
        fail(mt->get("publish_period_s"), "mqtt.publish_period_s", "must be between 0 and 3600 seconds");
      auto section = [&](const char* which, std::map<std::string, MqttPointDef>& into) {
        const toml::node* s = mt->get(which);
        if (s == nullptr) return;
        const toml::table* st = s->as_table();
        if (st == nullptr) fail(s, std::string("mqtt.") + which, "must be a table");
        for (const auto& [k, v] : *st) {
          std::string ctx = std::string("mqtt.") + which + "." + std::string(k.str()) + ".";
          const toml::table* pt = v.as_table();
          if (pt == nullptr) fail(&v, ctx, "must be a table");
          MqttPointDef p;
          p.name = std::string(k.str());
          p.topic = str(*pt, "topic", ctx);
          p.json_path = str(*pt, "json_path", ctx, std::string());
          p.scale = num(*pt, "scale", ctx, 1.0);
          if (const toml::node* mm = pt->get("map")) {
            const toml::table* mmt = mm->as_table();
            if (mmt == nullptr) fail(mm, ctx + "map", "must be a table");
            for (const auto& [mk, mv] : *mmt) {
              auto w = mv.value<std::string>();
              if (!w) fail(&mv, ctx + "map", "values must be strings");
              p.value_map[std::string(mk.str())] = *w;
            }
          }
          into.emplace(p.name, p);
        }
      };
      section("read", m.read);
      section("write", m.write);
      d.mqtt = std::move(m);
    }

    if (const toml::node* n = root.get("dlt645")) {
      const toml::table* dt = n->as_table();
      if (dt == nullptr) fail(n, "dlt645", "must be a table of [dlt645.<name>]");
      for (const auto& [k, v] : *dt) {
        std::string ctx = "dlt645." + std::string(k.str()) + ".";
        const toml::table* pt = v.as_table();
        if (pt == nullptr) fail(&v, ctx, "must be a table");
        Dlt645PointDef p;
        p.name = std::string(k.str());
        std::string di = str(*pt, "di", ctx);
        if (di.size() != 8 || !std::all_of(di.begin(), di.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
          fail(pt->get("di"), ctx + "di", "must be 8 hex digits DI3DI2DI1DI0, e.g. \"02030000\"");
        p.di = static_cast<std::uint32_t>(std::stoul(di, nullptr, 16));
        p.bytes = static_cast<int>(num(*pt, "bytes", ctx));
        p.decimals = static_cast<int>(num(*pt, "decimals", ctx));
        p.sign_bit = boolean(*pt, "sign_bit", ctx, false);
        p.scale = num(*pt, "scale", ctx, 1.0);
        if (p.bytes < 1 || p.bytes > 8 || p.decimals < 0 || p.decimals > 2 * p.bytes)
          fail(pt, ctx, "bytes 1..8 and decimals 0..2*bytes expected");
        d.dlt645_points.emplace(p.name, p);
      }
    }

    validate(d, root);
    return d;
  }

  void validate(const DeviceProfile& d, const toml::table& root) const {
    const bool modbus = d.transport == Transport::modbus_tcp || d.transport == Transport::modbus_rtu;
    auto at = [&](const std::string& name) -> const toml::node* {
      const toml::node* pts = root.get("points");
      if (pts == nullptr || pts->as_table() == nullptr) return &root;
      const toml::node* n = pts->as_table()->get(name);
      return n != nullptr ? n : pts;
    };
    if (modbus && d.points.empty()) fail(&root, "points", "a Modbus profile needs [points.<name>] tables");
    if (d.transport == Transport::mqtt && !d.mqtt) fail(&root, "mqtt", "an MQTT profile needs an [mqtt] table");
    if (d.transport == Transport::dlt645 && d.dlt645_points.empty())
      fail(&root, "dlt645", "a DL/T 645 profile needs [dlt645.<name>] tables");
    if (!modbus) return;
    if (d.kind == DeviceKind::charger) {
      const PointDef* set = d.point("set_current_a");
      if (set == nullptr || !set->writable)
        fail(at("set_current_a"), "points.set_current_a", "a charger needs a writable set_current_a point");
      if (d.control.pause == PauseMethod::enable_register && (d.point("enable") == nullptr || !d.point("enable")->writable))
        fail(at("enable"), "points.enable", "pause = \"enable-register\" needs a writable enable point");
      if (d.failsafe.mechanism == FailsafeMechanism::timeout_register) {
        for (const char* name : {"failsafe_timeout_s", "failsafe_current_a"}) {
          const PointDef* p = d.point(name);
          if (p == nullptr || !p->writable)
            fail(at(name), std::string("points.") + name, "failsafe mechanism \"timeout-register\" needs it, writable");
        }
      }
      if (d.failsafe.keepalive == Keepalive::heartbeat && (d.point("heartbeat") == nullptr || !d.point("heartbeat")->writable))
        fail(at("heartbeat"), "points.heartbeat", "keepalive = \"heartbeat\" needs a writable heartbeat point");
    } else if (d.point("power_w") == nullptr) {
      fail(at("power_w"), "points.power_w", "a meter needs a power_w point");
    }
  }

 private:
  std::filesystem::path file_;
};

}  // namespace

DeviceProfile parse_profile(const std::string& text, const std::filesystem::path& file_for_errors) {
  toml::table root;
  try {
    root = toml::parse(text, file_for_errors.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << file_for_errors.string() << ':' << e.source().begin.line << ": " << e.description()
       << "; fix the TOML syntax";
    throw ProfileError(os.str());
  }
  return Parser(file_for_errors).parse(root);
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
