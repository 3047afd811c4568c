#include "platform_messages.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "orderly/gateway/tariff.hpp"
#include "orderly/gateway/tcec.hpp"

namespace orderly::gateway::platform_messages {
namespace {

using json = nlohmann::json;
using namespace std::chrono;

double round2(double v) { return std::round(v * 100) / 100; }
double finite_or_zero(double v) { return std::isfinite(v) ? v : 0.0; }
std::string business_time(const Config& c, TimePoint t) { return tcec::business_time(t, c.site.utc_offset); }

// T/CEC 102's period numbering in SumPeriod order is the tariff's: sharp, peak, flat, valley.
constexpr std::array<Period, kPeriodCount> kPeriods = {Period::sharp, Period::peak, Period::flat, Period::valley};

// One ChargeDetails entry per tariff period the session drew energy in: its first and last
// minute in that period, the price there, the energy and its cost. The session's energy is
// settled per period (sessions.cpp), not per contiguous stretch, so a period entered twice
// (flat before and after the peak) is one entry spanning both.
json charge_details(const Config& c, const SessionRecord& s, TimePoint end) {
  struct Span {
    TimePoint first{}, last{};
    double price = 0;
    bool seen = false;
  };
  std::array<Span, kPeriodCount> spans{};
  // A minute's walk; a week bounds a session left plugged in.
  const TimePoint stop = std::min(end, s.started_at + days(7));
  for (TimePoint t = s.started_at; t < stop; t += minutes(1)) {
    const auto point = tariff_at(c.tariff, t, c.site.utc_offset);
    auto& span = spans[static_cast<std::size_t>(period_index(point.period))];
    if (!span.seen) span = {t, t, point.price_yuan_per_kwh, true};
    span.last = std::min(t + minutes(1), stop);
  }
  json details = json::array();
  for (const Period p : kPeriods) {
    const auto i = static_cast<std::size_t>(period_index(p));
    const double kwh = s.energy_wh_by_period[i] / 1000.0;
    if (kwh <= 0 || !spans[i].seen) continue;
    details.push_back({{"DetailStartTime", business_time(c, spans[i].first)},
                       {"DetailEndTime", business_time(c, spans[i].last)},
                       {"ElecPrice", spans[i].price},
                       {"SevicePrice", 0.0},
                       {"DetailPower", round2(kwh)},
                       {"DetailElecMoney", round2(kwh * spans[i].price)},
                       {"DetailSeviceMoney", 0.0}});
  }
  return details;
}

double nominal_voltage_v(const ChargerConfig& c) { return c.phase == Phase::ABC ? 380 : 220; }

}  // namespace

int connector_status(const ChargerControl& charger) {
  if (!charger.reachable()) return 0;
  switch (charger.snapshot.state) {
    case drivers::ChargerState::unplugged: return 1;
    case drivers::ChargerState::plugged: return 2;
    case drivers::ChargerState::charging: return 3;
    case drivers::ChargerState::fault: return 255;
    case drivers::ChargerState::unknown: return 0;
  }
  return 0;
}

json connector_status_info(const std::string& charger_id, const ChargerControl& charger) {
  return {{"ConnectorID", charger_id}, {"Status", connector_status(charger)}, {"ParkStatus", 0}, {"LockStatus", 0}};
}

json stations_info(const Config& config) {
  json equipment = json::array();
  bool any_private = false;
  for (const auto& ch : config.chargers) {
    any_private = any_private || ch.kind == ChargerKind::private_pile;
    const double voltage = nominal_voltage_v(ch);
    const double current = ch.max_power_kw * 1000 / (ch.phase == Phase::ABC ? std::sqrt(3.0) * voltage : voltage);
    equipment.push_back(
        {{"EquipmentID", ch.id},
         {"EquipmentName", ch.name.empty() ? ch.id : ch.name},
         {"EquipmentType", 2},  // AC
         {"Power", ch.max_power_kw},
         {"ConnectorInfos",
          json::array({{{"ConnectorID", ch.id},
                        {"ConnectorName", ch.name.empty() ? ch.id : ch.name},
                        {"ConnectorType", 3},  // AC connector (GB/T 20234.2)
                        {"VoltageUpperLimits", static_cast<int>(voltage)},
                        {"VoltageLowerLimits", static_cast<int>(voltage)},
                        {"Current", static_cast<int>(std::round(current))},
                        {"Power", ch.max_power_kw},
                        {"NationalStandard", 2}}})}});  // 2: GB/T 2015
  }
  json station = {{"StationID", config.platform.station_id},
                  {"OperatorID", config.platform.operator_id},
                  {"EquipmentOwnerID", config.platform.operator_id},
                  {"StationName", config.site.name},
                  {"CountryCode", "CN"},
                  {"StationType", any_private ? 50 : 1},  // 50: private piles (个人), 1: public
                  {"StationStatus", 50},                  // in normal use
                  {"EquipmentInfos", equipment}};
  return {{"PageNo", 1}, {"PageCount", 1}, {"ItemSize", 1}, {"StationInfos", json::array({station})}};
}

json station_status(const Config& config, const Controller& controller) {
  json connectors = json::array();
  for (const auto& [id, c] : controller.chargers()) connectors.push_back(connector_status_info(id, c));
  return {{"StationID", config.platform.station_id}, {"ConnectorStatusInfos", connectors}};
}

json equip_charge_status(const Config& config, const ChargerControl& charger, const SessionRecord& session,
                         TimePoint now) {
  const auto& s = charger.snapshot;
  const double kwh = session.energy_wh / 1000.0;
  json status = {{"StartChargeSeq", session.id},
                 {"StartChargeSeqStat", 2},  // charging
                 {"ConnectorID", session.charger_id},
                 {"ConnectorStatus", connector_status(charger)},
                 {"CurrentA", round2(finite_or_zero(s.current_a[0]))},
                 {"CurrentB", round2(finite_or_zero(s.current_a[1]))},
                 {"CurrentC", round2(finite_or_zero(s.current_a[2]))},
                 {"VoltageA", round2(finite_or_zero(s.voltage_v[0]))},
                 {"VoltageB", round2(finite_or_zero(s.voltage_v[1]))},
                 {"VoltageC", round2(finite_or_zero(s.voltage_v[2]))},
                 {"Soc", 0},  // AC piles do not learn the battery's state of charge
                 {"StartTime", business_time(config, session.started_at)},
                 {"EndTime", business_time(config, now)},
                 {"TotalPower", round2(kwh)},
                 {"ElecMoney", round2(session.cost_yuan)},
                 {"SeviceMoney", 0.0},
                 {"TotalMoney", round2(session.cost_yuan)}};
  const json details = charge_details(config, session, now);
  status["SumPeriod"] = details.size();
  status["ChargeDetails"] = details;
  return status;
}

json charge_order_info(const Config& config, const SessionRecord& session) {
  const TimePoint end = session.ended_at.value_or(session.started_at);
  const json details = charge_details(config, session, end);
  return {{"StartChargeSeq", session.id},
          {"ConnectorID", session.charger_id},
          {"StartTime", business_time(config, session.started_at)},
          {"EndTime", business_time(config, end)},
          {"TotalPower", round2(session.energy_wh / 1000.0)},
          {"TotalElecMoney", round2(session.cost_yuan)},
          {"TotalSeviceMoney", 0.0},
          {"TotalMoney", round2(session.cost_yuan)},
          {"StopReason", 0},  // the car was unplugged
          {"SumPeriod", details.size()},
          {"ChargeDetails", details}};
}

json realtime_power(const Config& config, const Controller& controller, TimePoint now) {
  json equipment = json::array();
  for (const auto& [id, c] : controller.chargers()) {
    const double kw = round2(finite_or_zero(c.snapshot.power_w) / 1000.0);
    equipment.push_back({{"EquipmentID", id},
                         {"EquipmentPower", kw},
                         {"ConnectorPowerInfos", json::array({{{"ConnectorID", id}, {"ConnectorPower", kw}}})}});
  }
  const auto& meter = controller.transformer();
  return {{"StationID", config.platform.station_id},
          {"Time", business_time(config, now)},
          {"StationPower", meter ? json(round2(meter->power_w / 1000.0)) : json(nullptr)},
          {"ChargingPower", round2(controller.charging_w() / 1000.0)},
          {"PowerLimit", controller.transformer_limit_kw(now)},
          {"EquipmentPowerInfos", equipment}};
}

json station_stats(const Config& config, const std::vector<SessionRecord>& sessions, TimePoint from, TimePoint to) {
  std::map<std::string, double> kwh_by_charger;
  for (const auto& ch : config.chargers) kwh_by_charger[ch.id] = 0;
  double total = 0;
  for (const auto& s : sessions) {
    kwh_by_charger[s.charger_id] += s.energy_wh / 1000.0;
    total += s.energy_wh / 1000.0;
  }
  json equipment = json::array();
  for (const auto& [id, kwh] : kwh_by_charger) {
    equipment.push_back({{"EquipmentID", id},
                         {"EquipmentElectricity", round2(kwh)},
                         {"ConnectorStatsInfos", json::array({{{"ConnectorID", id}, {"ConnectorElectricity", round2(kwh)}}})}});
  }
  return {{"StationStats",
           {{"StationID", config.platform.station_id},
            {"StartTime", business_time(config, from).substr(0, 10)},
            {"EndTime", business_time(config, to - seconds(1)).substr(0, 10)},
            {"StationElectricity", round2(total)},
            {"EquipmentStatsInfos", equipment}}}};
}

namespace {

// The fields every per-slot extension message starts with.
json slot_header(const Config& config, const ActivePlan* plan, TimePoint now) {
  return {{"StationID", config.platform.station_id},
          {"Time", business_time(config, now)},
          {"SlotMinutes", config.control.slot_minutes},
          {"SlotStart", plan ? json(business_time(config, plan->grid.start)) : json(nullptr)},
          {"PlanTime", plan ? json(business_time(config, plan->created_at)) : json(nullptr)}};
}

double planned_charging_kw(const ActivePlan& plan, std::size_t k) {
  double kw = 0;
  for (const auto& [id, c] : plan.chargers)
    if (k < c.kw.size()) kw += c.kw[k];
  return kw;
}

std::size_t slot_count(const ActivePlan& plan) {
  return std::min(static_cast<std::size_t>(std::max(plan.grid.slots, 0)), plan.base_kw.size());
}

}  // namespace

json area_load(const Config& config, const Controller& controller, TimePoint now) {
  const ActivePlan* plan = controller.plan();
  const auto& meter = controller.transformer();
  json out = slot_header(config, plan, now);
  out["MeasuredPower"] = meter && std::isfinite(meter->power_w) ? json(round2(meter->power_w / 1000.0)) : json(nullptr);
  out["BasePower"] = round2(controller.base_load_w() / 1000.0);
  out["ChargingPower"] = round2(controller.charging_w() / 1000.0);
  out["PowerLimit"] = controller.transformer_limit_kw(now);
  json forecast = json::array(), planned = json::array(), limits = json::array();
  if (plan) {
    const auto windows = controller.dr_book().windows();
    for (std::size_t k = 0; k < slot_count(*plan); ++k) {
      forecast.push_back(round2(plan->base_kw[k]));
      planned.push_back(round2(plan->base_kw[k] + planned_charging_kw(*plan, k)));
      limits.push_back(transformer_limit_kw(config, windows, plan->grid.slot_start(static_cast<int>(k))));
    }
  }
  out["ForecastBasePower"] = forecast;
  out["PlannedPower"] = planned;
  out["PowerLimits"] = limits;
  return out;
}

json charging_plan(const Config& config, const Controller& controller) {
  const ActivePlan* plan = controller.plan();
  json out = slot_header(config, plan, plan ? plan->created_at : TimePoint{});
  out.erase("Time");
  out["Reason"] = plan ? json(plan->reason) : json(nullptr);
  json equipment = json::array();
  if (plan) {
    for (const auto& [id, c] : plan->chargers) {
      json kw = json::array();
      for (std::size_t k = 0; k < slot_count(*plan); ++k) kw.push_back(k < c.kw.size() ? round2(c.kw[k]) : 0.0);
      equipment.push_back({{"EquipmentID", id}, {"ConnectorID", id}, {"StartChargeSeq", c.session_id},
                           {"ChargeNow", c.asap ? 1 : 0}, {"Powers", kw}});
    }
  }
  out["EquipmentPlans"] = equipment;
  return out;
}

json flexibility(const Config& config, const Controller& controller, TimePoint now) {
  const ActivePlan* plan = controller.plan();
  json out = slot_header(config, plan, now);
  json up = json::array(), down = json::array();
  if (plan) {
    const auto windows = controller.dr_book().windows();
    for (std::size_t k = 0; k < slot_count(*plan); ++k) {
      const double charging = planned_charging_kw(*plan, k);
      double cars_could_take = 0;
      for (const auto& [id, c] : plan->chargers)
        if (k < c.kw.size()) cars_could_take += std::max(0.0, c.max_kw - c.kw[k]);
      const double headroom = transformer_limit_kw(config, windows, plan->grid.slot_start(static_cast<int>(k))) -
                              config.control.safety_margin_kw - plan->base_kw[k] - charging;
      up.push_back(round2(std::clamp(headroom, 0.0, cars_could_take)));
      down.push_back(round2(charging));
    }
  }
  out["UpPower"] = up;
  out["DownPower"] = down;
  return out;
}

json dr_result(const Config& config, const DrResult& r) {
  const auto kw = [](const std::optional<double>& v) { return v ? json(round2(*v)) : json(nullptr); };
  json slots = json::array();
  for (const auto& s : r.slots) {
    const auto actual = s.actual_kw();
    slots.push_back({{"StartTime", business_time(config, s.from)},
                     {"EndTime", business_time(config, s.to)},
                     {"BaselinePower", kw(s.baseline_kw)},
                     {"ActualPower", kw(actual)},
                     {"DeliveredReduction", s.baseline_kw && actual ? json(round2(*s.baseline_kw - *actual)) : json(nullptr)},
                     {"MeasuredSeconds", duration_cast<seconds>(s.measured_for).count()}});
  }
  return {{"EventID", r.request.id},
          {"EventType", r.request.kind == DrKind::peak_shaving ? 1 : 2},
          {"StationID", config.platform.station_id},
          {"StartTime", business_time(config, r.request.start)},
          {"EndTime", business_time(config, r.ended_at)},
          {"Cancelled", r.cancelled ? 1 : 0},
          {"PowerLimit", round2(r.limit_kw)},
          {"SlotMinutes", config.control.slot_minutes},
          {"Slots", slots},
          {"BaselineEnergy", round2(r.baseline_kwh)},
          {"ActualEnergy", round2(r.actual_kwh)},
          {"DeliveredEnergy", round2(r.delivered_kwh())}};
}

OutboxMessage message(std::string kind, std::string message_id, const json& data, TimePoint at,
                      std::string supersede_key) {
  return {std::move(message_id), std::move(kind), data.dump(-1, ' ', false, json::error_handler_t::replace), at,
          std::move(supersede_key)};
}

}  // namespace orderly::gateway::platform_messages
