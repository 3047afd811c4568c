// OCPP-J 1.6 frames (OCPP-J 1.6 Specification, section 4): an array whose first element is the
// message type (2 CALL, 3 CALLRESULT, 4 CALLERROR) and second the message id.
#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "orderly/drivers/ocpp.hpp"
#include "orderly/base/bounded_json.hpp"

namespace orderly::drivers::ocpp {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<ErrorCode, const char*>, 10> kErrorNames{{
    {ErrorCode::NotImplemented, "NotImplemented"},
    {ErrorCode::NotSupported, "NotSupported"},
    {ErrorCode::InternalError, "InternalError"},
    {ErrorCode::ProtocolError, "ProtocolError"},
    {ErrorCode::SecurityError, "SecurityError"},
    {ErrorCode::FormationViolation, "FormationViolation"},
    {ErrorCode::PropertyConstraintViolation, "PropertyConstraintViolation"},
    {ErrorCode::OccurenceConstraintViolation, "OccurenceConstraintViolation"},
    {ErrorCode::TypeConstraintViolation, "TypeConstraintViolation"},
    {ErrorCode::GenericError, "GenericError"},
}};

// OCPP-J 1.6, section 4.1.3: the message id is a string of at most 36 characters.
constexpr std::size_t kMaxMessageIdLength = 36;

BadFrame bad(std::string id, ErrorCode code, std::string what, bool is_call) {
  return BadFrame{CallError{std::move(id), code, std::move(what), json::object()}, is_call};
}

}  // namespace

const char* to_string(ErrorCode code) {
  for (const auto& [c, name] : kErrorNames)
    if (c == code) return name;
  return "GenericError";
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) {
  for (const auto& [c, name] : kErrorNames)
    if (text == name) return c;
  return std::nullopt;
}

std::variant<Message, BadFrame> decode(std::string_view text) {
  // A charge point's frame is outside input: bounded as the web server bounds its WebSocket
  // messages (64 KiB), and in depth, before anything recurses over it.
  auto parsed = bounded_json::parse(text, {64 * 1024});
  json frame = parsed.ok() ? std::move(parsed.value) : json(json::value_t::discarded);
  if (frame.is_discarded())
    return bad(kUnknownMessageId, ErrorCode::FormationViolation, "the frame is not JSON", true);
  if (!frame.is_array() || frame.size() < 3 || !frame[0].is_number_integer())
    return bad(kUnknownMessageId, ErrorCode::FormationViolation,
               "the frame is not an array [type, id, ...] with an integer message type", true);
  const auto type = frame[0].get<std::int64_t>();
  const bool is_call = type == 2;
  if (!frame[1].is_string() || frame[1].get_ref<const std::string&>().empty() ||
      frame[1].get_ref<const std::string&>().size() > kMaxMessageIdLength)
    return bad(kUnknownMessageId, ErrorCode::FormationViolation,
               "the message id (element 2) is not a string of 1 to 36 characters", is_call);
  std::string id = frame[1].get<std::string>();
  switch (type) {
    case 2:
      if (frame.size() != 4)
        return bad(id, ErrorCode::ProtocolError, "a CALL has 4 elements [2, id, action, payload], this one " +
                                                     std::to_string(frame.size()), true);
      if (!frame[2].is_string() || !frame[3].is_object())
        return bad(id, ErrorCode::FormationViolation, "a CALL's action must be a string and its payload an object",
                   true);
      return Message{Call{std::move(id), frame[2].get<std::string>(), std::move(frame[3])}};
    case 3:
      if (frame.size() != 3 || !frame[2].is_object())
        return bad(id, ErrorCode::FormationViolation, "a CALLRESULT is [3, id, {payload}]", false);
      return Message{CallResult{std::move(id), std::move(frame[2])}};
    case 4: {
      if (frame.size() != 5 || !frame[2].is_string() || !frame[3].is_string() || !frame[4].is_object())
        return bad(id, ErrorCode::FormationViolation,
                   "a CALLERROR is [4, id, \"code\", \"description\", {details}]", false);
      const auto code = error_code_from_string(frame[2].get_ref<const std::string&>());
      return Message{CallError{std::move(id), code.value_or(ErrorCode::GenericError),
                               frame[3].get<std::string>(), std::move(frame[4])}};
    }
    default:
      return bad(id, ErrorCode::ProtocolError,
                 "message type " + std::to_string(type) + " is none of 2 (CALL), 3 (CALLRESULT), 4 (CALLERROR)",
                 false);
  }
}

std::string encode(const Message& message) {
  struct Encoder {
    json operator()(const Call& c) const { return json::array({2, c.id, c.action, c.payload}); }
    json operator()(const CallResult& r) const { return json::array({3, r.id, r.payload}); }
    json operator()(const CallError& e) const {
      return json::array({4, e.id, to_string(e.code), e.description, e.details.is_object() ? e.details : json::object()});
    }
  };
  return std::visit(Encoder{}, message).dump();
}

// ---- date-time (RFC 3339, the schemas' "format": "date-time") ----------------------------------

namespace {

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  const auto* first = s.data() + at;
  for (std::size_t i = 0; i < n; ++i)
    if (first[i] < '0' || first[i] > '9') return false;
  return std::from_chars(first, first + n, out).ec == std::errc{};
}

}  // namespace

std::optional<TimePoint> parse_date_time(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, hour) || s[13] != ':' ||
      !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second))
    return std::nullopt;
  std::size_t at = 19;
  std::chrono::nanoseconds fraction{0};
  if (at < s.size() && s[at] == '.') {
    ++at;
    const std::size_t start = at;
    long long scale = 1'000'000'000;
    long long value = 0;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
      if (scale > 1) {
        scale /= 10;
        value += (s[at] - '0') * scale;
      }
      ++at;
    }
    if (at == start) return std::nullopt;
    fraction = std::chrono::nanoseconds(value);
  }
  int offset_minutes = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int oh, om;
    if (!digits(s, at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':' || !digits(s, at + 4, 2, om) || oh > 23 ||
        om > 59)
      return std::nullopt;
    offset_minutes = (s[at] == '-' ? -1 : 1) * (oh * 60 + om);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size()) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!year_representable(year) || !ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const auto t = sys_days{ymd} + hours(hour) + minutes(minute) + seconds(second) - minutes(offset_minutes);
  return time_point_cast<TimePoint::duration>(t + duration_cast<TimePoint::duration>(fraction));
}

std::string format_date_time(TimePoint t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return text;
}

}  // namespace orderly::drivers::ocpp
