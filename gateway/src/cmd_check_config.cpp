// orderly check-config FILE: validate a configuration without touching any device, so an
// installer can fix the file before (re)starting the service.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "orderly/gateway/commands.hpp"
#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/config.hpp"

namespace orderly::gateway {

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
  return 0;
}

}  // namespace orderly::gateway
