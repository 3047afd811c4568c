#include "orderly/gateway/settlement.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <tuple>

namespace orderly::gateway {
namespace {

double seconds_between(TimePoint a, TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string format_time(TimePoint t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  return std::to_string(ms.count()) + " ms since the epoch";
}

std::string fixed(double value, int decimals) {
  char buf[64];
  // + 0.0 turns a negative zero into "0.00" rather than "-0.00".
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value + 0.0);
  return buf;
}

// RFC 4180 quoting, and a leading apostrophe for text Excel would run as a formula (OWASP
// "CSV injection": cells starting with = + - @ are evaluated).
std::string csv_text(const std::string& s) {
  std::string v = s;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) v = "'" + v;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace

double round_yuan(double yuan) {
  const double fen = yuan * 100.0;
  // The nudge keeps 1.005 (stored as 1.00499...) rounding up as a cashier would.
  return std::round(fen + (fen >= 0 ? 1e-7 : -1e-7)) / 100.0 + 0.0;
}

SettlementResult settle(const TariffConfig& tariff, std::chrono::minutes utc_offset,
                        const std::vector<EnergyReading>& readings,
                        double discharge_price_yuan_per_kwh) {
  using namespace std::chrono;
  SettlementResult r;
  for (std::size_t i = 1; i < readings.size(); ++i) {
    const auto& a = readings[i - 1];
    const auto& b = readings[i];
    const double delta_wh = b.session_energy_wh - a.session_energy_wh;
    if (!std::isfinite(a.session_energy_wh) || !std::isfinite(b.session_energy_wh)) {
      throw std::invalid_argument("settlement: reading " + std::to_string(i) +
                                  " is not a finite energy; drop unreadable samples first");
    }
    if (b.at < a.at || (b.at == a.at && delta_wh != 0)) {
      throw std::invalid_argument("settlement: reading " + std::to_string(i) + " at " +
                                  format_time(b.at) + " is not after reading " +
                                  std::to_string(i - 1) + " at " + format_time(a.at) +
                                  "; sort readings by time");
    }
    if (b.at == a.at) continue;
    const double wh_per_s = delta_wh / seconds_between(a.at, b.at);
    // Tariffs change only on whole local minutes (offsets are whole minutes too), so walking
    // minute boundaries and cutting where the tariff differs puts every cut exactly on it.
    TimePoint cursor = a.at;
    while (cursor < b.at) {
      const TariffPoint here = tariff_at(tariff, cursor, utc_offset);
      TimePoint next = floor<minutes>(cursor) + minutes(1);
      while (next < b.at) {
        const TariffPoint there = tariff_at(tariff, next, utc_offset);
        if (there.period != here.period || there.price_yuan_per_kwh != here.price_yuan_per_kwh) {
          break;
        }
        next += minutes(1);
      }
      if (next > b.at) next = b.at;
      const double wh = wh_per_s * seconds_between(cursor, next);
      const int p = period_index(here.period);
      if (wh >= 0) {
        r.charged_wh_by_period[p] += wh;
        r.cost_yuan_by_period[p] += wh / 1000.0 * here.price_yuan_per_kwh;
      } else {
        r.discharged_wh_by_period[p] += -wh;
      }
      cursor = next;
    }
  }
  double cost = 0;
  for (int p = 0; p < kPeriodCount; ++p) {
    r.charged_wh += r.charged_wh_by_period[p];
    r.discharged_wh += r.discharged_wh_by_period[p];
    cost += r.cost_yuan_by_period[p];
  }
  r.cost_yuan = round_yuan(cost);
  r.compensation_yuan = round_yuan(r.discharged_wh / 1000.0 * discharge_price_yuan_per_kwh);
  if (readings.size() >= 2) {
    r.net_energy_wh = readings.back().session_energy_wh - readings.front().session_energy_wh;
  }
  return r;
}

void apply_settlement(SessionRecord& record, const SettlementResult& s) {
  record.energy_wh = s.net_energy_wh;
  for (int p = 0; p < kPeriodCount; ++p) record.energy_wh_by_period[p] = s.charged_wh_by_period[p];
  record.cost_yuan = round_yuan(s.cost_yuan - s.compensation_yuan);
}

std::vector<StatementRow> monthly_statement(const std::vector<SessionRecord>& sessions,
                                            std::chrono::minutes utc_offset) {
  using namespace std::chrono;
  std::map<std::tuple<std::string, std::string, std::string>, StatementRow> rows;
  for (const auto& s : sessions) {
    const year_month_day date{floor<days>(s.started_at + utc_offset)};
    char month[16];
    std::snprintf(month, sizeof month, "%04d-%02u", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()));
    auto& row = rows[{month, s.household, s.rfid}];
    row.month = month;
    row.household = s.household;
    row.rfid = s.rfid;
    row.sessions += 1;
    for (int p = 0; p < kPeriodCount; ++p) row.energy_wh_by_period[p] += s.energy_wh_by_period[p];
    row.energy_wh += s.energy_wh;
    row.cost_yuan += s.cost_yuan;
  }
  std::vector<StatementRow> out;
  out.reserve(rows.size());
  for (auto& [key, row] : rows) {
    row.cost_yuan = round_yuan(row.cost_yuan);
    out.push_back(std::move(row));
  }
  return out;
}

std::string statement_csv(const std::vector<StatementRow>& rows) {
  std::string csv = "\xEF\xBB\xBF";
  csv +=
      "月份 month,户号 household,卡号 rfid,充电次数 sessions,尖峰电量 sharp_kwh,"
      "峰电量 peak_kwh,平电量 flat_kwh,谷电量 valley_kwh,总电量 total_kwh,电费 cost_yuan\r\n";
  for (const auto& r : rows) {
    csv += csv_text(r.month) + "," + csv_text(r.household) + "," + csv_text(r.rfid) + "," +
           std::to_string(r.sessions);
    for (int p = 0; p < kPeriodCount; ++p) csv += "," + fixed(r.energy_wh_by_period[p] / 1000.0, 3);
    csv += "," + fixed(r.energy_wh / 1000.0, 3) + "," + fixed(round_yuan(r.cost_yuan), 2) + "\r\n";
  }
  return csv;
}

}  // namespace orderly::gateway
