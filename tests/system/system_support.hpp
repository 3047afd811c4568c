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
#include <string>

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

// One HTTP request over real TCP. `body` is sent as JSON for PUT/POST.
inline HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                       long timeout_ms = 5000) {
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
  if (method == "PUT" || method == "POST") {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  else r.error = curl_easy_strerror(rc);
  if (headers) curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
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
