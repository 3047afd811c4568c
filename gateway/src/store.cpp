// SQLite store: schema migrations, batched writes, reads for the web and tests.
#include "orderly/gateway/store.hpp"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "orderly/gateway/config.hpp"
#include "store_sql.hpp"

namespace orderly::gateway {

namespace {

using sql::exec;
using sql::from_ms;
using sql::Stmt;
using sql::to_ms;
using sql::Transaction;

// Each step runs in its own transaction and bumps PRAGMA user_version by one. Append new steps;
// never edit a released one, because boxes in the field have already applied it.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> steps = {
      // 1: initial schema
      R"sql(
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE chargers (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, household TEXT NOT NULL,
        phase TEXT NOT NULL, node TEXT NOT NULL, driver TEXT NOT NULL, profile TEXT NOT NULL,
        max_power_kw REAL NOT NULL, configured INTEGER NOT NULL DEFAULT 1);
      CREATE TABLE meter_samples (
        ts_ms INTEGER NOT NULL, meter_id TEXT NOT NULL, power_w REAL,
        power_a_w REAL, power_b_w REAL, power_c_w REAL,
        current_a_a REAL, current_b_a REAL, current_c_a REAL,
        voltage_a_v REAL, voltage_b_v REAL, voltage_c_v REAL,
        import_energy_wh REAL, export_energy_wh REAL);
      CREATE INDEX meter_samples_by_meter ON meter_samples (meter_id, ts_ms);
      CREATE INDEX meter_samples_by_time ON meter_samples (ts_ms);
      CREATE TABLE charger_samples (
        ts_ms INTEGER NOT NULL, charger_id TEXT NOT NULL, state TEXT NOT NULL, power_w REAL,
        current_a_a REAL, current_b_a REAL, current_c_a REAL,
        session_energy_wh REAL, total_energy_wh REAL, limit_w REAL, applied_limit_w REAL);
      CREATE INDEX charger_samples_by_charger ON charger_samples (charger_id, ts_ms);
      CREATE INDEX charger_samples_by_time ON charger_samples (ts_ms);
      CREATE TABLE commands (
        id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, charger_id TEXT NOT NULL,
        kind TEXT NOT NULL, payload TEXT NOT NULL, seq INTEGER NOT NULL,
        acked_at_ms INTEGER, result TEXT NOT NULL DEFAULT '');
      CREATE INDEX commands_by_charger_seq ON commands (charger_id, seq);
      CREATE TABLE events (
        id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, level TEXT NOT NULL,
        source TEXT NOT NULL, message TEXT NOT NULL);
      CREATE INDEX events_by_time ON events (ts_ms);
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY, charger_id TEXT NOT NULL, household TEXT NOT NULL,
        rfid TEXT NOT NULL, started_ms INTEGER NOT NULL, ended_ms INTEGER,
        energy_wh REAL NOT NULL, energy_sharp_wh REAL NOT NULL, energy_peak_wh REAL NOT NULL,
        energy_flat_wh REAL NOT NULL, energy_valley_wh REAL NOT NULL, cost_yuan REAL NOT NULL);
      CREATE INDEX sessions_by_start ON sessions (started_ms);
      )sql",
      // 2: 15-minute aggregates kept after raw samples expire ([store] aggregate_retention_days)
      R"sql(
      CREATE TABLE meter_aggregates (
        slot_start_ms INTEGER NOT NULL, meter_id TEXT NOT NULL, samples INTEGER NOT NULL,
        avg_power_w REAL, max_power_w REAL, PRIMARY KEY (meter_id, slot_start_ms));
      )sql",
      // 3: sessions carry their request and settlement progress (restart resumes them, KPIs
      // read them); plans, demand-response events, 15-minute charger aggregates
      R"sql(
      ALTER TABLE sessions ADD COLUMN is_private INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE sessions ADD COLUMN max_power_w REAL NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN departure_ms INTEGER;
      ALTER TABLE sessions ADD COLUMN requested_wh REAL NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN request_source TEXT NOT NULL DEFAULT '';
      ALTER TABLE sessions ADD COLUMN boost INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN not_before_ms INTEGER;
      ALTER TABLE sessions ADD COLUMN discharged_wh REAL NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN compensation_yuan REAL NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN met_ms INTEGER;
      ALTER TABLE sessions ADD COLUMN last_reading_ms INTEGER;
      ALTER TABLE sessions ADD COLUMN last_reading_wh REAL NOT NULL DEFAULT 0;
      CREATE INDEX sessions_open ON sessions (started_ms) WHERE ended_ms IS NULL;
      CREATE TABLE plans (
        id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL, slot_start_ms INTEGER NOT NULL,
        slot_minutes INTEGER NOT NULL, reason TEXT NOT NULL, plan_json TEXT NOT NULL);
      CREATE INDEX plans_by_time ON plans (created_ms);
      CREATE TABLE dr_events (
        id TEXT PRIMARY KEY, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
        limit_kw REAL NOT NULL, source TEXT NOT NULL, created_ms INTEGER NOT NULL,
        cancelled INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX dr_events_by_start ON dr_events (start_ms);
      CREATE TABLE charger_aggregates (
        slot_start_ms INTEGER NOT NULL, charger_id TEXT NOT NULL, samples INTEGER NOT NULL,
        energy_wh REAL, max_power_w REAL, PRIMARY KEY (charger_id, slot_start_ms));
      )sql",
      // 4: web accounts (accounts.cpp): Argon2id password hashes, platform tokens and one-time
      // links only as hashes; the audit log of operator and admin actions
      R"sql(
      CREATE TABLE users (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, household TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL DEFAULT '', token_hash TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL);
      CREATE TABLE account_links (
        token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, user TEXT NOT NULL DEFAULT '',
        household TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL, expires_ms INTEGER NOT NULL,
        used_ms INTEGER);
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
      CREATE INDEX audit_by_time ON audit_log (ts_ms);
      )sql",
      // 5: the city platform's outbox (docs/platform-api.md): sent in id order per kind;
      // message_id makes writing (and sending) the same message twice harmless
      R"sql(
      CREATE TABLE platform_outbox (
        id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        data TEXT NOT NULL, created_ms INTEGER NOT NULL, supersede_key TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
        last_error TEXT NOT NULL DEFAULT '', delivered_ms INTEGER);
      CREATE INDEX platform_outbox_pending ON platform_outbox (kind, id) WHERE delivered_ms IS NULL;
      CREATE INDEX platform_outbox_delivered ON platform_outbox (delivered_ms) WHERE delivered_ms IS NOT NULL;
      )sql",
      // 6: retention for the device command log (a limit is re-sent every 30 s per pile), which
      // prune() deletes by time
      R"sql(
      CREATE INDEX commands_by_time ON commands (ts_ms);
      )sql",
  };
  return steps;
}

constexpr const char* kTables[] = {"meta",      "chargers",          "meter_samples",
                                   "charger_samples",   "commands",  "events",
                                   "sessions",  "meter_aggregates",  "plans",
                                   "dr_events", "charger_aggregates", "users",
                                   "account_links", "audit_log", "platform_outbox"};

MeterSample read_meter_sample(const Stmt& s) {
  MeterSample m;
  m.at = s.time(0);
  m.meter_id = s.text(1);
  m.power_w = s.real(2);
  for (int i = 0; i < 3; ++i) {
    m.power_w_phase[i] = s.real(3 + i);
    m.current_a[i] = s.real(6 + i);
    m.voltage_v[i] = s.real(9 + i);
  }
  m.import_energy_wh = s.real(12);
  m.export_energy_wh = s.real(13);
  return m;
}
constexpr const char* kMeterColumns =
    "ts_ms, meter_id, power_w, power_a_w, power_b_w, power_c_w, current_a_a, current_b_a, "
    "current_c_a, voltage_a_v, voltage_b_v, voltage_c_v, import_energy_wh, export_energy_wh";

ChargerSample read_charger_sample(const Stmt& s) {
  ChargerSample c;
  c.at = s.time(0);
  c.charger_id = s.text(1);
  c.state = s.text(2);
  c.power_w = s.real(3);
  for (int i = 0; i < 3; ++i) c.current_a[i] = s.real(4 + i);
  c.session_energy_wh = s.real(7);
  c.total_energy_wh = s.real(8);
  c.limit_w = s.real(9);
  c.applied_limit_w = s.real(10);
  return c;
}
constexpr const char* kChargerColumns =
    "ts_ms, charger_id, state, power_w, current_a_a, current_b_a, current_c_a, "
    "session_energy_wh, total_energy_wh, limit_w, applied_limit_w";

SessionRecord read_session(const Stmt& s) {
  SessionRecord r;
  r.id = s.text(0);
  r.charger_id = s.text(1);
  r.household = s.text(2);
  r.rfid = s.text(3);
  r.started_at = s.time(4);
  r.ended_at = s.optional_time(5);
  r.energy_wh = s.real(6);
  for (int i = 0; i < 4; ++i) r.energy_wh_by_period[i] = s.real(7 + i);
  r.cost_yuan = s.real(11);
  r.is_private = s.integer(12) != 0;
  r.max_power_w = s.real(13);
  r.departure = s.optional_time(14);
  r.requested_wh = s.real(15);
  r.request_source = s.text(16);
  r.boost = s.integer(17) != 0;
  r.not_before = s.optional_time(18);
  r.discharged_wh = s.real(19);
  r.compensation_yuan = s.real(20);
  r.met_at = s.optional_time(21);
  r.last_reading_at = s.optional_time(22);
  r.last_reading_wh = s.real(23);
  return r;
}
constexpr const char* kSessionColumnList[] = {
    "id",           "charger_id",       "household",        "rfid",
    "started_ms",   "ended_ms",         "energy_wh",        "energy_sharp_wh",
    "energy_peak_wh", "energy_flat_wh", "energy_valley_wh", "cost_yuan",
    "is_private",   "max_power_w",      "departure_ms",     "requested_wh",
    "request_source", "boost",          "not_before_ms",    "discharged_wh",
    "compensation_yuan", "met_ms",      "last_reading_ms",  "last_reading_wh"};

std::string session_columns() {
  std::string out;
  for (const char* c : kSessionColumnList) out += (out.empty() ? "" : ", ") + std::string(c);
  return out;
}

// Upsert by id: a session is written again whenever it changes.
std::string session_upsert_sql() {
  std::string values, updates;
  for (const char* c : kSessionColumnList) {
    values += values.empty() ? "?" : ",?";
    if (std::string_view(c) == "id") continue;
    updates += (updates.empty() ? "" : ", ") + std::string(c) + " = excluded." + c;
  }
  return "INSERT INTO sessions (" + session_columns() + ") VALUES (" + values +
         ") ON CONFLICT (id) DO UPDATE SET " + updates;
}

void bind_session(Stmt& s, const SessionRecord& r) {
  s.bind(r.id).bind(r.charger_id).bind(r.household).bind(r.rfid).bind(r.started_at)
      .bind(r.ended_at).bind(r.energy_wh);
  for (double v : r.energy_wh_by_period) s.bind(v);
  s.bind(r.cost_yuan).bind(std::int64_t{r.is_private}).bind(r.max_power_w).bind(r.departure)
      .bind(r.requested_wh).bind(r.request_source).bind(std::int64_t{r.boost}).bind(r.not_before)
      .bind(r.discharged_wh).bind(r.compensation_yuan).bind(r.met_at).bind(r.last_reading_at)
      .bind(r.last_reading_wh);
}

constexpr const char* kDrEventColumns =
    "id, start_ms, end_ms, limit_kw, source, created_ms, cancelled";
DrEventRecord read_dr_event(const Stmt& s) {
  DrEventRecord e;
  e.id = s.text(0);
  e.start = s.time(1);
  e.end = s.time(2);
  e.limit_kw = s.real(3);
  e.source = s.text(4);
  e.created_at = s.time(5);
  e.cancelled = s.integer(6) != 0;
  return e;
}

}  // namespace

// ---- Store ----------------------------------------------------------------------------------

int Store::known_schema_version() { return static_cast<int>(migrations().size()); }

Store::Store(const std::filesystem::path& path) : path_(path) {
  const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(path.string() + ": cannot open the database (" + why +
                     "); check that the directory exists and is writable by the orderly user, "
                     "or set [store] path");
  }
  try {
    // Another process (a second orderly, sqlite3 CLI) may briefly hold the write lock.
    sqlite3_busy_timeout(db_, 5000);
    std::string mode;
    {
      Stmt s(db_, "PRAGMA journal_mode=WAL", path_);
      if (s.step()) mode = s.text(0);
    }
    if (mode != "wal") {
      throw StoreError(path.string() + ": could not switch to WAL journal mode (got '" + mode +
                       "'); the file system may not support shared memory");
    }
    // FULL: in WAL mode NORMAL would let a power cut undo commits already answered for (the WAL
    // is fsynced only at checkpoints, https://www.sqlite.org/pragma.html#pragma_synchronous).
    // FULL costs one fsync per transaction, and the writer batches samples into one a second.
    exec(db_, path_, "PRAGMA synchronous=FULL");
    exec(db_, path_, "PRAGMA foreign_keys=ON");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  if (db_) sqlite3_close(db_);
}

Store::Store(Store&& other) noexcept
    : path_(std::move(other.path_)), db_(std::exchange(other.db_, nullptr)) {}

Store& Store::operator=(Store&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close(db_);
    path_ = std::move(other.path_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

void Store::migrate() {
  const int known = known_schema_version();
  const int current = schema_version();
  if (current > known) {
    throw StoreError(path_.string() + ": database schema version " + std::to_string(current) +
                     " is newer than this orderly (knows " + std::to_string(known) +
                     "): refusing to start; install a newer package or restore a backup");
  }
  for (int step = current; step < known; ++step) {
    Transaction tx(db_, path_);
    exec(db_, path_, migrations()[static_cast<std::size_t>(step)]);
    exec(db_, path_, ("PRAGMA user_version=" + std::to_string(step + 1)).c_str());
    tx.commit();
    spdlog::info("store migrated path={} schema_version={}", path_.string(), step + 1);
  }
}

int Store::schema_version() const {
  Stmt s(db_, "PRAGMA user_version", path_);
  return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

std::string Store::journal_mode() const {
  Stmt s(db_, "PRAGMA journal_mode", path_);
  return s.step() ? s.text(0) : std::string();
}

std::string Store::integrity_check() const {
  Stmt s(db_, "PRAGMA integrity_check", path_);
  std::string out;
  while (s.step()) {
    if (!out.empty()) out += "\n";
    out += s.text(0);
  }
  return out;
}

void Store::write(const std::vector<StoreRecord>& records) {
  if (records.empty()) return;
  Transaction tx(db_, path_);
  std::optional<Stmt> meter, charger, command, ack, event, session, plan, dr_event, outbox, supersede;
  auto prepared = [&](std::optional<Stmt>& s, const char* sql) -> Stmt& {
    if (!s) s.emplace(db_, sql, path_);
    return *s;
  };
  // In the transaction of the record it reports, so the report exists exactly when the data does.
  const auto queue_report = [&](const OutboxMessage& m) {
    if (!m.supersede_key.empty()) {
      prepared(supersede, "DELETE FROM platform_outbox WHERE kind = ? AND supersede_key = ? AND "
                          "delivered_ms IS NULL")
          .bind(m.kind).bind(m.supersede_key).run();
    }
    prepared(outbox, "INSERT INTO platform_outbox (message_id, kind, data, created_ms, supersede_key, "
                     "next_attempt_ms) VALUES (?,?,?,?,?,?) ON CONFLICT (message_id) DO NOTHING")
        .bind(m.message_id).bind(m.kind).bind(m.data).bind(m.created_at).bind(m.supersede_key)
        .bind(m.created_at).run();
  };
  for (const auto& record : records) {
    std::visit(
        [&](const auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, MeterSample>) {
            auto& s = prepared(meter,
                               "INSERT INTO meter_samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
            s.bind(r.at).bind(r.meter_id).bind(r.power_w);
            for (double v : r.power_w_phase) s.bind(v);
            for (double v : r.current_a) s.bind(v);
            for (double v : r.voltage_v) s.bind(v);
            s.bind(r.import_energy_wh).bind(r.export_energy_wh).run();
          } else if constexpr (std::is_same_v<T, ChargerSample>) {
            auto& s =
                prepared(charger, "INSERT INTO charger_samples VALUES (?,?,?,?,?,?,?,?,?,?,?)");
            s.bind(r.at).bind(r.charger_id).bind(r.state).bind(r.power_w);
            for (double v : r.current_a) s.bind(v);
            s.bind(r.session_energy_wh).bind(r.total_energy_wh).bind(r.limit_w)
                .bind(r.applied_limit_w).run();
            for (const auto& m : r.platform_reports) queue_report(m);
          } else if constexpr (std::is_same_v<T, CommandRecord>) {
            auto& s = prepared(command,
                               "INSERT INTO commands (ts_ms, charger_id, kind, payload, seq, "
                               "acked_at_ms, result) VALUES (?,?,?,?,?,?,?)");
            s.bind(r.at).bind(r.charger_id).bind(r.kind).bind(r.payload)
                .bind(static_cast<std::int64_t>(r.seq)).bind(r.acked_at).bind(r.result).run();
          } else if constexpr (std::is_same_v<T, CommandAck>) {
            auto& s = prepared(ack,
                               "UPDATE commands SET acked_at_ms = ?, result = ? WHERE id = "
                               "(SELECT max(id) FROM commands WHERE charger_id = ? AND seq = ?)");
            s.bind(r.acked_at).bind(r.result).bind(r.charger_id)
                .bind(static_cast<std::int64_t>(r.seq)).run();
          } else if constexpr (std::is_same_v<T, EventRecord>) {
            auto& s = prepared(event,
                               "INSERT INTO events (ts_ms, level, source, message) "
                               "VALUES (?,?,?,?)");
            s.bind(r.at).bind(r.level).bind(r.source).bind(r.message).run();
          } else if constexpr (std::is_same_v<T, SessionRecord>) {
            static const std::string sql = session_upsert_sql();
            auto& s = prepared(session, sql.c_str());
            bind_session(s, r);
            s.run();
            for (const auto& m : r.platform_reports) queue_report(m);
          } else if constexpr (std::is_same_v<T, PruneRequest>) {
            prune_in_transaction(r);
          } else if constexpr (std::is_same_v<T, PlanRecord>) {
            auto& s = prepared(plan,
                               "INSERT INTO plans (created_ms, slot_start_ms, slot_minutes, "
                               "reason, plan_json) VALUES (?,?,?,?,?)");
            s.bind(r.created_at).bind(r.slot_start).bind(std::int64_t{r.slot_minutes})
                .bind(r.reason).bind(r.plan_json).run();
          } else if constexpr (std::is_same_v<T, DrEventRecord>) {
            auto& s = prepared(
                dr_event,
                "INSERT INTO dr_events (id, start_ms, end_ms, limit_kw, source, created_ms, "
                "cancelled) VALUES (?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET start_ms = "
                "excluded.start_ms, end_ms = excluded.end_ms, limit_kw = excluded.limit_kw, "
                "source = excluded.source, cancelled = excluded.cancelled");
            s.bind(r.id).bind(r.start).bind(r.end).bind(r.limit_kw).bind(r.source)
                .bind(r.created_at).bind(std::int64_t{r.cancelled}).run();
          } else if constexpr (std::is_same_v<T, OutboxMessage>) {
            queue_report(r);
          } else {
            static_assert(sizeof(T) == 0, "every StoreRecord alternative needs a writer");
          }
        },
        record);
  }
  tx.commit();
}

void Store::sync_chargers(const std::vector<ChargerConfig>& chargers) {
  Transaction tx(db_, path_);
  exec(db_, path_, "UPDATE chargers SET configured = 0");
  Stmt s(db_,
         "INSERT INTO chargers VALUES (?,?,?,?,?,?,?,?,?,1) ON CONFLICT (id) DO UPDATE SET "
         "name = excluded.name, kind = excluded.kind, household = excluded.household, "
         "phase = excluded.phase, node = excluded.node, driver = excluded.driver, "
         "profile = excluded.profile, max_power_kw = excluded.max_power_kw, configured = 1",
         path_);
  for (const auto& c : chargers) {
    s.bind(c.id).bind(c.name).bind(to_string(c.kind)).bind(c.household).bind(to_string(c.phase))
        .bind(c.node).bind(to_string(c.driver)).bind(c.profile).bind(c.max_power_kw).run();
  }
  tx.commit();
}

namespace {
constexpr const char* kLastPruneKey = "last_prune_at_ms";
}  // namespace

void Store::set_meta(std::string_view key, std::string_view value) {
  Stmt s(db_, "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
         path_);
  s.bind(key).bind(value).run();
}

std::optional<std::string> Store::meta(std::string_view key) const {
  Stmt s(db_, "SELECT value FROM meta WHERE key = ?", path_);
  s.bind(key);
  if (s.step()) return s.text(0);
  return std::nullopt;
}

namespace {

// Newest row per device in O(devices x log rows): walk the distinct ids through the
// (id, ts_ms) index with a recursive skip-scan, then take each id's last row from the same
// index. A GROUP BY over the whole table would read every sample (~190 ms for one day of 50
// meters on the target class of machine; see gateway_store_bench).
std::string newest_per_device_sql(const std::string& table, const std::string& id_column,
                                  const char* columns) {
  return "WITH RECURSIVE ids(id) AS (SELECT min(" + id_column + ") FROM " + table +
         " UNION ALL SELECT (SELECT min(" + id_column + ") FROM " + table + " WHERE " +
         id_column + " > ids.id) FROM ids WHERE id IS NOT NULL) SELECT " + columns +
         " FROM ids JOIN " + table + " ON " + table + ".rowid = (SELECT rowid FROM " + table +
         " WHERE " + id_column + " = ids.id ORDER BY ts_ms DESC LIMIT 1) ORDER BY " + id_column;
}

}  // namespace

std::vector<MeterSample> Store::latest_meter_samples() const {
  Stmt s(db_, newest_per_device_sql("meter_samples", "meter_id", kMeterColumns), path_);
  std::vector<MeterSample> out;
  while (s.step()) out.push_back(read_meter_sample(s));
  return out;
}

std::vector<ChargerSample> Store::latest_charger_samples() const {
  Stmt s(db_, newest_per_device_sql("charger_samples", "charger_id", kChargerColumns), path_);
  std::vector<ChargerSample> out;
  while (s.step()) out.push_back(read_charger_sample(s));
  return out;
}

std::vector<MeterSample> Store::meter_samples(std::string_view meter_id, TimePoint from,
                                              TimePoint to) const {
  Stmt s(db_,
         std::string("SELECT ") + kMeterColumns +
             " FROM meter_samples WHERE meter_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
         path_);
  s.bind(meter_id).bind(from).bind(to);
  std::vector<MeterSample> out;
  while (s.step()) out.push_back(read_meter_sample(s));
  return out;
}

std::vector<ChargerSample> Store::charger_samples(std::string_view charger_id, TimePoint from,
                                                  TimePoint to) const {
  Stmt s(db_,
         std::string("SELECT ") + kChargerColumns +
             " FROM charger_samples WHERE charger_id = ? AND ts_ms >= ? AND ts_ms < ? "
             "ORDER BY ts_ms",
         path_);
  s.bind(charger_id).bind(from).bind(to);
  std::vector<ChargerSample> out;
  while (s.step()) out.push_back(read_charger_sample(s));
  return out;
}

std::vector<CommandRecord> Store::recent_commands(std::size_t limit) const {
  Stmt s(db_,
         "SELECT ts_ms, charger_id, kind, payload, seq, acked_at_ms, result FROM commands "
         "ORDER BY id DESC LIMIT ?",
         path_);
  s.bind(static_cast<std::int64_t>(limit));
  std::vector<CommandRecord> out;
  while (s.step()) {
    CommandRecord c;
    c.at = s.time(0);
    c.charger_id = s.text(1);
    c.kind = s.text(2);
    c.payload = s.text(3);
    c.seq = static_cast<std::uint64_t>(s.integer(4));
    c.acked_at = s.optional_time(5);
    c.result = s.text(6);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<EventRecord> Store::recent_events(std::size_t limit) const {
  Stmt s(db_, "SELECT ts_ms, level, source, message FROM events ORDER BY id DESC LIMIT ?", path_);
  s.bind(static_cast<std::int64_t>(limit));
  std::vector<EventRecord> out;
  while (s.step()) out.push_back(EventRecord{s.time(0), s.text(1), s.text(2), s.text(3)});
  return out;
}

std::optional<SessionRecord> Store::session(std::string_view id) const {
  Stmt s(db_, "SELECT " + session_columns() + " FROM sessions WHERE id = ?", path_);
  s.bind(id);
  if (s.step()) return read_session(s);
  return std::nullopt;
}

namespace {

// Sessions matching `where` (with `from` and `to` bound to its ?s, when given), oldest first.
std::vector<SessionRecord> select_sessions(sqlite3* db, const std::filesystem::path& path,
                                           const std::string& where,
                                           std::optional<TimePoint> from = std::nullopt,
                                           std::optional<TimePoint> to = std::nullopt) {
  Stmt s(db, "SELECT " + session_columns() + " FROM sessions WHERE " + where +
                 " ORDER BY started_ms, id",
         path);
  if (from) s.bind(*from);
  if (to) s.bind(*to);
  std::vector<SessionRecord> out;
  while (s.step()) out.push_back(read_session(s));
  return out;
}

}  // namespace

std::vector<SessionRecord> Store::sessions(TimePoint from, TimePoint to) const {
  return select_sessions(db_, path_, "started_ms >= ? AND started_ms < ?", from, to);
}

std::vector<SessionRecord> Store::open_sessions() const {
  return select_sessions(db_, path_, "ended_ms IS NULL");
}

std::vector<SessionRecord> Store::closed_sessions(TimePoint since) const {
  return select_sessions(db_, path_, "started_ms >= ? AND ended_ms IS NOT NULL", since);
}

std::optional<PlanRecord> Store::latest_plan() const {
  auto plans = recent_plans(1);
  if (plans.empty()) return std::nullopt;
  return std::move(plans.front());
}

std::vector<PlanRecord> Store::recent_plans(std::size_t limit) const {
  Stmt s(db_,
         "SELECT created_ms, slot_start_ms, slot_minutes, reason, plan_json FROM plans "
         "ORDER BY id DESC LIMIT ?",
         path_);
  s.bind(static_cast<std::int64_t>(limit));
  std::vector<PlanRecord> out;
  while (s.step()) {
    PlanRecord p;
    p.created_at = s.time(0);
    p.slot_start = s.time(1);
    p.slot_minutes = static_cast<int>(s.integer(2));
    p.reason = s.text(3);
    p.plan_json = s.text(4);
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<TimePoint> Store::last_prune_at() const {
  const auto text = meta(kLastPruneKey);
  if (!text) return std::nullopt;
  try {
    return from_ms(std::stoll(*text));
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: the guard falls back to the newest record
  }
}

std::optional<TimePoint> Store::newest_record_at() const {
  // Each max() is answered from its table's time index.
  Stmt s(db_,
         "SELECT max(t) FROM (SELECT max(ts_ms) AS t FROM events UNION ALL SELECT max(ts_ms) FROM meter_samples "
         "UNION ALL SELECT max(ts_ms) FROM charger_samples)",
         path_);
  if (!s.step()) return std::nullopt;
  return s.optional_time(0);
}

std::vector<DrEventRecord> Store::dr_events(TimePoint from, TimePoint to) const {
  Stmt s(db_,
         std::string("SELECT ") + kDrEventColumns +
             " FROM dr_events WHERE start_ms < ? AND end_ms > ? ORDER BY start_ms, id",
         path_);
  s.bind(to).bind(from);
  std::vector<DrEventRecord> out;
  while (s.step()) out.push_back(read_dr_event(s));
  return out;
}

std::vector<ChargerAggregate> Store::charger_aggregates(std::string_view charger_id,
                                                        TimePoint from, TimePoint to) const {
  Stmt s(db_,
         "SELECT slot_start_ms, charger_id, samples, energy_wh, max_power_w FROM "
         "charger_aggregates WHERE charger_id = ? AND slot_start_ms >= ? AND slot_start_ms < ? "
         "ORDER BY slot_start_ms",
         path_);
  s.bind(charger_id).bind(from).bind(to);
  std::vector<ChargerAggregate> out;
  while (s.step()) {
    out.push_back(ChargerAggregate{s.time(0), s.text(1), static_cast<int>(s.integer(2)),
                                   s.real(3), s.real(4)});
  }
  return out;
}

std::vector<MeterAggregate> Store::meter_aggregates(std::string_view meter_id, TimePoint from,
                                                    TimePoint to) const {
  Stmt s(db_,
         "SELECT slot_start_ms, meter_id, samples, avg_power_w, max_power_w FROM meter_aggregates "
         "WHERE meter_id = ? AND slot_start_ms >= ? AND slot_start_ms < ? ORDER BY slot_start_ms",
         path_);
  s.bind(meter_id).bind(from).bind(to);
  std::vector<MeterAggregate> out;
  while (s.step()) {
    out.push_back(MeterAggregate{s.time(0), s.text(1), static_cast<int>(s.integer(2)), s.real(3),
                                 s.real(4)});
  }
  return out;
}

MeterSummary Store::meter_summary(std::string_view meter_id, TimePoint from, TimePoint to,
                                  double threshold_w) const {
  // With max() SQLite takes the bare column ts_ms from the row holding the maximum
  // (https://www.sqlite.org/lang_select.html#bareagg), so the peak's time comes in the same pass.
  Stmt s(db_,
         "SELECT max(power_w), ts_ms, count(DISTINCT ts_ms / 60000), "
         "count(DISTINCT CASE WHEN power_w > ? THEN ts_ms / 60000 END) FROM meter_samples "
         "WHERE meter_id = ? AND ts_ms >= ? AND ts_ms < ? AND power_w IS NOT NULL",
         path_);
  s.bind(threshold_w).bind(meter_id).bind(from).bind(to);
  MeterSummary out;
  if (s.step() && !s.is_null(0)) {
    out.peak_w = s.real(0);
    out.peak_at = s.time(1);
    out.minutes_measured = s.integer(2);
    out.minutes_above = s.integer(3);
  }
  return out;
}

std::int64_t Store::row_count(std::string_view table) const {
  for (const char* t : kTables) {
    if (table != t) continue;
    Stmt s(db_, std::string("SELECT count(*) FROM ") + t, path_);
    return s.step() ? s.integer(0) : 0;
  }
  throw StoreError("row_count: unknown table '" + std::string(table) + "'");
}

std::int64_t Store::prune(const PruneRequest& request) {
  Transaction tx(db_, path_);
  const std::int64_t deleted = prune_in_transaction(request);
  tx.commit();
  return deleted;
}

std::int64_t Store::prune_in_transaction(const PruneRequest& request) {
  // Cut on a 15-minute boundary so no aggregate slot is built from a partial set of samples.
  constexpr std::int64_t kSlotMs = 15 * 60 * 1000;
  const std::int64_t cutoff = to_ms(request.raw_before) / kSlotMs * kSlotMs;
  {
    Stmt agg(db_,
             "INSERT OR REPLACE INTO meter_aggregates SELECT (ts_ms / 900000) * 900000, meter_id, "
             "count(*), avg(power_w), max(power_w) FROM meter_samples WHERE ts_ms < ? "
             "GROUP BY 1, 2",
             path_);
    agg.bind(cutoff).run();
  }
  {
    // Chargers are sampled once a minute whatever they do, so the mean sampled power over the
    // slot times 15 minutes is its energy (a slot with gaps is estimated from what was seen).
    Stmt agg(db_,
             "INSERT OR REPLACE INTO charger_aggregates SELECT (ts_ms / 900000) * 900000, "
             "charger_id, count(*), avg(power_w) * 0.25, max(power_w) FROM charger_samples "
             "WHERE ts_ms < ? GROUP BY 1, 2",
             path_);
    agg.bind(cutoff).run();
  }
  std::int64_t deleted = 0;
  const auto delete_before = [&](const char* sql, std::int64_t before_ms) {
    Stmt del(db_, sql, path_);
    del.bind(before_ms).run();
    deleted += sqlite3_changes(db_);
  };
  delete_before("DELETE FROM meter_samples WHERE ts_ms < ?", cutoff);
  delete_before("DELETE FROM charger_samples WHERE ts_ms < ?", cutoff);
  delete_before("DELETE FROM plans WHERE created_ms < ?", cutoff);
  delete_before("DELETE FROM commands WHERE ts_ms < ?", cutoff);
  delete_before("DELETE FROM account_links WHERE expires_ms < ?", cutoff);
  const std::int64_t aggregate_before = to_ms(request.aggregate_before);
  delete_before("DELETE FROM events WHERE ts_ms < ?", aggregate_before);
  delete_before("DELETE FROM audit_log WHERE ts_ms < ?", aggregate_before);
  delete_before("DELETE FROM sessions WHERE ended_ms IS NOT NULL AND ended_ms < ?", aggregate_before);
  delete_before("DELETE FROM dr_events WHERE end_ms < ?", aggregate_before);
  {
    // Delivered messages are kept as long as the raw samples, to answer "was it sent?"; the
    // periodic snapshots (a supersede key) only a day, or they would outnumber everything else.
    const std::int64_t day_ago = request.at == TimePoint{} ? 0 : to_ms(request.at) - 24LL * 3600 * 1000;
    Stmt del(db_, "DELETE FROM platform_outbox WHERE delivered_ms IS NOT NULL AND (delivered_ms < ? OR "
                  "(supersede_key != '' AND delivered_ms < ?))", path_);
    del.bind(cutoff).bind(day_ago).run();
    deleted += sqlite3_changes(db_);
  }
  delete_before("DELETE FROM meter_aggregates WHERE slot_start_ms < ?", aggregate_before);
  delete_before("DELETE FROM charger_aggregates WHERE slot_start_ms < ?", aggregate_before);
  if (request.at != TimePoint{}) set_meta(kLastPruneKey, std::to_string(to_ms(request.at)));
  return deleted;
}

// ---- the platform outbox (its sender's connection) ------------------------------------------

namespace {
constexpr const char* kOutboxColumns =
    "id, message_id, kind, data, created_ms, attempts, next_attempt_ms, last_error, delivered_ms";

OutboxEntry read_outbox_entry(const Stmt& s) {
  OutboxEntry e;
  e.row = s.integer(0);
  e.message.message_id = s.text(1);
  e.message.kind = s.text(2);
  e.message.data = s.text(3);
  e.message.created_at = s.time(4);
  e.attempts = static_cast<int>(s.integer(5));
  e.next_attempt_at = s.time(6);
  e.last_error = s.text(7);
  e.delivered_at = s.optional_time(8);
  return e;
}
}  // namespace

std::vector<OutboxEntry> Store::outbox_heads() const {
  Stmt s(db_, std::string("SELECT ") + kOutboxColumns + " FROM platform_outbox WHERE id IN (SELECT min(id) FROM "
                  "platform_outbox WHERE delivered_ms IS NULL GROUP BY kind) ORDER BY id", path_);
  std::vector<OutboxEntry> out;
  while (s.step()) out.push_back(read_outbox_entry(s));
  return out;
}

std::vector<OutboxEntry> Store::outbox(std::size_t limit) const {
  Stmt s(db_, std::string("SELECT ") + kOutboxColumns + " FROM platform_outbox ORDER BY id LIMIT ?", path_);
  s.bind(static_cast<std::int64_t>(limit));
  std::vector<OutboxEntry> out;
  while (s.step()) out.push_back(read_outbox_entry(s));
  return out;
}

void Store::outbox_delivered(std::int64_t row, TimePoint at) {
  Stmt s(db_, "UPDATE platform_outbox SET delivered_ms = ?, attempts = attempts + 1, last_error = '' WHERE id = ?",
         path_);
  s.bind(at).bind(row).run();
}

void Store::outbox_failed(std::int64_t row, TimePoint next_attempt_at, std::string_view error) {
  Stmt s(db_, "UPDATE platform_outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE id = ?",
         path_);
  s.bind(next_attempt_at).bind(error).bind(row).run();
}

OutboxStatus Store::outbox_status() const {
  OutboxStatus out;
  {
    Stmt s(db_, "SELECT count(*), min(created_ms) FROM platform_outbox WHERE delivered_ms IS NULL", path_);
    if (s.step()) {
      out.queued = s.integer(0);
      out.oldest_queued_at = s.optional_time(1);
    }
  }
  {
    Stmt s(db_, "SELECT last_error FROM platform_outbox WHERE delivered_ms IS NULL AND last_error != '' "
                "ORDER BY next_attempt_ms DESC LIMIT 1", path_);
    if (s.step()) out.last_error = s.text(0);
  }
  {
    Stmt s(db_, "SELECT max(delivered_ms) FROM platform_outbox WHERE delivered_ms IS NOT NULL", path_);
    if (s.step()) out.last_delivered_at = s.optional_time(0);
  }
  return out;
}

// ---- StoreWriter ----------------------------------------------------------------------------

namespace {
constexpr const char* kStoppedError = "the store writer has stopped";
constexpr const char* kOverflowError =
    "dropped unwritten: more than StoreWriterOptions::max_queue records waited for the disk";

// Which records a full queue gives up first: samples (the next minute brings another), then the
// logs (events, commands, plans), and only then what a bill, the platform or a person rests on.
int shed_rank(const StoreRecord& record) {
  if (std::holds_alternative<MeterSample>(record)) return 0;
  if (const auto* c = std::get_if<ChargerSample>(&record)) return c->platform_reports.empty() ? 0 : 2;
  if (std::holds_alternative<EventRecord>(record) || std::holds_alternative<CommandRecord>(record) ||
      std::holds_alternative<CommandAck>(record) || std::holds_alternative<PlanRecord>(record))
    return 1;
  return 2;
}

struct Queued {
  std::uint64_t seq = 0;
  StoreRecord record;
};
}  // namespace

struct StoreWriter::Impl {
  Impl(const std::filesystem::path& path, StoreWriterOptions o)
      : store(path), options(std::move(o)) {
    if (options.max_batch == 0) options.max_batch = 1;
    if (options.max_queue == 0) options.max_queue = 1;
  }

  void run();
  void shed_one();
  std::optional<std::string> attempt(const std::vector<StoreRecord>& batch, int attempt_number);
  void count_and_call(const CommitReport& report);
  void report(const CommitReport& report, std::unique_lock<std::mutex>& lock);

  Store store;
  StoreWriterOptions options;
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable reported_changed;
  // Guarded by mutex. The queue holds records in seq order; a seq missing between reported and
  // the front, or between two queued records, was shed at overflow (or is in the batch being
  // written, which always starts at reported + 1).
  std::deque<Queued> queue;
  std::uint64_t last_queued = 0;           // the last seq put in the queue
  std::uint64_t appended = 0;              // the last seq handed out
  std::uint64_t reported = 0;              // every seq up to this one has had its report
  std::uint64_t commit_requested = 0;      // commit without waiting for the interval up to here
  bool stopping = false;
  bool exited = false;
  bool failing = false;
  std::string last_error;
  std::atomic<std::uint64_t> committed_records{0};
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> dropped_records{0};
  std::atomic<std::uint64_t> shed_records{0};
  std::thread thread;
};

StoreWriter::StoreWriter(const std::filesystem::path& path, StoreWriterOptions options)
    : impl_(std::make_unique<Impl>(path, std::move(options))) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

StoreWriter::~StoreWriter() { stop(); }

std::uint64_t StoreWriter::append(StoreRecord record) {
  std::unique_lock lock(impl_->mutex);
  const std::uint64_t seq = ++impl_->appended;
  if (impl_->exited) {
    lock.unlock();
    impl_->count_and_call({seq, seq, false, kStoppedError});
    return seq;
  }
  if (impl_->stopping) return seq;  // not queued; the writer reports it as it exits
  impl_->queue.push_back({seq, std::move(record)});
  impl_->last_queued = seq;
  if (impl_->queue.size() > impl_->options.max_queue) impl_->shed_one();
  const bool batch_waiting = impl_->queue.size() >= impl_->options.max_batch;
  lock.unlock();
  if (batch_waiting) impl_->wake.notify_one();
  return seq;
}

// The disk has been failing for a long time: keep the newest data, and the data that matters.
void StoreWriter::Impl::shed_one() {
  auto victim = queue.begin();
  int victim_rank = shed_rank(victim->record);
  for (auto it = queue.begin(); it != queue.end() && victim_rank > 0; ++it) {
    if (const int rank = shed_rank(it->record); rank < victim_rank) {
      victim = it;
      victim_rank = rank;
    }
  }
  queue.erase(victim);
  shed_records.fetch_add(1);
}

void StoreWriter::commit_soon() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->commit_requested = impl_->appended;
  }
  impl_->wake.notify_one();
}

void StoreWriter::flush() {
  std::unique_lock lock(impl_->mutex);
  const std::uint64_t target = impl_->appended;
  impl_->commit_requested = target;
  impl_->wake.notify_one();
  impl_->reported_changed.wait(lock,
                               [&] { return impl_->reported >= target || impl_->exited; });
}

void StoreWriter::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint64_t StoreWriter::committed_records() const { return impl_->committed_records.load(); }
std::uint64_t StoreWriter::transactions() const { return impl_->transactions.load(); }
std::uint64_t StoreWriter::failures() const { return impl_->failures.load(); }
std::uint64_t StoreWriter::dropped_records() const { return impl_->dropped_records.load(); }
std::size_t StoreWriter::queued() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->queue.size();
}

StoreWriterStats StoreWriter::stats() const {
  StoreWriterStats out;
  // transactions before committed_records, the reverse of count_and_call's order.
  out.transactions = impl_->transactions.load();
  out.committed_records = impl_->committed_records.load();
  out.failures = impl_->failures.load();
  out.dropped_records = impl_->dropped_records.load();
  out.shed_records = impl_->shed_records.load();
  std::lock_guard lock(impl_->mutex);
  out.queued_records = impl_->queue.size();
  out.failing = impl_->failing;
  out.last_error = impl_->last_error;
  return out;
}

void StoreWriter::Impl::run() {
  std::vector<StoreRecord> batch;
  std::uint64_t batch_first_seq = 0;
  int attempts = 0;
  std::unique_lock lock(mutex);
  for (;;) {
    const bool interval_elapsed = !wake.wait_for(lock, options.flush_interval, [&] {
      // A failed batch waits out the interval before its retry, however urgent the next one.
      if (!batch.empty()) return stopping;
      return stopping || queue.size() >= options.max_batch || commit_requested > reported;
    });
    for (;;) {
      if (batch.empty()) {
        const std::uint64_t shed_up_to = queue.empty() ? last_queued : queue.front().seq - 1;
        if (shed_up_to > reported) {
          report({reported + 1, shed_up_to, false, kOverflowError}, lock);
          continue;
        }
        // Woken only because max_batch records wait: commit whole batches and leave the rest for
        // the interval, so a steady stream costs one transaction per batch, not per wake-up.
        const bool drain = interval_elapsed || stopping || commit_requested > reported;
        if (queue.empty() || (!drain && queue.size() < options.max_batch)) break;
        batch_first_seq = queue.front().seq;
        // A batch ends at a shed record, so that each report covers one unbroken range.
        while (batch.size() < options.max_batch && !queue.empty() &&
               queue.front().seq == batch_first_seq + batch.size()) {
          batch.push_back(std::move(queue.front().record));
          queue.pop_front();
        }
      }
      lock.unlock();
      const std::optional<std::string> error = attempt(batch, attempts + 1);
      lock.lock();
      failing = error.has_value();
      if (error) last_error = *error;
      if (error && ++attempts < 3 && !stopping) break;
      const CommitReport outcome{batch_first_seq, batch_first_seq + batch.size() - 1, !error,
                                 error.value_or("")};
      batch.clear();
      attempts = 0;
      report(outcome, lock);
    }
    if (stopping && batch.empty() && queue.empty() && reported >= last_queued) break;
  }
  // What was appended while stopping was never queued; more may come while on_commit runs.
  while (appended > reported) report({reported + 1, appended, false, kStoppedError}, lock);
  exited = true;
  reported_changed.notify_all();
}

std::optional<std::string> StoreWriter::Impl::attempt(const std::vector<StoreRecord>& batch,
                                                      int attempt_number) {
  try {
    if (options.before_commit) options.before_commit();
    store.write(batch);
    return std::nullopt;
  } catch (const std::exception& e) {
    failures.fetch_add(1);
    spdlog::error("store write failed records={} attempt={} error={}", batch.size(),
                  attempt_number, e.what());
    return e.what();
  }
}

void StoreWriter::Impl::count_and_call(const CommitReport& r) {
  const std::uint64_t records = r.last_seq - r.first_seq + 1;
  if (r.committed) {
    // transactions first: a reader that sees the records committed sees their transaction too.
    transactions.fetch_add(1);
    committed_records.fetch_add(records);
  } else {
    dropped_records.fetch_add(records);
  }
  if (options.on_commit) options.on_commit(r);
}

// Without the lock, because on_commit may append; flush() sees the report only once it returned.
void StoreWriter::Impl::report(const CommitReport& r, std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  count_and_call(r);
  lock.lock();
  reported = r.last_seq;
  reported_changed.notify_all();
}

}  // namespace orderly::gateway
