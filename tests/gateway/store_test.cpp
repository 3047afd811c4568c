// The SQLite store on real files in a temp directory: migrations, refusal of a newer schema,
// every record type round-tripping, the batching writer and its commit reports, and durability
// across a SIGKILL.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const TimePoint kT0 = TimePoint(sys_days(2024y / July / 10) + hours(2));

MeterSample meter_sample(const std::string& id, TimePoint at, double power_w) {
  MeterSample m;
  m.at = at;
  m.meter_id = id;
  m.power_w = power_w;
  m.power_w_phase = {power_w / 3, power_w / 3, kNaN};
  m.current_a = {10, 11, 12};
  m.voltage_v = {230, 231, kNaN};
  m.import_energy_wh = 1000;
  m.export_energy_wh = kNaN;
  return m;
}

std::int64_t sql_ms(TimePoint t) { return duration_cast<milliseconds>(t.time_since_epoch()).count(); }

// Runs SQL on the file behind the store's back (simulating an older or newer orderly).
void raw_exec(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// SQL turning a current file back into what schema 2 created (steps 6, 5, 4 and 3 undone).
std::string schema_3_undone() {
  std::string sql =
      "DROP TABLE platform_outbox; DROP TABLE users; DROP TABLE account_links; DROP TABLE audit_log; "
      "DROP TABLE plans; DROP TABLE dr_events; DROP TABLE charger_aggregates; "
      "DROP INDEX sessions_open; DROP INDEX commands_by_time;";
  for (const char* column : {"is_private", "max_power_w", "departure_ms", "requested_wh",
                             "request_source", "boost", "not_before_ms", "discharged_wh",
                             "compensation_yuan", "met_ms", "last_reading_ms", "last_reading_wh"}) {
    sql += std::string(" ALTER TABLE sessions DROP COLUMN ") + column + ";";
  }
  return sql;
}

TEST(Store, FreshFileIsMigratedToTheKnownVersionInWalMode) {
  orderly::test::TempDir dir;
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.schema_version(), Store::known_schema_version());
  EXPECT_GE(Store::known_schema_version(), 2);
  EXPECT_EQ(store.journal_mode(), "wal");
  EXPECT_EQ(store.integrity_check(), "ok");
  for (const char* table : {"meta", "chargers", "meter_samples", "charger_samples", "commands",
                            "events", "sessions", "meter_aggregates", "plans", "dr_events",
                            "charger_aggregates"}) {
    EXPECT_EQ(store.row_count(table), 0) << table;
  }
  EXPECT_THROW(store.row_count("sqlite_master; DROP TABLE meta"), StoreError);
}

TEST(Store, ReopenIsIdempotentAndKeepsData) {
  orderly::test::TempDir dir;
  {
    Store store(dir / "orderly.db");
    store.set_meta("site", "Test");
    store.write(meter_sample("m1", kT0, 1500));
  }
  Store again(dir / "orderly.db");
  EXPECT_EQ(again.schema_version(), Store::known_schema_version());
  EXPECT_EQ(again.meta("site"), "Test");
  EXPECT_EQ(again.meta("absent"), std::nullopt);
  EXPECT_EQ(again.row_count("meter_samples"), 1);
}

TEST(Store, MigratesStepByStepFromAnOlderVersion) {
  orderly::test::TempDir dir;
  { Store store(dir / "orderly.db"); }
  // What a box running schema 1 has on disk.
  raw_exec(dir / "orderly.db",
           schema_3_undone() + " DROP TABLE meter_aggregates; PRAGMA user_version = 1;");
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.schema_version(), Store::known_schema_version());
  EXPECT_EQ(store.row_count("meter_aggregates"), 0);
}

TEST(Store, UpgradeFromSchema2KeepsSessionsAndFillsTheNewFieldsWithDefaults) {
  orderly::test::TempDir dir;
  { Store store(dir / "orderly.db"); }
  // What a box running schema 2 has on disk: the sessions table without the schema-3 columns,
  // no plans, DR events or charger aggregates, and one finished session.
  const std::string sql =
      schema_3_undone() +
      " INSERT INTO sessions VALUES ('c1-1', 'c1', '1-1-101', 'card-7', 1720576800000, "
         "1720587600000, 21000, 0, 0, 1000, 20000, 6.8);"
         " INSERT INTO meter_aggregates VALUES (1720576800000, 'm1', 15, 1000, 1200);"
         " PRAGMA user_version = 2;";
  raw_exec(dir / "orderly.db", sql);

  Store store(dir / "orderly.db");
  EXPECT_EQ(store.schema_version(), Store::known_schema_version());
  EXPECT_EQ(store.integrity_check(), "ok");
  EXPECT_EQ(store.row_count("meter_aggregates"), 1);
  EXPECT_EQ(store.row_count("plans"), 0);
  const auto s = store.session("c1-1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->household, "1-1-101");
  EXPECT_EQ(s->rfid, "card-7");
  EXPECT_EQ(s->started_at, kT0);
  EXPECT_EQ(s->ended_at, kT0 + hours(3));
  EXPECT_EQ(s->energy_wh_by_period[3], 20000);
  EXPECT_DOUBLE_EQ(s->cost_yuan, 6.8);
  EXPECT_TRUE(s->is_private);
  EXPECT_EQ(s->requested_wh, 0);
  EXPECT_EQ(s->request_source, "");
  EXPECT_EQ(s->departure, std::nullopt);
  EXPECT_EQ(s->met_at, std::nullopt);
  EXPECT_EQ(s->last_reading_at, std::nullopt);
  EXPECT_TRUE(store.open_sessions().empty());
  EXPECT_EQ(store.closed_sessions(kT0).size(), 1u);
}

TEST(Store, RefusesADatabaseFromANewerOrderly) {
  orderly::test::TempDir dir;
  { Store store(dir / "orderly.db"); }
  const int newer = Store::known_schema_version() + 5;
  raw_exec(dir / "orderly.db", "PRAGMA user_version = " + std::to_string(newer));
  try {
    Store store(dir / "orderly.db");
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(),
                AllOf(HasSubstr("orderly.db"),
                      HasSubstr("database schema version " + std::to_string(newer) +
                                " is newer than this orderly (knows " +
                                std::to_string(Store::known_schema_version()) +
                                "): refusing to start; install a newer package or restore a "
                                "backup")));
  }
}

TEST(Store, NotADatabaseOrMissingDirectoryIsAClearError) {
  orderly::test::TempDir dir;
  orderly::test::write_file(dir / "junk.db", std::string(4096, 'x'));
  EXPECT_THROW(Store(dir / "junk.db"), StoreError);
  try {
    Store store(dir / "no-such-dir" / "orderly.db");
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("no-such-dir"), HasSubstr("[store] path")));
  }
}

TEST(Store, RecordsRoundTrip) {
  orderly::test::TempDir dir;
  Store store(dir / "orderly.db");
  ChargerConfig charger;
  charger.id = "c1";
  charger.household = "1-1-101";
  store.sync_chargers({charger});
  store.sync_chargers({charger});  // again at the next start: upsert, not a duplicate
  EXPECT_EQ(store.row_count("chargers"), 1);

  ChargerSample cs;
  cs.at = kT0;
  cs.charger_id = "c1";
  cs.state = "charging";
  cs.power_w = 7000;
  cs.current_a = {30.4, kNaN, kNaN};
  cs.limit_w = 7000;
  cs.applied_limit_w = kNaN;
  CommandRecord cmd{kT0, "c1", "limit", R"({"power_w":7000})", 42, std::nullopt, ""};
  SessionRecord session;
  session.id = "s1";
  session.charger_id = "c1";
  session.household = "1-1-101";
  session.started_at = kT0;
  session.energy_wh = 100;
  store.write({meter_sample("m1", kT0, 1000), meter_sample("m1", kT0 + minutes(1), 2000),
               meter_sample("m2", kT0, 500), StoreRecord{cs}, StoreRecord{cmd},
               StoreRecord{EventRecord{kT0, "warn", "charger:c1", "offline"}},
               StoreRecord{session}});
  session.ended_at = kT0 + hours(3);
  session.energy_wh = 21000;
  session.energy_wh_by_period = {0, 0, 1000, 20000};
  session.cost_yuan = 6.8;
  store.write({StoreRecord{CommandAck{"c1", 42, kT0 + seconds(1), "accepted"}},
               StoreRecord{session}});

  const auto latest = store.latest_meter_samples();
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest[0].meter_id, "m1");
  EXPECT_EQ(latest[0].at, kT0 + minutes(1));
  EXPECT_EQ(latest[0].power_w, 2000);
  EXPECT_TRUE(std::isnan(latest[0].power_w_phase[2]));
  EXPECT_TRUE(std::isnan(latest[0].export_energy_wh));
  EXPECT_EQ(latest[0].voltage_v[1], 231);
  EXPECT_EQ(latest[1].meter_id, "m2");
  EXPECT_EQ(store.meter_samples("m1", kT0, kT0 + minutes(1)).size(), 1u);

  const auto chargers = store.latest_charger_samples();
  ASSERT_EQ(chargers.size(), 1u);
  EXPECT_EQ(chargers[0].state, "charging");
  EXPECT_DOUBLE_EQ(chargers[0].current_a[0], 30.4);
  EXPECT_TRUE(std::isnan(chargers[0].applied_limit_w));

  const auto commands = store.recent_commands(10);
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].seq, 42u);
  EXPECT_EQ(commands[0].acked_at, kT0 + seconds(1));
  EXPECT_EQ(commands[0].result, "accepted");

  const auto events = store.recent_events(10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].message, "offline");

  EXPECT_EQ(store.row_count("sessions"), 1);
  const auto s = store.session("s1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->ended_at, kT0 + hours(3));
  EXPECT_EQ(s->energy_wh, 21000);
  EXPECT_EQ(s->energy_wh_by_period[3], 20000);
  EXPECT_DOUBLE_EQ(s->cost_yuan, 6.8);
  EXPECT_EQ(store.sessions(kT0, kT0 + hours(1)).size(), 1u);
  EXPECT_TRUE(store.sessions(kT0 + hours(1), kT0 + hours(2)).empty());
}

TEST(Store, SessionSchema3FieldsRoundTrip) {
  orderly::test::TempDir dir;
  SessionRecord r;
  r.id = "p-7-1720576800000";
  r.charger_id = "p-7";
  r.household = "rfid:04A1";
  r.rfid = "04A1";
  r.started_at = kT0;
  r.energy_wh = 5400.5;
  r.energy_wh_by_period = {1.25, 2.5, 3.75, 5000};
  r.cost_yuan = 2.31;
  r.is_private = false;
  r.max_power_w = 11000;
  r.departure = kT0 + hours(5) + minutes(30);
  r.requested_wh = 12000;
  r.request_source = "learned";
  r.boost = true;
  r.not_before = kT0 + minutes(45);
  r.discharged_wh = 800.25;
  r.compensation_yuan = 0.64;
  r.met_at = kT0 + hours(4);
  r.last_reading_at = kT0 + hours(4) + seconds(17);
  r.last_reading_wh = 6200.75;
  SessionRecord closed = r;
  closed.id = "p-8-1";
  closed.charger_id = "p-8";
  closed.ended_at = kT0 + hours(6);
  closed.started_at = kT0 - hours(1);
  {
    Store store(dir / "orderly.db");
    store.write({StoreRecord{r}, StoreRecord{closed}});
  }
  Store store(dir / "orderly.db");
  const auto expect_same = [&](const SessionRecord& got, const SessionRecord& want) {
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.charger_id, want.charger_id);
    EXPECT_EQ(got.household, want.household);
    EXPECT_EQ(got.rfid, want.rfid);
    EXPECT_EQ(got.started_at, want.started_at);
    EXPECT_EQ(got.ended_at, want.ended_at);
    EXPECT_EQ(got.energy_wh, want.energy_wh);
    EXPECT_EQ(got.energy_wh_by_period, want.energy_wh_by_period);
    EXPECT_EQ(got.cost_yuan, want.cost_yuan);
    EXPECT_EQ(got.is_private, want.is_private);
    EXPECT_EQ(got.max_power_w, want.max_power_w);
    EXPECT_EQ(got.departure, want.departure);
    EXPECT_EQ(got.requested_wh, want.requested_wh);
    EXPECT_EQ(got.request_source, want.request_source);
    EXPECT_EQ(got.boost, want.boost);
    EXPECT_EQ(got.not_before, want.not_before);
    EXPECT_EQ(got.discharged_wh, want.discharged_wh);
    EXPECT_EQ(got.compensation_yuan, want.compensation_yuan);
    EXPECT_EQ(got.met_at, want.met_at);
    EXPECT_EQ(got.last_reading_at, want.last_reading_at);
    EXPECT_EQ(got.last_reading_wh, want.last_reading_wh);
  };
  const auto open = store.open_sessions();
  ASSERT_EQ(open.size(), 1u);
  expect_same(open[0], r);
  const auto ended = store.closed_sessions(kT0 - hours(2));
  ASSERT_EQ(ended.size(), 1u);
  expect_same(ended[0], closed);
  EXPECT_TRUE(store.closed_sessions(kT0).empty());  // started before `since`
  const auto all = store.sessions(kT0 - hours(2), kT0 + hours(1));
  ASSERT_EQ(all.size(), 2u);
  expect_same(all[0], closed);
  expect_same(all[1], r);

  // Written again when it changes: unset optionals go back to NULL.
  r.departure.reset();
  r.not_before.reset();
  r.met_at.reset();
  r.boost = false;
  store.write(r);
  expect_same(*store.session(r.id), r);
  EXPECT_EQ(store.row_count("sessions"), 2);
}

TEST(Store, PlansAndDemandResponseEventsRoundTrip) {
  orderly::test::TempDir dir;
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.latest_plan(), std::nullopt);
  store.write({StoreRecord{PlanRecord{kT0, kT0, 15, "slot", R"({"chargers":{"c1":[7.0]}})"}},
               StoreRecord{PlanRecord{kT0 + minutes(3), kT0, 5, "plug-in", R"({"chargers":{}})"}}});
  const auto plan = store.latest_plan();
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->created_at, kT0 + minutes(3));
  EXPECT_EQ(plan->slot_start, kT0);
  EXPECT_EQ(plan->slot_minutes, 5);
  EXPECT_EQ(plan->reason, "plug-in");
  EXPECT_EQ(plan->plan_json, R"({"chargers":{}})");
  EXPECT_EQ(store.row_count("plans"), 2);

  DrEventRecord dr{"dr-1", kT0 + hours(10), kT0 + hours(12), 250.5, "platform", kT0, false};
  DrEventRecord later{"dr-2", kT0 + hours(20), kT0 + hours(21), 300, "operator", kT0, false};
  store.write({StoreRecord{dr}, StoreRecord{later}});
  dr.cancelled = true;  // cancelled: the same row again
  store.write(dr);
  EXPECT_EQ(store.row_count("dr_events"), 2);
  const auto overlapping = store.dr_events(kT0 + hours(11), kT0 + hours(11) + minutes(1));
  ASSERT_EQ(overlapping.size(), 1u);
  EXPECT_EQ(overlapping[0].id, "dr-1");
  EXPECT_EQ(overlapping[0].start, kT0 + hours(10));
  EXPECT_EQ(overlapping[0].end, kT0 + hours(12));
  EXPECT_EQ(overlapping[0].limit_kw, 250.5);
  EXPECT_EQ(overlapping[0].source, "platform");
  EXPECT_EQ(overlapping[0].created_at, kT0);
  EXPECT_TRUE(overlapping[0].cancelled);
  EXPECT_TRUE(store.dr_events(kT0 + hours(12), kT0 + hours(20)).empty());  // [start, end)
  const auto day = store.dr_events(kT0, kT0 + hours(24));
  ASSERT_EQ(day.size(), 2u);
  EXPECT_EQ(day[1].id, "dr-2");
  EXPECT_FALSE(day[1].cancelled);
}

TEST(Store, PruneFoldsChargerSamplesIntoFifteenMinuteEnergy) {
  orderly::test::TempDir dir;
  Store store(dir / "orderly.db");
  std::vector<StoreRecord> records;
  for (int i = 0; i < 45; ++i) {
    ChargerSample cs;
    cs.at = kT0 + minutes(i);
    cs.charger_id = "c1";
    cs.state = "charging";
    cs.power_w = i < 15 ? 7000 : (i < 30 ? 3500 + 100 * (i - 15) : 0);
    cs.current_a = {kNaN, kNaN, kNaN};
    records.push_back(StoreRecord{cs});
  }
  records.push_back(StoreRecord{PlanRecord{kT0, kT0, 15, "slot", "{}"}});
  records.push_back(StoreRecord{PlanRecord{kT0 + minutes(40), kT0, 15, "slot", "{}"}});
  store.write(records);
  // Raw data of the first two slots expires (30 samples and the plan made in them).
  EXPECT_EQ(store.prune({kT0 + minutes(30), kT0 - hours(1)}), 31);
  EXPECT_EQ(store.row_count("charger_samples"), 15);
  EXPECT_EQ(store.row_count("plans"), 1);
  const auto agg = store.charger_aggregates("c1", kT0, kT0 + hours(1));
  ASSERT_EQ(agg.size(), 2u);
  EXPECT_EQ(agg[0].slot_start, kT0);
  EXPECT_EQ(agg[0].samples, 15);
  EXPECT_DOUBLE_EQ(agg[0].energy_wh, 7000 * 0.25);
  EXPECT_DOUBLE_EQ(agg[0].max_power_w, 7000);
  EXPECT_EQ(agg[1].slot_start, kT0 + minutes(15));
  EXPECT_DOUBLE_EQ(agg[1].energy_wh, (3500 + 700) * 0.25);  // mean of 3500..4900 W
  EXPECT_DOUBLE_EQ(agg[1].max_power_w, 4900);
  // The third slot is folded by a later prune; aggregates expire on their own horizon.
  EXPECT_EQ(store.prune({kT0 + hours(1), kT0 + minutes(15)}), 15 + 1 + 1);
  EXPECT_EQ(store.charger_aggregates("c1", kT0, kT0 + hours(1)).size(), 2u);
  EXPECT_EQ(store.row_count("charger_aggregates"), 2);
}

TEST(Store, PruneFoldsOldSamplesIntoAggregates) {
  orderly::test::TempDir dir;
  Store store(dir / "orderly.db");
  std::vector<StoreRecord> records;
  for (int i = 0; i < 60; ++i) records.push_back(meter_sample("m1", kT0 + minutes(i), 1000 + i));
  store.write(records);
  // Cut inside the third slot: only the first two whole slots (30 samples) go.
  EXPECT_EQ(store.prune({kT0 + minutes(37), kT0 - hours(1)}), 30);
  EXPECT_EQ(store.row_count("meter_samples"), 30);
  EXPECT_EQ(store.row_count("meter_aggregates"), 2);
  // Aggregates expire too; the first slot starts at kT0.
  EXPECT_EQ(store.prune({kT0, kT0 + minutes(15)}), 1);
  EXPECT_EQ(store.row_count("meter_aggregates"), 1);
}

// Every table that grows with time has a horizon: the command log (a limit every 30 s per pile)
// and expired links with the raw samples, the logs and ended sessions with the aggregates. Open
// sessions stay whatever their age.
TEST(Store, PruneGivesEveryGrowingTableItsHorizon) {
  orderly::test::TempDir dir;
  Store store(dir / "orderly.db");
  const TimePoint old = kT0 - days(10);
  SessionRecord ended;
  ended.id = "ended";
  ended.charger_id = "c1";
  ended.started_at = old;
  ended.ended_at = old + hours(1);
  SessionRecord open = ended;
  open.id = "open";
  open.ended_at.reset();
  store.write({CommandRecord{old, "c1", "limit", "{}", 1, {}, ""}, CommandRecord{kT0, "c1", "limit", "{}", 2, {}, ""},
               EventRecord{old, "info", "test", "old"}, EventRecord{kT0, "info", "test", "new"}, ended, open,
               DrEventRecord{"dr-old", old, old + hours(1), 50, "operator", old, false}});
  raw_exec(dir / "orderly.db",
           "INSERT INTO audit_log (ts_ms, user, role, action, target, detail) VALUES (" +
               std::to_string(sql_ms(old)) + ", 'op', 'operator', 'x', 'y', '');"
               "INSERT INTO account_links VALUES ('h', 'invite', '', '', 'op', " + std::to_string(sql_ms(old)) + ", NULL)");
  // Raw horizon between the old rows and now, aggregate horizon far back: commands and links go.
  store.prune({kT0 - days(1), kT0 - days(100)});
  EXPECT_EQ(store.row_count("commands"), 1);
  EXPECT_EQ(store.row_count("account_links"), 0);
  EXPECT_EQ(store.row_count("events"), 2);
  EXPECT_EQ(store.row_count("sessions"), 2);
  // The aggregate horizon passes them too: the logs, the ended session and the DR event go.
  store.prune({kT0 - days(1), kT0 - days(1)});
  EXPECT_EQ(store.row_count("events"), 1);
  EXPECT_EQ(store.row_count("audit_log"), 0);
  EXPECT_EQ(store.row_count("dr_events"), 0);
  EXPECT_FALSE(store.session("ended"));
  EXPECT_TRUE(store.session("open"));
}

TEST(StoreWriter, PruneRequestRunsOnTheWriterThread) {
  orderly::test::TempDir dir;
  StoreWriter writer(dir / "orderly.db", {.flush_interval = hours(1)});
  for (int i = 0; i < 30; ++i) writer.append(meter_sample("m1", kT0 + minutes(i), 1));
  writer.append(PruneRequest{kT0 + minutes(15), kT0 - hours(24)});
  writer.flush();
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.row_count("meter_samples"), 15);
  EXPECT_EQ(store.row_count("meter_aggregates"), 1);
}

TEST(StoreWriter, AppendsPlansAndDemandResponseEvents) {
  orderly::test::TempDir dir;
  StoreWriter writer(dir / "orderly.db", {.flush_interval = hours(1)});
  writer.append(PlanRecord{kT0, kT0, 15, "dr-event", "{}"});
  writer.append(DrEventRecord{"dr-9", kT0, kT0 + hours(1), 80, "platform", kT0, false});
  writer.flush();
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.latest_plan()->reason, "dr-event");
  EXPECT_EQ(store.dr_events(kT0, kT0 + hours(1)).size(), 1u);
}

TEST(StoreWriter, CommitsInBatchesOfMaxBatch) {
  orderly::test::TempDir dir;
  StoreWriter writer(dir / "orderly.db", {.flush_interval = hours(1), .max_batch = 10});
  for (int i = 0; i < 25; ++i) writer.append(meter_sample("m1", kT0 + seconds(i), i));
  ASSERT_TRUE(orderly::test::wait_until([&] { return writer.committed_records() >= 20; }))
      << "two full batches should commit without waiting for the flush interval";
  EXPECT_EQ(writer.transactions(), 2u);
  Store reader(dir / "orderly.db");
  EXPECT_EQ(reader.row_count("meter_samples"), 20);
  writer.flush();
  EXPECT_EQ(writer.committed_records(), 25u);
  EXPECT_EQ(writer.transactions(), 3u);
  EXPECT_EQ(reader.row_count("meter_samples"), 25);
}

TEST(StoreWriter, FlushIntervalCommitsWithoutBeingAsked) {
  orderly::test::TempDir dir;
  StoreWriter writer(dir / "orderly.db", {.flush_interval = milliseconds(20)});
  writer.append(EventRecord{kT0, "info", "test", "one"});
  writer.append(EventRecord{kT0, "info", "test", "two"});
  ASSERT_TRUE(orderly::test::wait_until([&] { return writer.committed_records() == 2; }));
  EXPECT_EQ(writer.transactions(), 1u);
}

TEST(StoreWriter, ShutdownWritesEverythingQueued) {
  orderly::test::TempDir dir;
  {
    StoreWriter writer(dir / "orderly.db", {.flush_interval = hours(1), .max_batch = 300});
    for (int i = 0; i < 1000; ++i) writer.append(meter_sample("m1", kT0 + seconds(i), i));
    writer.append(CommandRecord{kT0, "c1", "limit", "{}", 1, std::nullopt, ""});
    writer.append(CommandAck{"c1", 1, kT0 + seconds(2), "accepted"});
  }
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.row_count("meter_samples"), 1000);
  ASSERT_EQ(store.recent_commands(1).size(), 1u);
  EXPECT_EQ(store.recent_commands(1)[0].result, "accepted");  // ack applied after its command
}

TEST(StoreWriter, AppendAfterStopIsCountedAsDropped) {
  orderly::test::TempDir dir;
  StoreWriter writer(dir / "orderly.db");
  writer.stop();
  writer.append(EventRecord{kT0, "info", "test", "late"});
  writer.flush();
  EXPECT_EQ(writer.dropped_records(), 1u);
  EXPECT_EQ(Store(dir / "orderly.db").row_count("events"), 0);
}

// The reports as the writer delivers them on its thread, read from the test's.
class Reports {
 public:
  std::function<void(const CommitReport&)> sink() {
    return [this](const CommitReport& r) {
      std::lock_guard lock(mutex_);
      reports_.push_back(r);
    };
  }
  std::vector<CommitReport> all() const {
    std::lock_guard lock(mutex_);
    return reports_;
  }
  std::size_t count() const { return all().size(); }
  // "1-10 committed; 11-12 failed": the ranges and outcomes, so a mismatch reads at a glance.
  std::string outline() const {
    std::string out;
    for (const auto& r : all()) {
      out += (out.empty() ? "" : "; ") + std::to_string(r.first_seq) + "-" +
             std::to_string(r.last_seq) + (r.committed ? " committed" : " failed");
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<CommitReport> reports_;
};

// A disk that takes as long as the test likes: the writer waits in before_commit until
// release(), or 30 s, so that a broken test fails instead of hanging.
class HeldCommit {
 public:
  std::function<void()> hook() {
    return [this] {
      std::unique_lock lock(mutex_);
      ++entered_;
      released_changed_.wait_for(lock, seconds(30), [&] { return released_; });
      ++left_;
    };
  }
  int entered() const {
    std::lock_guard lock(mutex_);
    return entered_;
  }
  int left() const {
    std::lock_guard lock(mutex_);
    return left_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    released_changed_.notify_all();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable released_changed_;
  bool released_ = false;
  int entered_ = 0;
  int left_ = 0;
};

TEST(StoreWriter, NumbersAppendsAndReportsEachRecordOnceInOrder) {
  orderly::test::TempDir dir;
  Reports reports;
  StoreWriter writer(dir / "orderly.db",
                     {.flush_interval = hours(1), .max_batch = 10, .on_commit = reports.sink()});
  for (std::uint64_t i = 0; i < 25; ++i) {
    EXPECT_EQ(writer.append(meter_sample("m1", kT0 + seconds(i), 1)), i + 1);
  }
  writer.flush();
  EXPECT_EQ(reports.outline(), "1-10 committed; 11-20 committed; 21-25 committed");
  for (const auto& r : reports.all()) EXPECT_EQ(r.error, "");
}

TEST(StoreWriter, CommitSoonCommitsWithoutWaitingForTheInterval) {
  orderly::test::TempDir dir;
  Reports reports;
  StoreWriter writer(dir / "orderly.db",
                     {.flush_interval = seconds(60), .on_commit = reports.sink()});
  writer.append(EventRecord{kT0, "info", "test", "one"});
  writer.append(EventRecord{kT0, "info", "test", "two"});
  writer.commit_soon();
  ASSERT_TRUE(orderly::test::wait_until([&] { return reports.count() == 1; }))
      << "commit_soon() should commit long before the 60 s interval";
  EXPECT_EQ(reports.outline(), "1-2 committed");
  EXPECT_EQ(Store(dir / "orderly.db").row_count("events"), 2);
}

TEST(StoreWriter, FailedCommitIsRetriedThenReportedWithSqlitesError) {
  orderly::test::TempDir dir;
  Reports reports;
  StoreWriter writer(dir / "orderly.db",
                     {.flush_interval = milliseconds(10), .on_commit = reports.sink()});
  raw_exec(dir / "orderly.db",
           "CREATE TRIGGER refuse BEFORE INSERT ON events "
           "BEGIN SELECT RAISE(ABORT, 'events are refused'); END");
  writer.append(EventRecord{kT0, "info", "test", "lost"});
  ASSERT_TRUE(orderly::test::wait_until([&] { return reports.count() == 1; }));
  const CommitReport failed = reports.all()[0];
  EXPECT_EQ(reports.outline(), "1-1 failed");
  EXPECT_THAT(failed.error, HasSubstr("events are refused"));
  EXPECT_EQ(writer.failures(), 3u);
  EXPECT_EQ(writer.dropped_records(), 1u);

  // The next batch is not held back by the one given up on.
  raw_exec(dir / "orderly.db", "DROP TRIGGER refuse");
  writer.append(EventRecord{kT0, "info", "test", "kept"});
  writer.flush();
  EXPECT_EQ(reports.outline(), "1-1 failed; 2-2 committed");
  EXPECT_EQ(Store(dir / "orderly.db").recent_events(10).size(), 1u);
}

TEST(StoreWriter, ExceptionFromBeforeCommitIsAFailedAttempt) {
  orderly::test::TempDir dir;
  Reports reports;
  std::atomic<int> attempts{0};
  StoreWriter writer(dir / "orderly.db",
                     {.flush_interval = milliseconds(10),
                      .on_commit = reports.sink(),
                      .before_commit = [&] {
                        if (++attempts == 1) throw std::runtime_error("disk unplugged");
                      }});
  writer.append(EventRecord{kT0, "info", "test", "retried"});
  writer.flush();
  EXPECT_EQ(reports.outline(), "1-1 committed");
  EXPECT_EQ(attempts.load(), 2);
  EXPECT_EQ(writer.failures(), 1u);
}

// A writer that commits only when asked (or stopped), each commit held until disk.release().
struct HeldWriter {
  ~HeldWriter() { disk.release(); }  // so that a failed assertion does not leave stop() waiting
  orderly::test::TempDir dir;
  Reports reports;
  HeldCommit disk;
  StoreWriter writer{dir / "orderly.db", {.flush_interval = hours(1),
                                          .on_commit = reports.sink(),
                                          .before_commit = disk.hook()}};
};

TEST(StoreWriter, AppendDoesNotWaitForACommitInProgress) {
  HeldWriter held;
  held.writer.append(EventRecord{kT0, "info", "test", "slow"});
  held.writer.commit_soon();
  ASSERT_TRUE(orderly::test::wait_until([&] { return held.disk.entered() == 1; }));
  for (int i = 0; i < 100; ++i) held.writer.append(meter_sample("m1", kT0 + seconds(i), 1));
  EXPECT_EQ(held.disk.left(), 0) << "append() waited for the commit in progress";
  held.disk.release();
  held.writer.flush();
  EXPECT_EQ(held.reports.outline(), "1-1 committed; 2-101 committed");
}

TEST(StoreWriter, AppendWhileStoppingIsReportedFailedAfterTheDrain) {
  HeldWriter held;
  held.writer.append(EventRecord{kT0, "info", "test", "drained"});
  std::thread stopper([&] { held.writer.stop(); });
  // Only stop() wakes the writer within the hour, so it is stopping once it reaches the disk.
  // EXPECT, not ASSERT: the stopper thread must still be joined.
  EXPECT_TRUE(orderly::test::wait_until([&] { return held.disk.entered() == 1; }));
  held.writer.append(EventRecord{kT0, "info", "test", "during stop"});
  held.disk.release();
  stopper.join();
  held.writer.append(EventRecord{kT0, "info", "test", "after stop"});
  EXPECT_EQ(held.reports.outline(), "1-1 committed; 2-2 failed; 3-3 failed");
  EXPECT_THAT(held.reports.all()[1].error, HasSubstr("stopped"));
  EXPECT_EQ(held.writer.dropped_records(), 2u);
  EXPECT_EQ(Store(held.dir / "orderly.db").row_count("events"), 1);
}

TEST(StoreWriter, OverflowDropsTheOldestAndReportsThem) {
  orderly::test::TempDir dir;
  Reports reports;
  StoreWriter writer(dir / "orderly.db",
                     {.flush_interval = hours(1), .max_queue = 3, .on_commit = reports.sink()});
  for (int i = 0; i < 5; ++i) writer.append(meter_sample("m1", kT0 + seconds(i), 1));
  writer.flush();
  EXPECT_EQ(reports.outline(), "1-2 failed; 3-5 committed");
  EXPECT_THAT(reports.all()[0].error, HasSubstr("max_queue"));
  EXPECT_EQ(writer.dropped_records(), 2u);
  const auto rows = Store(dir / "orderly.db").meter_samples("m1", kT0, kT0 + seconds(5));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at, kT0 + seconds(2));
}

// A power cut or OOM kill mid-stream must leave a consistent file with every record that was
// reported committed. The child reports each flushed count through a pipe, then is SIGKILLed.
TEST(StoreWriter, SurvivesSigkillMidStream) {
  orderly::test::TempDir dir;
  const auto path = dir / "orderly.db";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    try {
      StoreWriter writer(path, {.flush_interval = milliseconds(5), .max_batch = 64});
      for (std::uint64_t i = 0;; ++i) {
        writer.append(meter_sample("m1", kT0 + seconds(static_cast<long>(i)), 1));
        if (i % 100 == 99) {
          writer.flush();
          const std::uint64_t n = i + 1;
          if (write(fds[1], &n, sizeof n) != sizeof n) _exit(4);
        }
      }
    } catch (...) {
      _exit(3);
    }
  }
  close(fds[1]);
  std::uint64_t acknowledged = 0;
  auto read_one = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    std::uint64_t n = 0;
    if (read(fds[0], &n, sizeof n) != sizeof n) return false;
    acknowledged = n;
    return true;
  };
  while (acknowledged < 3000 && read_one(20000)) {
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  while (read_one(0)) {
  }
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer child exited by itself with status " << status;
  ASSERT_GE(acknowledged, 3000u) << "the child stopped reporting progress";

  Store store(path);
  EXPECT_EQ(store.integrity_check(), "ok");
  const auto rows = store.meter_samples("m1", kT0, kT0 + seconds(static_cast<long>(acknowledged)));
  EXPECT_EQ(rows.size(), acknowledged) << "records reported committed before the kill are lost";
  EXPECT_GE(store.row_count("meter_samples"), static_cast<std::int64_t>(acknowledged));
}

}  // namespace
}  // namespace orderly::gateway
