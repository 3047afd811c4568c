#pragma once
// One HTTP request through libcurl, as a phone or the platform makes it, for the tests that call
// the API over real HTTP. Header-only: only the tests that link libcurl include it.
#include <curl/curl.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace orderly::test {

struct HttpReply {
  long status = 0;         // 0: no answer
  std::string body;
  std::string set_cookie;  // "orderly_session=..." when the answer set one
};

inline std::size_t http_call_collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

inline std::size_t http_call_cookie(char* data, std::size_t size, std::size_t n, void* out) {
  const std::string line(data, size * n);
  if (line.rfind("Set-Cookie: ", 0) == 0) *static_cast<std::string*>(out) = line.substr(12, line.find('\r') - 12);
  return size * n;
}

// `headers` are sent as given ("Content-Type: ..." included); nothing is implied.
inline HttpReply http_call(const std::string& method, const std::string& url, const std::string& body = {},
                           const std::vector<std::string>& headers = {}) {
  HttpReply r;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_call_collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, http_call_cookie);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.set_cookie);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  EXPECT_EQ(curl_easy_perform(curl), CURLE_OK) << method << " " << url;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return r;
}

}  // namespace orderly::test
