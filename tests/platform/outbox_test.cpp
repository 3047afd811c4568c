// The platform outbox in SQLite (store.hpp OutboxMessage / OutboxEntry) and the sender's retry
// delay, without HTTP: a message is written with the record it reports, kinds are sent in
// order each, ids make rewrites harmless, periodic snapshots supersede, retention keeps what
// was owed.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "orderly/gateway/platform.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

const TimePoint kT0 = TimePoint(sys_days(year{2026} / January / 5));

OutboxMessage msg(const std::string& kind, const std::string& id, TimePoint at, const std::string& supersede = {}) {
  return {id, kind, R"({"id":")" + id + R"("})", at, supersede};
}

std::vector<std::string> ids(const std::vector<OutboxEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.message.message_id);
  return out;
}

TEST(Outbox, TheOrderReportIsWrittenInTheTransactionOfTheClosingSession) {
  test::TempDir dir;
  Store store(dir / "o.db");
  SessionRecord closed;
  closed.id = "s-1";
  closed.charger_id = "p1";
  closed.started_at = kT0;
  closed.ended_at = kT0 + hours(1);
  closed.platform_reports.push_back(msg("notification_charge_order_info", "order:s-1", kT0 + hours(1)));
  store.write(closed);
  EXPECT_EQ(store.row_count("sessions"), 1);
  ASSERT_EQ(ids(store.outbox(10)), std::vector<std::string>{"order:s-1"});

  // A transaction that fails leaves neither: the message exists exactly when the data does.
  SessionRecord again = closed;
  again.id = "s-2";
  again.platform_reports = {msg("notification_charge_order_info", "order:s-2", kT0)};
  {
    // The disk refuses the record written after it in the same batch.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "o.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON charger_samples "
                               "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_THROW(store.write(std::vector<StoreRecord>{again, ChargerSample{}}), StoreError);
  EXPECT_EQ(store.row_count("sessions"), 1);
  EXPECT_EQ(store.outbox(10).size(), 1u);
}

TEST(Outbox, HeadsAreTheOldestUndeliveredOfEachKind) {
  test::TempDir dir;
  Store store(dir / "o.db");
  store.write({msg("a", "a1", kT0), msg("b", "b1", kT0), msg("a", "a2", kT0), msg("b", "b2", kT0)});
  EXPECT_EQ(ids(store.outbox_heads()), (std::vector<std::string>{"a1", "b1"}));
  const auto heads = store.outbox_heads();
  store.outbox_failed(heads[0].row, kT0 + seconds(10), "connection refused");
  store.outbox_delivered(heads[1].row, kT0 + seconds(1));
  const auto next = store.outbox_heads();
  ASSERT_EQ(ids(next), (std::vector<std::string>{"a1", "b2"})) << "a stuck kind keeps its place; the others go on";
  EXPECT_EQ(next[0].attempts, 1);
  EXPECT_EQ(next[0].next_attempt_at, kT0 + seconds(10));
  EXPECT_EQ(next[0].last_error, "connection refused");

  const OutboxStatus status = store.outbox_status();
  EXPECT_EQ(status.queued, 3);
  EXPECT_EQ(status.oldest_queued_at, kT0);
  EXPECT_EQ(status.last_error, "connection refused");
  EXPECT_EQ(status.last_delivered_at, kT0 + seconds(1));
}

TEST(Outbox, WritingAMessageIdAgainChangesNothing) {
  test::TempDir dir;
  Store store(dir / "o.db");
  store.write(msg("a", "a1", kT0));
  store.outbox_delivered(store.outbox_heads()[0].row, kT0);
  store.write(msg("a", "a1", kT0 + hours(1)));  // the session record written again at close
  const auto all = store.outbox(10);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].delivered_at) << "not sent a second time";
}

TEST(Outbox, APeriodicSnapshotReplacesItsUndeliveredPredecessorOnly) {
  test::TempDir dir;
  Store store(dir / "o.db");
  store.write({msg("power", "w1", kT0, "station"), msg("equip", "e1", kT0, "p1"), msg("equip", "f1", kT0, "p2")});
  store.outbox_delivered(store.outbox_heads()[0].row, kT0);  // w1
  store.write({msg("power", "w2", kT0 + minutes(1), "station"), msg("power", "w3", kT0 + minutes(2), "station"),
               msg("equip", "e2", kT0 + minutes(1), "p1")});
  EXPECT_EQ(ids(store.outbox(10)), (std::vector<std::string>{"w1", "f1", "w3", "e2"}));
}

TEST(Outbox, RetentionKeepsWhatIsOwedAndDeliveredSnapshotsOnlyADay) {
  test::TempDir dir;
  Store store(dir / "o.db");
  store.write({msg("order", "o-old", kT0), msg("order", "o-owed", kT0), msg("power", "w-old", kT0, "station"),
               msg("order", "o-recent", kT0 + days(5))});
  for (const auto& e : store.outbox(10)) {
    if (e.message.message_id != "o-owed") store.outbox_delivered(e.row, e.message.created_at);
  }
  store.prune({kT0 + days(1), kT0 - days(365), kT0 + days(6)});
  EXPECT_EQ(ids(store.outbox(10)), (std::vector<std::string>{"o-owed", "o-recent"}));
}

TEST(RetryDelay, DoublesUpToTheMaximumWithEqualJitter) {
  const auto d = [](int n, double u) { return duration_cast<seconds>(retry_delay(n, seconds(10), seconds(600), u)).count(); };
  EXPECT_EQ(d(1, 0.0), 5);
  EXPECT_EQ(d(1, 0.999), 9);
  EXPECT_EQ(d(2, 0.0), 10);
  EXPECT_EQ(d(3, 0.5), 30);
  EXPECT_EQ(d(7, 0.0), 300);  // 640 capped at 600
  EXPECT_EQ(d(1000, 1.0), 600);
  EXPECT_EQ(d(0, 0.0), 5) << "a first attempt counts as one";
}

}  // namespace
}  // namespace orderly::gateway
