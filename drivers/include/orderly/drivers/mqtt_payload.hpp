#pragma once
// Payload helpers for profile-described MQTT devices, shared by the gateway's driver and the
// simulator. Vendors publish either a bare value ("16", "3") or a JSON object; a profile's
// json_path names the value inside the object as dot-separated keys ("claim.charge_current").
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "orderly/base/bounded_json.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"

namespace orderly::drivers::mqtt {

inline std::string expand_base(std::string topic, const std::string& base) {
  static const std::string kBase = "{base}";
  for (auto pos = topic.find(kBase); pos != std::string::npos; pos = topic.find(kBase, pos + base.size()))
    topic.replace(pos, kBase.size(), base);
  return topic;
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
  const auto parsed = bounded_json::parse(payload, {kMaxPayloadBytes});
  if (!parsed.ok() || !parsed.value.is_object()) {
    error = "payload is not a JSON object (expected a value at \"" + json_path + "\")" +
            (parsed.ok() ? "" : ": " + parsed.error);
    return std::nullopt;
  }
  const nlohmann::json* node = &parsed.value;
  std::string::size_type start = 0;
  while (true) {
    const auto dot = json_path.find('.', start);
    const std::string key = json_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(key)) {
      error = "JSON payload has no \"" + json_path + "\"";
      return std::nullopt;
    }
    node = &(*node)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (node->is_string()) return node->get<std::string>();
  if (node->is_number() || node->is_boolean()) return node->dump();
  error = "\"" + json_path + "\" is neither a number nor a string";
  return std::nullopt;
}

// A payload carrying `value` at `json_path` (a nested object for dotted paths), or the bare value.
inline std::string encode_value(const std::string& json_path, const nlohmann::json& value) {
  if (json_path.empty()) return value.is_string() ? value.get<std::string>() : value.dump();
  nlohmann::json doc = nlohmann::json::object();
  nlohmann::json* node = &doc;
  std::string::size_type start = 0;
  while (true) {
    const auto dot = json_path.find('.', start);
    const std::string key = json_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      (*node)[key] = value;
      break;
    }
    node = &(*node)[key];
    start = dot + 1;
  }
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
