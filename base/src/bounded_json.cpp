#include "orderly/base/bounded_json.hpp"

namespace orderly::bounded_json {
namespace {

// Thrown from the parser callback to stop at the first container past the limit instead of
// reading (and discarding) the rest of a hostile document.
struct TooDeep {};

// "[json.exception.parse_error.101] parse error at line 1, column 3: syntax error ..." ->
// "syntax error ...", "[json.exception.out_of_range.406] number overflow ..." -> "number
// overflow ...": callers add their own position (file:line:column, a field, a topic).
std::string without_prefix(const std::string& what) {
  const auto column_at = what.find("column ");
  if (const auto cut = column_at == std::string::npos ? std::string::npos : what.find(": ", column_at);
      cut != std::string::npos) {
    return what.substr(cut + 2);
  }
  const auto bracket = what.rfind("] ", what.find(' '));
  return what.starts_with("[json.exception.") && bracket != std::string::npos ? what.substr(bracket + 2) : what;
}

}  // namespace

Parsed parse(std::string_view text, const Limits& limits) {
  Parsed out;
  if (text.size() > limits.max_bytes) {
    out.error = std::to_string(text.size()) + " bytes, over the limit of " +
                std::to_string(limits.max_bytes) + " bytes";
    return out;
  }
  // The callback's depth counts the containers already open around the one starting, so the
  // top-level value starts at 0 and a document of max_depth levels starts its deepest at max_depth - 1.
  const auto max_depth = static_cast<int>(limits.max_depth);
  const nlohmann::json::parser_callback_t limit_depth = [max_depth](int depth, nlohmann::json::parse_event_t event,
                                                                    nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    out.value = nlohmann::json::parse(text.begin(), text.end(), limit_depth, /*allow_exceptions=*/true,
                                      limits.allow_comments);
  } catch (const TooDeep&) {
    out.value = nlohmann::json(nlohmann::json::value_t::discarded);
    out.error = "nested deeper than " + std::to_string(limits.max_depth) + " levels";
  } catch (const nlohmann::json::parse_error& e) {
    out.value = nlohmann::json(nlohmann::json::value_t::discarded);
    out.error = "not valid JSON: " + without_prefix(e.what());
    out.error_byte = e.byte;
  } catch (const nlohmann::json::exception& e) {
    // A number literal past double's range (1e999) is out_of_range, not a parse_error.
    out.value = nlohmann::json(nlohmann::json::value_t::discarded);
    out.error = "not valid JSON: " + without_prefix(e.what());
  }
  return out;
}

}  // namespace orderly::bounded_json
