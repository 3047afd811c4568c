#pragma once
// Parsing JSON that comes from outside the box (a request body, a device's MQTT payload, a
// scenario file) with a size and a nesting limit. nlohmann's parser itself is iterative, but
// dump(), the comparison operators and the readers that walk a document (ours included) recurse
// once per nesting level: a 64 KiB body of "[[[[..." overflows a Debug build's stack as soon as
// an error message quotes it. The limits stop such a document at the edge, before any of that
// code sees it, and say which limit was hit so the sender can be told.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace orderly::bounded_json {

// Deep enough for every document the project defines (a scenario's capacity tree is the
// deepest, a handful of levels per feeder), shallow enough that recursion over it is harmless.
inline constexpr std::size_t kDefaultMaxDepth = 32;

struct Limits {
  std::size_t max_bytes;
  std::size_t max_depth = kDefaultMaxDepth;
  // Scenario files are written by hand and may carry // comments; nothing sent over a wire may.
  bool allow_comments = false;
};

struct Parsed {
  nlohmann::json value;  // discarded unless ok()
  // Why the text was refused, a phrase the caller puts after its own subject ("the body", a
  // topic, file:line:column): "70000 bytes, over the limit of 65536 bytes", "nested deeper than
  // 32 levels", "not valid JSON: syntax error while parsing value - unexpected ']'..." (without
  // nlohmann's "[json.exception...] at line 1, column 3" prefix).
  std::string error;
  // Where the syntax error is (byte offset, 1-based as nlohmann counts); 0 for a size or depth limit.
  std::size_t error_byte = 0;
  bool ok() const { return error.empty(); }
};

// Never throws for anything in `text`: every failure is a value.
Parsed parse(std::string_view text, const Limits& limits);

}  // namespace orderly::bounded_json
