#pragma once
// Durable state in one SQLite file (WAL, synchronous=FULL: a commit returns only once the WAL is
// fsynced, so what is reported committed survives a power cut). Store is one connection, used by
// one thread at a time; StoreWriter owns its own thread and connection and batches appends into
// one transaction per flush interval, because the box writes to eMMC/SD flash and per-row commits
// (each one an fsync) would wear it out and stall the event loop. The writer tells the caller by
// CommitReport which records are on disk, so the event loop never waits for a commit.
//
// Timestamps are stored as INTEGER milliseconds since the Unix epoch (UTC); quantities a device
// does not measure (NaN) are stored as NULL and read back as NaN.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "orderly/base/clock.hpp"

struct sqlite3;

namespace orderly::gateway {

struct ChargerConfig;

// Opening, migrating or writing failed. what() names the file and says what to do.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A message owed to the city platform (docs/platform-api.md), queued in the platform outbox.
struct OutboxMessage {
  std::string message_id;                  // unique: the same id written again is ignored
  std::string kind;                        // the T/CEC 102 interface, "notification_stationStatus"
  std::string data;                        // its business JSON, in the clear (encrypted per send)
  TimePoint created_at{};
  // Non-empty for a snapshot that only matters at its newest (the periodic pushes): replaces the
  // undelivered message of the same kind and key, so an outage queues one, not one a minute.
  std::string supersede_key;
};

// An outbox row as its sender sees it.
struct OutboxEntry {
  std::int64_t row = 0;                    // write order; sent in this order per kind
  OutboxMessage message;
  int attempts = 0;
  TimePoint next_attempt_at{};
  std::string last_error;                  // of the last failed attempt; "" after delivery
  std::optional<TimePoint> delivered_at;   // when the platform answered Ret=0
};

struct OutboxStatus {
  std::int64_t queued = 0;
  std::optional<TimePoint> oldest_queued_at;
  std::string last_error;                  // of the most recent failed attempt still queued
  std::optional<TimePoint> last_delivered_at;
};

struct MeterSample {
  TimePoint at{};
  std::string meter_id;
  double power_w = 0;
  std::array<double, 3> power_w_phase{};   // NaN = not measured
  std::array<double, 3> current_a{};
  std::array<double, 3> voltage_v{};
  double import_energy_wh = 0;
  double export_energy_wh = 0;
};

struct ChargerSample {
  TimePoint at{};
  std::string charger_id;
  std::string state;                       // drivers::to_string(ChargerState)
  double power_w = 0;
  std::array<double, 3> current_a{};
  double session_energy_wh = 0;
  double total_energy_wh = 0;
  double limit_w = 0;                      // what the gateway last commanded
  double applied_limit_w = 0;              // what the device reports following
  std::vector<OutboxMessage> platform_reports;  // written in the same transaction (not read back)
};

// Audit log of every command sent to a device.
struct CommandRecord {
  TimePoint at{};
  std::string charger_id;
  std::string kind;                        // "limit", "enable", "failsafe", ...
  std::string payload;                     // JSON as sent (or its logical content)
  std::uint64_t seq = 0;
  std::optional<TimePoint> acked_at;
  std::string result;                      // "", "accepted", "rejected: ...", "timeout"
};

// The device's answer to command (charger_id, seq); updates that row of the audit log.
struct CommandAck {
  std::string charger_id;
  std::uint64_t seq = 0;
  TimePoint acked_at{};
  std::string result;
};

struct EventRecord {
  TimePoint at{};
  std::string level;                       // "info", "warn", "error"
  std::string source;                      // "charger:p-101", "control", "platform", ...
  std::string message;
};

// A charging session; written again (upsert by id) whenever it changes.
struct SessionRecord {
  std::string id;
  std::string charger_id;
  std::string household;
  std::string rfid;
  TimePoint started_at{};
  std::optional<TimePoint> ended_at;
  double energy_wh = 0;
  std::array<double, 4> energy_wh_by_period{};  // indexed by scheduler::Period (sharp..valley)
  double cost_yuan = 0;
  // Schema 3: what the session was asked for and how far settlement has got, so a restart
  // resumes it and KPIs (requests met, cost vs uncontrolled) can be computed from the table.
  bool is_private = true;
  double max_power_w = 0;                  // the pile's maximum (the uncontrolled comparison)
  std::optional<TimePoint> departure;      // effective departure
  double requested_wh = 0;                 // effective energy request; 0 = none known
  std::string request_source;              // "resident", "learned", "default"
  bool boost = false;
  std::optional<TimePoint> not_before;
  double discharged_wh = 0;                // V2G
  double compensation_yuan = 0;            // V2G, rounded to fen
  std::optional<TimePoint> met_at;         // when delivered energy first reached the request
  // Last counter reading settled: settlement continues from here after a restart.
  std::optional<TimePoint> last_reading_at;
  double last_reading_wh = 0;
  std::vector<OutboxMessage> platform_reports;  // written in the same transaction (not read back)
};

// A plan as computed by the control loop (audit, and resumed after a restart until re-planned).
struct PlanRecord {
  TimePoint created_at{};
  TimePoint slot_start{};                  // start of the plan's slot 0
  int slot_minutes = 15;
  std::string reason;                      // "slot", "plug-in", "request", "forecast", ...
  std::string plan_json;                   // {"chargers": {"<id>": [kW per slot]}, ...}
};

// A demand-response event: the site limit is lowered to limit_kw during [start, end). Written
// again (upsert by id) when it is cancelled or changed.
struct DrEventRecord {
  std::string id;                          // the platform's event id, or one made up locally
  TimePoint start{};
  TimePoint end{};
  double limit_kw = 0;
  std::string source;                      // "platform", "config", "operator", ...
  TimePoint created_at{};
  bool cancelled = false;
};

// 15 minutes of one meter, folded from its raw samples by prune().
struct MeterAggregate {
  TimePoint slot_start{};
  std::string meter_id;
  int samples = 0;
  double avg_power_w = 0;                  // NaN when no sample had a power
  double max_power_w = 0;
};

// One meter's raw samples over a period, summarised inside SQLite (KPIs over a year read no rows
// out). Minutes are clock minutes (UTC, which for whole-minute offsets are local minutes too).
struct MeterSummary {
  std::int64_t minutes_measured = 0;       // minutes holding at least one power reading
  std::int64_t minutes_above = 0;          // ... of which one was above the threshold
  std::optional<double> peak_w;            // empty: no reading
  std::optional<TimePoint> peak_at;
};

// 15 minutes of one charger, folded from its 1-minute samples by prune().
struct ChargerAggregate {
  TimePoint slot_start{};
  std::string charger_id;
  int samples = 0;
  double energy_wh = 0;                    // mean sampled power x 15 min
  double max_power_w = 0;
};

// Retention ([store] raw_retention_days, aggregate_retention_days): raw samples before
// raw_before are folded into 15-minute meter and charger aggregates and deleted, and so are
// plans, device commands and expired account links older than it; aggregates, events, the audit
// log, ended sessions and demand-response events older than aggregate_before are deleted (the
// tables left - meta, chargers, users - hold one row per configured thing). Post one a day
// through the writer, with times from the Clock, and only when the RetentionGuard
// (clock_watch.hpp) allows: a wall clock that jumped years ahead would delete everything.
struct PruneRequest {
  TimePoint raw_before{};
  TimePoint aggregate_before{};
  TimePoint at{};  // the wall time it was made; kept as last_prune_at() ({}: not kept)
};

using StoreRecord = std::variant<MeterSample, ChargerSample, CommandRecord, CommandAck,
                                 EventRecord, SessionRecord, PruneRequest, PlanRecord,
                                 DrEventRecord, OutboxMessage>;

class Store {
 public:
  // Schema version this build knows (number of migration steps).
  static int known_schema_version();

  // Opens (creating if needed) and migrates. Throws StoreError, e.g. when the file's schema is
  // newer than this build or the directory is not writable.
  explicit Store(const std::filesystem::path& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&& other) noexcept;
  Store& operator=(Store&& other) noexcept;

  const std::filesystem::path& path() const { return path_; }
  int schema_version() const;
  std::string journal_mode() const;
  // "ok" or SQLite's list of problems.
  std::string integrity_check() const;

  // All records in one transaction (all or nothing). Throws StoreError.
  void write(const std::vector<StoreRecord>& records);
  void write(const StoreRecord& record) { write(std::vector<StoreRecord>{record}); }

  // The configured chargers (upserted at start, so sessions and commands can name them).
  void sync_chargers(const std::vector<ChargerConfig>& chargers);

  void set_meta(std::string_view key, std::string_view value);
  std::optional<std::string> meta(std::string_view key) const;

  // Reads, for the web UI and tests.
  std::vector<MeterSample> latest_meter_samples() const;      // newest per meter
  std::vector<ChargerSample> latest_charger_samples() const;  // newest per charger
  std::vector<MeterSample> meter_samples(std::string_view meter_id, TimePoint from,
                                         TimePoint to) const;  // from <= at < to, oldest first
  std::vector<ChargerSample> charger_samples(std::string_view charger_id, TimePoint from,
                                             TimePoint to) const;  // from <= at < to, oldest first
  std::vector<CommandRecord> recent_commands(std::size_t limit) const;  // newest first
  std::vector<EventRecord> recent_events(std::size_t limit) const;      // newest first
  std::optional<SessionRecord> session(std::string_view id) const;
  std::vector<SessionRecord> sessions(TimePoint from, TimePoint to) const;  // started in range
  std::vector<SessionRecord> open_sessions() const;                // not ended, oldest first
  // Ended sessions that started at or after `since`, oldest first (household habits).
  std::vector<SessionRecord> closed_sessions(TimePoint since) const;
  std::optional<PlanRecord> latest_plan() const;                   // the last one written
  std::vector<PlanRecord> recent_plans(std::size_t limit) const;   // newest first (the plan audit)
  // The newest timestamp among events and raw samples: the last wall time this store saw, the
  // reference the retention guard checks the wall clock against at start (clock_watch.hpp).
  std::optional<TimePoint> newest_record_at() const;
  // The `at` of the last PruneRequest applied: the retention guard's reference at start.
  std::optional<TimePoint> last_prune_at() const;
  // Events overlapping [from, to) (cancelled ones included, flagged), by start time.
  std::vector<DrEventRecord> dr_events(TimePoint from, TimePoint to) const;
  // One meter's 15-minute aggregates with from <= slot_start < to, oldest first.
  std::vector<MeterAggregate> meter_aggregates(std::string_view meter_id, TimePoint from,
                                               TimePoint to) const;
  // Peak and minutes above `threshold_w` of one meter's raw samples with from <= at < to.
  MeterSummary meter_summary(std::string_view meter_id, TimePoint from, TimePoint to,
                             double threshold_w) const;
  // One charger's 15-minute aggregates with from <= slot_start < to, oldest first.
  std::vector<ChargerAggregate> charger_aggregates(std::string_view charger_id, TimePoint from,
                                                   TimePoint to) const;
  // Rows in one of the gateway's tables (tests, diagnostics). Throws for an unknown table.
  std::int64_t row_count(std::string_view table) const;

  // The platform outbox, for its sender (platform.hpp), which owns the delivery columns on a
  // connection of its own. The oldest undelivered message of each kind, by row:
  std::vector<OutboxEntry> outbox_heads() const;
  std::vector<OutboxEntry> outbox(std::size_t limit) const;  // every row, oldest first (tests)
  void outbox_delivered(std::int64_t row, TimePoint at);
  void outbox_failed(std::int64_t row, TimePoint next_attempt_at, std::string_view error);
  OutboxStatus outbox_status() const;

  // Applies a PruneRequest in one transaction. Returns the rows deleted.
  std::int64_t prune(const PruneRequest& request);

 private:
  void migrate();
  std::int64_t prune_in_transaction(const PruneRequest& request);
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

// One outcome from the writer: the records first_seq..last_seq (sequence numbers from append())
// were committed, or were given up on with the reason in `error` (SQLite's words after the last
// failed attempt, or why they were never attempted). Reports come in sequence order and each
// starts where the previous one ended, so every appended record is in exactly one of them.
struct CommitReport {
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  bool committed = false;
  std::string error;
};

// The writer's counters since it started, for the status JSON, /metrics and /healthz. The names
// are the metric names' tails (orderly_store_<name>); keep them stable.
struct StoreWriterStats {
  std::uint64_t committed_records = 0;
  std::uint64_t transactions = 0;
  std::uint64_t failures = 0;              // failed attempts at a transaction (each retried)
  std::uint64_t dropped_records = 0;       // given up on for any reason, shed_records included
  std::uint64_t shed_records = 0;          // ... of which dropped to keep the queue at max_queue
  std::uint64_t queued_records = 0;        // waiting for the disk now
  bool failing = false;                    // the last attempt at a transaction failed
  std::string last_error;                  // SQLite's words for the last failed attempt ("": none)
};

struct StoreWriterOptions {
  std::chrono::milliseconds flush_interval{1000};
  std::size_t max_batch = 1000;            // commit early when this many records wait
  // Beyond this many waiting records the oldest sample is shed; with no sample waiting the
  // oldest event, command or plan; only then the oldest record of any kind (sessions, outbox
  // messages, DR events).
  std::size_t max_queue = 200000;
  // Called on the writer thread with every report (on the appending thread for an append()
  // after the writer has stopped). Keep it short, e.g. post the report to your event loop; it
  // may append() but must not flush().
  std::function<void(const CommitReport&)> on_commit = nullptr;
  // Tests and benchmarks: runs on the writer thread before every attempt at a transaction (sleep
  // to play a slow disk). A std::exception from it counts as a failed attempt.
  std::function<void()> before_commit = nullptr;
};

// Batches appends from any thread into a Store owned by the writer's own thread. Appending
// never blocks on disk. The destructor (or stop()) commits everything queued before returning.
// A failed transaction is retried after the flush interval, twice, then its records are reported
// failed (at the first failure once stopping): whoever waits for one answers that it was not
// saved, and stats() shows the failure until a transaction succeeds again.
class StoreWriter {
 public:
  // Opens and migrates the database on the calling thread, so errors surface at start-up.
  explicit StoreWriter(const std::filesystem::path& path, StoreWriterOptions options = {});
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Queues a record and returns its sequence number (1, 2, 3, ... in append order), which a
  // later CommitReport covers. After stop() the record is dropped and reported failed.
  std::uint64_t append(StoreRecord record);
  std::uint64_t append(MeterSample s) { return append(StoreRecord{std::move(s)}); }
  std::uint64_t append(ChargerSample s) { return append(StoreRecord{std::move(s)}); }
  std::uint64_t append(CommandRecord c) { return append(StoreRecord{std::move(c)}); }
  std::uint64_t append(CommandAck a) { return append(StoreRecord{std::move(a)}); }
  std::uint64_t append(EventRecord e) { return append(StoreRecord{std::move(e)}); }
  std::uint64_t append(SessionRecord s) { return append(StoreRecord{std::move(s)}); }
  std::uint64_t append(PruneRequest p) { return append(StoreRecord{p}); }
  std::uint64_t append(PlanRecord p) { return append(StoreRecord{std::move(p)}); }
  std::uint64_t append(DrEventRecord e) { return append(StoreRecord{std::move(e)}); }
  std::uint64_t append(OutboxMessage m) { return append(StoreRecord{std::move(m)}); }

  // Asks for everything queued now to be committed at once rather than at the next interval
  // (a person waits for the answer); returns without waiting.
  void commit_soon();
  // Blocks until everything appended before the call is reported (committed or given up on).
  // For tools, tests and shutdown: on the event loop, use commit_soon() and on_commit instead.
  void flush();
  // Commits what is queued and joins the thread. Idempotent.
  void stop();

  std::uint64_t committed_records() const;
  std::uint64_t transactions() const;
  std::uint64_t failures() const;          // failed attempts at a transaction (retried)
  std::uint64_t dropped_records() const;   // given up on: failed, overflowed, after stop()
  std::size_t queued() const;               // appended, not yet taken into a transaction
  StoreWriterStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::gateway
