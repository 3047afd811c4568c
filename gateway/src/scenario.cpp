#include "orderly/gateway/scenario.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "orderly/base/bounded_json.hpp"
#include "orderly/scheduler/baselines.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/validate.hpp"

namespace orderly::gateway {
namespace {

using nlohmann::json;
using scheduler::Period;

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

std::string describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

// Collects every problem with where it is, instead of stopping at the first.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  void error(const std::string& where, const std::string& what) {
    errors_.push_back(source_ + ": " + (where.empty() ? "" : where + ": ") + what);
  }
  const std::vector<std::string>& errors() const { return errors_; }
  // The capacity tree is read recursively; past the node limit it is said once, not per node.
  bool node_limit_reported = false;

  void only_known(const json& obj, const std::string& where, std::initializer_list<const char*> known) {
    // Keys by name, not a structured binding: clang before 16 (Debian's, for the fuzz build)
    // cannot capture a binding in a lambda.
    for (const auto& item : obj.items()) {
      const std::string& key = item.key();
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        std::string list;
        for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        error(where, "unknown field \"" + key + "\" (known fields: " + list + ")");
      }
    }
  }

  const json* field(const json& obj, const std::string& where, const char* name, bool required) {
    const auto it = obj.find(name);
    if (it == obj.end()) {
      if (required) error(where, std::string("missing required field \"") + name + "\"");
      return nullptr;
    }
    return &*it;
  }

  std::optional<double> number(const json& obj, const std::string& where, const char* name, bool required) {
    const json* v = field(obj, where, name, required);
    if (!v) return std::nullopt;
    if (!v->is_number()) {
      error(where, std::string(name) + " must be a number, got " + describe(*v));
      return std::nullopt;
    }
    return v->get<double>();
  }

  std::optional<int> integer(const json& obj, const std::string& where, const char* name, bool required) {
    const json* v = field(obj, where, name, required);
    if (!v) return std::nullopt;
    const bool integral = v->is_number_integer() ||
                          (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>());
    if (!integral || std::abs(v->get<double>()) > 1e9) {
      error(where, std::string(name) + " must be a whole number, got " + describe(*v));
      return std::nullopt;
    }
    return static_cast<int>(v->get<double>());
  }

  std::optional<std::string> string(const json& obj, const std::string& where, const char* name, bool required) {
    const json* v = field(obj, where, name, required);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      error(where, std::string(name) + " must be a string, got " + describe(*v));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  std::optional<bool> boolean(const json& obj, const std::string& where, const char* name) {
    const json* v = field(obj, where, name, false);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      error(where, std::string(name) + " must be true or false, got " + describe(*v));
      return std::nullopt;
    }
    return v->get<bool>();
  }

  // An array of exactly `slots` numbers; with allow_scalar a single number means every slot.
  std::optional<std::vector<double>> series(const json& v, const std::string& where, const std::string& name,
                                            int slots, bool allow_scalar) {
    if (allow_scalar && v.is_number()) return std::vector<double>(static_cast<std::size_t>(std::max(slots, 0)), v.get<double>());
    if (!v.is_array()) {
      error(where, name + " must be " + (allow_scalar ? "a number or " : "") + "an array of " +
                       std::to_string(slots) + " numbers, got " + describe(v));
      return std::nullopt;
    }
    if (static_cast<int>(v.size()) != slots) {
      error(where, name + " has " + std::to_string(v.size()) + " values, expected slots = " + std::to_string(slots));
      return std::nullopt;
    }
    std::vector<double> out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_number()) {
        error(where, name + "[" + std::to_string(i) + "] must be a number, got " + describe(v[i]));
        return std::nullopt;
      }
      out.push_back(v[i].get<double>());
    }
    return out;
  }

  // [A, B, C]: each a number or `slots` numbers (a per-slot array), or, with allow_null, null
  // for "no limit on this phase".
  std::array<std::vector<double>, scheduler::kPhases> phase_series(const json& v, const std::string& where,
                                                                   const std::string& name, int slots, bool allow_null) {
    std::array<std::vector<double>, scheduler::kPhases> out;
    if (!v.is_array() || v.size() != static_cast<std::size_t>(scheduler::kPhases)) {
      error(where, name + " must be an array of 3 entries [A, B, C], each a number or an array of " +
                       std::to_string(slots) + " numbers" + (allow_null ? " (or null: no limit)" : "") + ", got " +
                       describe(v));
      return out;
    }
    for (std::size_t p = 0; p < out.size(); ++p) {
      if (allow_null && v[p].is_null()) continue;
      const std::string entry = name + "[" + std::to_string(p) + "] (phase " + std::string(1, "ABC"[p]) + ")";
      out[p] = series(v[p], where, entry, slots, true).value_or(std::vector<double>{});
    }
    return out;
  }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

void read_node(Reader& r, const json& v, const std::string& where, int parent, int slots,
               scheduler::Problem& problem) {
  if (!v.is_object()) {
    r.error(where, "a capacity node must be an object {\"id\", \"limit_kw\", \"children\"}, got " + describe(v));
    return;
  }
  if (problem.nodes.size() >= kMaxScenarioNodes) {
    if (!std::exchange(r.node_limit_reported, true))
      r.error(where, "the capacity tree has more than " + std::to_string(kMaxScenarioNodes) +
                         " nodes; split the site into several scenarios");
    return;
  }
  r.only_known(v, where, {"id", "limit_kw", "base_load_kw", "phase_limit_kw", "base_load_phase_kw", "children"});
  scheduler::CapacityNode node;
  node.parent = parent;
  const auto id = r.string(v, where, "id", true);
  node.id = id.value_or("");
  const std::string here = id ? where + " (id \"" + *id + "\")" : where;
  if (const json* limit = r.field(v, here, "limit_kw", true))
    node.limit_kw = r.series(*limit, here, "limit_kw", slots, true).value_or(std::vector<double>{});
  if (const json* base = r.field(v, here, "base_load_kw", false))
    node.base_load_kw = r.series(*base, here, "base_load_kw", slots, true).value_or(std::vector<double>{});
  if (const json* limits = r.field(v, here, "phase_limit_kw", false))
    node.phase_limit_kw = r.phase_series(*limits, here, "phase_limit_kw", slots, true);
  if (const json* base = r.field(v, here, "base_load_phase_kw", false))
    node.base_load_phase_kw = r.phase_series(*base, here, "base_load_phase_kw", slots, false);
  const int index = static_cast<int>(problem.nodes.size());
  problem.nodes.push_back(std::move(node));
  if (const json* children = r.field(v, here, "children", false)) {
    if (!children->is_array()) {
      r.error(here, "children must be an array of capacity nodes, got " + describe(*children));
      return;
    }
    for (std::size_t c = 0; c < children->size(); ++c)
      read_node(r, (*children)[c], where + ".children[" + std::to_string(c) + "]", index, slots, problem);
  }
}

std::optional<Period> period_from_string(const std::string& s) {
  for (const auto p : {Period::sharp, Period::peak, Period::flat, Period::valley})
    if (s == scheduler::to_string(p)) return p;
  return std::nullopt;
}

// The scenario names only what a pile is wired to; any_one is the gateway's (a three-phase
// pile that cannot tell which phase its car uses), not a wiring.
std::optional<scheduler::PhaseSet> phases_from_string(const std::string& s) {
  for (const auto set : {scheduler::PhaseSet::a, scheduler::PhaseSet::b, scheduler::PhaseSet::c, scheduler::PhaseSet::abc})
    if (s == scheduler::to_string(set)) return set;
  return std::nullopt;
}

void read_ev(Reader& r, const json& v, std::size_t i, const std::map<std::string, int>& node_index,
             scheduler::Problem& problem) {
  std::string where = "evs[" + std::to_string(i) + "]";
  if (!v.is_object()) {
    r.error(where, "an EV must be an object, got " + describe(v));
    return;
  }
  scheduler::EvRequest ev;
  if (const auto id = r.string(v, where, "id", true)) {
    ev.id = *id;
    where += " (id \"" + *id + "\")";
  }
  r.only_known(v, where,
               {"id", "node", "arrival_slot", "departure_slot", "energy_kwh", "max_kw", "min_kw", "power_step_kw", "priority", "private",
                "discharge_max_kw", "battery_kwh", "initial_kwh", "reserve_kwh", "discharge_price_per_kwh", "phases"});
  if (const auto node = r.string(v, where, "node", false)) {
    const auto it = node_index.find(*node);
    if (it == node_index.end()) {
      std::string known;
      for (const auto& n : problem.nodes) known += (known.empty() ? "" : ", ") + n.id;
      r.error(where, "node \"" + *node + "\" is not in the capacity tree (known nodes: " + known + ")");
    } else {
      ev.node = it->second;
    }
  }
  ev.arrival_slot = r.integer(v, where, "arrival_slot", true).value_or(0);
  ev.departure_slot = r.integer(v, where, "departure_slot", true).value_or(ev.arrival_slot);
  ev.energy_kwh = r.number(v, where, "energy_kwh", true).value_or(0);
  ev.max_kw = r.number(v, where, "max_kw", true).value_or(0);
  ev.min_kw = r.number(v, where, "min_kw", false).value_or(0);
  ev.power_step_kw = r.number(v, where, "power_step_kw", false).value_or(0);
  ev.priority = r.integer(v, where, "priority", false).value_or(1);
  ev.is_private = r.boolean(v, where, "private").value_or(true);
  ev.discharge_max_kw = r.number(v, where, "discharge_max_kw", false).value_or(0);
  ev.battery_kwh = r.number(v, where, "battery_kwh", false).value_or(0);
  ev.initial_kwh = r.number(v, where, "initial_kwh", false).value_or(0);
  ev.reserve_kwh = r.number(v, where, "reserve_kwh", false).value_or(0);
  ev.discharge_price_per_kwh = r.number(v, where, "discharge_price_per_kwh", false).value_or(0);
  if (const auto phases = r.string(v, where, "phases", false)) {
    if (const auto set = phases_from_string(*phases)) ev.phases = *set;
    else r.error(where, "phases must be \"A\", \"B\", \"C\" or \"ABC\", got \"" + *phases + "\"");
  }
  problem.evs.push_back(std::move(ev));
}

// ISO 8601 with an offset, e.g. 2026-01-05T12:00:00+08:00; only the shape is checked because
// the planner works in slots.
bool looks_like_timestamp(const std::string& s) {
  if (s.size() < 20) return false;
  const std::string shape = "dddd-dd-ddTdd:dd:dd";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != shape[i]) return false;
  }
  const std::string zone = s.substr(19);
  return zone == "Z" || (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':');
}

// To 0.1 W / 0.1 Wh: dividing by a power of ten gives the double nearest the decimal, so the
// JSON shows 1.95 rather than 1.9500000000000002. + 0.0 turns -0 into 0.
double rounded(double v) { return std::round(v * 1e4) / 1e4 + 0.0; }

json rounded_series(const std::vector<double>& v) {
  json out = json::array();
  for (const double x : v) out.push_back(rounded(x));
  return out;
}

}  // namespace

ScenarioError::ScenarioError(const std::vector<std::string>& messages)
    : std::runtime_error(join_lines(messages)), messages_(messages) {}

std::vector<Period> periods_from_prices(const std::vector<double>& price) {
  std::vector<double> levels;
  for (const double p : price)
    if (std::none_of(levels.begin(), levels.end(), [&](double l) { return std::abs(l - p) < 1e-9; })) levels.push_back(p);
  std::sort(levels.begin(), levels.end());
  std::vector<Period> out;
  for (const double p : price) {
    const auto rank = static_cast<std::size_t>(
        std::find_if(levels.begin(), levels.end(), [&](double l) { return std::abs(l - p) < 1e-9; }) - levels.begin());
    Period period = Period::flat;
    if (levels.size() >= 2 && rank == 0) period = Period::valley;
    else if (levels.size() >= 2 && rank == levels.size() - 1) period = levels.size() >= 4 ? Period::sharp : Period::peak;
    else if (levels.size() >= 4 && rank == levels.size() - 2) period = Period::peak;
    out.push_back(period);
  }
  return out;
}

scheduler::Problem parse_scenario(const std::string& json_text, const std::string& source_name) {
  Reader r(source_name);
  auto parsed = bounded_json::parse(json_text, {kMaxScenarioBytes, bounded_json::kDefaultMaxDepth, /*allow_comments=*/true});
  if (!parsed.ok()) {
    if (parsed.error_byte == 0) throw ScenarioError({source_name + ": " + parsed.error});
    // Turn nlohmann's byte offset into line:column, which editors understand.
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i + 1 < parsed.error_byte && i < json_text.size(); ++i) {
      if (json_text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw ScenarioError({source_name + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + parsed.error});
  }
  const json doc = std::move(parsed.value);
  if (!doc.is_object()) throw ScenarioError({source_name + ": the scenario must be a JSON object, got " + describe(doc)});

  r.only_known(doc, "", {"start", "slot_minutes", "slots", "capacity", "base_load_kw", "base_load_phase_kw", "price_per_kwh", "period", "evs"});
  scheduler::Problem problem;
  if (const auto start = r.string(doc, "", "start", false); start && !looks_like_timestamp(*start))
    r.error("start", "\"" + *start + "\" is not an ISO 8601 time with offset such as 2026-01-05T12:00:00+08:00");
  problem.slot_minutes = r.number(doc, "", "slot_minutes", false).value_or(15);
  const auto slots = r.integer(doc, "", "slots", true);
  if (slots && *slots <= 0) r.error("slots", "must be positive, got " + std::to_string(*slots));
  if (slots && *slots > kMaxScenarioSlots)
    r.error("slots", std::to_string(*slots) + " is more than the " + std::to_string(kMaxScenarioSlots) +
                         " a scenario may plan (a week of 5-minute slots); plan a shorter horizon");
  // Every array length depends on it.
  if (!slots || *slots <= 0 || *slots > kMaxScenarioSlots) throw ScenarioError(r.errors());
  problem.slots = *slots;

  if (const json* capacity = r.field(doc, "", "capacity", true)) read_node(r, *capacity, "capacity", -1, *slots, problem);
  std::map<std::string, int> node_index;
  for (std::size_t n = 0; n < problem.nodes.size(); ++n) {
    if (!node_index.emplace(problem.nodes[n].id, static_cast<int>(n)).second)
      r.error("capacity", "duplicate node id \"" + problem.nodes[n].id + "\"");
  }

  if (const json* base = r.field(doc, "", "base_load_kw", false)) {
    if (!problem.nodes.empty() && !problem.nodes[0].base_load_kw.empty())
      r.error("base_load_kw", "given both at the top level and in capacity; give the root's base load once");
    else if (auto series = r.series(*base, "", "base_load_kw", *slots, false); series && !problem.nodes.empty())
      problem.nodes[0].base_load_kw = std::move(*series);
  }
  if (const json* base = r.field(doc, "", "base_load_phase_kw", false)) {
    if (!problem.nodes.empty() && scheduler::has_phase_base_load(problem.nodes[0]))
      r.error("base_load_phase_kw", "given both at the top level and in capacity; give the root's once");
    else if (!problem.nodes.empty())
      problem.nodes[0].base_load_phase_kw = r.phase_series(*base, "", "base_load_phase_kw", *slots, false);
  }
  if (const json* price = r.field(doc, "", "price_per_kwh", true))
    problem.price_per_kwh = r.series(*price, "", "price_per_kwh", *slots, false).value_or(std::vector<double>{});

  if (const json* period = r.field(doc, "", "period", false)) {
    if (!period->is_array() || static_cast<int>(period->size()) != *slots) {
      r.error("period", "must be an array of " + std::to_string(*slots) +
                            " of \"sharp\", \"peak\", \"flat\", \"valley\", got " + describe(*period));
    } else {
      for (std::size_t t = 0; t < period->size(); ++t) {
        const auto& p = (*period)[t];
        const auto parsed = p.is_string() ? period_from_string(p.get<std::string>()) : std::nullopt;
        if (!parsed) {
          r.error("period[" + std::to_string(t) + "]", "must be \"sharp\", \"peak\", \"flat\" or \"valley\", got " + describe(p));
          problem.period.push_back(Period::flat);
        } else {
          problem.period.push_back(*parsed);
        }
      }
    }
  } else if (problem.price_per_kwh.size() == static_cast<std::size_t>(*slots)) {
    problem.period = periods_from_prices(problem.price_per_kwh);
  }

  if (const json* evs = r.field(doc, "", "evs", true)) {
    if (!evs->is_array()) {
      r.error("evs", "must be an array of EVs, got " + describe(*evs));
    } else if (evs->size() > kMaxScenarioEvs) {
      r.error("evs", std::to_string(evs->size()) + " EVs are more than the " + std::to_string(kMaxScenarioEvs) +
                         " a scenario may hold; split it into several scenarios");
    } else {
      for (std::size_t i = 0; i < evs->size(); ++i) read_ev(r, (*evs)[i], i, node_index, problem);
    }
  }
  if (!r.errors().empty()) throw ScenarioError(r.errors());

  std::vector<std::string> invariant_errors;
  for (const auto& p : scheduler::problems(problem)) invariant_errors.push_back(source_name + ": " + p);
  if (!invariant_errors.empty()) throw ScenarioError(invariant_errors);
  return problem;
}

json kpi_to_json(const scheduler::Kpi& k) {
  return json{{"energy_requested_kwh", rounded(k.energy_requested_kwh)},
              {"energy_delivered_kwh", rounded(k.energy_delivered_kwh)},
              {"energy_discharged_kwh", rounded(k.energy_discharged_kwh)},
              {"sessions_total", k.sessions_total},
              {"sessions_met", k.sessions_met},
              {"cost_yuan", rounded(k.cost_yuan)},
              {"peak_kw", rounded(k.peak_kw)},
              {"overload_slots", k.overload_slots},
              {"valley_share", rounded(k.valley_share)},
              {"valley_share_private", rounded(k.valley_share_private)}};
}

json plan_to_json(const scheduler::Problem& problem, const scheduler::Plan& plan, double solve_ms) {
  const auto delivered = scheduler::delivered_kwh(problem, plan);
  const auto charging = scheduler::total_charging_kw(problem, plan);
  json evs = json::array();
  for (std::size_t i = 0; i < problem.evs.size(); ++i) {
    const auto& ev = problem.evs[i];
    evs.push_back({{"id", ev.id},
                   {"kw", rounded_series(i < plan.ev_kw.size() ? plan.ev_kw[i] : std::vector<double>(
                                                                                      static_cast<std::size_t>(problem.slots), 0.0))},
                   {"energy_kwh", rounded(delivered[i])},
                   {"requested_kwh", rounded(ev.energy_kwh)},
                   {"met", delivered[i] >= ev.energy_kwh - scheduler::kSessionMetToleranceKwh}});
  }
  std::vector<double> root_load = charging;
  if (!problem.nodes.empty())
    for (std::size_t t = 0; t < root_load.size() && t < problem.nodes[0].base_load_kw.size(); ++t)
      root_load[t] += problem.nodes[0].base_load_kw[t];
  const auto node_load = scheduler::node_load_kw(problem, plan);
  const auto phase_load = scheduler::node_phase_load_kw(problem, plan);
  json nodes = json::array();
  for (std::size_t n = 0; n < problem.nodes.size(); ++n) {
    json phases = json::array();
    for (const auto& series : phase_load[n]) phases.push_back(rounded_series(series));
    nodes.push_back({{"id", problem.nodes[n].id}, {"load_kw", rounded_series(node_load[n])}, {"phase_load_kw", std::move(phases)}});
  }
  return json{{"status", plan.status == scheduler::Plan::Status::optimal ? "optimal" : "capacity_short"},
              {"nodes", std::move(nodes)},
              {"slots", problem.slots},
              {"slot_minutes", problem.slot_minutes},
              {"evs", std::move(evs)},
              {"total_kw", rounded_series(charging)},
              {"root_load_kw", rounded_series(root_load)},
              {"kpi", kpi_to_json(scheduler::compute_kpi(problem, plan))},
              {"kpi_uncontrolled", kpi_to_json(scheduler::compute_kpi(problem, scheduler::plan_uncontrolled(problem)))},
              {"solve_ms", std::round(solve_ms * 1000.0) / 1000.0}};
}

}  // namespace orderly::gateway
