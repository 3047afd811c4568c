// JSON bodies of the API's writes (docs/web-api.md) straight into the gateway's API, without
// HTTP framing in the way: the first byte picks the route, the rest is the body. Every body
// must be answered (400 naming the field, or the write's own answer), never a crash.
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_site.hpp"

namespace {

struct Route {
  const char* method;
  const char* path;
};
constexpr Route kRoutes[] = {{"PUT", "/api/v1/chargers/p1/request"},
                             {"PUT", "/api/v1/chargers/s1/request"},
                             {"POST", "/api/v1/dr-events"}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto& site = orderly::fuzz::site();
  const Route& route = kRoutes[data[0] % std::size(kRoutes)];
  std::optional<orderly::web::ApiResponse> answer;
  site.gateway().handle_api_async({route.method, route.path, {}, std::string(reinterpret_cast<const char*>(data + 1), size - 1)},
                                  [&](orderly::web::ApiResponse r) { answer = std::move(r); });
  site.run_until([&] { return answer.has_value(); });
  return 0;
}
