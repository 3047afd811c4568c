// KPIs and statements from the store (docs/kpi.md).
#include "orderly/gateway/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

namespace orderly::gateway {
namespace {

using namespace std::chrono;

constexpr int kValley = period_index(Period::valley);

double sum(const std::array<double, kPeriodCount>& wh) {
  double total = 0;
  for (double v : wh) total += v;
  return total;
}

std::optional<double> ratio(double part, double whole) {
  if (!(whole > 0)) return std::nullopt;
  return part / whole;
}

const MeterConfig* transformer_meter(const Config& config) {
  for (const auto& m : config.meters) {
    if (m.role == MeterRole::transformer) return &m;
  }
  return nullptr;
}

nlohmann::json optional_json(const std::optional<double>& v, int decimals) {
  if (!v) return nullptr;
  const double scale = std::pow(10.0, decimals);
  return std::round(*v * scale) / scale;
}

double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale + 0.0;
}

nlohmann::json kwh_by_period(const std::array<double, kPeriodCount>& wh) {
  nlohmann::json out = nlohmann::json::object();
  for (Period p : {Period::sharp, Period::peak, Period::flat, Period::valley}) {
    out[scheduler::to_string(p)] = rounded(wh[period_index(p)] / 1000.0, 3);
  }
  return out;
}

void add_valley_share(ValleyShareKpi& k, const SessionRecord& s) {
  const double charged = sum(s.energy_wh_by_period);
  const double valley = s.energy_wh_by_period[kValley];
  ++k.sessions;
  k.charged_wh += charged;
  k.valley_wh += valley;
  if (s.is_private) {
    k.private_charged_wh += charged;
    k.private_valley_wh += valley;
  }
}

// The pile's rating when the session predates schema 3 (no max_power_w recorded).
double max_power_w_of(const SessionRecord& s, const Config& config) {
  if (s.max_power_w > 0) return s.max_power_w;
  if (const auto* c = config.find_charger(s.charger_id)) return c->max_power_kw * 1000.0;
  return 0;
}

void add_cost(CostKpi& k, const SessionRecord& s, const Config& config) {
  const double charged = sum(s.energy_wh_by_period);
  if (!(charged > 0)) return;
  const double power_w = max_power_w_of(s, config);
  if (!(power_w > 0)) {
    ++k.sessions_without_power;
    return;
  }
  ++k.sessions;
  k.energy_wh += charged;
  // cost_yuan is net of the V2G credit; the comparison is about buying energy.
  k.cost_yuan += s.cost_yuan + s.compensation_yuan;
  k.uncontrolled_cost_yuan +=
      uncontrolled_cost_yuan(config.tariff, config.site.utc_offset, s.started_at, charged, power_w);
}

}  // namespace

double uncontrolled_cost_yuan(const TariffConfig& tariff, std::chrono::minutes utc_offset,
                              TimePoint started_at, double energy_wh, double max_power_w) {
  if (!(energy_wh > 0) || !(max_power_w > 0)) return 0;
  const auto charging = duration_cast<Duration>(duration<double>(energy_wh / max_power_w * 3600.0));
  const auto s = settle(tariff, utc_offset, {{started_at, 0}, {started_at + charging, energy_wh}});
  double cost = 0;
  for (double c : s.cost_yuan_by_period) cost += c;
  return cost;
}

KpiReport compute_kpis(const Store& store, const Config& config, TimePoint from, TimePoint to) {
  if (to <= from) {
    throw std::invalid_argument("KPI period is empty: 'to' must be after 'from'");
  }
  KpiReport r;
  r.from = from;
  r.to = to;

  // Energy and cost: sessions started in the period (the statement's rule, so the KPIs of a
  // month match its bill). Requests: sessions ended in the period, which may have started up to
  // kLongestSession earlier.
  for (const auto& s : store.sessions(from - kLongestSession, to)) {
    if (s.started_at >= from) {
      add_valley_share(r.valley, s);
      add_cost(r.cost, s, config);
    }
    const bool ended_here = s.ended_at && *s.ended_at >= from && *s.ended_at < to;
    if (ended_here && s.requested_wh > 0 && s.departure) {
      ++r.requests.with_request;
      if (s.met_at && *s.met_at <= *s.departure) ++r.requests.met;
    }
  }
  r.valley.all = ratio(r.valley.valley_wh, r.valley.charged_wh);
  r.valley.private_piles = ratio(r.valley.private_valley_wh, r.valley.private_charged_wh);
  r.requests.share_met = r.requests.with_request > 0
                             ? std::optional<double>(double(r.requests.met) / r.requests.with_request)
                             : std::nullopt;
  r.cost.per_kwh = ratio(r.cost.cost_yuan, r.cost.energy_wh / 1000.0);
  r.cost.uncontrolled_per_kwh = ratio(r.cost.uncontrolled_cost_yuan, r.cost.energy_wh / 1000.0);

  r.transformer.limit_kw = config.site.transformer.limit_kw;
  if (const MeterConfig* meter = transformer_meter(config)) {
    const double limit_w = r.transformer.limit_kw * 1000.0;
    auto& t = r.transformer;
    auto take_peak = [&](double power_w, TimePoint at) {
      if (!t.peak_kw || power_w / 1000.0 > *t.peak_kw) {
        t.peak_kw = power_w / 1000.0;
        t.peak_at = at;
      }
    };
    // One day at a time keeps SQLite's working set small; cuts fall on whole minutes so no
    // minute is counted in two days.
    for (TimePoint day = from; day < to;) {
      const TimePoint end = std::min(to, TimePoint(floor<minutes>(day + days(1))));
      const MeterSummary raw = store.meter_summary(meter->id, day, end, limit_w);
      t.minutes_measured += raw.minutes_measured;
      t.minutes_above_limit += raw.minutes_above;
      if (raw.peak_w) take_peak(*raw.peak_w, *raw.peak_at);
      // Aggregates stand in only where raw samples are gone. Retention folds and deletes
      // whole slots in one transaction, so a day has either, except on the day of the cut;
      // slots still holding raw samples are measured by those.
      for (const auto& a : store.meter_aggregates(meter->id, day, end)) {
        if (!std::isfinite(a.max_power_w)) continue;
        if (raw.minutes_measured > 0 &&
            store.meter_summary(meter->id, a.slot_start, a.slot_start + minutes(15), limit_w).peak_w) {
          continue;
        }
        ++t.aggregate_slots;
        if (a.max_power_w > limit_w) ++t.aggregate_slots_above_limit;
        take_peak(a.max_power_w, a.slot_start);
      }
      day = end;
    }
  }
  return r;
}

std::string format_local_time(TimePoint t, std::chrono::minutes utc_offset) {
  const auto local = floor<seconds>(t) + utc_offset;
  const std::time_t tt = SysClock::to_time_t(local);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const long off = utc_offset.count();
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
                std::labs(off) / 60, std::labs(off) % 60);
  return buf;
}

nlohmann::json to_json(const KpiReport& r, std::chrono::minutes utc_offset) {
  auto time_or_null = [&](const std::optional<TimePoint>& t) -> nlohmann::json {
    return t ? nlohmann::json(format_local_time(*t, utc_offset)) : nlohmann::json(nullptr);
  };
  const auto& v = r.valley;
  const auto& t = r.transformer;
  const auto& q = r.requests;
  const auto& c = r.cost;
  return {
      {"from", format_local_time(r.from, utc_offset)},
      {"to", format_local_time(r.to, utc_offset)},
      {"valley_share",
       {{"all", optional_json(v.all, 4)},
        {"private", optional_json(v.private_piles, 4)},
        {"target_all", kValleyShareTargetAll},
        {"target_private", kValleyShareTargetPrivate},
        {"sessions", v.sessions},
        {"charged_kwh", rounded(v.charged_wh / 1000.0, 3)},
        {"valley_kwh", rounded(v.valley_wh / 1000.0, 3)},
        {"private_charged_kwh", rounded(v.private_charged_wh / 1000.0, 3)},
        {"private_valley_kwh", rounded(v.private_valley_wh / 1000.0, 3)}}},
      {"transformer",
       {{"limit_kw", t.limit_kw},
        {"peak_kw", optional_json(t.peak_kw, 2)},
        {"peak_at", time_or_null(t.peak_at)},
        {"minutes_above_limit", t.minutes_above_limit},
        {"minutes_measured", t.minutes_measured},
        {"aggregate_slots", t.aggregate_slots},
        {"aggregate_slots_above_limit", t.aggregate_slots_above_limit}}},
      {"requests",
       {{"with_request", q.with_request}, {"met", q.met}, {"share_met", optional_json(q.share_met, 4)}}},
      {"cost",
       {{"sessions", c.sessions},
        {"sessions_without_power", c.sessions_without_power},
        {"energy_kwh", rounded(c.energy_wh / 1000.0, 3)},
        {"cost_yuan", round_yuan(c.cost_yuan)},
        {"per_kwh", optional_json(c.per_kwh, 4)},
        {"uncontrolled_cost_yuan", round_yuan(c.uncontrolled_cost_yuan)},
        {"uncontrolled_per_kwh", optional_json(c.uncontrolled_per_kwh, 4)},
        {"saving_yuan", round_yuan(c.uncontrolled_cost_yuan - c.cost_yuan)}}},
  };
}

nlohmann::json to_json(const SessionRecord& s, std::chrono::minutes utc_offset) {
  auto time_or_null = [&](const std::optional<TimePoint>& t) -> nlohmann::json {
    return t ? nlohmann::json(format_local_time(*t, utc_offset)) : nlohmann::json(nullptr);
  };
  return {{"id", s.id},
          {"charger", s.charger_id},
          {"household", s.household},
          {"rfid", s.rfid},
          {"kind", s.is_private ? "private" : "shared"},
          {"started_at", format_local_time(s.started_at, utc_offset)},
          {"ended_at", time_or_null(s.ended_at)},
          {"energy_kwh", rounded(s.energy_wh / 1000.0, 3)},
          {"energy_kwh_by_period", kwh_by_period(s.energy_wh_by_period)},
          {"cost_yuan", s.cost_yuan},
          {"discharged_kwh", rounded(s.discharged_wh / 1000.0, 3)},
          {"compensation_yuan", s.compensation_yuan},
          {"max_power_kw", rounded(s.max_power_w / 1000.0, 3)},
          {"departure", time_or_null(s.departure)},
          {"requested_kwh", rounded(s.requested_wh / 1000.0, 3)},
          {"request_source", s.request_source},
          {"boost", s.boost},
          {"not_before", time_or_null(s.not_before)},
          {"met_at", time_or_null(s.met_at)}};
}

nlohmann::json to_json(const std::vector<StatementRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    out.push_back({{"month", r.month},
                   {"household", r.household},
                   {"rfid", r.rfid},
                   {"sessions", r.sessions},
                   {"energy_kwh_by_period", kwh_by_period(r.energy_wh_by_period)},
                   {"energy_kwh", rounded(r.energy_wh / 1000.0, 3)},
                   {"cost_yuan", r.cost_yuan}});
  }
  return out;
}

MonthRange month_range(std::chrono::year_month month, std::chrono::minutes utc_offset) {
  const TimePoint first = TimePoint(sys_days(month / 1)) - utc_offset;
  const TimePoint next = TimePoint(sys_days((month + months(1)) / 1)) - utc_offset;
  return {first, next};
}

std::vector<StatementRow> month_statement(const Store& store, std::chrono::year_month month,
                                          std::chrono::minutes utc_offset) {
  const MonthRange range = month_range(month, utc_offset);
  return monthly_statement(store.sessions(range.from, range.to), utc_offset);
}

}  // namespace orderly::gateway
