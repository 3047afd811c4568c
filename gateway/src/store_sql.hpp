#pragma once
// The store's SQLite helpers, shared by store.cpp and accounts.cpp (the accounts live in the same
// file; each opens its own connection). Internal to the gateway library.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/store.hpp"

namespace orderly::gateway::sql {

inline std::int64_t to_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint from_ms(std::int64_t ms) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::milliseconds(ms)));
}

// One prepared statement; binds count from 1 in the order of bind() calls.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql, const std::filesystem::path& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK) {
      fail("prepare");
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(double v) {
    if (std::isnan(v)) {
      sqlite3_bind_null(stmt_, ++index_);
    } else {
      sqlite3_bind_double(stmt_, ++index_, v);
    }
    return *this;
  }
  Stmt& bind(std::int64_t v) {
    sqlite3_bind_int64(stmt_, ++index_, v);
    return *this;
  }
  Stmt& bind(std::string_view v) {
    sqlite3_bind_text(stmt_, ++index_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(TimePoint t) { return bind(to_ms(t)); }
  Stmt& bind(const std::optional<TimePoint>& t) {
    if (!t) {
      sqlite3_bind_null(stmt_, ++index_);
      return *this;
    }
    return bind(*t);
  }

  // True while rows come back.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
    return false;
  }
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    index_ = 0;
  }

  double real(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::numeric_limits<double>::quiet_NaN();
    return sqlite3_column_double(stmt_, col);
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  TimePoint time(int col) const { return from_ms(integer(col)); }
  std::optional<TimePoint> optional_time(int col) const {
    if (is_null(col)) return std::nullopt;
    return time(col);
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw StoreError(path_.string() + ": SQLite " + what + " failed: " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  const std::filesystem::path& path_;
  sqlite3_stmt* stmt_ = nullptr;
  int index_ = 0;
};

inline void exec(sqlite3* db, const std::filesystem::path& path, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw StoreError(path.string() + ": " + text);
  }
}

// A transaction rolled back unless committed (exceptions unwind through it).
class Transaction {
 public:
  Transaction(sqlite3* db, const std::filesystem::path& path) : db_(db), path_(path) {
    exec(db_, path_, "BEGIN IMMEDIATE");
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec(db_, path_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  const std::filesystem::path& path_;
  bool done_ = false;
};

}  // namespace orderly::gateway::sql
