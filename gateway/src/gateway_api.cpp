// The gateway's JSON API beyond the live status: requests, sessions, KPIs, statements and DR
// events (docs/web-api.md). What touches Gateway state is answered on the core thread; a write
// (a request, a DR event) is answered when the store writer reports its record committed. The store
// reads (KPIs, sessions, statements) open a Store of their own (about a millisecond), so they
// never wait for the writer thread nor touch its connection, and run on worker threads
// (handle_api_async): a KPI query over a year takes seconds (docs/kpi.md) and the limiter must
// not wait for it.
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "orderly/base/bounded_json.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/report.hpp"
#include "orderly/gateway/settlement.hpp"
#include "orderly/gateway/store.hpp"
#include "api_common.hpp"
#include "demand_response.hpp"
#include "platform_messages.hpp"
#include "status_view.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using json = nlohmann::json;

// web::ServerOptions::max_body_bytes' default; a server configured larger still gets this bound.
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::string_view kPrefix = "/api/v1/";
constexpr std::string_view kPlatformPrefix = "/api/v1/tcec/";  // platform_api.cpp
// A year's KPIs take seconds (docs/kpi.md); longer periods would keep a worker, and one of the
// box's two cores, busy for too long.
constexpr days kLongestPeriod{366};
constexpr std::size_t kMostSessions = 5000;

using api::ApiError;
using api::dump;
using api::json_answer;

std::vector<std::string_view> split_path(std::string_view rest) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= rest.size()) {
    auto end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    parts.push_back(rest.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

void require_method(const web::ApiRequest& request, std::string_view allowed) {
  if (request.method != allowed) {
    throw ApiError{405, "", "method " + request.method + " not allowed here; use " + std::string(allowed),
                   std::string(allowed)};
  }
}

// ---- parsing -----------------------------------------------------------------------------

bool read_int(std::string_view text, std::size_t pos, std::size_t digits, int& out) {
  if (pos + digits > text.size()) return false;
  for (std::size_t i = pos; i < pos + digits; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return std::from_chars(text.data() + pos, text.data() + pos + digits, out).ec == std::errc{};
}

constexpr const char* kTimeFormats =
    "a date (2026-01-05: local midnight) or a time (2026-01-05T07:30, 2026-01-05T07:30:00+08:00, "
    "...Z); without an offset the site's is used";

// ISO 8601 as people and the page write it. A '+' that arrived unencoded in a query string
// became a space (form encoding); it is read as '+' again.
std::optional<TimePoint> parse_iso(std::string_view text, minutes site_offset) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!read_int(text, 0, 4, y) || text.size() < 10 || text[4] != '-' || !read_int(text, 5, 2, mo) ||
      text[7] != '-' || !read_int(text, 8, 2, d) || !year_representable(y)) {
    return std::nullopt;
  }
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  std::size_t pos = 10;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return std::nullopt;
    if (!read_int(text, pos + 1, 2, h) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_int(text, pos + 4, 2, mi)) {
      return std::nullopt;
    }
    pos += 6;
    if (pos < text.size() && text[pos] == ':') {
      if (!read_int(text, pos + 1, 2, s)) return std::nullopt;
      pos += 3;
    }
    if (h > 23 || mi > 59 || s > 59) return std::nullopt;
  }
  minutes offset = site_offset;
  if (pos < text.size()) {
    const char sign = text[pos];
    int oh = 0, om = 0;
    if ((sign == 'Z' || sign == 'z') && pos + 1 == text.size()) {
      offset = minutes(0);
    } else if ((sign == '+' || sign == '-' || sign == ' ') && read_int(text, pos + 1, 2, oh) &&
               ((pos + 6 == text.size() && text[pos + 3] == ':' && read_int(text, pos + 4, 2, om)) ||
                (pos + 5 == text.size() && read_int(text, pos + 3, 2, om)) || pos + 3 == text.size()) &&
               oh <= 14 && om <= 59) {
      offset = minutes(oh * 60 + om) * (sign == '-' ? -1 : 1);
    } else {
      return std::nullopt;
    }
  }
  return TimePoint(sys_days(date)) + hours(h) + minutes(mi) + seconds(s) - offset;
}

// "07:30": the next 07:30 local after `now` (today or tomorrow), as a resident means it.
std::optional<TimePoint> parse_clock_time(std::string_view text, TimePoint now, minutes site_offset) {
  int h = 0, mi = 0;
  if (text.size() != 5 || !read_int(text, 0, 2, h) || text[2] != ':' || !read_int(text, 3, 2, mi) || h > 23 ||
      mi > 59) {
    return std::nullopt;
  }
  const auto local_now = floor<seconds>(now) + site_offset;
  const auto local_day = floor<days>(local_now);
  TimePoint at = TimePoint(local_day) + hours(h) + minutes(mi) - site_offset;
  if (at <= now) at += days(1);
  return at;
}

TimePoint query_time(const web::ApiRequest& request, const std::string& field, TimePoint fallback,
                     minutes site_offset) {
  const auto it = request.query.find(field);
  if (it == request.query.end() || it->second.empty()) return fallback;
  const auto t = parse_iso(it->second, site_offset);
  if (!t) throw ApiError{400, field, "'" + it->second + "' is not " + kTimeFormats};
  return *t;
}

struct TimeRange {
  TimePoint from;
  TimePoint to;
};

// [from, to): from defaults to the start of the current local month, to to now.
TimeRange query_period(const web::ApiRequest& request, TimePoint now, minutes site_offset,
                    const std::vector<std::string>& other_fields) {
  for (const auto& [key, value] : request.query) {
    if (key == "from" || key == "to") continue;
    bool known = false;
    for (const auto& f : other_fields) known = known || f == key;
    if (!known) {
      std::string accepted = "from, to";
      for (const auto& f : other_fields) accepted += ", " + f;
      throw ApiError{400, key, "unknown query parameter '" + key + "'; accepted: " + accepted};
    }
  }
  const year_month_day today{floor<days>(now + site_offset)};
  const TimePoint month_start = month_range(today.year() / today.month(), site_offset).from;
  TimeRange p{query_time(request, "from", month_start, site_offset), query_time(request, "to", now, site_offset)};
  if (p.to <= p.from) {
    throw ApiError{400, "to", "'to' (" + format_local_time(p.to, site_offset) + ") must be after 'from' (" +
                                  format_local_time(p.from, site_offset) + ")"};
  }
  if (p.to - p.from > kLongestPeriod) {
    throw ApiError{400, "to", "the period is longer than 366 days; ask for a year or less at a time"};
  }
  return p;
}

std::string describe(const json& value) {
  const std::string text = dump(value);
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

// A request body as a JSON object, or a 400 saying why not and showing `example`. The web server
// already refuses bodies over its max_body_bytes; the bounds here keep a body that fits from
// nesting deep enough to overflow the stack in describe()'s dump().
json parse_body(const std::string& body, const char* example) {
  auto parsed = bounded_json::parse(body, {kMaxBodyBytes});
  if (parsed.ok() && parsed.value.is_object()) return std::move(parsed.value);
  throw ApiError{400, "", "the body must be a JSON object such as " + std::string(example) +
                              (parsed.ok() ? "" : "; this one was refused: " + parsed.error)};
}

// The body of PUT /api/v1/chargers/<id>/request (docs/web-api.md).
ChargeRequest parse_charge_request(const std::string& body, TimePoint now, minutes site_offset) {
  const json doc = parse_body(body, "{\"departure\": \"07:30\", \"energy_kwh\": 20}");
  auto time_field = [&](const std::string& field, const json& value) -> TimePoint {
    const auto text = value.is_string() ? value.get<std::string>() : std::string();
    std::optional<TimePoint> t = parse_clock_time(text, now, site_offset);
    if (!t) t = parse_iso(text, site_offset);
    if (!value.is_string() || !t) {
      throw ApiError{400, field, field + ": " + describe(value) +
                                     " is not a time; give \"HH:MM\" (the next such local time) or an ISO 8601 time "
                                     "such as \"2026-01-06T07:30:00+08:00\""};
    }
    return *t;
  };
  ChargeRequest r;
  for (const auto& [key, value] : doc.items()) {
    if (key == "departure") {
      if (!value.is_null()) r.departure = time_field(key, value);
    } else if (key == "not_before") {
      // null or "" lifts "do not charge until": SessionBook reads a past time as cleared.
      if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) {
        r.not_before = now;
      } else {
        r.not_before = time_field(key, value);
      }
    } else if (key == "energy_kwh") {
      if (!value.is_number()) {
        throw ApiError{400, key, "energy_kwh: " + describe(value) + " is not a number; give kWh to add, e.g. 20"};
      }
      r.energy_kwh = value.get<double>();
    } else if (key == "boost") {
      if (!value.is_boolean()) throw ApiError{400, key, "boost: " + describe(value) + " is not true or false"};
      r.boost = value.get<bool>();
    } else if (key == "household") {
      if (!value.is_string()) {
        throw ApiError{400, key, "household: " + describe(value) + " is not a string such as \"3-2-1201\""};
      }
      r.household = value.get<std::string>();
    } else {
      throw ApiError{400, key, "unknown field '" + key +
                                   "'; accepted: departure, energy_kwh, boost, not_before, household"};
    }
  }
  return r;
}

// "2026-01" -> year_month.
std::optional<year_month> parse_month(std::string_view text) {
  int y = 0, m = 0;
  if (text.size() != 7 || !read_int(text, 0, 4, y) || text[4] != '-' || !read_int(text, 5, 2, m) || m < 1 ||
      m > 12 || !year_representable(y)) {
    return std::nullopt;
  }
  return year{y} / month{static_cast<unsigned>(m)};
}

// The body of POST /api/v1/dr-events: {"id"?, "start", "end", "limit_kw" | "reduction_kw", "type"?}.
// The platform's events (the caller's role) may give a reduction and a type; an operator's a
// limit only.
PlatformDrRequest parse_dr_event(const std::string& body, TimePoint now, minutes site_offset, bool platform) {
  const json doc =
      parse_body(body, "{\"start\": \"2026-01-05T18:00\", \"end\": \"2026-01-05T20:00\", \"limit_kw\": 300}");
  PlatformDrRequest e;
  bool have_start = false, have_end = false;
  const std::string accepted = platform ? "id, start, end, limit_kw, reduction_kw, type" : "id, start, end, limit_kw";
  for (const auto& [key, value] : doc.items()) {
    if (key == "start" || key == "end") {
      const auto t = value.is_string() ? parse_iso(value.get<std::string>(), site_offset) : std::nullopt;
      if (!t) throw ApiError{400, key, key + ": " + describe(value) + " is not " + kTimeFormats};
      (key == "start" ? e.start : e.end) = *t;
      (key == "start" ? have_start : have_end) = true;
    } else if (key == "limit_kw" || (platform && key == "reduction_kw")) {
      if (!value.is_number() || !(value.get<double>() > 0)) {
        throw ApiError{400, key, key + ": " + describe(value) + " is not a positive number of kW"};
      }
      (key == "limit_kw" ? e.cap_kw : e.reduction_kw) = value.get<double>();
    } else if (platform && key == "type") {
      if (value != "peak-shaving" && value != "valley-filling")
        throw ApiError{400, key, "type: " + describe(value) + " is not \"peak-shaving\" or \"valley-filling\""};
      e.kind = value == "peak-shaving" ? DrKind::peak_shaving : DrKind::valley_filling;
    } else if (key == "id") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        throw ApiError{400, key, "id: " + describe(value) + " is not a non-empty string"};
      }
      e.id = value.get<std::string>();
    } else {
      throw ApiError{400, key, "unknown field '" + key + "'; accepted: " + accepted};
    }
  }
  if (!have_start) throw ApiError{400, "start", "start is missing; give when the limit begins"};
  if (!have_end) throw ApiError{400, "end", "end is missing; give when the limit ends"};
  if (e.cap_kw.has_value() == e.reduction_kw.has_value()) {
    if (!platform) throw ApiError{400, "limit_kw", "limit_kw is missing; give the site limit in kW"};
    throw ApiError{400, "limit_kw", std::string("give exactly one of limit_kw and reduction_kw, not ") +
                                        (e.cap_kw ? "both" : "neither")};
  }
  if (e.end <= e.start) throw ApiError{400, "end", "end must be after start"};
  if (e.end <= now) throw ApiError{400, "end", "end is in the past; the event would never apply"};
  if (e.id.empty()) {
    e.id = (platform ? "platform-" : "operator-") +
           std::to_string(duration_cast<milliseconds>(e.start.time_since_epoch()).count());
  }
  return e;
}

// The caller when it is a resident (narrowed to their household), else null.
const web::Principal* resident(const web::ApiRequest& request) {
  return request.caller && request.caller->role == web::Role::resident ? &*request.caller : nullptr;
}

// The reads that only need the store and the config: KPIs, sessions, statements. Free of
// gateway state, so they can run on a worker thread (Gateway::handle_api_async).
bool is_store_read(const web::ApiRequest& request) {
  return request.path == "/api/v1/kpi" || request.path == "/api/v1/sessions" ||
         request.path.starts_with("/api/v1/statements/");
}

web::ApiResponse error_answer(const ApiError& e, const std::string& path) {
  json body = {{"error", e.message}, {"path", path}};
  if (!e.field.empty()) body["field"] = e.field;
  auto answer = json_answer(e.status, body);
  answer.allow = e.allow;
  return answer;
}

web::ApiResponse answer_store_read(const Config& config, const web::ApiRequest& request, TimePoint now) {
  const minutes offset = config.site.utc_offset;
  try {
    const auto parts = split_path(std::string_view(request.path).substr(kPrefix.size()));
    if (parts.size() == 1 && parts[0] == "kpi") {
      require_method(request, "GET");
      const TimeRange p = query_period(request, now, offset, {});
      const Store store(config.store.path);
      return json_answer(200, to_json(compute_kpis(store, config, p.from, p.to), offset));
    }

    if (parts.size() == 1 && parts[0] == "sessions") {
      require_method(request, "GET");
      const TimeRange p = query_period(request, now, offset, {"household", "charger"});
      std::optional<std::string> household;
      if (const auto h = request.query.find("household"); h != request.query.end()) household = h->second;
      if (const auto* who = resident(request)) {
        if (household && *household != who->household) {
          throw ApiError{403, "household", "a resident sees only their own household's sessions (" + who->household + ")"};
        }
        household = who->household;
      }
      const auto charger = request.query.find("charger");
      const Store store(config.store.path);
      json list = json::array();
      bool truncated = false;
      for (const auto& s : store.sessions(p.from, p.to)) {
        if (household && s.household != *household) continue;
        if (charger != request.query.end() && s.charger_id != charger->second) continue;
        if (list.size() == kMostSessions) {
          truncated = true;
          break;
        }
        list.push_back(to_json(s, offset));
      }
      return json_answer(200, {{"from", format_local_time(p.from, offset)},
                               {"to", format_local_time(p.to, offset)},
                               {"sessions", list},
                               {"truncated", truncated}});
    }

    if (parts.size() == 2 && parts[0] == "statements") {
      require_method(request, "GET");
      const std::string_view name = parts[1];
      const bool csv = name.ends_with(".csv");
      const bool as_json = name.ends_with(".json");
      const auto month = parse_month(name.substr(0, name.size() - (csv ? 4 : as_json ? 5 : 0)));
      if (!month || !(csv || as_json)) {
        throw ApiError{404, "", "no statement '" + std::string(name) +
                                    "'; ask for /api/v1/statements/YYYY-MM.csv or .json, e.g. 2026-01.csv"};
      }
      const Store store(config.store.path);
      auto rows = month_statement(store, *month, offset);
      if (const auto* who = resident(request)) {
        std::erase_if(rows, [&](const StatementRow& r) { return r.household != who->household; });
      }
      if (rows.empty()) {
        throw ApiError{404, "", "no sessions started in " + std::string(name.substr(0, 7)) +
                                    " (local time); nothing to bill"};
      }
      if (csv) {
        return {200, "text/csv; charset=utf-8", statement_csv(rows),
                "orderly-statement-" + std::string(name.substr(0, 7)) + ".csv", "", {}};
      }
      return json_answer(200, {{"month", std::string(name.substr(0, 7))}, {"rows", to_json(rows)}});
    }

    throw ApiError{404, "", "no such API; see docs/web-api.md"};
  } catch (const ApiError& e) {
    return error_answer(e, request.path);
  } catch (const StoreError& e) {
    spdlog::error("api: store read failed path={} error={}", request.path, e.what());
    return json_answer(503, {{"error", std::string("the store cannot be read right now: ") + e.what()},
                             {"path", request.path}});
  }
}

// The answer to a write once its record is durable, or why it is not.
web::ApiResponse durable_answer(const Durability& durable, int status, const json& body, const std::string& path) {
  if (durable.committed) return json_answer(status, body);
  return json_answer(503, {{"error", "the gateway could not save this (" + durable.error +
                                         "); it is in force until the gateway restarts: send it again"},
                           {"path", path}});
}

}  // namespace

void Gateway::answer_on_core(const web::ApiRequest& request, const Reply& reply) {
  const minutes offset = config_.site.utc_offset;
  const TimePoint now = clock_.now();
  if (!request.path.starts_with(kPrefix)) throw ApiError{404, "", "no such API; see docs/web-api.md"};
  if (request.path.starts_with(kPlatformPrefix)) return answer_platform(request, reply);
  if (answer_accounts(request, reply)) return;
  const auto parts = split_path(std::string_view(request.path).substr(kPrefix.size()));

  if (parts.size() == 3 && parts[0] == "chargers") {
    const std::string id(parts[1]);
    if (config_.find_charger(id) == nullptr) throw ApiError{404, "", "no charger '" + id + "' in the configuration"};
    if (!may_use_charger(request.caller, id)) {
      throw ApiError{403, "", "charger '" + id + "' is not a pile of household " + request.caller->household +
                                  " nor running its session"};
    }
    if (parts[2] == "session") {
      require_method(request, "GET");
      const auto open = sessions().open_session(id);
      return reply(json_answer(200, {{"charger", id}, {"session", open ? to_json(*open, offset) : json(nullptr)}}));
    }
    if (parts[2] == "request") {
      require_method(request, "PUT");
      ChargeRequest wanted = parse_charge_request(request.body, now, offset);
      if (const web::Principal* who = resident(request)) {
        if (!wanted.household.empty() && wanted.household != who->household) {
          throw ApiError{403, "household", "a resident claims sessions only for their own household (" +
                                               who->household + ")"};
        }
        // A resident's request on a shared pile is their claim on it (may_use_charger let them in).
        if (config_.find_charger(id)->kind == ChargerKind::shared_pile) wanted.household = who->household;
      }
      // Filled before the commit can be reported: that comes by message, after this returns.
      auto saved = std::make_shared<json>();
      try {
        *saved = {{"charger", id}, {"session", to_json(set_request(id, wanted,
                                                                   [reply, saved, path = request.path](const Durability& d) {
                                                                     reply(durable_answer(d, 200, *saved, path));
                                                                   }),
                                                       offset)}};
      } catch (const RequestError& e) {
        throw ApiError{400, "", e.what()};
      }
      audit(request, "request.set", id);
      return;
    }
  }

  if (parts.size() == 2 && parts[0] == "platform") {
    require_method(request, "GET");
    const std::string_view what = parts[1];
    if (what == "stations") return reply(json_answer(200, platform_messages::stations_info(config_)));
    if (what == "station-status")
      return reply(json_answer(200, platform_messages::station_status(config_, controller_)));
    if (what == "area-load") return reply(json_answer(200, platform_messages::area_load(config_, controller_, now)));
    if (what == "plan") return reply(json_answer(200, platform_messages::charging_plan(config_, controller_)));
    if (what == "flexibility")
      return reply(json_answer(200, platform_messages::flexibility(config_, controller_, now)));
    if (what == "dr-results") {
      json results = json::array();
      for (const auto& r : dr_ledger().results()) results.push_back(platform_messages::dr_result(config_, r));
      return reply(json_answer(200, {{"results", results}}));
    }
    throw ApiError{404, "", "no platform data '" + std::string(what) +
                                "'; served: stations, station-status, area-load, plan, flexibility, dr-results"};
  }

  if (parts.size() == 1 && parts[0] == "dr-events") {
    if (request.method == "GET") {
      json list = json::array();
      for (const auto& e : dr_events()) list.push_back(dr_event_json(e, now, offset));
      return reply(json_answer(200, {{"events", list}}));
    }
    if (request.method == "POST") {
      const bool platform = request.caller && request.caller->role == web::Role::platform;
      const PlatformDrRequest wanted = parse_dr_event(request.body, now, offset, platform);
      // Filled before the commit can be reported: that comes by message, after this returns.
      auto body = std::make_shared<json>();
      const auto when_durable = [reply, body, path = request.path](const Durability& d) {
        reply(durable_answer(d, 201, *body, path));
      };
      try {
        if (platform) {
          *body = {{"event", dr_event_json(add_platform_dr_event(wanted, when_durable), now, offset)}};
        } else {
          const DrEvent e{wanted.id, wanted.start, wanted.end, *wanted.cap_kw, "operator"};
          *body = {{"event", dr_event_json(e, now, offset)}};
          add_dr_event(e, when_durable);
        }
      } catch (const std::invalid_argument& error) {
        throw ApiError{400, "", error.what()};
      }
      audit(request, "dr-event.add", wanted.id);
      return;
    }
    throw ApiError{405, "", "method " + request.method + " not allowed here; use GET or POST", "GET, POST"};
  }
  if (parts.size() == 2 && parts[0] == "dr-events") {
    require_method(request, "DELETE");
    const std::string id(parts[1]);
    const json body = {{"cancelled", id}};
    const bool known = cancel_dr_event(
        id, [reply, body, path = request.path](const Durability& d) { reply(durable_answer(d, 200, body, path)); });
    if (!known) throw ApiError{404, "", "no demand-response event '" + id + "'"};
    audit(request, "dr-event.cancel", id);
    return;
  }

  throw ApiError{404, "", "no such API; see docs/web-api.md"};
}

web::ApiResponse Gateway::handle_api(const web::ApiRequest& request) {
  if (is_store_read(request)) return answer_store_read(config_, request, clock_.now());
  // Shared: a write's reply comes after this returns (and throws).
  auto answer = std::make_shared<std::optional<web::ApiResponse>>();
  handle_api_async(request, [answer](web::ApiResponse r) { *answer = std::move(r); });
  if (!*answer)
    throw std::logic_error(request.method + " " + request.path +
                           " is answered once its record is committed; call handle_api_async");
  return std::move(**answer);
}

// Worker threads of store reads. Few at once: the box has two cores and the control loop needs
// one; a burst of KPI requests beyond that is told to retry rather than queued without bound.
struct Gateway::ApiReads {
  static constexpr std::size_t kMostAtOnce = 2;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };
  std::list<Worker> workers;  // touched on the core thread only
  // Reads whose answer has not reached the core yet. A slot is free once the answer is handed
  // over there, not once the worker thread has flagged itself done: the client may send its next
  // request on that answer before the worker's last statement runs, and must not be told busy.
  std::shared_ptr<std::size_t> unanswered = std::make_shared<std::size_t>(0);  // core thread only

  void reap() {
    for (auto it = workers.begin(); it != workers.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  }
  ~ApiReads() {
    for (auto& w : workers) w.thread.join();
  }
};

bool Gateway::beside_core(std::function<std::function<void()>()> work) {
  if (!api_reads_) api_reads_ = std::make_shared<ApiReads>();
  api_reads_->reap();
  if (*api_reads_->unanswered >= ApiReads::kMostAtOnce) return false;
  ++*api_reads_->unanswered;
  ApiReads::Worker worker;
  // The work guard keeps io.run() from returning before the continuation is posted.
  worker.thread = std::thread([work = std::move(work), guard = boost::asio::make_work_guard(io_),
                               done = worker.done, unanswered = api_reads_->unanswered]() mutable {
    std::function<void()> then = work();
    boost::asio::post(guard.get_executor(), [unanswered = std::move(unanswered), then = std::move(then)] {
      --*unanswered;
      then();
    });
    guard.reset();
    done->store(true);
  });
  api_reads_->workers.push_back(std::move(worker));
  return true;
}

void Gateway::handle_api_async(const web::ApiRequest& request, std::function<void(web::ApiResponse)> reply) {
  if (!is_store_read(request)) {
    try {
      answer_on_core(request, reply);
    } catch (const ApiError& e) {
      reply(error_answer(e, request.path));
    }
    return;
  }
  // The worker has its own copy of the config and its own store connection; its answer is
  // handed back to the core thread.
  const bool started = beside_core([config = config_, request, now = clock_.now(), reply]() {
    web::ApiResponse answer;
    try {
      answer = answer_store_read(config, request, now);
    } catch (const std::exception& e) {
      spdlog::error("api: store read failed path={} error={}", request.path, e.what());
      answer = json_answer(500, {{"error", std::string("the report failed: ") + e.what()}, {"path", request.path}});
    }
    return std::function<void()>([reply, answer = std::move(answer)] { reply(answer); });
  });
  if (!started) {
    reply(json_answer(503, {{"error", "the gateway is busy with other reports; try again in a few seconds"},
                            {"path", request.path}}));
  }
}

}  // namespace orderly::gateway
