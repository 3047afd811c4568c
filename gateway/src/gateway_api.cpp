// The gateway's JSON API beyond the live status: requests, sessions, KPIs and statements
// (docs/web-api.md). Runs on the core thread, like everything that touches Gateway state.
#include "orderly/gateway/gateway.hpp"

namespace orderly::gateway {

web::ApiResponse Gateway::handle_api(const web::ApiRequest& request) { return Application::handle_api(request); }

}  // namespace orderly::gateway
