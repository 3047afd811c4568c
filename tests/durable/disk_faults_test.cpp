// Issue 16: a disk that fills up or fails (SQLITE_FULL and EIO from the crash VFS, under every
// connection the gateway opens). The store writer reports the records it could not save and
// says why; the gateway answers the API write 503, raises the `store` alarm in its status and
// logs the event once the disk takes writes again; nothing acknowledged before is lost; a queue
// held by a failing disk sheds samples before sessions.
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_text.hpp"
#include "crash_vfs.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using ::testing::HasSubstr;
using orderly::test::CrashVfs;
using json = nlohmann::json;

const TimePoint kT0 = TimePoint(sys_days(2026y / January / 5) + hours(12));

struct Faults : ::testing::TestWithParam<CrashVfs::Fault> {
  Faults() : vfs(CrashVfs::install()) { vfs.reset(1); }
  ~Faults() override { vfs.inject(CrashVfs::Fault::none); }
  CrashVfs& vfs;
  orderly::test::TempDir dir;
};

std::string fault_name(const ::testing::TestParamInfo<CrashVfs::Fault>& info) {
  return info.param == CrashVfs::Fault::disk_full ? "DiskFull" : "IoError";
}

SessionRecord session(const std::string& id, double energy_wh) {
  SessionRecord s;
  s.id = id;
  s.charger_id = "p1";
  s.started_at = kT0;
  s.energy_wh = energy_wh;
  return s;
}

MeterSample sample(int i) {
  MeterSample m;
  m.at = kT0 + seconds(i);
  m.meter_id = "tm";
  m.power_w = 1000;
  return m;
}

// Reports as the writer delivers them, read from the test thread.
struct Outcomes {
  std::function<void(const CommitReport&)> sink() {
    return [this](const CommitReport& r) {
      std::lock_guard lock(mutex);
      all.push_back(r);
    };
  }
  std::vector<CommitReport> get() {
    std::lock_guard lock(mutex);
    return all;
  }
  std::mutex mutex;
  std::vector<CommitReport> all;
};

TEST_P(Faults, WriterReportsTheRecordsItCouldNotSaveWithTheReasonAndRecovers) {
  Outcomes outcomes;
  StoreWriter writer(dir / "orderly.db", {.flush_interval = milliseconds(5), .on_commit = outcomes.sink()});
  writer.append(session("before", 100));
  writer.flush();
  ASSERT_FALSE(writer.stats().failing);

  vfs.inject(GetParam());
  writer.append(session("during", 200));
  writer.flush();
  const auto during = writer.stats();
  EXPECT_TRUE(during.failing);
  EXPECT_EQ(during.failures, 3u) << "three attempts, then given up on";
  EXPECT_EQ(during.dropped_records, 1u);
  EXPECT_THAT(during.last_error, HasSubstr(GetParam() == CrashVfs::Fault::disk_full ? "full" : "I/O"));
  ASSERT_EQ(outcomes.get().size(), 2u);
  EXPECT_FALSE(outcomes.get()[1].committed);

  vfs.inject(CrashVfs::Fault::none);
  writer.append(session("after", 300));
  writer.flush();
  EXPECT_FALSE(writer.stats().failing);
  EXPECT_TRUE(outcomes.get().back().committed);
  writer.stop();
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.integrity_check(), "ok");
  EXPECT_TRUE(store.session("before")) << "acknowledged before the fault, lost after it";
  EXPECT_TRUE(store.session("after"));
  EXPECT_FALSE(store.session("during")) << "reported failed, yet in the file";
}

TEST_P(Faults, AFullQueueShedsSamplesBeforeSessionsAndOutboxMessages) {
  Outcomes outcomes;
  // An hour's interval: nothing is attempted until flush(), so the queue fills as on a long outage.
  StoreWriter writer(dir / "orderly.db",
                     {.flush_interval = hours(1), .max_queue = 5, .on_commit = outcomes.sink()});
  vfs.inject(GetParam());
  writer.append(sample(0));
  writer.append(session("s1", 1));
  writer.append(OutboxMessage{"order-1", "notification_charge_order_info", "{}", kT0, ""});
  for (int i = 1; i < 6; ++i) writer.append(sample(i));
  writer.append(EventRecord{kT0, "warn", "test", "an event"});
  EXPECT_EQ(writer.stats().shed_records, 4u);
  EXPECT_EQ(writer.stats().queued_records, 5u);
  vfs.inject(CrashVfs::Fault::none);
  writer.flush();
  writer.stop();
  Store store(dir / "orderly.db");
  EXPECT_TRUE(store.session("s1"));
  EXPECT_EQ(store.outbox(10).size(), 1u);
  EXPECT_EQ(store.recent_events(10).size(), 1u);
  // The oldest samples went; the newest two (of six) and everything else were kept.
  const auto kept = store.meter_samples("tm", kT0, kT0 + hours(1));
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].at, kT0 + seconds(4));
  std::string outline;
  for (const auto& r : outcomes.get())
    outline += std::to_string(r.first_seq) + "-" + std::to_string(r.last_seq) + (r.committed ? "+ " : "- ");
  EXPECT_EQ(outline, "1-1- 2-3+ 4-6- 7-9+ ") << "every record in exactly one report, in order";
}

// The gateway as the API sees it: a write during the fault is answered 503 with the reason, the
// status carries the store alarm and its counters, and both clear when the disk recovers.
TEST_P(Faults, GatewayAnswers503RaisesTheStoreAlarmAndClearsIt) {
  ManualClock clock(kT0);
  Config config = parse_config(testing::kMinimal + R"(
[web]
listen = "127.0.0.1"
[store]
path = ")" + (dir / "orderly.db").string() + R"("
[[charger]]
id = "p1"
kind = "shared"
phase = "ABC"
max_power_kw = 7
)", "disk_faults_test.toml");
  config.web.port = 0;
  GatewayOptions options;
  options.store.flush_interval = milliseconds(20);
  options.devices = [](const drivers::DeviceEvents&) {
    std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> out;
    out["p1"] = std::make_shared<orderly::test::IdleCharger>("p1");
    return out;
  };
  boost::asio::io_context io;
  Gateway gw(io, clock, std::move(config), std::move(options));
  gw.start();
  const auto dr = [&](const std::string& id) {
    return orderly::test::pump_api(
        io, gw, {"POST", "/api/v1/dr-events", {}, R"({"id": ")" + id + R"(", "start": "2026-01-05T21:00", "end": "2026-01-05T22:00", "limit_kw": 50})"});
  };
  ASSERT_EQ(dr("before").status, 201);

  vfs.inject(GetParam());
  const auto refused = dr("during");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("send it again"));
  const json failing = gw.status();
  EXPECT_EQ(failing["store"]["state"], "failing");
  EXPECT_GE(failing["store"]["dropped_records"].get<int>(), 1);
  bool alarm = false;
  for (const auto& a : failing["alarms"]) alarm |= a["id"] == "store" && a["level"] == "error";
  EXPECT_TRUE(alarm) << failing["alarms"].dump();

  vfs.inject(CrashVfs::Fault::none);
  EXPECT_EQ(dr("after").status, 201);
  const json ok = gw.status();
  EXPECT_EQ(ok["store"]["state"], "ok");
  for (const auto& a : ok["alarms"]) EXPECT_NE(a["id"], "store");
  gw.stop();

  Store store(dir / "orderly.db");
  const auto events = store.dr_events(kT0, kT0 + days(1));
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.id);
  EXPECT_EQ(ids, (std::set<std::string>{"before", "after"}));
  std::string store_events;
  for (const auto& e : store.recent_events(50))
    if (e.source == "store") store_events += e.level + ": " + e.message + "\n";
  EXPECT_THAT(store_events, HasSubstr("warn: saving again after failing since 2026-01-05"));
  EXPECT_THAT(store_events, HasSubstr(GetParam() == CrashVfs::Fault::disk_full ? "full" : "I/O"));
}

INSTANTIATE_TEST_SUITE_P(Disk, Faults, ::testing::Values(CrashVfs::Fault::disk_full, CrashVfs::Fault::io_error),
                         fault_name);

}  // namespace
}  // namespace orderly::gateway
