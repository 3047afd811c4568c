#pragma once
// Helpers shared by tests: wait for a condition with a deadline (never sleep and hope), a free
// loopback port, a temporary directory removed at the end of the test.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace orderly::test {

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns whether
// it held. Use with EXPECT_TRUE/ASSERT_TRUE and a message saying what was awaited.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A TCP port on 127.0.0.1 that nobody listened on a moment ago.
std::uint16_t free_tcp_port();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `text` to `path` (creating parent directories) and returns the path.
std::filesystem::path write_file(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path);

// The site part of a gateway configuration for system tests: [site] with a 50 kW transformer
// (unless told otherwise), a three-period tariff, [mqtt] on 127.0.0.1:mqtt_port, [control] as
// given, [web] on a free loopback port, [store] at `db`, warn-level logs. Tests append their
// own [[modbus.bus]], [[meter]] and [[charger]] entries.
struct SiteToml {
  std::string name = "test site";
  double limit_kw = 50;
  std::string transformer{};  // more [site.transformer] keys, e.g. "phase_a_limit_kw = 80\n"
  int mqtt_port = 1883;
  std::string mqtt_extra{};  // more [mqtt] lines, e.g. the TLS keys
  std::filesystem::path db;
  std::string control = "control_period_s = 1\nlimit_validity_s = 60\nsafety_margin_kw = 2\n";
};
std::string site_toml(const SiteToml& site);

// Headless Debian chromium, once, with a fresh profile under `dir` and the flags this
// machine's closed network needs. `extra` is e.g. "--dump-dom" or "--screenshot=FILE
// --window-size=390,844". stdout (the DOM for --dump-dom) is returned; stderr goes to
// dir/chromium-stderr.txt. exit_code is pclose()'s status (0 = success).
struct BrowserRun {
  int exit_code = -1;
  std::string out;
};
BrowserRun run_chromium(const TempDir& dir, const std::string& extra, const std::string& url,
                        int virtual_time_budget_ms = 5000);
inline constexpr const char* kChromium = "/usr/bin/chromium";

// The source tree (for shipped profiles, config examples, shared data) and the orderly binary.
inline std::filesystem::path source_dir() { return ORDERLY_SOURCE_DIR; }
inline std::filesystem::path orderly_binary() { return ORDERLY_BINARY; }
// The pages as web/build.mjs bundled them (what a server's static_dir points at).
inline std::filesystem::path web_assets_dir() { return ORDERLY_WEB_ASSETS_DIR; }

}  // namespace orderly::test
