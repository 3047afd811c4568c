// The [tariff] section and the lookups on it. Every minute of a season's day is resolved to its
// period once, while reading, so tariff_at is an index and not a search through ranges.
#include "orderly/gateway/tariff.hpp"

#include <algorithm>
#include <string>

#include "config_readers.hpp"

namespace orderly::gateway {

namespace config_detail {

std::optional<int> parse_clock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (std::size_t i : {0u, 1u, 3u, 4u}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

namespace {

std::optional<TimeOfDayRange> parse_range(std::string_view s) {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = parse_clock(s.substr(0, dash));
  auto b = parse_clock(s.substr(dash + 1));
  if (!a || !b || *a == 1440 || *a == *b) return std::nullopt;
  return TimeOfDayRange{*a, *b};
}

std::string clock_text(int minute) {
  const int h = minute / 60, m = minute % 60;
  return std::string{static_cast<char>('0' + h / 10), static_cast<char>('0' + h % 10), ':',
                     static_cast<char>('0' + m / 10), static_cast<char>('0' + m % 10)};
}

const char* kPeriodNames[kPeriodCount] = {"sharp", "peak", "flat", "valley"};

std::vector<int> read_months(Section& s, std::string_view key, bool* present) {
  std::vector<int> months;
  const toml::node* n = s.take(key);
  *present = n != nullptr;
  if (!n) return months;
  const toml::array* a = n->as_array();
  bool ok = a != nullptr;
  if (a) {
    for (const toml::node& e : *a) {
      const auto v = e.value<std::int64_t>();
      if (!e.is_integer() || *v < 1 || *v > 12) {
        ok = false;
        break;
      }
      if (std::find(months.begin(), months.end(), *v) != months.end()) {
        s.error(&e, key, "month " + std::to_string(*v) + " is listed twice");
        continue;
      }
      months.push_back(static_cast<int>(*v));
    }
  }
  if (!ok) s.error(n, key, "expected an array of months 1..12, e.g. [7, 8]");
  return months;
}

void read_season(Section& s, TariffSeason& season) {
  const toml::table& t = s.table();
  assign(season.name, s.string("name"));
  bool months_present = false;
  season.months = read_months(s, "months", &months_present);
  if (!months_present) {
    for (int m = 1; m <= 12; ++m) season.months.push_back(m);
  }
  bool sharp_months_present = false;
  season.sharp_months = read_months(s, "sharp_months", &sharp_months_present);
  for (int m : season.sharp_months) {
    if (std::find(season.months.begin(), season.months.end(), m) == season.months.end()) {
      s.error(t.get("sharp_months"), "sharp_months",
              "month " + std::to_string(m) + " is not one of this season's months");
    }
  }

  std::array<bool, kPeriodCount> has_price{};
  if (const toml::table* p = s.subtable("price_yuan_per_kwh", true,
                                        "a table like { peak = 1.0, flat = 0.6, valley = 0.3 }")) {
    Section ps(s.errors(), *p, s.key_path("price_yuan_per_kwh"), s.key_path("price_yuan_per_kwh"));
    for (int i = 0; i < kPeriodCount; ++i) {
      auto v = ps.number(kPeriodNames[i], 0, 20, i != period_index(Period::sharp));
      if (v) season.price_yuan_per_kwh[i] = *v;
      has_price[i] = v.has_value();
    }
    ps.finish();
  }

  const toml::table* h = s.subtable(
      "hours", true, "a table like { valley = [\"23:00-07:00\"], peak = [...], flat = [...] }");
  if (!h) return;
  Section hs(s.errors(), *h, s.key_path("hours"), s.key_path("hours"));
  // owner[minute] = period index covering it (valley/flat/peak must tile the day exactly once).
  std::array<int, 1440> owner;
  owner.fill(-1);
  std::array<bool, 1440> sharp{};
  bool ranges_ok = true;
  for (int i = 0; i < kPeriodCount; ++i) {
    const toml::node* n = hs.take(kPeriodNames[i]);
    if (!n) continue;
    const toml::array* a = n->as_array();
    if (!a) {
      hs.error(n, kPeriodNames[i], "expected an array of ranges like [\"23:00-07:00\"]");
      ranges_ok = false;
      continue;
    }
    for (const toml::node& e : *a) {
      auto text = e.value<std::string>();
      auto range = text && e.is_string() ? parse_range(*text) : std::nullopt;
      if (!range) {
        hs.error(&e, kPeriodNames[i],
                 "expected a range \"HH:MM-HH:MM\" (end may be 24:00 or earlier than start to "
                 "cross midnight), got " +
                     (text ? "\"" + *text + "\"" : std::string(node_type_name(e))));
        ranges_ok = false;
        continue;
      }
      season.ranges[i].push_back(*range);
      for (int m = 0; m < 1440; ++m) {
        if (!range->contains(m)) continue;
        if (i == period_index(Period::sharp)) {
          sharp[m] = true;
        } else if (owner[m] != -1 && owner[m] != i) {
          hs.error(&e, kPeriodNames[i],
                   clock_text(m) + " is already in the " + kPeriodNames[owner[m]] +
                       " hours; every minute belongs to exactly one of peak, flat, valley");
          ranges_ok = false;
          break;
        } else {
          owner[m] = i;
        }
      }
    }
  }
  hs.finish();
  if (!ranges_ok) return;
  for (int m = 0; m < 1440; ++m) {
    if (owner[m] != -1) continue;
    int end = m;
    while (end < 1440 && owner[end] == -1) ++end;
    hs.errors().add(h->source(), hs.path() + ": " + clock_text(m) + "-" + clock_text(end) +
                                     " is in none of peak, flat, valley; every minute of the "
                                     "day needs a period");
    return;
  }
  const bool any_sharp = !season.ranges[period_index(Period::sharp)].empty();
  if (any_sharp && !has_price[period_index(Period::sharp)]) {
    s.errors().add(t.source(), s.path() + ": sharp hours are given but no sharp price; add "
                                          "sharp = <yuan> to price_yuan_per_kwh");
  }
  if (sharp_months_present && !season.sharp_months.empty() && !any_sharp) {
    s.error(t.get("sharp_months"), "sharp_months",
            "sharp_months are given but hours has no sharp ranges");
  }
  // Sharp hours without sharp_months apply in every month of the season.
  if (any_sharp && !sharp_months_present) season.sharp_months = season.months;
  for (int m = 0; m < 1440; ++m) {
    season.period_by_minute[m] = static_cast<Period>(owner[m]);
    season.period_by_minute_sharp[m] = sharp[m] ? Period::sharp : static_cast<Period>(owner[m]);
  }
}

std::optional<std::chrono::year_month_day> read_date(Section& s, std::string_view key) {
  const toml::node* n = s.take(key);
  if (!n) {
    s.missing(key, "the local date the schedule starts, e.g. 2024-01-01");
    return std::nullopt;
  }
  if (auto d = n->value<toml::date>(); d && n->is_date()) {
    std::chrono::year_month_day ymd{std::chrono::year(d->year), std::chrono::month(d->month),
                                    std::chrono::day(d->day)};
    if (ymd.ok()) return ymd;
  }
  s.error(n, key, std::string("expected a date like 2024-01-01 (no quotes), got ") +
                      node_type_name(*n));
  return std::nullopt;
}

}  // namespace

void read_tariff(Section& root, Config& c) {
  const toml::table* t = root.subtable("tariff", true, "the [tariff] section");
  if (!t) return;
  Section s(root.errors(), *t, "tariff", "[tariff]");
  int si = 0;
  for (const toml::table* st : s.tables("schedule", true)) {
    Section ss = s.element("schedule", ++si, *st);
    TariffSchedule schedule;
    auto date = read_date(ss, "effective_from");
    if (date) schedule.effective_from = *date;
    int ni = 0;
    std::array<int, 13> month_owner{};
    for (const toml::table* season_table : ss.tables("season", true)) {
      Section sn = ss.element("season", ++ni, *season_table);
      TariffSeason season;
      season.name = "season " + std::to_string(ni);
      read_season(sn, season);
      sn.finish();
      for (int m : season.months) {
        if (month_owner[m] != 0) {
          sn.errors().add(season_table->source(),
                          sn.path() + ": month " + std::to_string(m) + " is also in season " +
                              std::to_string(month_owner[m]) +
                              "; each month belongs to one season");
        }
        month_owner[m] = ni;
      }
      schedule.seasons.push_back(std::move(season));
    }
    if (ni > 0) {
      std::vector<std::string> missing;
      for (int m = 1; m <= 12; ++m) {
        if (month_owner[m] == 0) missing.push_back(std::to_string(m));
      }
      if (!missing.empty()) {
        ss.errors().add(st->source(), ss.path() + ": months " + join(missing, ", ") +
                                          " are in no season; the seasons must cover all 12");
      }
    }
    ss.finish();
    for (const auto& other : c.tariff.schedules) {
      if (date && other.effective_from == *date) {
        ss.errors().add(st->source(), ss.path() + ": two schedules start on the same date");
      }
    }
    c.tariff.schedules.push_back(std::move(schedule));
  }
  s.finish();
  std::stable_sort(c.tariff.schedules.begin(), c.tariff.schedules.end(),
                   [](const TariffSchedule& a, const TariffSchedule& b) {
                     return a.effective_from < b.effective_from;
                   });
}

}  // namespace config_detail

bool TimeOfDayRange::contains(int minute_of_day) const {
  if (start_minute < end_minute) return minute_of_day >= start_minute && minute_of_day < end_minute;
  return minute_of_day >= start_minute || minute_of_day < end_minute;
}

TariffPoint tariff_at(const TariffConfig& tariff, TimePoint t, std::chrono::minutes utc_offset) {
  using namespace std::chrono;
  if (tariff.schedules.empty()) return {};
  const auto local = floor<minutes>(t) + utc_offset;
  const auto day = floor<days>(local);
  const year_month_day date{sys_days(day)};
  const int minute = static_cast<int>((local - day).count());
  const TariffSchedule* schedule = &tariff.schedules.front();
  for (const auto& s : tariff.schedules) {
    if (s.effective_from <= date) schedule = &s;
  }
  const int month = static_cast<int>(static_cast<unsigned>(date.month()));
  for (const auto& season : schedule->seasons) {
    if (std::find(season.months.begin(), season.months.end(), month) == season.months.end()) {
      continue;
    }
    const bool sharp_month = std::find(season.sharp_months.begin(), season.sharp_months.end(),
                                       month) != season.sharp_months.end();
    const Period p = sharp_month ? season.period_by_minute_sharp[minute]
                                 : season.period_by_minute[minute];
    return {season.price_yuan_per_kwh[period_index(p)], p};
  }
  return {};
}

std::vector<TariffPoint> tariff_series(const TariffConfig& tariff, TimePoint start,
                                       std::chrono::minutes slot, int slots,
                                       std::chrono::minutes utc_offset) {
  std::vector<TariffPoint> out;
  out.reserve(static_cast<std::size_t>(std::max(slots, 0)));
  for (int i = 0; i < slots; ++i) out.push_back(tariff_at(tariff, start + i * slot, utc_offset));
  return out;
}

}  // namespace orderly::gateway
