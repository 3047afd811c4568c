#pragma once
// Request handling without sockets: turns one parsed HTTP request into one response. Kept apart
// from the session code so the routing rules (static files, traversal, API, errors) are tested
// without a network.
#include <filesystem>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

#include "orderly/web/application.hpp"

namespace orderly::web {

inline constexpr std::string_view kServerName = "orderly";
inline constexpr std::string_view kStatusPath = "/api/v1/status";
inline constexpr std::string_view kHealthPath = "/api/v1/health";
inline constexpr std::string_view kLivePath = "/api/v1/live";

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// app.status() serialised; never throws (a failing application yields an {"error": ...} object).
std::string status_text(const Application& app);

// The path part of a request target: no query string, no fragment, still percent-encoded.
std::string_view target_path(std::string_view target);

// Decodes %XX escapes; returns false on a malformed escape or a NUL byte.
bool percent_decode(std::string_view in, std::string& out);

// The file under `static_dir` that `path` names, or an empty path when it would leave it.
// "/" and paths ending in "/" name index.html.
std::filesystem::path static_file_for(const std::filesystem::path& static_dir, std::string_view decoded_path);

// The content type browsers need for a file, from its extension.
std::string_view content_type_for(const std::filesystem::path& file);

// {"error": message, "path": path} with `status`.
Response error_response(boost::beast::http::status status, std::string_view message,
                        std::string_view path, unsigned version, bool keep_alive);

Response handle_request(const Application& app, const std::filesystem::path& static_dir,
                        const Request& request);

}  // namespace orderly::web
