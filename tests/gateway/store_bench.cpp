// How fast the store takes samples: the batched writer end to end (append from the caller's
// thread, commit on the writer's), and one Store::write transaction of a given size.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"

namespace {

using namespace orderly;
using namespace orderly::gateway;

MeterSample sample(int i) {
  MeterSample m;
  m.at = TimePoint(std::chrono::seconds(1'700'000'000 + i));
  m.meter_id = "m-" + std::to_string(i % 50);
  m.power_w = 1000 + i;
  m.power_w_phase = {300, 300, 400};
  m.current_a = {1, 2, 3};
  m.voltage_v = {230, 230, 230};
  m.import_energy_wh = i;
  m.export_energy_wh = 0;
  return m;
}

void BM_StoreWriterAppendAndFlush(benchmark::State& state) {
  orderly::test::TempDir dir;
  StoreWriter writer(dir / "bench.db");
  int i = 0;
  for (auto _ : state) {
    for (int k = 0; k < state.range(0); ++k) writer.append(sample(i++));
    writer.flush();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["transactions"] = static_cast<double>(writer.transactions());
}
BENCHMARK(BM_StoreWriterAppendAndFlush)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->UseRealTime()  // the work happens on the writer thread
    ->Unit(benchmark::kMillisecond);

void BM_StoreWriteTransaction(benchmark::State& state) {
  orderly::test::TempDir dir;
  Store store(dir / "bench.db");
  std::vector<StoreRecord> batch;
  for (int k = 0; k < state.range(0); ++k) batch.emplace_back(sample(k));
  for (auto _ : state) store.write(batch);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StoreWriteTransaction)->Arg(1)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_LatestMeterSamples(benchmark::State& state) {
  orderly::test::TempDir dir;
  Store store(dir / "bench.db");
  std::vector<StoreRecord> batch;
  for (int k = 0; k < state.range(0); ++k) batch.emplace_back(sample(k));
  store.write(batch);
  for (auto _ : state) benchmark::DoNotOptimize(store.latest_meter_samples());
}
// 50 meters; 72000 rows = one day of 1-minute samples for 50 meters.
BENCHMARK(BM_LatestMeterSamples)->Arg(72000)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // migrations log at info; keep the figures readable
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
