// The site configuration (orderly.toml, docs/configuration.md) checked against the shipped
// device profiles, as `orderly check-config` does. Every problem must be a ConfigError with
// file:line, never another exception or a crash.
#include <cstdint>
#include <string>

#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto profiles = orderly::drivers::ProfileCatalog::load_dir(ORDERLY_SOURCE_DIR "/drivers/profiles");
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)orderly::gateway::parse_config(text, "fuzz.toml", &profiles);
  } catch (const orderly::gateway::ConfigError&) {
  }
  return 0;
}
