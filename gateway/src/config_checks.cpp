// The checks that need the whole configuration: ids unique and references resolved, the
// capacity tree ordered parents first and free of cycles, and profile devices against the
// profile catalog.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "config_readers.hpp"
#include "orderly/drivers/profile.hpp"

namespace orderly::gateway::config_detail {

namespace {

// Where a key's value is (or its table's header when the key is absent).
toml::source_region at_key(const toml::table* t, std::string_view key) {
  if (const toml::node* n = t->get(key)) return n->source();
  return t->source();
}

// Below a single-phase node everything is on its phase: a pile or node on another phase there is
// a wiring the planner would count on the wrong phase.
void check_phases(Errors& errors, const Config& c, const std::vector<const toml::table*>& node_where,
                  const std::vector<const toml::table*>& charger_where) {
  std::map<std::string, Phase> single;  // node id -> the one phase it carries
  std::map<std::string, std::string> parent_of;
  for (const auto& n : c.capacity) parent_of[n.id] = n.parent.empty() ? c.site.transformer.id : n.parent;
  auto carried = [&](std::string id) -> std::optional<Phase> {
    for (int guard = 0; guard <= static_cast<int>(c.capacity.size()) && !id.empty(); ++guard) {
      if (const auto it = single.find(id); it != single.end()) return it->second;
      const auto p = parent_of.find(id);
      if (p == parent_of.end()) return std::nullopt;
      id = p->second;
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < c.capacity.size(); ++i) {
    const auto& n = c.capacity[i];
    const auto above = carried(parent_of[n.id]);
    if (above && n.phase != Phase::ABC && n.phase != *above) {
      // The tree may have been put in parents-first order: find the node's table by its id.
      const toml::table* where = nullptr;
      for (const auto* t : node_where)
        if (t && t->get_as<std::string>("id") && t->get_as<std::string>("id")->get() == n.id) where = t;
      errors.add(where ? at_key(where, "phase") : toml::source_region{},
                 "capacity '" + n.id + "'.phase: on phase " + to_string(n.phase) +
                     " below a node that carries only phase " + to_string(*above));
    }
    if (n.phase != Phase::ABC) single[n.id] = n.phase;
    else if (above) single[n.id] = *above;
  }
  for (std::size_t i = 0; i < c.chargers.size(); ++i) {
    const auto& ch = c.chargers[i];
    const auto on = carried(ch.node.empty() ? c.site.transformer.id : ch.node);
    if (on && ch.phase != *on) {
      errors.add(at_key(charger_where[i], "phase"),
                 "charger[" + std::to_string(i + 1) + "].phase: '" + ch.id + "' is " + to_string(ch.phase) +
                     " but hangs from node '" + ch.node + "', which carries only phase " + to_string(*on) +
                     "; set phase = \"" + to_string(*on) + "\" or move it to another node");
    }
  }
}

// A charge point's ceiling (ocpp_station_max_power_kw) is held by the pile, not planned: the
// planner sees only each connector's max_power_kw. Below their sum, the plan promises cars power
// the pile will not pass unless a capacity node holding all its connectors says the same.
void check_station_ceilings(Errors& errors, const Config& c, const std::vector<const toml::table*>& charger_where) {
  std::map<std::string, std::vector<std::size_t>> connectors;  // ocpp_id -> charger indices
  for (std::size_t i = 0; i < c.chargers.size(); ++i)
    if (c.chargers[i].driver == DriverKind::ocpp) connectors[c.chargers[i].ocpp_id].push_back(i);
  std::map<std::string, const CapacityNodeConfig*> node_of;
  for (const auto& n : c.capacity) node_of[n.id] = &n;
  // The capacity nodes above a charger, nearest first (the transformer itself is not one).
  const auto path_up = [&](std::string id) {
    std::vector<const CapacityNodeConfig*> path;
    for (std::size_t guard = 0; guard <= c.capacity.size(); ++guard) {
      const auto it = node_of.find(id);
      if (it == node_of.end()) break;
      path.push_back(it->second);
      id = it->second->parent;
    }
    return path;
  };
  for (const auto& [ocpp_id, indices] : connectors) {
    const auto& first = c.chargers[indices.front()];
    if (!first.ocpp_station_max_power_kw) continue;
    const double ceiling_kw = *first.ocpp_station_max_power_kw;
    double sum_kw = 0;
    for (const auto i : indices) sum_kw += c.chargers[i].max_power_kw;
    if (ceiling_kw >= sum_kw - 1e-9) continue;
    bool held = false;
    for (const auto* n : path_up(first.node)) {
      const bool holds_all = std::all_of(indices.begin(), indices.end(), [&](std::size_t i) {
        const auto up = path_up(c.chargers[i].node);
        return std::find(up.begin(), up.end(), n) != up.end();
      });
      if (holds_all && n->limit_kw <= ceiling_kw + 1e-9) held = true;
    }
    if (held) continue;
    errors.warn(at_key(charger_where[indices.front()], "ocpp_station_max_power_kw"),
                "charger '" + first.id + "': charge point '" + ocpp_id + "' is limited to " + number_text(ceiling_kw) +
                    " kW (ocpp_station_max_power_kw) but its connectors add up to " + number_text(sum_kw) +
                    " kW and no [[capacity]] node holding all of them has limit_kw <= " + number_text(ceiling_kw) +
                    ": the plan would give its cars power the pile holds back; put the connectors under such a node");
  }
}

}  // namespace

void check_references(Errors& errors, Config& c,
                      const std::vector<const toml::table*>& node_where,
                      const std::vector<const toml::table*>& bus_where,
                      const std::vector<const toml::table*>& charger_where,
                      const std::vector<const toml::table*>& meter_where) {
  const std::string& root_id = c.site.transformer.id;
  std::set<std::string> node_ids{root_id};
  for (std::size_t i = 0; i < c.capacity.size(); ++i) {
    auto& n = c.capacity[i];
    if (n.id.empty()) continue;
    if (!node_ids.insert(n.id).second) {
      errors.add(at_key(node_where[i], "id"), "capacity[" + std::to_string(i + 1) + "].id: duplicate id '" +
                                    n.id + "'; capacity node and transformer ids must be unique");
    }
  }
  for (std::size_t i = 0; i < c.capacity.size(); ++i) {
    auto& n = c.capacity[i];
    if (n.parent.empty()) n.parent = root_id;
    if (!node_ids.count(n.parent)) {
      errors.add(at_key(node_where[i], "parent"), "capacity[" + std::to_string(i + 1) + "].parent: unknown node '" +
                                    n.parent + "'; expected the transformer ('" + root_id +
                                    "') or a [[capacity]] id");
    }
  }
  // Order parents before children, and find cycles.
  {
    std::vector<CapacityNodeConfig> ordered;
    std::set<std::string> placed{root_id};
    std::vector<bool> done(c.capacity.size(), false);
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::size_t i = 0; i < c.capacity.size(); ++i) {
        if (done[i] || !placed.count(c.capacity[i].parent)) continue;
        done[i] = true;
        progress = true;
        placed.insert(c.capacity[i].id);
        ordered.push_back(c.capacity[i]);
      }
    }
    for (std::size_t i = 0; i < c.capacity.size(); ++i) {
      if (!done[i] && node_ids.count(c.capacity[i].parent) && !c.capacity[i].id.empty()) {
        errors.add(at_key(node_where[i], "parent"), "capacity[" + std::to_string(i + 1) +
                                      "].parent: the capacity tree has a cycle through '" +
                                      c.capacity[i].id + "'");
      }
    }
    if (ordered.size() == c.capacity.size()) c.capacity = std::move(ordered);
  }
  std::set<std::string> bus_ids;
  for (std::size_t i = 0; i < c.modbus_buses.size(); ++i) {
    const auto& b = c.modbus_buses[i];
    if (!b.id.empty() && !bus_ids.insert(b.id).second) {
      errors.add(at_key(bus_where[i], "id"), "modbus.bus[" + std::to_string(i + 1) + "].id: duplicate id '" +
                                   b.id + "'");
    }
  }
  auto expected_list = [](const std::set<std::string>& ids) {
    std::vector<std::string> v(ids.begin(), ids.end());
    return v.empty() ? std::string("(none defined)") : join(v, ", ");
  };
  std::set<std::string> device_ids;
  auto check_device = [&](const std::string& what, std::size_t i, const std::string& id,
                          std::string& node, DriverKind driver, const std::string& bus,
                          const toml::table* where) {
    const std::string path = what + "[" + std::to_string(i + 1) + "]";
    if (!id.empty() && !device_ids.insert(id).second) {
      errors.add(at_key(where, "id"), path + ".id: duplicate id '" + id +
                            "'; charger and meter ids must be unique");
    }
    if (node.empty()) node = root_id;
    if (!node_ids.count(node)) {
      errors.add(at_key(where, "node"), path + ".node: unknown capacity node '" + node + "'; expected one of: " +
                            expected_list(node_ids));
    }
    if (driver == DriverKind::profile && !bus.empty() && !bus_ids.count(bus)) {
      errors.add(at_key(where, "bus"), path + ".bus: unknown bus '" + bus +
                            "'; expected a [[modbus.bus]] id: " + expected_list(bus_ids));
    }
  };
  for (std::size_t i = 0; i < c.chargers.size(); ++i) {
    auto& ch = c.chargers[i];
    check_device("charger", i, ch.id, ch.node, ch.driver, ch.bus, charger_where[i]);
  }
  int transformer_meters = 0;
  for (std::size_t i = 0; i < c.meters.size(); ++i) {
    auto& m = c.meters[i];
    check_device("meter", i, m.id, m.node, m.driver, m.bus, meter_where[i]);
    if (m.role == MeterRole::transformer) {
      ++transformer_meters;
      if (m.node != root_id) {
        errors.add(at_key(meter_where[i], "node"), "meter[" + std::to_string(i + 1) +
                                       "].node: a meter with role = \"transformer\" measures '" +
                                       root_id + "', not '" + m.node + "'");
      }
    }
  }
  check_phases(errors, c, node_where, charger_where);
  check_station_ceilings(errors, c, charger_where);
  if (transformer_meters == 0) {
    errors.warn({}, c.site.transformer.assumed_load_kw
                        ? "no [[meter]] with role = \"transformer\": the limiter runs on [site.transformer] "
                          "assumed_load_kw plus [control] meter_fallback_margin_kw"
                        : "no [[meter]] with role = \"transformer\" and no [site.transformer] assumed_load_kw: "
                          "the limiter cannot see the base load and assumes it fills the limit (no charging)");
  }
  // A node without a meter still carries non-EV load: say which figure stands in for it.
  std::set<std::string> metered;
  for (const auto& m : c.meters)
    if (m.role == MeterRole::feeder) metered.insert(m.node);
  for (std::size_t i = 0; i < c.capacity.size(); ++i) {
    const auto& n = c.capacity[i];
    if (metered.count(n.id) || n.assumed_load_kw || n.assumed_load_share) continue;
    const double share = c.site.transformer.limit_kw > 0 ? std::min(n.limit_kw / c.site.transformer.limit_kw, 1.0) : 1.0;
    errors.warn(node_where[i]->source(),
                "capacity[" + std::to_string(i + 1) + "] '" + n.id + "': no feeder [[meter]] and no assumed_load_kw or "
                "assumed_load_share; its non-EV load is taken as " + number_text(share) +
                " (its limit over the transformer's) of the transformer's non-EV load");
  }
  if (transformer_meters > 1) {
    errors.add({}, "more than one [[meter]] with role = \"transformer\"; keep one");
  }
}

// Profile devices against the shipped profiles: exists, right kind, and what the transport needs.
// A device on a bus set up unlike the device leaves the factory does not answer until one of
// them is changed: better said by check-config than found on site as a silent meter.
void check_factory_settings(Errors& errors, const std::string& path, const drivers::DeviceProfile& p,
                            const ModbusBusConfig& bus, const toml::table* t) {
  const auto& factory = p.modbus;
  const std::string device = p.manufacturer + " " + p.model + " (profile '" + p.id + "')";
  if (bus.transport == ModbusTransport::rtu && factory.factory_serial) {
    const drivers::SerialSettings used{bus.baud, bus.parity, bus.data_bits, bus.stop_bits};
    if (!(used == *factory.factory_serial))
      errors.warn(at_key(t, "bus"), path + ".bus: bus '" + bus.id + "' runs " + used.describe() + ", but a " + device +
                                        " leaves the factory at " + factory.factory_serial->describe() +
                                        "; set the device or the bus so they match");
  }
  if (bus.transport == ModbusTransport::tcp && p.transport == drivers::Transport::modbus_tcp &&
      factory.factory_tcp_port && bus.port != *factory.factory_tcp_port)
    errors.warn(at_key(t, "bus"), path + ".bus: bus '" + bus.id + "' connects to port " + std::to_string(bus.port) +
                                      ", but a " + device + " listens on port " +
                                      std::to_string(*factory.factory_tcp_port) +
                                      " as it leaves the factory; set the device or the bus so they match");
}

// The unit ids a Modbus device is asked at (its own and its points'), each addressable on its
// bus and no other device's there: two devices at one unit answer each other's requests.
void check_units(Errors& errors, std::map<std::pair<std::string, int>, std::string>& taken, const std::string& path,
                 const drivers::DeviceProfile& p, const ModbusBusConfig& bus, std::optional<int> site_unit,
                 const toml::table* t) {
  const int device_unit = site_unit.value_or(p.modbus.unit_id);
  std::set<int> units{device_unit};
  for (const auto& [name, point] : p.points)
    if (point.unit_id) units.insert(*point.unit_id);
  const toml::source_region& at = site_unit ? at_key(t, "unit_id") : t->source();
  const std::string whose = site_unit ? "" : " (the profile's)";
  for (int unit : units) {
    // libmodbus 3.1 addresses 0-247, and 255 over TCP; on RS-485, 0 is the broadcast nobody answers.
    const bool rtu = bus.transport == ModbusTransport::rtu;
    if ((unit > 247 && (rtu || unit != 255)) || (rtu && unit == 0)) {
      errors.add(at, path + ".unit_id: unit " + std::to_string(unit) + whose + " cannot be asked on " +
                         (rtu ? "RS-485" : "Modbus TCP") + " bus '" + bus.id + "' (" +
                         (rtu ? "1-247" : "0-247 or 255") + "); set unit_id to the address set on the device");
      continue;
    }
    const auto [it, fresh] = taken.emplace(std::pair(bus.id, unit), path);
    if (!fresh)
      errors.add(at, path + ".unit_id: unit " + std::to_string(unit) + whose + " on bus '" + bus.id + "' is " +
                         it->second + "'s too; give each device on a bus its own unit id");
  }
}

void check_profiles(Errors& errors, const Config& c, const drivers::ProfileCatalog& catalog,
                    const std::vector<const toml::table*>& charger_where,
                    const std::vector<const toml::table*>& meter_where) {
  std::map<std::pair<std::string, int>, std::string> units_taken;  // (bus, unit) -> device path
  auto check = [&](const std::string& path, drivers::DeviceKind kind, const std::string& profile,
                   const std::string& bus, std::optional<int> unit, const std::string* address,
                   const toml::table* t) {
    const char* kind_name = kind == drivers::DeviceKind::charger ? "charger" : "meter";
    const drivers::DeviceProfile* p = catalog.find(profile);
    if (!p) {
      std::vector<std::string> ids;
      for (const auto& [id, known] : catalog.all()) {
        if (known.kind == kind) ids.push_back(id);
      }
      errors.add(at_key(t, "profile"), path + ".profile: unknown profile '" + profile +
                                           "'; expected one of the " + kind_name +
                                           " profiles: " + join(ids, ", "));
      return;
    }
    if (p->kind != kind) {
      errors.add(at_key(t, "profile"),
                 path + ".profile: '" + profile + "' is a " +
                     (p->kind == drivers::DeviceKind::charger ? "charger" : "meter") +
                     " profile; a [[" + kind_name + "]] needs a " + kind_name + " profile");
      return;
    }
    const bool needs_bus = p->transport != drivers::Transport::mqtt;
    if (needs_bus && bus.empty()) {
      errors.add(t->source(), path + ": missing required key 'bus' (profile '" + profile +
                                  "' speaks " + drivers::to_string(p->transport) +
                                  "; name the [[modbus.bus]] it is wired to)");
    }
    if (!needs_bus && !bus.empty()) {
      errors.add(at_key(t, "bus"), path + ".bus: profile '" + profile +
                                       "' speaks MQTT through the broker; remove bus");
    }
    if (const ModbusBusConfig* b = needs_bus ? c.find_bus(bus) : nullptr) {
      check_factory_settings(errors, path, *p, *b, t);
      if (p->transport != drivers::Transport::dlt645) check_units(errors, units_taken, path, *p, *b, unit, t);
    }
    if (address && p->transport == drivers::Transport::dlt645 && address->empty()) {
      errors.add(t->source(), path + ": missing required key 'address' (the 12-digit DL/T 645 "
                                     "meter address from the nameplate)");
    }
    if (address && p->transport != drivers::Transport::dlt645 && !address->empty()) {
      errors.add(at_key(t, "address"),
                 path + ".address: is used only with DL/T 645 profiles; '" + profile +
                     "' speaks " + drivers::to_string(p->transport));
    }
  };
  for (std::size_t i = 0; i < c.chargers.size(); ++i) {
    const auto& ch = c.chargers[i];
    if (ch.driver != DriverKind::profile || ch.profile.empty()) continue;
    check("charger[" + std::to_string(i + 1) + "]", drivers::DeviceKind::charger, ch.profile,
          ch.bus, ch.unit_id, nullptr, charger_where[i]);
    const drivers::DeviceProfile* p = catalog.find(ch.profile);
    if (p && charger_where[i]->contains("failsafe_timeout_s") &&
        p->failsafe.mechanism != drivers::FailsafeMechanism::timeout_register) {
      errors.add(at_key(charger_where[i], "failsafe_timeout_s"),
                 "charger[" + std::to_string(i + 1) + "].failsafe_timeout_s: " + p->manufacturer + " " + p->model +
                     " (profile '" + ch.profile + "') has no communication-timeout register to set; remove it");
    }
    if (p && !ch.mqtt_base_topic.empty() && p->transport != drivers::Transport::mqtt) {
      errors.add(at_key(charger_where[i], "mqtt_base_topic"),
                 "charger[" + std::to_string(i + 1) + "].mqtt_base_topic: profile '" + ch.profile + "' speaks " +
                     drivers::to_string(p->transport) + ", not MQTT; remove mqtt_base_topic");
    }
  }
  for (std::size_t i = 0; i < c.meters.size(); ++i) {
    const auto& m = c.meters[i];
    if (m.driver != DriverKind::profile || m.profile.empty()) continue;
    check("meter[" + std::to_string(i + 1) + "]", drivers::DeviceKind::meter, m.profile, m.bus, m.unit_id,
          &m.address, meter_where[i]);
  }
}

}  // namespace orderly::gateway::config_detail
