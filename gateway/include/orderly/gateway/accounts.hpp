#pragma once
// Web accounts: who may log in, with which role, for which household (docs/security.md "Web").
// Accounts, hashed platform tokens, one-time links (household invites, login links) and the audit
// log live in the store's SQLite file (schema step 4); browser sessions and login failures are
// kept in memory on the core thread (WebSessions), so a restart logs everyone out and forgets
// lock-outs. Secrets never reach the disk: passwords as Argon2id hashes, tokens and links as
// BLAKE2b hashes (they are 256 random bits, so a fast hash suffices).
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/web/application.hpp"

struct sqlite3;

namespace orderly::gateway {

// 32 random bytes (libsodium randombytes), base64url: session ids, CSRF and platform tokens, links.
std::string new_secret();
// How tokens and links are kept at rest: BLAKE2b-256, hex.
std::string secret_hash(std::string_view secret);
// Argon2id (crypto_pwhash_str, libsodium's interactive limits: 64 MiB, about 0.1 s on x86 and
// up to a second on the box), so run it beside the core loop, never on it.
std::string hash_password(std::string_view password);
bool password_matches(const std::string& hash, std::string_view password);
// 16 characters from an alphabet without look-alikes, for the installer to hand over once.
std::string new_password();

// A name, role or password the accounts refuse; what() says what to give instead.
class AccountError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Account {
  std::string name;
  web::Role role = web::Role::resident;
  std::string household;  // residents only
  TimePoint created_at{};
};

struct AuditEntry {
  TimePoint at{};
  std::string user;
  std::string role;
  std::string action;  // "dr-event.add", "request.set", "invite.create", "login", ...
  std::string target;  // what it acted on: an event id, a charger, a household
  std::string detail;  // the body as sent (JSON), or ""
};

// What a one-time link grants once: "invite" (a household: redeemed by choosing a name and a
// password) or "login" (an existing account: the demo's links).
struct LinkGrant {
  std::string kind;
  std::string user;
  std::string household;
};

// The accounts tables on a SQLite connection of their own (the store file is opened, and
// migrated, with Store first). One thread at a time.
class Accounts {
 public:
  explicit Accounts(const std::filesystem::path& db_path);
  ~Accounts();
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  // Adds an account and returns its secret, to be shown once: the password (`password`, or a
  // generated one) for people, a new bearer token for the platform role. Throws AccountError
  // for a bad or taken name, a resident without a household, or a password under 8 characters.
  std::string add(const std::string& name, web::Role role, const std::string& household, TimePoint now,
                  std::optional<std::string> password = std::nullopt);
  // A new password (given or generated) or platform token for an existing account; the old one
  // stops working. Throws AccountError for an unknown name.
  std::string reset(const std::string& name, std::optional<std::string> password = std::nullopt);
  bool remove(const std::string& name);
  std::vector<Account> list() const;
  std::optional<Account> find(const std::string& name) const;
  // The Argon2id hash to verify a login against (empty optional: no such person).
  std::optional<std::string> password_hash(const std::string& name) const;
  // A new account with a hash made beforehand (off the core thread): invite redemption.
  void add_hashed(const std::string& name, web::Role role, const std::string& household, TimePoint now,
                  const std::string& password_hash);
  // The platform account a bearer token belongs to.
  std::optional<Account> by_token(std::string_view token) const;

  // A one-time link valid until `expires`; returns the token (shown once, kept only hashed).
  std::string create_link(const LinkGrant& grant, const std::string& created_by, TimePoint expires);
  // Uses the link up: the grant, or nullopt for an unknown, used or expired one.
  std::optional<LinkGrant> use_link(std::string_view token, TimePoint now);

  void audit(const AuditEntry& entry);
  std::vector<AuditEntry> audit_log(std::size_t limit) const;  // newest first

 private:
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

// Rules for browser sessions and failed logins (docs/security.md "Web").
struct SessionRules {
  std::chrono::hours lifetime{12};                  // a session ends this long after login
  int failures_before_lockout = 5;                  // per account
  std::chrono::minutes lockout{15};
  int attempts_per_address_per_minute = 10;         // any account, from one client address
};

// Logged-in browsers and the login throttle, on the core thread. Times are the monotonic
// time of the clock given (the gateway gives a real one: the demo's fast clock must not expire a
// session in minutes).
class WebSessions {
 public:
  WebSessions(const Clock& clock, SessionRules rules = {});

  struct Started {
    std::string id;
    web::Principal principal;
  };
  Started start(const Account& account);
  std::optional<web::Principal> find(const std::string& id);
  // Ends the session with this CSRF token (logout: the page's own session).
  void end_by_csrf(const std::string& csrf_token);
  // Ends every session of `user` (password reset, account removed).
  void end_user(const std::string& user);

  // Why a login for `user` from `address` is refused before its password is checked (locked
  // out, too many attempts), or "".
  std::string refusal(const std::string& user, const std::string& address);
  void failed(const std::string& user);
  void succeeded(const std::string& user);

 private:
  struct Session {
    web::Principal principal;
    MonoPoint expires{};
  };
  struct Failures {
    int count = 0;
    MonoPoint locked_until{};
  };
  struct Window {
    MonoPoint started{};
    int attempts = 0;
  };
  const Clock& clock_;
  SessionRules rules_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, Failures> failures_;
  std::map<std::string, Window> attempts_;
};

}  // namespace orderly::gateway
