#pragma once
// Parsing of subcommands' option values, shared so every command accepts numbers the same way.
#include <charconv>
#include <optional>
#include <string>

namespace orderly::gateway {

// The whole text as a T, or nullopt: no leading/trailing characters, no sign on unsigned types
// (std::from_chars, so "-1" is not a huge --seed and "7kW" is not 7).
template <typename T>
std::optional<T> parse_number(const std::string& text) {
  T value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace orderly::gateway
