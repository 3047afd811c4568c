#include "orderly/test/support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace orderly::test {

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::uint16_t free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_tcp_port: socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("free_tcp_port: bind/getsockname failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

TempDir::TempDir() {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto p = base / ("orderly-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("TempDir: could not create a directory under " + base.string());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path write_file(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("write_file: cannot write " + path.string());
  return path;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("read_file: cannot open " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string site_toml(const SiteToml& site) {
  std::ostringstream t;
  t << "[site]\nname = \"" << site.name << "\"\n[site.transformer]\nlimit_kw = " << site.limit_kw << "\n" << site.transformer
    << "[[tariff.schedule]]\neffective_from = 2020-01-01\n"
    << "[[tariff.schedule.season]]\nname = \"all\"\nmonths = [1,2,3,4,5,6,7,8,9,10,11,12]\n"
    << "[tariff.schedule.season.price_yuan_per_kwh]\npeak = 1.0\nflat = 0.6\nvalley = 0.3\n"
    << "[tariff.schedule.season.hours]\npeak = [\"08:00-11:00\", \"18:00-23:00\"]\n"
    << "flat = [\"07:00-08:00\", \"11:00-18:00\"]\nvalley = [\"23:00-07:00\"]\n"
    << "[mqtt]\nhost = \"127.0.0.1\"\nport = " << site.mqtt_port << "\n" << site.mqtt_extra
    << "[control]\n" << site.control
    << "[web]\nlisten = \"127.0.0.1\"\nport = " << free_tcp_port() << "\n"
    << "[store]\npath = \"" << site.db.string() << "\"\n"
    << "[log]\nlevel = \"warn\"\n";
  return t.str();
}

BrowserRun run_chromium(const TempDir& dir, const std::string& extra, const std::string& url,
                        int virtual_time_budget_ms) {
  static std::atomic<int> runs{0};
  const auto profile = dir / ("chromium-profile-" + std::to_string(runs++));
  // Without the background-networking flags chromium keeps trying hosts this closed network
  // refuses; as root it needs --no-sandbox.
  const std::string command =
      std::string(kChromium) +
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --user-data-dir=" + profile.string() +
      " --virtual-time-budget=" + std::to_string(virtual_time_budget_ms) + " " + extra + " '" + url +
      "' 2>>" + (dir / "chromium-stderr.txt").string();
  BrowserRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char chunk[4096];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) run.out.append(chunk, n);
  run.exit_code = ::pclose(pipe);
  return run;
}

}  // namespace orderly::test
