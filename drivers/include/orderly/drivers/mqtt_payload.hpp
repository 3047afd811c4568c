#pragma once
// Payload helpers for profile-described MQTT devices, shared by the gateway's driver and the
// simulator. Vendors publish either a bare value ("16", "3") or a JSON object; a profile's
// json_path names the value inside the object as dot-separated keys and array indices
// ("claim.charge_current", "values[11]").
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orderly/base/bounded_json.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"

namespace orderly::drivers::mqtt {

inline std::string expand_base(std::string topic, const std::string& base) {
  static const std::string kBase = "{base}";
  for (auto pos = topic.find(kBase); pos != std::string::npos; pos = topic.find(kBase, pos + base.size()))
    topic.replace(pos, kBase.size(), base);
  return topic;
}

// One step of a json_path: an object key, or an array index.
struct JsonStep {
  std::string key;        // empty for an index
  std::size_t index = 0;
  bool is_index() const { return key.empty(); }
};

// "claim.charge_current", "values[11]", "[3].p", "a.b[0][2]": dot-separated keys, each followed
// by any number of [n] (0-based). Nullopt for anything else (an empty key, "[x]", "a[").
inline std::optional<std::vector<JsonStep>> parse_json_path(const std::string& path) {
  std::vector<JsonStep> steps;
  std::size_t i = 0;
  const std::size_t n = path.size();
  if (n == 0) return std::nullopt;
  while (i < n) {
    std::string key;
    while (i < n && path[i] != '.' && path[i] != '[') key.push_back(path[i++]);
    if (!key.empty()) steps.push_back({key, 0});
    else if (i >= n || path[i] != '[') return std::nullopt;  // "a..b", "a." or a leading "."
    while (i < n && path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string::npos || close == i + 1) return std::nullopt;
      const std::string digits = path.substr(i + 1, close - i - 1);
      if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) return std::nullopt;
      steps.push_back({{}, static_cast<std::size_t>(std::stoul(digits))});
      i = close + 1;
    }
    if (i < n) {
      if (path[i] != '.' || i + 1 == n) return std::nullopt;
      ++i;
    }
  }
  return steps;
}

// The value as text ("16", "3.5", "charging"), or nullopt with `error` set.
inline std::optional<std::string> extract_value(const std::string& payload, const std::string& json_path,
                                                std::string& error) {
  if (json_path.empty()) {
    std::string v = payload;
    while (!v.empty() && (v.back() == ' ' || v.back() == '\n' || v.back() == '\r' || v.back() == '\t')) v.pop_back();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty()) {
      error = "empty payload";
      return std::nullopt;
    }
    return v;
  }
  const auto steps = parse_json_path(json_path);
  const auto parsed = bounded_json::parse(payload, {kMaxPayloadBytes});
  if (!steps || !parsed.ok() || !(parsed.value.is_object() || parsed.value.is_array())) {
    error = "payload is not JSON (expected a value at \"" + json_path + "\")" +
            (parsed.ok() ? "" : ": " + parsed.error);
    return std::nullopt;
  }
  const nlohmann::json* node = &parsed.value;
  for (const JsonStep& step : *steps) {
    const bool found = step.is_index() ? node->is_array() && step.index < node->size()
                                       : node->is_object() && node->contains(step.key);
    if (!found) {
      error = "JSON payload has no \"" + json_path + "\"";
      return std::nullopt;
    }
    node = step.is_index() ? &(*node)[step.index] : &(*node)[step.key];
  }
  if (node->is_string()) return node->get<std::string>();
  if (node->is_number() || node->is_boolean()) return node->dump();
  error = "\"" + json_path + "\" is neither a number nor a string";
  return std::nullopt;
}

// Sets `value` at `json_path` inside `doc`, making the objects and arrays on the way (an array
// grows with nulls up to the index), so several points can share one payload.
inline void set_value(nlohmann::json& doc, const std::string& json_path, const nlohmann::json& value) {
  nlohmann::json* node = &doc;
  for (const JsonStep& step : parse_json_path(json_path).value_or(std::vector<JsonStep>{{json_path, 0}})) {
    if (step.is_index()) {
      if (!node->is_array()) *node = nlohmann::json::array();
      while (node->size() <= step.index) node->push_back(nullptr);
      node = &(*node)[step.index];
    } else {
      if (!node->is_object()) *node = nlohmann::json::object();
      node = &(*node)[step.key];
    }
  }
  *node = value;
}

// A payload carrying `value` at `json_path`, or the bare value.
inline std::string encode_value(const std::string& json_path, const nlohmann::json& value) {
  if (json_path.empty()) return value.is_string() ? value.get<std::string>() : value.dump();
  nlohmann::json doc;
  set_value(doc, json_path, value);
  return doc.dump();
}

// A whole-string decimal number, or nullopt ("12abc", "", "nan" are not numbers).
inline std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace orderly::drivers::mqtt
