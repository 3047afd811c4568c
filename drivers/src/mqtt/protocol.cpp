#include <charconv>
#include <cstdio>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "orderly/base/bounded_json.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"

namespace orderly::drivers::mqtt {
namespace {

using nlohmann::json;

const char* kind_level(DeviceKind kind) { return kind == DeviceKind::charger ? "charger" : "meter"; }

// Why a field was rejected, thrown inside the decoders only and turned into Decoded::error.
struct Reject {
  std::string why;
};

json parse_object(std::string_view payload) {
  auto parsed = bounded_json::parse(payload, {kMaxPayloadBytes});
  if (!parsed.ok()) {
    std::string head(payload.substr(0, 40));
    for (char& c : head)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    throw Reject{"payload refused: " + parsed.error + " (starts with \"" + head + "\")"};
  }
  if (!parsed.value.is_object()) throw Reject{"payload is JSON but not an object"};
  return std::move(parsed.value);
}

void check_version(const json& j) {
  auto it = j.find("v");
  if (it == j.end()) throw Reject{"missing protocol version field \"v\""};
  if (!it->is_number_integer()) throw Reject{"field \"v\" must be an integer"};
  if (it->get<std::int64_t>() != kProtocolVersion)
    throw Reject{"protocol version " + std::to_string(it->get<std::int64_t>()) + " not supported (expected " +
                 std::to_string(kProtocolVersion) + ")"};
}

// A finite number within [lo, hi]; NaN/inf cannot be written in JSON, but "NaN" strings and
// overflowing literals such as 1e999 can, and both are refused here.
double number(const json& j, const char* field, double lo, double hi) {
  auto it = j.find(field);
  if (it == j.end()) throw Reject{std::string("missing field \"") + field + "\""};
  if (!it->is_number()) throw Reject{std::string("field \"") + field + "\" must be a number, got " + it->type_name()};
  const double v = it->get<double>();
  if (!std::isfinite(v)) throw Reject{std::string("field \"") + field + "\" is not finite"};
  if (v < lo || v > hi)
    throw Reject{std::string("field \"") + field + "\" = " + std::to_string(v) + " outside plausible range [" +
                 std::to_string(lo) + ", " + std::to_string(hi) + "]"};
  return v;
}

double optional_number(const json& j, const char* field, double lo, double hi) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return kNotMeasured;
  return number(j, field, lo, hi);
}

// Up to three per-phase values (L1..L3); null or missing entries are "not measured".
std::array<double, 3> phases(const json& j, const char* field, double lo, double hi) {
  std::array<double, 3> out{kNotMeasured, kNotMeasured, kNotMeasured};
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array() || it->size() > 3)
    throw Reject{std::string("field \"") + field + "\" must be an array of at most 3 numbers"};
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    if (e.is_null()) continue;
    if (!e.is_number()) throw Reject{std::string("field \"") + field + "\"[" + std::to_string(i) + "] must be a number"};
    const double v = e.get<double>();
    if (!std::isfinite(v) || v < lo || v > hi)
      throw Reject{std::string("field \"") + field + "\"[" + std::to_string(i) + "] = " + std::to_string(v) +
                   " outside plausible range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"};
    out[i] = v;
  }
  return out;
}

TimePoint timestamp(const json& j) {
  auto it = j.find("ts");
  if (it == j.end()) throw Reject{"missing field \"ts\""};
  if (!it->is_string()) throw Reject{"field \"ts\" must be an ISO 8601 string"};
  auto t = parse_iso8601(it->get<std::string>());
  if (!t) throw Reject{"field \"ts\" = \"" + it->get<std::string>() + "\" is not ISO 8601 UTC (YYYY-MM-DDTHH:MM:SS[.mmm]Z)"};
  return *t;
}

std::uint64_t sequence(const json& j) {
  auto it = j.find("seq");
  if (it == j.end()) throw Reject{"missing field \"seq\""};
  if (!it->is_number_unsigned()) throw Reject{"field \"seq\" must be a non-negative integer"};
  return it->get<std::uint64_t>();
}

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json phases_json(const std::array<double, 3>& a) {
  return json::array({number_or_null(a[0]), number_or_null(a[1]), number_or_null(a[2])});
}

template <class T, class F>
Decoded<T> decode(F&& f) {
  Decoded<T> out;
  try {
    out.value = f();
  } catch (const Reject& r) {
    out.error = r.why;
  } catch (const std::exception& e) {  // nlohmann type errors we did not foresee
    out.error = std::string("unexpected payload: ") + e.what();
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int to_int(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

std::string device_topic(const std::string& prefix, DeviceKind kind, const std::string& id, std::string_view leaf) {
  std::string t = prefix;
  t += '/';
  t += kind_level(kind);
  t += '/';
  t += id;
  t += '/';
  t += leaf;
  return t;
}

std::string gateway_online_topic(const std::string& prefix) { return prefix + "/gateway/online"; }

std::optional<TopicRef> parse_topic(const std::string& prefix, std::string_view topic) {
  if (topic.size() <= prefix.size() + 1 || topic.substr(0, prefix.size()) != prefix || topic[prefix.size()] != '/')
    return std::nullopt;
  std::string_view rest = topic.substr(prefix.size() + 1);
  const auto a = rest.find('/');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = rest.find('/', a + 1);
  if (b == std::string_view::npos || rest.find('/', b + 1) != std::string_view::npos) return std::nullopt;
  TopicRef ref;
  const auto kind = rest.substr(0, a);
  if (kind == "charger")
    ref.kind = DeviceKind::charger;
  else if (kind == "meter")
    ref.kind = DeviceKind::meter;
  else
    return std::nullopt;
  ref.id = std::string(rest.substr(a + 1, b - a - 1));
  ref.leaf = std::string(rest.substr(b + 1));
  if (ref.id.empty() || ref.leaf.empty()) return std::nullopt;
  return ref;
}

std::string check_device_id(const std::string& id) {
  if (id.empty()) return "device id is empty";
  for (char c : id)
    if (c == '/' || c == '+' || c == '#' || static_cast<unsigned char>(c) < 0x20)
      return "device id \"" + id + "\" contains '/', '+', '#' or a control character, which MQTT topics reserve";
  return {};
}

std::string format_iso8601(TimePoint t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::optional<TimePoint> parse_iso8601(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
      s.back() != 'Z')
    return std::nullopt;
  for (auto [pos, len] : {std::pair{0, 4}, {5, 2}, {8, 2}, {11, 2}, {14, 2}, {17, 2}})
    if (!all_digits(s.substr(pos, len))) return std::nullopt;
  const int year = to_int(s.substr(0, 4)), month = to_int(s.substr(5, 2)), day = to_int(s.substr(8, 2));
  const int hour = to_int(s.substr(11, 2)), minute = to_int(s.substr(14, 2)), second = to_int(s.substr(17, 2));
  if (!year_representable(year) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  Duration frac{};
  std::string_view tail = s.substr(19, s.size() - 20);
  if (!tail.empty()) {
    if (tail[0] != '.' || !all_digits(tail.substr(1))) return std::nullopt;
    std::string_view digits = tail.substr(1, 9);
    long long ns = 0;
    for (std::size_t i = 0; i < 9; ++i) ns = ns * 10 + (i < digits.size() ? digits[i] - '0' : 0);
    frac = std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(ns));
  }
  return TimePoint(std::chrono::sys_days(ymd).time_since_epoch()) + std::chrono::hours(hour) +
         std::chrono::minutes(minute) + std::chrono::seconds(second) + frac;
}

std::string encode_charger_status(const ChargerSnapshot& s) {
  json j{{"v", kProtocolVersion},
         {"ts", format_iso8601(s.at)},
         {"state", to_string(s.state)},
         {"power_w", number_or_null(s.power_w)},
         {"current_a", phases_json(s.current_a)},
         {"voltage_v", phases_json(s.voltage_v)},
         {"session_energy_wh", number_or_null(s.session_energy_wh)},
         {"total_energy_wh", number_or_null(s.total_energy_wh)},
         {"limit_w", number_or_null(s.applied_limit_w)}};
  if (!s.rfid.empty()) j["rfid"] = s.rfid;
  return j.dump();
}

Decoded<ChargerSnapshot> decode_charger_status(std::string_view payload, const ChargerBounds& bounds) {
  return decode<ChargerSnapshot>([&] {
    const json j = parse_object(payload);
    check_version(j);
    ChargerSnapshot s;
    s.at = timestamp(j);
    auto st = j.find("state");
    if (st == j.end()) throw Reject{"missing field \"state\""};
    if (!st->is_string()) throw Reject{"field \"state\" must be a string"};
    auto state = charger_state_from_string(st->get<std::string>());
    if (!state || *state == ChargerState::unknown)
      throw Reject{"unknown state \"" + st->get<std::string>() + "\" (expected unplugged, plugged, charging or fault)"};
    s.state = *state;
    const double p_max = 10 * bounds.max_power_w;
    s.power_w = number(j, "power_w", -p_max, p_max);
    s.current_a = phases(j, "current_a", -10 * bounds.max_current_a, 10 * bounds.max_current_a);
    s.voltage_v = phases(j, "voltage_v", 0, 1000);
    s.session_energy_wh = optional_number(j, "session_energy_wh", 0, 1e7);
    s.total_energy_wh = optional_number(j, "total_energy_wh", 0, 1e12);
    s.applied_limit_w = optional_number(j, "limit_w", -p_max, p_max);
    if (auto r = j.find("rfid"); r != j.end() && !r->is_null()) {
      if (!r->is_string() || r->get<std::string>().size() > 64) throw Reject{"field \"rfid\" must be a string of at most 64 characters"};
      s.rfid = r->get<std::string>();
    }
    return s;
  });
}

std::string encode_meter_status(const MeterSnapshot& s) {
  return json{{"v", kProtocolVersion},
              {"ts", format_iso8601(s.at)},
              {"power_w", number_or_null(s.power_w)},
              {"power_w_phase", phases_json(s.power_w_phase)},
              {"current_a", phases_json(s.current_a)},
              {"voltage_v", phases_json(s.voltage_v)},
              {"import_energy_wh", number_or_null(s.import_energy_wh)},
              {"export_energy_wh", number_or_null(s.export_energy_wh)}}
      .dump();
}

Decoded<MeterSnapshot> decode_meter_status(std::string_view payload) {
  // A community transformer is at most a few MVA; 100 MW / 100 kA are corrupt, not measured.
  constexpr double kMaxPowerW = 1e8, kMaxCurrentA = 1e5;
  return decode<MeterSnapshot>([&] {
    const json j = parse_object(payload);
    check_version(j);
    MeterSnapshot s;
    s.at = timestamp(j);
    s.power_w = number(j, "power_w", -kMaxPowerW, kMaxPowerW);
    s.power_w_phase = phases(j, "power_w_phase", -kMaxPowerW, kMaxPowerW);
    s.current_a = phases(j, "current_a", -kMaxCurrentA, kMaxCurrentA);
    s.voltage_v = phases(j, "voltage_v", 0, 1e6);
    s.import_energy_wh = optional_number(j, "import_energy_wh", 0, 1e15);
    s.export_energy_wh = optional_number(j, "export_energy_wh", 0, 1e15);
    return s;
  });
}

std::string encode_limit(const LimitCommand& c) {
  return json{{"v", kProtocolVersion}, {"seq", c.seq}, {"power_w", c.power_w}, {"valid_for_s", c.valid_for_s}}.dump();
}

Decoded<LimitCommand> decode_limit(std::string_view payload) {
  return decode<LimitCommand>([&] {
    const json j = parse_object(payload);
    check_version(j);
    LimitCommand c;
    c.seq = sequence(j);
    c.power_w = number(j, "power_w", -1e7, 1e7);
    c.valid_for_s = number(j, "valid_for_s", 0, 1e7);
    if (c.valid_for_s <= 0) throw Reject{"field \"valid_for_s\" must be positive"};
    return c;
  });
}

// IEC 61851-1 AC piles draw at most 80 A; 100 A leaves room for rounding, not for unit mix-ups.
constexpr double kMaxFailsafeCurrentA = 100;
constexpr double kMaxFailsafeTimeoutS = 86400;

std::string encode_failsafe(const FailsafeCommand& c) {
  return json{{"v", kProtocolVersion}, {"seq", c.seq}, {"current_a", c.current_a}, {"timeout_s", c.timeout_s}}.dump();
}

Decoded<FailsafeCommand> decode_failsafe(std::string_view payload) {
  return decode<FailsafeCommand>([&] {
    const json j = parse_object(payload);
    check_version(j);
    FailsafeCommand c;
    c.seq = sequence(j);
    c.current_a = number(j, "current_a", 0, kMaxFailsafeCurrentA);
    c.timeout_s = number(j, "timeout_s", 0, kMaxFailsafeTimeoutS);
    if (c.timeout_s <= 0) throw Reject{"field \"timeout_s\" must be positive"};
    return c;
  });
}

std::string encode_ack(const AckMessage& a) {
  json j{{"v", kProtocolVersion}, {"seq", a.seq}, {"accepted", a.accepted}};
  if (a.accepted) {
    if (std::isfinite(a.applied_current_a) || std::isfinite(a.applied_timeout_s)) {
      j["applied_current_a"] = number_or_null(a.applied_current_a);
      j["applied_timeout_s"] = number_or_null(a.applied_timeout_s);
    } else {
      j["applied_w"] = number_or_null(a.applied_w);
    }
  } else {
    j["error"] = a.error;
  }
  return j.dump();
}

Decoded<AckMessage> decode_ack(std::string_view payload) {
  return decode<AckMessage>([&] {
    const json j = parse_object(payload);
    check_version(j);
    AckMessage a;
    a.seq = sequence(j);
    auto acc = j.find("accepted");
    if (acc == j.end() || !acc->is_boolean()) throw Reject{"field \"accepted\" must be true or false"};
    a.accepted = acc->get<bool>();
    if (a.accepted) {
      a.applied_w = optional_number(j, "applied_w", -1e7, 1e7);
      a.applied_current_a = optional_number(j, "applied_current_a", 0, kMaxFailsafeCurrentA);
      a.applied_timeout_s = optional_number(j, "applied_timeout_s", 0, kMaxFailsafeTimeoutS);
    } else {
      auto e = j.find("error");
      a.error = (e != j.end() && e->is_string()) ? e->get<std::string>() : "refused without a reason";
    }
    return a;
  });
}

Decoded<bool> decode_online(std::string_view payload) {
  Decoded<bool> out;
  if (payload == kOnline)
    out.value = true;
  else if (payload == kOffline)
    out.value = false;
  else
    out.error = "online flag must be \"true\" or \"false\"";
  return out;
}

}  // namespace orderly::drivers::mqtt
