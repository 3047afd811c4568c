#pragma once
// The site the report and API tests share: the simple tariff of tests/gateway/config_text.hpp
// (peak 1.0 08-11 and 18-23, flat 0.6, valley 0.3 23-07 yuan/kWh), UTC+8, a transformer meter
// "tm", and whatever a test appends (chargers, [store], [web]).
#include <chrono>
#include <string>

#include "../gateway/config_text.hpp"
#include "orderly/base/clock.hpp"

namespace orderly::gateway::testing {

inline std::string report_site(int limit_kw, const std::string& more) {
  return "[site]\nname = \"report test\"\nutc_offset = \"+08:00\"\n[site.transformer]\nlimit_kw = " +
         std::to_string(limit_kw) + "\n" + kSimpleTariff + "[[meter]]\nid = \"tm\"\nrole = \"transformer\"\n" + more;
}

// The API tests' site, also the fuzz targets' (tests/fuzz/fuzz_site.hpp): a private pile of
// household 1-101 on phase A and a shared one on B, 7 kW each, 50 kW transformer.
inline std::string two_pile_site(const std::string& more) {
  return report_site(50, R"(
[[charger]]
id = "p1"
kind = "private"
household = "1-101"
phase = "A"
max_power_kw = 7
[[charger]]
id = "s1"
kind = "shared"
phase = "B"
max_power_kw = 7
)" + more);
}

inline constexpr std::chrono::minutes kSiteOffset{8 * 60};

// A local (UTC+8) wall-clock time.
inline TimePoint local(int y, unsigned m, unsigned d, int hh, int mm = 0, int ss = 0) {
  using namespace std::chrono;
  return sys_days(year{y} / month{m} / day{d}) + hours(hh) + minutes(mm) + seconds(ss) - kSiteOffset;
}

}  // namespace orderly::gateway::testing
