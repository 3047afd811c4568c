#pragma once
// What gateway_api.cpp and gateway_auth.cpp share to answer API calls: the refusal type and the
// JSON answer. Internal to the gateway library.
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "orderly/web/application.hpp"

namespace orderly::gateway::api {

// A request the API refuses: the status, the field at fault (empty: the path) and what to do.
struct ApiError {
  ApiError(int status_code, std::string at_field, std::string what, std::string allowed = {})
      : status(status_code), field(std::move(at_field)), message(std::move(what)), allow(std::move(allowed)) {}
  int status;
  std::string field;
  std::string message;
  std::string allow;  // 405
};

inline std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline web::ApiResponse json_answer(int status, const nlohmann::json& body) {
  return {status, "application/json; charset=utf-8", dump(body), "", "", {}};
}

}  // namespace orderly::gateway::api
