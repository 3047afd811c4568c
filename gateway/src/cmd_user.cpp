// `orderly user add|reset|list|remove`: the installer's way to make the first admin and the
// operator's accounts (README "First login"); residents come by invite (POST /api/v1/invites).
// Works on the store file the config names, beside a running gateway (SQLite WAL); a reset or a
// removal ends that person's browser sessions at the gateway's next restart at the latest, and
// at once for logins that follow (the password no longer matches).
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/accounts.hpp"
#include "orderly/gateway/commands.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/report.hpp"

namespace orderly::gateway {

namespace {

constexpr const char* kUsage =
    "usage: orderly user add NAME --role resident|operator|admin|platform [--household H] [--password-stdin] --config FILE\n"
    "       orderly user reset NAME [--password-stdin] --config FILE\n"
    "       orderly user list --config FILE\n"
    "       orderly user remove NAME --config FILE\n"
    "Without --password-stdin a password is generated and printed once; the platform role gets a\n"
    "bearer token instead (printed once). --db FILE may replace --config (the store file itself).\n";

int usage_error(const std::string& what) {
  std::fprintf(stderr, "orderly user: %s\n%s", what.c_str(), kUsage);
  return 2;
}

void print_secret(const Account& account, const std::string& secret, const char* verb) {
  if (account.role == web::Role::platform) {
    std::printf("%s %s (platform). Its token, shown only now; send it as \"Authorization: Bearer <token>\":\n%s\n",
                verb, account.name.c_str(), secret.c_str());
  } else {
    std::printf("%s %s (%s%s%s). Password, shown only now:\n%s\n", verb, account.name.c_str(),
                std::string(web::to_string(account.role)).c_str(), account.household.empty() ? "" : ", household ",
                account.household.c_str(), secret.c_str());
  }
}

}  // namespace

int cmd_user(const Args& args) {
  if (args.empty()) return usage_error("missing the action (add, reset, list or remove)");
  const std::string action = args[0];
  std::string name, role_text, household, config_path, db_path;
  bool password_stdin = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    if (a == "--role") {
      if (!value(role_text)) return usage_error("--role needs a value");
    } else if (a == "--household") {
      if (!value(household)) return usage_error("--household needs a value");
    } else if (a == "--config" || a == "-c") {
      if (!value(config_path)) return usage_error("--config needs a file");
    } else if (a == "--db") {
      if (!value(db_path)) return usage_error("--db needs a file");
    } else if (a == "--password-stdin") {
      password_stdin = true;
    } else if (name.empty() && !a.starts_with("-")) {
      name = a;
    } else {
      return usage_error("unexpected argument '" + a + "'");
    }
  }
  if (db_path.empty()) {
    if (config_path.empty()) return usage_error("missing --config FILE (the packaged one is /etc/orderly/orderly.toml)");
    db_path = load_config(config_path).store.path.string();
  }
  std::optional<std::string> password;
  if (password_stdin) {
    std::string line;
    if (!std::getline(std::cin, line)) return usage_error("--password-stdin: nothing on standard input");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    password = line;
  }
  RealClock clock;
  Accounts accounts(db_path);
  try {
    if (action == "list") {
      std::printf("%-24s %-9s %-12s %s\n", "name", "role", "household", "created");
      for (const auto& a : accounts.list()) {
        std::printf("%-24s %-9s %-12s %s\n", a.name.c_str(), std::string(web::to_string(a.role)).c_str(),
                    a.household.empty() ? "-" : a.household.c_str(), format_local_time(a.created_at, std::chrono::minutes(0)).c_str());
      }
      return 0;
    }
    if (name.empty()) return usage_error("missing the user NAME");
    if (action == "add") {
      const auto role = web::role_from_string(role_text);
      if (!role) return usage_error("--role must be resident, operator, admin or platform (got '" + role_text + "')");
      const std::string secret = accounts.add(name, *role, household, clock.now(), password);
      print_secret(*accounts.find(name), secret, "added");
      return 0;
    }
    if (action == "reset") {
      const std::string secret = accounts.reset(name, password);
      print_secret(*accounts.find(name), secret, "reset");
      return 0;
    }
    if (action == "remove") {
      if (!accounts.remove(name)) {
        std::fprintf(stderr, "orderly user: no user '%s'; `orderly user list` shows who exists\n", name.c_str());
        return 1;
      }
      std::printf("removed %s\n", name.c_str());
      return 0;
    }
  } catch (const AccountError& e) {
    std::fprintf(stderr, "orderly user %s: %s\n", action.c_str(), e.what());
    return 2;
  }
  return usage_error("unknown action '" + action + "'");
}

}  // namespace orderly::gateway
