// Issue 16: what the store writer reports committed survives a power cut at any write or fsync,
// and the file stays consistent. Each run streams sessions (upserted as their energy grows),
// platform outbox messages, device commands and meter samples through a StoreWriter on the crash
// VFS while a second connection checkpoints (as the platform sender's does), cuts the power at a
// write or fsync drawn from a seed, reopens and checks every acknowledged record.
//
// ORDERLY_POWER_CUTS (default 60) sets the number of runs; ORDERLY_POWER_CUT_SEED the first seed.
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "crash_vfs.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using orderly::test::CrashVfs;

const TimePoint kT0 = TimePoint(sys_days(2026y / December / 7) + hours(2));

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::strtoull(text, nullptr, 10) : fallback;
}

// Record i of the stream, whose kind is i % 4: what it writes and how to find it again.
StoreRecord record(int i) {
  const TimePoint at = kT0 + seconds(i);
  switch (i % 4) {
    case 0: {
      SessionRecord s;
      s.id = "s" + std::to_string(i / 40);  // ten upserts per session, energy growing
      s.charger_id = "p-1";
      s.started_at = kT0;
      s.energy_wh = i;
      return s;
    }
    case 1:
      return OutboxMessage{"m" + std::to_string(i), "notification_charge_order_info", R"({"n":1})", at, ""};
    case 2:
      return CommandRecord{at, "p-1", "limit", R"({"limit_w":3680})", static_cast<std::uint64_t>(i), {}, ""};
    default: {
      MeterSample m;
      m.at = at;
      m.meter_id = "tm-1";
      m.power_w = i;
      return m;
    }
  }
}

// What a reopened file must hold for the records acknowledged: the "nothing lost" check.
std::string missing(const Store& store, const std::set<int>& acknowledged) {
  std::map<std::string, double> session_energy;
  std::set<std::string> messages;
  std::set<std::uint64_t> commands;
  std::set<TimePoint> samples;
  for (int i : acknowledged) {
    const StoreRecord r = record(i);
    if (const auto* s = std::get_if<SessionRecord>(&r)) session_energy[s->id] = std::max(session_energy[s->id], s->energy_wh);
    if (const auto* m = std::get_if<OutboxMessage>(&r)) messages.insert(m->message_id);
    if (const auto* c = std::get_if<CommandRecord>(&r)) commands.insert(c->seq);
    if (const auto* m = std::get_if<MeterSample>(&r)) samples.insert(m->at);
  }
  std::string out;
  for (const auto& [id, energy] : session_energy) {
    const auto s = store.session(id);
    if (!s || s->energy_wh < energy) out += " session " + id + " at " + std::to_string(energy) + " Wh;";
  }
  for (const auto& e : store.outbox(100000)) messages.erase(e.message.message_id);
  for (const auto& c : store.recent_commands(100000)) commands.erase(c.seq);
  for (const auto& m : store.meter_samples("tm-1", kT0, kT0 + hours(24))) samples.erase(m.at);
  out += messages.empty() ? "" : " " + std::to_string(messages.size()) + " outbox messages;";
  out += commands.empty() ? "" : " " + std::to_string(commands.size()) + " commands;";
  out += samples.empty() ? "" : " " + std::to_string(samples.size()) + " meter samples;";
  return out;
}

struct RunOutcome {
  std::set<int> acknowledged;
  std::uint64_t operations = 0;
  bool cut = false;
};

// One stream of `records` through a writer, with the power cut at operation `cut_at` (0: never).
RunOutcome run_stream(const std::filesystem::path& path, int records, std::uint64_t cut_at) {
  CrashVfs& vfs = CrashVfs::install();
  { Store create(path); }  // the schema exists before the power is at risk
  RunOutcome out;
  std::mutex mutex;
  std::map<std::uint64_t, int> record_of_seq;
  {
    StoreWriter writer(path, {.flush_interval = milliseconds(2),
                              .max_batch = 25,
                              .on_commit = [&](const CommitReport& r) {
                                if (!r.committed) return;
                                std::lock_guard lock(mutex);
                                for (auto seq = r.first_seq; seq <= r.last_seq; ++seq)
                                  out.acknowledged.insert(record_of_seq.at(seq));
                              }});
    sqlite3* checkpointer = nullptr;
    sqlite3_open(path.c_str(), &checkpointer);
    sqlite3_busy_timeout(checkpointer, 1000);
    vfs.cut_after(cut_at);
    for (int i = 0; i < records && !vfs.cut(); ++i) {
      {
        std::lock_guard lock(mutex);
        record_of_seq[writer.append(record(i))] = i;  // on_commit only reports flushed seqs
      }
      if (i % 50 == 49) writer.flush();
      if (i % 150 == 149) sqlite3_exec(checkpointer, "PRAGMA wal_checkpoint(PASSIVE)", nullptr, nullptr, nullptr);
    }
    writer.flush();
    sqlite3_close(checkpointer);
    writer.stop();
  }
  out.operations = vfs.operations();
  out.cut = vfs.cut();
  vfs.disarm();
  std::filesystem::remove(path.string() + "-shm");  // shared memory does not outlive the power
  return out;
}

TEST(StorePowerLoss, EveryAcknowledgedRecordSurvivesACutAtAnyWriteOrFsync) {
  CrashVfs& vfs = CrashVfs::install();
  constexpr int kRecords = 600;
  const std::uint64_t runs = env_or("ORDERLY_POWER_CUTS", 60);
  const std::uint64_t first_seed = env_or("ORDERLY_POWER_CUT_SEED", 1);

  // The span to cut in: the writes and fsyncs of one whole stream without a cut.
  vfs.reset(0);
  std::uint64_t span = 0;
  {
    orderly::test::TempDir dir;
    const auto whole = run_stream(dir / "orderly.db", kRecords, 0);
    ASSERT_EQ(whole.acknowledged.size(), static_cast<std::size_t>(kRecords));
    span = whole.operations;
  }
  ASSERT_GT(span, 50u);

  std::uint64_t cuts = 0, lost_writes = 0, acknowledged = 0;
  for (std::uint64_t seed = first_seed; seed < first_seed + runs; ++seed) {
    SCOPED_TRACE("ORDERLY_POWER_CUT_SEED=" + std::to_string(seed) + " ORDERLY_POWER_CUTS=1");
    vfs.reset(seed);
    std::mt19937_64 rng(seed);
    const std::uint64_t cut_at = 1 + rng() % span;
    orderly::test::TempDir dir;
    const auto path = dir / "orderly.db";
    const auto outcome = run_stream(path, kRecords, cut_at);
    cuts += outcome.cut;
    lost_writes += vfs.writes_lost();
    acknowledged += outcome.acknowledged.size();
    Store reopened(path);
    ASSERT_EQ(reopened.integrity_check(), "ok") << "cut at operation " << cut_at;
    const std::string lost = missing(reopened, outcome.acknowledged);
    ASSERT_EQ(lost, "") << "acknowledged but lost after a cut at operation " << cut_at << " of " << span;
  }
  // The drill bit: cuts happened with unsynced writes to lose, and records were acknowledged
  // before them.
  EXPECT_GT(cuts, runs / 2);
  EXPECT_GT(lost_writes, 0u);
  EXPECT_GT(acknowledged, 0u);
  std::printf("power cuts: %llu of %llu runs cut, %llu unsynced writes lost or torn, %llu records "
              "acknowledged before the cuts, span %llu operations\n",
              static_cast<unsigned long long>(cuts), static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(lost_writes), static_cast<unsigned long long>(acknowledged),
              static_cast<unsigned long long>(span));
}

}  // namespace
}  // namespace orderly::gateway
