// The accounts store on a temp SQLite file and the session book on a manual clock: what is kept
// at rest (only hashes), one-time links, and the lock-out rules.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include "config_text.hpp"
#include "orderly/gateway/accounts.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

// Every text value of a table, to prove a secret is not among them.
std::string table_text(const std::filesystem::path& db, const std::string& table) {
  sqlite3* handle = nullptr;
  sqlite3_open(db.c_str(), &handle);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(handle, ("SELECT * FROM " + table).c_str(), -1, &s, nullptr);
  std::string out;
  while (sqlite3_step(s) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(s); ++i) {
      if (const auto* t = sqlite3_column_text(s, i)) out += reinterpret_cast<const char*>(t) + std::string("|");
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(handle);
  return out;
}

class AccountsTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  std::filesystem::path db_ = dir_ / "orderly.db";
  TimePoint now_ = testing::january_2026(5, 12, 0);
};

TEST_F(AccountsTest, PasswordsAndTokensAreKeptOnlyAsHashes) {
  Accounts accounts(db_);
  const std::string password = accounts.add("wang", web::Role::resident, "3-2-502", now_, std::string("s3cret-pass"));
  const std::string generated = accounts.add("op", web::Role::site_operator, "", now_);
  const std::string token = accounts.add("city", web::Role::platform, "", now_);
  EXPECT_EQ(password, "s3cret-pass");
  EXPECT_EQ(generated.size(), 16u);
  EXPECT_EQ(token.size(), 43u);
  const std::string stored = table_text(db_, "users");
  for (const auto& secret : {password, generated, token}) EXPECT_EQ(stored.find(secret), std::string::npos) << secret;
  EXPECT_NE(stored.find("$argon2id$"), std::string::npos) << stored;

  EXPECT_TRUE(password_matches(*accounts.password_hash("wang"), "s3cret-pass"));
  EXPECT_FALSE(password_matches(*accounts.password_hash("wang"), "s3cret-pasS"));
  EXPECT_EQ(accounts.password_hash("city"), std::nullopt) << "the platform has no password";
  ASSERT_TRUE(accounts.by_token(token));
  EXPECT_EQ(accounts.by_token(token)->name, "city");
  EXPECT_FALSE(accounts.by_token(token + "x"));
  EXPECT_FALSE(accounts.by_token(""));
}

TEST_F(AccountsTest, RefusesBadNamesShortPasswordsAndResidentsWithoutAHousehold) {
  Accounts accounts(db_);
  EXPECT_THROW(accounts.add("Wang Wei", web::Role::resident, "1", now_, std::string("long enough")), AccountError);
  EXPECT_THROW(accounts.add("wang", web::Role::resident, "", now_, std::string("long enough")), AccountError);
  EXPECT_THROW(accounts.add("wang", web::Role::resident, "1", now_, std::string("short")), AccountError);
  accounts.add("wang", web::Role::resident, "1", now_, std::string("long enough"));
  EXPECT_THROW(accounts.add("wang", web::Role::admin, "", now_), AccountError);
  EXPECT_THROW(accounts.reset("nobody"), AccountError);
  EXPECT_FALSE(accounts.remove("nobody"));
}

TEST_F(AccountsTest, ResetReplacesTheSecretAndRemoveDeletes) {
  Accounts accounts(db_);
  const std::string old_token = accounts.add("city", web::Role::platform, "", now_);
  const std::string new_token = accounts.reset("city");
  EXPECT_FALSE(accounts.by_token(old_token));
  EXPECT_TRUE(accounts.by_token(new_token));
  accounts.add("op", web::Role::site_operator, "", now_, std::string("first password"));
  accounts.reset("op", std::string("second password"));
  EXPECT_FALSE(password_matches(*accounts.password_hash("op"), "first password"));
  EXPECT_TRUE(password_matches(*accounts.password_hash("op"), "second password"));
  EXPECT_TRUE(accounts.remove("op"));
  EXPECT_FALSE(accounts.find("op"));
  EXPECT_EQ(accounts.list().size(), 1u);
}

TEST_F(AccountsTest, LinksWorkOnceAndNotAfterTheirExpiry) {
  Accounts accounts(db_);
  const std::string once = accounts.create_link({"invite", "", "3-2-502"}, "op", now_ + hours(1));
  const std::string late = accounts.create_link({"login", "op", ""}, "op", now_ + hours(1));
  EXPECT_EQ(table_text(db_, "account_links").find(once), std::string::npos);
  const auto grant = accounts.use_link(once, now_);
  ASSERT_TRUE(grant);
  EXPECT_EQ(grant->kind, "invite");
  EXPECT_EQ(grant->household, "3-2-502");
  EXPECT_FALSE(accounts.use_link(once, now_)) << "used up";
  EXPECT_FALSE(accounts.use_link(late, now_ + hours(1))) << "expired";
  EXPECT_FALSE(accounts.use_link("made-up", now_));
}

TEST_F(AccountsTest, AuditLogReadsNewestFirst) {
  Accounts accounts(db_);
  accounts.audit({now_, "op", "operator", "dr-event.add", "e1", "{}"});
  accounts.audit({now_ + minutes(1), "op", "operator", "dr-event.cancel", "e1", ""});
  const auto log = accounts.audit_log(10);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].action, "dr-event.cancel");
  EXPECT_EQ(log[1].detail, "{}");
}

TEST(WebSessionsTest, LockOutAfterFailuresAndAddressRateLimit) {
  ManualClock clock(testing::january_2026(5, 12, 0));
  WebSessions sessions(clock);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(sessions.refusal("wang", "10.0.0.2"), "");
    sessions.failed("wang");
  }
  EXPECT_EQ(sessions.refusal("wang", "10.0.0.2"), "");
  sessions.failed("wang");
  EXPECT_NE(sessions.refusal("wang", "10.0.0.3").find("locked"), std::string::npos);
  clock.advance(minutes(15));
  EXPECT_EQ(sessions.refusal("wang", "10.0.0.4"), "");
  // Ten tries a minute from one address, whatever the names.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sessions.refusal("user" + std::to_string(i), "10.0.0.9"), "") << i;
  EXPECT_NE(sessions.refusal("another", "10.0.0.9").find("too many"), std::string::npos);
  clock.advance(minutes(1));
  EXPECT_EQ(sessions.refusal("another", "10.0.0.9"), "");
}

TEST(WebSessionsTest, SessionsExpireAndEndPerUser) {
  ManualClock clock(testing::january_2026(5, 12, 0));
  WebSessions sessions(clock);
  const Account wang{"wang", web::Role::resident, "3-2-502", {}};
  const auto a = sessions.start(wang);
  const auto b = sessions.start(wang);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.principal.csrf_token, b.principal.csrf_token);
  ASSERT_TRUE(sessions.find(a.id));
  EXPECT_EQ(sessions.find(a.id)->household, "3-2-502");
  sessions.end_by_csrf(a.principal.csrf_token);
  EXPECT_FALSE(sessions.find(a.id));
  EXPECT_TRUE(sessions.find(b.id));
  clock.advance(hours(12));
  EXPECT_FALSE(sessions.find(b.id));
  const auto c = sessions.start(wang);
  sessions.end_user("wang");
  EXPECT_FALSE(sessions.find(c.id));
}

}  // namespace
}  // namespace orderly::gateway
