// How long a KPI query takes (on the API's worker thread): compute_kpis over 7, 31 and 366 days of
// 1-minute transformer samples (what the gateway stores) and 200 piles' sessions (one a pile a
// day), from a SQLite file. The web API refuses periods longer than 366 days (docs/kpi.md).
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/report.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"
#include "report_site.hpp"

namespace {

using namespace orderly;
using namespace orderly::gateway;
using namespace std::chrono;

constexpr int kDays = 366;
constexpr int kPiles = 200;
const TimePoint kStart = sys_days(2025y / January / 1) - hours(8);


struct Site {
  orderly::test::TempDir dir;
  Config config = parse_config(testing::report_site(400, ""), "bench.toml");
  std::unique_ptr<Store> store;

  Site() {
    spdlog::set_level(spdlog::level::warn);
    store = std::make_unique<Store>(dir / "bench.db");
    for (int d = 0; d < kDays; ++d) {
      std::vector<StoreRecord> day;
      for (int m = 0; m < 1440; ++m) {
        MeterSample s;
        s.at = kStart + days(d) + minutes(m);
        s.meter_id = "tm";
        s.power_w = 250000 + 100000 * ((m / 60) % 24 >= 18 && (m / 60) % 24 < 23);
        day.emplace_back(s);
      }
      for (int p = 0; p < kPiles; ++p) {
        SessionRecord r;
        r.id = std::to_string(d) + "-" + std::to_string(p);
        r.charger_id = "p" + std::to_string(p);
        r.household = "h" + std::to_string(p);
        r.started_at = kStart + days(d) + hours(19);
        r.ended_at = r.started_at + hours(11);
        r.max_power_w = 7000;
        r.energy_wh_by_period[period_index(Period::valley)] = 20000;
        r.energy_wh = 20000;
        r.cost_yuan = 6;
        day.emplace_back(r);
      }
      store->write(day);
    }
  }
};

Site& site() {
  static Site s;
  return s;
}

void BM_ComputeKpis(benchmark::State& state) {
  Site& s = site();
  const TimePoint from = kStart;
  const TimePoint to = kStart + days(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(compute_kpis(*s.store, s.config, from, to));
}
BENCHMARK(BM_ComputeKpis)->Arg(7)->Arg(31)->Arg(366)->Unit(benchmark::kMillisecond)->Iterations(3);

// The transformer part alone: one SQL summary a day.
void BM_MeterSummary(benchmark::State& state) {
  Site& s = site();
  for (auto _ : state) {
    for (int d = 0; d < state.range(0); ++d) {
      benchmark::DoNotOptimize(s.store->meter_summary("tm", kStart + days(d), kStart + days(d + 1), 400000));
    }
  }
}
BENCHMARK(BM_MeterSummary)->Arg(366)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_MonthStatement(benchmark::State& state) {
  Site& s = site();
  for (auto _ : state) {
    benchmark::DoNotOptimize(statement_csv(month_statement(*s.store, 2025y / March, hours(8))));
  }
}
BENCHMARK(BM_MonthStatement)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
