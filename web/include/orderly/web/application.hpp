#pragma once
// The narrow interface through which the web server reaches the gateway. web/ holds no state:
// every page and API answer is built from what this returns. gateway implements it; web never
// includes gateway or drivers headers. Called on the core io_context thread only.
#include <functional>
#include <nlohmann/json.hpp>

namespace orderly::web {

class Application {
 public:
  virtual ~Application() = default;

  // What the live page shows: site load against the limit, recent history and every charger.
  // Schema in docs/web-api.md ("GET /api/v1/status").
  virtual nlohmann::json status() const = 0;

  // The web server asks to be told when status() changed, to push it to open WebSockets.
  // The callback runs on the core thread; the server throttles pushes itself.
  virtual void on_status_changed(std::function<void()> callback) = 0;
};

}  // namespace orderly::web
