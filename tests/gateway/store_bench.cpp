// How fast the store takes samples: the batched writer end to end (append from the caller's
// thread, commit on the writer's), append() while the writer is in a slow commit, and one
// Store::write transaction of a given size.
#include <atomic>
#include <chrono>
#include <thread>

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

// The core appends while the disk takes its time: each iteration starts a commit that sleeps
// 5 ms in before_commit (a slow fsync on worn flash) and times only the appends made meanwhile.
void BM_StoreWriterAppendDuringSlowCommit(benchmark::State& state) {
  orderly::test::TempDir dir;
  // Counted rather than flagged: a preempted benchmark thread may miss the whole 5 ms.
  std::atomic<int> commits_started{0};
  std::atomic<int> commits_ended{0};
  StoreWriter writer(dir / "bench.db", {.flush_interval = std::chrono::hours(1),
                                        .before_commit = [&] {
                                          ++commits_started;
                                          std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                          ++commits_ended;
                                        }});
  int i = 0;
  std::int64_t outlasted = 0;
  for (auto _ : state) {
    const int started = commits_started;
    writer.append(sample(i++));
    writer.commit_soon();
    while (commits_started == started) std::this_thread::yield();
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < state.range(0); ++k) writer.append(sample(i++));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (commits_ended > started) ++outlasted;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    writer.flush();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  // Iterations whose appends outlasted the commit (their figure mixes in an idle writer).
  state.counters["outlasted_commit"] = static_cast<double>(outlasted);
}
BENCHMARK(BM_StoreWriterAppendDuringSlowCommit)
    ->Arg(1000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

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
