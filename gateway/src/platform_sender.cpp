#include "orderly/gateway/platform.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "orderly/gateway/log.hpp"
#include "orderly/gateway/tcec.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using json = nlohmann::json;

// Renewed this long before the platform said it expires, so no push is sent with a token that
// expires in flight.
constexpr auto kTokenMargin = seconds(60);

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::string error;  // libcurl's, when no answer came
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One libcurl handle, reused so the TLS session and the connection stay up between pushes.
class HttpClient {
 public:
  // `abort`: set from another thread to end the request under way (stopping the gateway).
  HttpClient(const PlatformConfig& p, const std::atomic<bool>& abort) : platform_(p), abort_(abort) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
  }
  ~HttpClient() {
    if (curl_) curl_easy_cleanup(curl_);
  }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpAnswer post(const std::string& url, const std::string& body, const std::vector<std::string>& headers) {
    HttpAnswer answer;
    if (!curl_) return {0, "", "libcurl could not be initialised"};
    curl_easy_reset(curl_);
    char error[CURL_ERROR_SIZE] = {0};
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer.body);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);  // a thread of a multi-threaded process
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, static_cast<long>(platform_.connect_timeout_s));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, static_cast<long>(platform_.timeout_s));
    // A stop does not wait out timeout_s: the transfer is aborted at libcurl's next progress call.
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &abort_);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION,
                     +[](void* abort, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                       return static_cast<const std::atomic<bool>*>(abort)->load() ? 1 : 0;
                     });
    // "" rather than unset: libcurl would otherwise take http_proxy from the environment, and a
    // systemd service's environment is not where an installer looks.
    curl_easy_setopt(curl_, CURLOPT_PROXY, platform_.proxy.c_str());
    if (!platform_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, platform_.ca_file.c_str());
    if (!platform_.client_cert_file.empty()) {
      curl_easy_setopt(curl_, CURLOPT_SSLCERT, platform_.client_cert_file.c_str());
      curl_easy_setopt(curl_, CURLOPT_SSLKEY, platform_.client_key_file.c_str());
    }
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
      answer.error = error[0] ? error : curl_easy_strerror(rc);
      return answer;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
  }

 private:
  const PlatformConfig& platform_;
  const std::atomic<bool>& abort_;
  CURL* curl_ = nullptr;
};

// The outcome of one request: the platform's decoded answer, or why there is none.
struct Exchange {
  std::optional<tcec::Response> response;
  std::string error;
};

}  // namespace

Duration retry_delay(int failed_attempts, Duration initial, Duration max, double uniform01) {
  const int doublings = std::clamp(failed_attempts - 1, 0, 30);
  const double full = std::min(duration<double>(initial).count() * std::ldexp(1.0, doublings),
                               duration<double>(max).count());
  const double jittered = full / 2 + full / 2 * std::clamp(uniform01, 0.0, 1.0);
  return duration_cast<Duration>(duration<double>(jittered));
}

struct PlatformSender::Impl {
  Impl(const Clock& c, const Config& config, PlatformSenderOptions o)
      : clock(c), platform(config.platform), utc_offset(config.site.utc_offset), store(config.store.path),
        options(std::move(o)), http(platform, stopping) {
    if (!options.uniform01) {
      options.uniform01 = [rng = std::mt19937_64(std::random_device{}()),
                           dist = std::uniform_real_distribution<double>(0.0, 1.0)]() mutable { return dist(rng); };
    }
  }

  void run();
  void pass();
  Exchange exchange(const std::string& kind, const json& data, const std::string& message_id);
  std::string ensure_token();
  std::string deliver(const OutboxMessage& m);

  const Clock& clock;
  const PlatformConfig platform;
  const minutes utc_offset;
  Store store;  // the sender thread's own connection
  PlatformSenderOptions options;
  std::atomic<bool> stopping{false};
  HttpClient http;
  std::string token;
  TimePoint token_expires{};
  int seq = 0;

  std::mutex mutex;
  std::condition_variable wake;
  bool poked = false;
  std::thread thread;
};

Exchange PlatformSender::Impl::exchange(const std::string& kind, const json& data, const std::string& message_id) {
  seq = seq % 9999 + 1;
  char seq_text[8];
  std::snprintf(seq_text, sizeof seq_text, "%04d", seq);
  const tcec::Request request{platform.operator_id, data, tcec::timestamp(clock.now(), utc_offset), seq_text};
  std::vector<std::string> headers = {"Content-Type: application/json; charset=utf-8"};
  if (kind != "query_token") headers.push_back("Authorization: Bearer " + token);
  // Not in the standard: lets a platform (and the simulator) drop a resend it already has.
  if (!message_id.empty()) headers.push_back("Orderly-Message-Id: " + message_id);
  std::string url = platform.url;
  if (!url.ends_with('/')) url += '/';
  const HttpAnswer answer = http.post(url + kind, tcec::encode_request(request, platform.to_platform), headers);
  if (!answer.error.empty()) return {std::nullopt, kind + ": " + answer.error};
  const auto decoded = tcec::decode_response(answer.body, platform.to_platform);
  if (!decoded.ok()) {
    return {std::nullopt, kind + ": HTTP " + std::to_string(answer.status) + ", answer not understood: " + decoded.error};
  }
  return {decoded.value, ""};
}

// "" with a token in hand, or why there is none.
std::string PlatformSender::Impl::ensure_token() {
  if (!token.empty() && clock.now() < token_expires - kTokenMargin) return "";
  token.clear();
  const auto x = exchange("query_token",
                          {{"OperatorID", platform.operator_id}, {"OperatorSecret", platform.to_platform.operator_secret}}, "");
  if (!x.response) return x.error;
  const auto& r = *x.response;
  if (r.ret != tcec::Ret::ok) return "query_token: Ret " + std::to_string(static_cast<int>(r.ret)) + " " + r.msg;
  const json& d = r.data;
  if (!d.is_object() || d.value("SuccStat", 1) != 0 || !d.contains("AccessToken") || !d["AccessToken"].is_string()) {
    return "query_token refused: " + (d.is_object() ? d.value("FailReason", json(0)).dump() : std::string("no Data")) +
           " (check operator_id and [to_platform] operator_secret)";
  }
  token = d["AccessToken"].get<std::string>();
  const auto valid_s = d.value("TokenAvailableTime", 0LL);
  token_expires = clock.now() + seconds(std::max<long long>(valid_s, 0));
  return "";
}

// "" when the platform acknowledged (Ret=0), else the error to keep.
std::string PlatformSender::Impl::deliver(const OutboxMessage& m) {
  const json data = json::parse(m.data, nullptr, false);
  if (data.is_discarded()) return "the stored message is not JSON";  // cannot happen: we wrote it
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto e = ensure_token(); !e.empty()) return e;
    const auto x = exchange(m.kind, data, m.message_id);
    if (!x.response) return x.error;
    if (x.response->ret == tcec::Ret::ok) return "";
    if (x.response->ret != tcec::Ret::token || attempt == 1)
      return m.kind + ": Ret " + std::to_string(static_cast<int>(x.response->ret)) + " " + x.response->msg;
    token.clear();  // 4002: renew once and send again at once
  }
  return m.kind + ": token refused twice";
}

void PlatformSender::Impl::pass() {
  for (bool progress = true; progress && !stopping;) {
    progress = false;
    for (const auto& head : store.outbox_heads()) {
      if (stopping) return;  // what was not sent stays queued, as it is
      if (head.next_attempt_at > clock.now()) continue;
      const std::string error = deliver(head.message);
      if (stopping && !error.empty()) return;  // aborted, not failed: no attempt counted
      if (error.empty()) {
        store.outbox_delivered(head.row, clock.now());
        progress = true;  // the next of its kind may go at once
        continue;
      }
      const auto delay = retry_delay(head.attempts + 1, seconds(platform.retry_initial_s),
                                     seconds(platform.retry_max_s), options.uniform01());
      if (head.attempts == 0) spdlog::warn("platform: {} not delivered, retrying error={}", head.message.message_id, logfmt(error));
      store.outbox_failed(head.row, clock.now() + delay, error);
    }
  }
}

void PlatformSender::Impl::run() {
  std::unique_lock lock(mutex);
  while (!stopping) {
    lock.unlock();
    try {
      pass();
      if (options.on_status) options.on_status(store.outbox_status());
    } catch (const std::exception& e) {
      // The store is busy or failing: the messages stay queued and the next pass tries again.
      spdlog::error("platform: outbox pass failed error={}", logfmt(e.what()));
    }
    lock.lock();
    wake.wait_for(lock, options.poll_interval, [this] { return stopping || poked; });
    poked = false;
  }
}

PlatformSender::PlatformSender(const Clock& clock, const Config& config, PlatformSenderOptions options)
    : impl_(std::make_unique<Impl>(clock, config, std::move(options))) {}

PlatformSender::~PlatformSender() { stop(); }

void PlatformSender::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void PlatformSender::poke() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->poked = true;
  }
  impl_->wake.notify_one();
}

void PlatformSender::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace orderly::gateway
