// `orderly demo` as a user runs it: the binary starts its own broker, simulated community and
// web server; the status API shows live chargers and load; SIGTERM stops it cleanly.
#include <gtest/gtest.h>

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One client with libcurl's cookie engine, as a browser keeps the session cookie.
class Client {
 public:
  Client() : curl_(curl_easy_init()) { curl_easy_setopt(curl_, CURLOPT_COOKIEFILE, ""); }
  ~Client() { curl_easy_cleanup(curl_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The body when the server answers 200, else an empty string.
  std::string call(const std::string& url, const std::string& post_json = {}) {
    std::string body;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    if (post_json.empty()) {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, post_json.c_str());
    }
    const CURLcode rc = curl_easy_perform(curl_);
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    return rc == CURLE_OK && status == 200 ? body : std::string();
  }

 private:
  CURL* curl_;
};

// The demo's account line for `role`: "  operator user operator password XYZ   or open URL".
struct DemoAccount {
  std::string user, password, link;
};
std::optional<DemoAccount> demo_account(const std::string& out, const std::string& role) {
  const auto at = out.find("  " + role + " ");
  if (at == std::string::npos) return std::nullopt;
  std::istringstream line(out.substr(at, out.find('\n', at) - at));
  std::string word;
  DemoAccount a;
  line >> word >> word >> a.user >> word >> a.password >> word >> word >> a.link;
  if (a.link.empty()) return std::nullopt;
  return a;
}

class Demo : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = test::free_tcp_port();
    out_ = (dir_ / "demo-stdout.txt").string();
    // Made before the fork, so reading it never races the child's freopen (which truncates it).
    std::ofstream(out_).close();
    const std::string port = std::to_string(port_);
    const std::string db = (dir_ / "demo.db").string();
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    std::fflush(stdout);
    if (pid_ == 0) {
      if (!std::freopen(out_.c_str(), "w", stdout)) ::_exit(126);
      const std::string bin = test::orderly_binary().string();
      ::execl(bin.c_str(), bin.c_str(), "demo", "--port", port.c_str(), "--speed", "120", "--chargers", "6",
              "--db", db.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // SIGTERM and wait for the exit status (-1 if it did not exit within the deadline).
  int terminate() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    const bool exited = test::wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 15s);
    if (!exited) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  test::TempDir dir_;
  std::string out_;  // the demo's stdout: its accounts and login links
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(Demo, ServesLiveStatusOfTheSimulatedCommunityAndStopsCleanly) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  // The demo prints an operator's password and login link; nothing is served without them.
  std::optional<DemoAccount> op;
  ASSERT_TRUE(test::wait_until([&] { return (op = demo_account(test::read_file(out_), "operator")).has_value(); }, 60s))
      << test::read_file(out_);
  Client client;
  EXPECT_EQ(client.call(base + "/api/v1/status"), "") << "the status must need a login";
  ASSERT_NE(client.call(base + "/api/v1/login",
                        nlohmann::json{{"user", op->user}, {"password", op->password}}.dump()), "");
  nlohmann::json status;
  int exit_status = 0;
  const bool live = test::wait_until([&] {
    if (::waitpid(pid_, &exit_status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;  // died: reported below
    }
    const std::string body = client.call(base + "/api/v1/status");
    if (body.empty()) return false;
    status = nlohmann::json::parse(body);
    int online = 0;
    for (const auto& c : status["chargers"]) online += c["online"].get<bool>() ? 1 : 0;
    return online == 6 && status["site"]["load_kw"].get<double>() > 0;
  }, 60s);
  ASSERT_NE(pid_, -1) << "orderly demo exited early with status " << exit_status;
  ASSERT_TRUE(live) << "status never showed 6 online chargers and a metered load: " << status.dump();
  EXPECT_EQ(status["site"]["transformer_limit_kw"].get<double>(), 360);
  EXPECT_LE(status["site"]["load_kw"].get<double>(), 360);
  EXPECT_EQ(status["site"]["demo_speed"].get<double>(), 120);

  // The page itself, rendered by a real browser: its script fetched the live status and drew
  // the site and every charger.
  // Logged in through the operator's one-time link, as a person clicking it would be.
  const auto page = test::run_chromium(dir_, "--dump-dom", op->link);
  ASSERT_EQ(page.exit_code, 0) << test::read_file(dir_ / "chromium-stderr.txt");
  EXPECT_NE(page.out.find("幸福里小区"), std::string::npos) << page.out.substr(0, 2000);
  for (const char* id : {"p-01", "p-06"}) EXPECT_NE(page.out.find(id), std::string::npos) << id;

  // Simulated time moves: a later status has a later time.
  const std::string t0 = status["time"];
  ASSERT_TRUE(test::wait_until([&] {
    const std::string body = client.call(base + "/api/v1/status");
    return !body.empty() && nlohmann::json::parse(body)["time"].get<std::string>() != t0;
  }, 10s));

  EXPECT_EQ(terminate(), 0) << "SIGTERM must stop the demo cleanly with exit code 0";
}

TEST(DemoCli, RejectsBadOptionsNamingThem) {
  const std::string cmd = test::orderly_binary().string() + " demo --chargers lots 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(out.find("--chargers"), std::string::npos) << out;
}

}  // namespace
}  // namespace orderly
