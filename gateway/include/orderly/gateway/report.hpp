#pragma once
// KPIs over any period and the monthly statement, read from the store. Functions of the store's
// contents and the config only: no clock, no gateway state, so the web API, a CLI and tests
// compute the same figures. The method and every definition are in docs/kpi.md.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/settlement.hpp"
#include "orderly/gateway/store.hpp"

namespace orderly::gateway {

// Policy targets for the valley share (the 60 % for all piles, 80 % for private piles),
// reported beside the measured shares.
inline constexpr double kValleyShareTargetAll = 0.60;
inline constexpr double kValleyShareTargetPrivate = 0.80;

// Sessions that end in a period are looked up among those started this long before it; a
// session plugged in for longer is not counted in "requests met" (docs/kpi.md).
inline constexpr std::chrono::days kLongestSession{31};

struct ValleyShareKpi {
  int sessions = 0;                        // sessions started in the period
  double charged_wh = 0;                   // sum of their energy_wh_by_period
  double valley_wh = 0;
  double private_charged_wh = 0;           // private piles only
  double private_valley_wh = 0;
  std::optional<double> all;               // valley_wh / charged_wh; empty when nothing charged
  std::optional<double> private_piles;
};

struct TransformerKpi {
  double limit_kw = 0;                     // [site.transformer] limit_kw
  std::optional<double> peak_kw;           // highest load seen (raw sample or aggregate maximum)
  std::optional<TimePoint> peak_at;
  std::int64_t minutes_above_limit = 0;    // minutes with a raw sample above the limit
  std::int64_t minutes_measured = 0;       // minutes with at least one raw sample
  // Where raw samples have expired (retention), 15-minute aggregates stand in: they tell the
  // peak but not how long it lasted, so slots above the limit are counted apart.
  std::int64_t aggregate_slots = 0;
  std::int64_t aggregate_slots_above_limit = 0;
};

struct RequestsKpi {
  int with_request = 0;                    // sessions ended in the period that had a request
  int met = 0;                             // ... whose met_at <= departure
  std::optional<double> share_met;
};

struct CostKpi {
  int sessions = 0;                        // sessions compared (started in the period, energy > 0)
  int sessions_without_power = 0;          // skipped: no max power known for the pile
  double energy_wh = 0;                    // charged energy of the compared sessions
  double cost_yuan = 0;                    // what they cost (charging only, before V2G credit)
  double uncontrolled_cost_yuan = 0;       // the same energy at full power from plug-in
  std::optional<double> per_kwh;
  std::optional<double> uncontrolled_per_kwh;
};

struct KpiReport {
  TimePoint from{};
  TimePoint to{};
  ValleyShareKpi valley;
  TransformerKpi transformer;
  RequestsKpi requests;
  CostKpi cost;
};

// KPIs over [from, to). Reads sessions and the transformer meter's samples and aggregates one day
// at a time (a month of 1-second samples would not fit in the box's memory). Throws
// std::invalid_argument when to <= from, StoreError when the store cannot be read.
KpiReport compute_kpis(const Store& store, const Config& config, TimePoint from, TimePoint to);

// What the cost of one session would have been charged uncontrolled: at `max_power_w` from
// `started_at` until `energy_wh` is delivered, priced with settle(). Unrounded yuan.
double uncontrolled_cost_yuan(const TariffConfig& tariff, std::chrono::minutes utc_offset,
                              TimePoint started_at, double energy_wh, double max_power_w);

// The JSON the API answers (docs/web-api.md, GET /api/v1/kpi); times in the site's offset.
nlohmann::json to_json(const KpiReport& report, std::chrono::minutes utc_offset);

// A stored session as the API shows it (docs/web-api.md, GET /api/v1/sessions): kWh, yuan,
// times in the site's offset, null for what is not known.
nlohmann::json to_json(const SessionRecord& session, std::chrono::minutes utc_offset);

// ISO 8601 with the site's offset, to the second: "2026-01-05T20:15:00+08:00".
std::string format_local_time(TimePoint t, std::chrono::minutes utc_offset);

// The local month [start, end) as UTC instants.
struct MonthRange {
  TimePoint from{};
  TimePoint to{};
};
MonthRange month_range(std::chrono::year_month month, std::chrono::minutes utc_offset);

// The month's statement rows (sessions started in that local month), as settlement.hpp defines
// them; statement_csv() turns them into the download.
// Statement rows as the API shows them (GET /api/v1/statements/YYYY-MM.json): kWh and yuan.
nlohmann::json to_json(const std::vector<StatementRow>& rows);

std::vector<StatementRow> month_statement(const Store& store, std::chrono::year_month month,
                                          std::chrono::minutes utc_offset);

}  // namespace orderly::gateway
