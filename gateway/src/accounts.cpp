#include "orderly/gateway/accounts.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <utility>

#include <sodium.h>

#include "orderly/gateway/store.hpp"
#include "store_sql.hpp"

namespace orderly::gateway {

namespace {

using sql::Stmt;

void init_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not initialise (no entropy source?)");
  });
}

void check_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  });
  if (!ok) {
    throw AccountError("user name '" + name + "': use 1 to 64 of a-z 0-9 . - _ (e.g. \"wang-3-2-502\")");
  }
}

void check_password(const std::string& password) {
  if (password.size() < 8) throw AccountError("the password must have at least 8 characters");
  if (password.size() > 256) throw AccountError("the password must have at most 256 characters");
}

Account read_account(const Stmt& s) {
  Account a;
  a.name = s.text(0);
  a.role = web::role_from_string(s.text(1)).value_or(web::Role::resident);
  a.household = s.text(2);
  a.created_at = s.time(3);
  return a;
}

constexpr const char* kAccountColumns = "SELECT name, role, household, created_ms FROM users";

}  // namespace

std::string new_secret() {
  init_sodium();
  std::array<unsigned char, 32> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

std::string secret_hash(std::string_view secret) {
  init_sodium();
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), nullptr, 0);
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

std::string hash_password(std::string_view password) {
  init_sodium();
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str(out.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw std::runtime_error("Argon2id hashing ran out of memory (it needs 64 MiB)");
  }
  return out.data();
}

bool password_matches(const std::string& hash, std::string_view password) {
  init_sodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string new_password() {
  init_sodium();
  // No 0/O, 1/l/I: read aloud or copied from a printed sheet by the installer.
  constexpr std::string_view kAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  for (int i = 0; i < 16; ++i) out.push_back(kAlphabet[randombytes_uniform(static_cast<std::uint32_t>(kAlphabet.size()))]);
  return out;
}

// ---- Accounts ---------------------------------------------------------------------------------

Accounts::Accounts(const std::filesystem::path& db_path) : path_(db_path) {
  init_sodium();
  { const Store migrated(db_path); }
  if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StoreError(db_path.string() + ": cannot open the database for accounts (" + why + ")");
  }
  sqlite3_busy_timeout(db_, 5000);
}

Accounts::~Accounts() { sqlite3_close(db_); }

std::string Accounts::add(const std::string& name, web::Role role, const std::string& household, TimePoint now,
                          std::optional<std::string> password) {
  check_name(name);
  if (find(name)) throw AccountError("user '" + name + "' exists already; use `orderly user reset " + name + "`");
  if (role == web::Role::resident && household.empty()) {
    throw AccountError("a resident needs a household: give --household, e.g. 3-2-502");
  }
  if (role == web::Role::platform) {
    const std::string token = new_secret();
    Stmt(db_, "INSERT INTO users (name, role, household, token_hash, created_ms) VALUES (?, ?, '', ?, ?)", path_)
        .bind(name)
        .bind(web::to_string(role))
        .bind(secret_hash(token))
        .bind(now)
        .run();
    return token;
  }
  std::string secret = password.value_or(new_password());
  check_password(secret);
  add_hashed(name, role, role == web::Role::resident ? household : std::string(), now, hash_password(secret));
  return secret;
}

void Accounts::add_hashed(const std::string& name, web::Role role, const std::string& household, TimePoint now,
                          const std::string& hash) {
  check_name(name);
  if (find(name)) throw AccountError("user '" + name + "' exists already; choose another name");
  Stmt(db_, "INSERT INTO users (name, role, household, password_hash, created_ms) VALUES (?, ?, ?, ?, ?)", path_)
      .bind(name)
      .bind(web::to_string(role))
      .bind(household)
      .bind(hash)
      .bind(now)
      .run();
}

std::string Accounts::reset(const std::string& name, std::optional<std::string> password) {
  const auto account = find(name);
  if (!account) throw AccountError("no user '" + name + "'; `orderly user list` shows who exists");
  if (account->role == web::Role::platform) {
    const std::string token = new_secret();
    Stmt(db_, "UPDATE users SET token_hash = ? WHERE name = ?", path_).bind(secret_hash(token)).bind(name).run();
    return token;
  }
  std::string secret = password.value_or(new_password());
  check_password(secret);
  Stmt(db_, "UPDATE users SET password_hash = ? WHERE name = ?", path_).bind(hash_password(secret)).bind(name).run();
  return secret;
}

bool Accounts::remove(const std::string& name) {
  if (!find(name)) return false;
  Stmt(db_, "DELETE FROM users WHERE name = ?", path_).bind(name).run();
  return true;
}

std::vector<Account> Accounts::list() const {
  Stmt s(db_, std::string(kAccountColumns) + " ORDER BY role, name", path_);
  std::vector<Account> out;
  while (s.step()) out.push_back(read_account(s));
  return out;
}

std::optional<Account> Accounts::find(const std::string& name) const {
  Stmt s(db_, std::string(kAccountColumns) + " WHERE name = ?", path_);
  s.bind(name);
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

std::optional<std::string> Accounts::password_hash(const std::string& name) const {
  Stmt s(db_, "SELECT password_hash FROM users WHERE name = ? AND password_hash != ''", path_);
  s.bind(name);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

std::optional<Account> Accounts::by_token(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  Stmt s(db_, std::string(kAccountColumns) + " WHERE token_hash = ? AND role = 'platform'", path_);
  s.bind(secret_hash(token));
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

std::string Accounts::create_link(const LinkGrant& grant, const std::string& created_by, TimePoint expires) {
  const std::string token = new_secret();
  Stmt(db_,
       "INSERT INTO account_links (token_hash, kind, user, household, created_by, expires_ms) "
       "VALUES (?, ?, ?, ?, ?, ?)",
       path_)
      .bind(secret_hash(token))
      .bind(grant.kind)
      .bind(grant.user)
      .bind(grant.household)
      .bind(created_by)
      .bind(expires)
      .run();
  return token;
}

std::optional<LinkGrant> Accounts::use_link(std::string_view token, TimePoint now) {
  const std::string hash = secret_hash(token);
  Stmt s(db_,
         "SELECT kind, user, household FROM account_links "
         "WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?",
         path_);
  s.bind(hash).bind(now);
  if (!s.step()) return std::nullopt;
  LinkGrant grant{s.text(0), s.text(1), s.text(2)};
  Stmt(db_, "UPDATE account_links SET used_ms = ? WHERE token_hash = ?", path_).bind(now).bind(hash).run();
  return grant;
}

void Accounts::audit(const AuditEntry& e) {
  Stmt(db_, "INSERT INTO audit_log (ts_ms, user, role, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)", path_)
      .bind(e.at)
      .bind(e.user)
      .bind(e.role)
      .bind(e.action)
      .bind(e.target)
      .bind(e.detail)
      .run();
}

std::vector<AuditEntry> Accounts::audit_log(std::size_t limit) const {
  Stmt s(db_, "SELECT ts_ms, user, role, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?", path_);
  s.bind(static_cast<std::int64_t>(limit));
  std::vector<AuditEntry> out;
  while (s.step()) out.push_back({s.time(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
  return out;
}

// ---- WebSessions ------------------------------------------------------------------------------

WebSessions::WebSessions(const Clock& clock, SessionRules rules) : clock_(clock), rules_(rules) {}

WebSessions::Started WebSessions::start(const Account& account) {
  Started s;
  s.id = new_secret();
  s.principal = {account.name, account.role, account.household, new_secret(), false};
  sessions_[s.id] = {s.principal, clock_.monotonic() + rules_.lifetime};
  return s;
}

std::optional<web::Principal> WebSessions::find(const std::string& id) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (clock_.monotonic() >= it->second.expires) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.principal;
}

void WebSessions::end_by_csrf(const std::string& csrf_token) {
  std::erase_if(sessions_, [&](const auto& entry) { return entry.second.principal.csrf_token == csrf_token; });
}

void WebSessions::end_user(const std::string& user) {
  std::erase_if(sessions_, [&](const auto& entry) { return entry.second.principal.user == user; });
}

std::string WebSessions::refusal(const std::string& user, const std::string& address) {
  const MonoPoint now = clock_.monotonic();
  // Addresses are many and come and go (phones roam): forget those quiet for a minute.
  if (attempts_.size() > 1024) {
    std::erase_if(attempts_, [&](const auto& entry) { return now - entry.second.started >= std::chrono::minutes(1); });
  }
  Window& window = attempts_[address];
  if (now - window.started >= std::chrono::minutes(1)) window = {now, 0};
  if (++window.attempts > rules_.attempts_per_address_per_minute) {
    return "too many login attempts from this address; wait a minute";
  }
  const auto it = failures_.find(user);
  if (it != failures_.end() && now < it->second.locked_until) {
    const auto left = std::chrono::ceil<std::chrono::minutes>(it->second.locked_until - now);
    return "account '" + user + "' is locked after " + std::to_string(rules_.failures_before_lockout) +
           " failed logins; try again in " + std::to_string(left.count()) +
           " min or ask the operator to reset the password";
  }
  return {};
}

void WebSessions::failed(const std::string& user) {
  Failures& f = failures_[user];
  if (++f.count >= rules_.failures_before_lockout) {
    f.count = 0;
    f.locked_until = clock_.monotonic() + rules_.lockout;
  }
}

void WebSessions::succeeded(const std::string& user) { failures_.erase(user); }

}  // namespace orderly::gateway
