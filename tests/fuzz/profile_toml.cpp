// Device profiles (drivers/profiles/*.toml, docs/device-profiles.md): a profile is data an
// installer may edit or download. Anything wrong with it must be a ProfileError naming
// file:line, never another exception or a crash at start-up.
#include <cstdint>
#include <string>

#include "orderly/drivers/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)orderly::drivers::parse_profile(text, "fuzz.toml");
  } catch (const orderly::drivers::ProfileError&) {
  }
  return 0;
}
