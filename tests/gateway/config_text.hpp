#pragma once
// A minimal valid configuration for tests to extend, and a helper that returns the errors a
// text produces (empty when it parses).
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "orderly/gateway/config.hpp"

namespace orderly::gateway::testing {

inline const std::string kMinimalSite = R"(
[site]
name = "Test community"

[site.transformer]
limit_kw = 100
)";

inline const std::string kSimpleTariff = R"(
[tariff]
[[tariff.schedule]]
effective_from = 2024-01-01
[[tariff.schedule.season]]
price_yuan_per_kwh = { peak = 1.0, flat = 0.6, valley = 0.3 }
hours = { valley = ["23:00-07:00"], flat = ["07:00-08:00", "11:00-18:00"], peak = ["08:00-11:00", "18:00-23:00"] }
)";

inline const std::string kMinimal = kMinimalSite + kSimpleTariff;

// The transformer meter and two private 7 kW home piles, p1 (household 1-1-101, phase A) and
// p2 (1-1-102, phase B): the devices the API tests share. Append it last: it ends in tables.
inline const std::string kMeterAndTwoHomePiles = R"(
[[meter]]
id = "tx-meter"
role = "transformer"

[[charger]]
id = "p1"
kind = "private"
household = "1-1-101"
phase = "A"
max_power_kw = 7

[[charger]]
id = "p2"
kind = "private"
household = "1-1-102"
phase = "B"
max_power_kw = 7
)";

// A whole gateway on loopback for tests over HTTP: the web server on 127.0.0.1, the store in
// `db`, a transformer meter "tx-meter" (the piles follow in the caller's text).
inline std::string loopback_store_and_meter(const std::filesystem::path& db) {
  return R"(
[web]
listen = "127.0.0.1"

[store]
path = ")" + db.string() + R"("

[[meter]]
id = "tx-meter"
role = "transformer"
)";
}

// Local (+08:00) wall time on a day of January 2026 (the 5th is a Monday), as the sites above
// keep it.
inline TimePoint january_2026(int day, int hour, int minute, int second = 0) {
  using namespace std::chrono;
  return TimePoint(sys_days(year{2026} / January / day) + hours(hour) + minutes(minute) + seconds(second) - hours(8));
}

inline std::vector<std::string> errors_of(const std::string& text, const drivers::ProfileCatalog* profiles = nullptr) {
  try {
    parse_config(text, "test.toml", profiles);
  } catch (const ConfigError& e) {
    return e.errors();
  }
  return {};
}

}  // namespace orderly::gateway::testing
