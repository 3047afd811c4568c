#pragma once
// What the issue-5 system tests share: HTTP through libcurl as a phone or the platform would
// call the API, and the orderly daemon as a child process that can be killed like a power cut.
#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "orderly/gateway/accounts.hpp"
#include "orderly/test/support.hpp"

namespace orderly::test {

struct HttpResult {
  long status = 0;     // 0: no answer (connection refused, timeout)
  std::string body;
  std::string error;   // libcurl's message when status == 0
};

inline size_t http_collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The API needs an account (docs/web-api.md "Accounts and roles"). System tests call it as an
// operator they add to the store before the gateway starts (add_test_operator); http() logs in
// once per gateway, and again when a restarted gateway has forgotten the session.
inline constexpr const char* kTestOperator = "test-operator";
inline constexpr const char* kTestPassword = "system-test-password";

inline void add_test_operator(const std::filesystem::path& db) {
  gateway::Accounts accounts(db);
  if (!accounts.find(kTestOperator)) {
    accounts.add(kTestOperator, web::Role::site_operator, "", {}, std::string(kTestPassword));
  }
}

struct ApiSession {
  std::string cookie;  // "orderly_session=..."
  std::string csrf;
};

inline size_t http_cookie(char* data, size_t size, size_t n, void* out) {
  const std::string line(data, size * n);
  constexpr std::string_view kSetCookie = "Set-Cookie: ";
  if (line.rfind(kSetCookie, 0) == 0) {
    *static_cast<std::string*>(out) = line.substr(kSetCookie.size(), line.find(';') - kSetCookie.size());
  }
  return size * n;
}

inline HttpResult http_once(const std::string& method, const std::string& url, const std::string& body,
                            long timeout_ms, const ApiSession* session, std::string* set_cookie = nullptr) {
  HttpResult r;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    r.error = "curl_easy_init failed";
    return r;
  }
  curl_slist* headers = nullptr;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (set_cookie) {
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, http_cookie);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, set_cookie);
  }
  if (session && !session->cookie.empty()) {
    headers = curl_slist_append(headers, ("Cookie: " + session->cookie).c_str());
    headers = curl_slist_append(headers, ("X-CSRF-Token: " + session->csrf).c_str());
  }
  if (method == "PUT" || method == "POST" || method == "DELETE") {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  else r.error = curl_easy_strerror(rc);
  if (headers) curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

// One HTTP request over real TCP as the test operator. `body` is sent as JSON for PUT/POST.
inline HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                       long timeout_ms = 5000) {
  static std::mutex mutex;  // the week test calls from several threads
  const std::lock_guard lock(mutex);
  static std::map<std::string, ApiSession> sessions;  // by "http://host:port"
  const std::string base = url.substr(0, url.find('/', url.find("://") + 3));
  ApiSession& session = sessions[base];
  HttpResult r = http_once(method, url, body, timeout_ms, &session);
  if (r.status != 401) return r;
  std::string cookie;
  const nlohmann::json login = {{"user", kTestOperator}, {"password", kTestPassword}};
  const HttpResult in = http_once("POST", base + "/api/v1/login", login.dump(), 10000, nullptr, &cookie);
  if (in.status != 200) return r;
  session = {cookie, nlohmann::json::parse(in.body).value("csrf_token", "")};
  return http_once(method, url, body, timeout_ms, &session);
}

// `orderly run --config FILE` as a child process; stdout and stderr are appended to `log`.
class Daemon {
 public:
  Daemon(std::filesystem::path config, std::filesystem::path log) : config_(std::move(config)), log_(std::move(log)) {}
  ~Daemon() { kill9(); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void start() {
    kill9();
    const std::string bin = orderly_binary().string();
    const std::string config = config_.string();
    const std::string log = log_.string();
    std::fflush(stdout);  // or the child's freopen writes the parent's buffered output again
    std::fflush(stderr);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (std::FILE* f = std::freopen(log.c_str(), "a", stdout)) ::dup2(::fileno(f), STDERR_FILENO);
      ::execl(bin.c_str(), bin.c_str(), "run", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }

  // As a power cut: no chance to flush anything. Returns once the process is reaped.
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // SIGTERM; the exit code, or -1 if it did not exit within 15 s (then it is killed).
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    const bool exited = wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(15));
    if (!exited) {
      kill9();
      return -1;
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // False once the process has exited on its own (it is reaped then).
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  std::string log() const {
    try {
      return read_file(log_);
    } catch (const std::exception&) {
      return "";
    }
  }

 private:
  std::filesystem::path config_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

}  // namespace orderly::test
