#pragma once
// Settlement: a session's metered energy split by tariff period and priced, and the monthly
// statement the property office bills from. Pure functions, no I/O, no clock. The rules (where
// the cuts fall, rounding, which month a session belongs to, the CSV columns) are in
// docs/settlement.md.
#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/store.hpp"

namespace orderly::gateway {

// One reading of a session's energy counter: cumulative Wh since the session started. A reading
// lower than the previous one is V2G discharge (the counter is net of energy given back).
struct EnergyReading {
  TimePoint at{};
  double session_energy_wh = 0;
};

struct SettlementResult {
  std::array<double, kPeriodCount> charged_wh_by_period{};     // indexed by period_index()
  std::array<double, kPeriodCount> cost_yuan_by_period{};      // unrounded
  std::array<double, kPeriodCount> discharged_wh_by_period{};  // V2G
  double charged_wh = 0;
  double discharged_wh = 0;
  double cost_yuan = 0;             // charged energy x price in force, rounded to 0.01 yuan
  double compensation_yuan = 0;     // discharged energy x discharge price, rounded to 0.01 yuan
  double net_energy_wh = 0;         // last reading - first reading = charged - discharged
};

// Splits the energy between consecutive readings by the tariff in force, assuming constant power
// between two readings, cut exactly at every minute where the period or price changes (midnight,
// season, sharp month, a new schedule's effective date). Readings must be in time order
// (equal times allowed only with equal energy); throws std::invalid_argument naming the reading.
SettlementResult settle(const TariffConfig& tariff, std::chrono::minutes utc_offset,
                        const std::vector<EnergyReading>& readings,
                        double discharge_price_yuan_per_kwh = 0);

// Fills record.energy_wh (net), energy_wh_by_period (charged) and cost_yuan (charging cost minus
// V2G compensation) from a settlement.
void apply_settlement(SessionRecord& record, const SettlementResult& settlement);

// Rounds yuan to fen, half away from zero (GB/T 8170 rounding of the displayed value).
double round_yuan(double yuan);

// ---- monthly statement ----------------------------------------------------------------------

struct StatementRow {
  std::string month;                // local "YYYY-MM" of the session start
  std::string household;
  std::string rfid;                 // empty: sessions without a card
  int sessions = 0;
  std::array<double, kPeriodCount> energy_wh_by_period{};
  double energy_wh = 0;             // net metered energy
  double cost_yuan = 0;             // sum of the sessions' (rounded) costs
};

// One row per (month, household, RFID), sorted by month, household, RFID. Sessions belong to the
// local month they started in. Sessions without a household are grouped under household "".
std::vector<StatementRow> monthly_statement(const std::vector<SessionRecord>& sessions,
                                            std::chrono::minutes utc_offset);

// The statement as CSV for Excel: UTF-8 with a byte-order mark, CRLF line ends (RFC 4180), one
// header row, kWh to 3 decimals, yuan to 2. Columns are listed in docs/settlement.md.
std::string statement_csv(const std::vector<StatementRow>& rows);

}  // namespace orderly::gateway
