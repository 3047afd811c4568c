// orderly check-config FILE: validate a configuration without touching any device, so an
// installer can fix the file before (re)starting the service.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "orderly/gateway/commands.hpp"
#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/failsafe_budget.hpp"

namespace orderly::gateway {
namespace {

std::string kw(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::round(v * 100.0) / 100.0);
  return buf;
}

// The failsafe budget from the file alone (docs/control.md, "Failsafe budget"). check-config does
// not open the store: it runs beside a live service and must not migrate or lock its database,
// so the base load is the configured peak or, without one, left out and said so.
void print_failsafe_budget(const std::string& file, const Config& config, const drivers::ProfileCatalog* catalog) {
  bool guessed = false;  // a profile pile counted at its maximum because the profiles were not read
  auto has_failsafe = [&](const ChargerConfig& c) {
    if (c.driver == DriverKind::mqtt) return true;  // the gateway sets it (docs/mqtt-protocol.md)
    if (c.driver == DriverKind::ocpp) return true;  // its TxDefaultProfile (docs/ocpp.md)
    const drivers::DeviceProfile* p = catalog ? catalog->find(c.profile) : nullptr;
    if (!p) guessed = true;
    return p && p->supports_failsafe();
  };
  FailsafeBaseLoad base;
  base.transformer_peak_kw = config.site.transformer.base_load_peak_kw;
  const FailsafeBudget budget = failsafe_budget(config, has_failsafe, base);

  std::printf("  failsafe:    if the gateway died now: %s + every pile at its failsafe current "
              "(no failsafe: its maximum)\n",
              base.transformer_peak_kw
                  ? ("base load peak " + kw(*base.transformer_peak_kw) + " kW ([site.transformer] base_load_peak_kw)").c_str()
                  : "base load NOT included (set [site.transformer] base_load_peak_kw to the peak non-EV load to "
                    "include it)");
  for (const auto& l : budget.limits) {
    std::string base_text;
    if (!l.base_kw)
      base_text = l.limit.rfind("capacity node", 0) == 0 ? ", piles only: no non-EV load figure below this node (set base_load_peak_kw or its "
                                                           "assumed_load_kw)"
                                                         : ", piles only";
    else
      base_text = ", base " + kw(*l.base_kw) + " kW";
    std::printf("               %s: %s of %s kW (piles %s kW%s)%s\n", l.limit.c_str(), kw(l.load_kw()).c_str(),
                kw(l.limit_kw).c_str(), kw(l.piles_kw).c_str(), base_text.c_str(), l.over() ? " OVER" : "");
    if (l.over())
      std::fprintf(stderr,
                   "%s: warning: failsafe budget: %s would carry %s kW of its %s kW limit if the gateway died now "
                   "(%s kW over); fix first: %s - give them a failsafe or a lower failsafe_current_a\n",
                   file.c_str(), l.limit.c_str(), kw(l.load_kw()).c_str(), kw(l.limit_kw).c_str(),
                   kw(l.excess_kw()).c_str(), describe_piles(l.to_fix).c_str());
  }
  std::vector<FailsafePileLoad> without;
  for (const auto& p : budget.limits.front().piles)
    if (!p.has_failsafe) without.push_back(p);
  if (!without.empty()) std::printf("               without a failsafe: %s\n", describe_piles(without).c_str());
  if (guessed)
    std::fprintf(stderr,
                 "%s: warning: failsafe budget: profile piles counted at their maximum because the device "
                 "profiles were not read\n",
                 file.c_str());
}

}  // namespace

int cmd_check_config(const Args& args) {
  std::string file;
  std::filesystem::path profile_dir;
  bool usage_error = args.empty();
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      usage_error = false;
      file.clear();
      break;
    }
    if (args[i] == "--profiles" && i + 1 < args.size()) {
      profile_dir = args[++i];
    } else if (file.empty() && !args[i].empty() && args[i][0] != '-') {
      file = args[i];
    } else {
      usage_error = true;
    }
  }
  if (file.empty() || usage_error) {
    std::fprintf(usage_error ? stderr : stdout,
                 "usage: orderly check-config FILE [--profiles DIR]\n"
                 "Validates FILE (e.g. /etc/orderly/orderly.toml) and the device profiles it "
                 "names (from DIR,\ndefault: the installed profiles): prints FILE: OK and a "
                 "summary, or every problem as\nfile:line:column: key: what is wrong; exits 0 "
                 "when valid, 2 otherwise.\n");
    return usage_error ? 2 : 0;
  }

  std::optional<drivers::ProfileCatalog> catalog;
  if (profile_dir.empty()) profile_dir = default_profile_dir();
  if (!profile_dir.empty()) {
    try {
      catalog = drivers::ProfileCatalog::load_dir(profile_dir);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n%s: device profiles in %s are broken; reinstall the package\n",
                   e.what(), file.c_str(), profile_dir.c_str());
      return 2;
    }
  }
  Config config;
  try {
    config = load_config(file, catalog ? &*catalog : nullptr);
  } catch (const ConfigError& e) {
    for (const auto& line : e.errors()) std::fprintf(stderr, "%s\n", line.c_str());
    std::fprintf(stderr, "%s: %zu error%s\n", file.c_str(), e.errors().size(),
                 e.errors().size() == 1 ? "" : "s");
    return 2;
  }
  if (!catalog) {
    std::fprintf(stderr,
                 "%s: warning: device profiles not checked: no profile directory found; "
                 "give --profiles DIR or set ORDERLY_PROFILE_DIR\n",
                 file.c_str());
  }
  for (const auto& w : config.warnings) std::fprintf(stderr, "%s\n", w.c_str());

  int private_piles = 0;
  for (const auto& c : config.chargers) private_piles += c.kind == ChargerKind::private_pile;
  std::string buses;
  for (const auto& b : config.modbus_buses) {
    buses += (buses.empty() ? "" : ", ") + b.id + " (" + to_string(b.transport) + " " +
             (b.transport == ModbusTransport::tcp ? b.host + ":" + std::to_string(b.port)
                                                  : b.device + " " + std::to_string(b.baud)) +
             ")";
  }
  std::printf("%s: OK\n", file.c_str());
  std::printf("  site:        %s (UTC%s)\n", config.site.name.c_str(),
              config.site.utc_offset_text.c_str());
  std::printf("  transformer: %s, limit %g kW, %zu capacity node%s below it\n",
              config.site.transformer.id.c_str(), config.site.transformer.limit_kw,
              config.capacity.size(), config.capacity.size() == 1 ? "" : "s");
  std::printf("  chargers:    %zu (%d private, %zu shared)\n", config.chargers.size(),
              private_piles, config.chargers.size() - static_cast<std::size_t>(private_piles));
  std::printf("  meters:      %zu\n", config.meters.size());
  std::printf("  modbus:      %zu bus%s%s%s\n", config.modbus_buses.size(),
              config.modbus_buses.size() == 1 ? "" : "es", buses.empty() ? "" : ": ",
              buses.c_str());
  std::printf("  mqtt:        %s:%d, topics %s/...%s\n", config.mqtt.host.c_str(),
              config.mqtt.port, config.mqtt.topic_prefix.c_str(), config.mqtt.tls ? " (TLS)" : "");
  std::printf("  tariff:      %zu schedule%s\n", config.tariff.schedules.size(),
              config.tariff.schedules.size() == 1 ? "" : "s");
  std::printf("  web:         http://%s:%d/\n", config.web.listen.c_str(), config.web.port);
  std::printf("  store:       %s\n", config.store.path.c_str());
  std::printf("  profiles:    %s\n", catalog ? profile_dir.c_str() : "not checked");
  std::printf("  platform:    %s\n",
              config.platform.enabled ? config.platform.url.c_str() : "disabled");
  print_failsafe_budget(file, config, catalog ? &*catalog : nullptr);
  return 0;
}

}  // namespace orderly::gateway
