// The T/CEC 102 interfaces the city platform pulls from the gateway (docs/platform-api.md):
// POST /api/v1/tcec/<interface> with the standard's envelope, answered on the core thread from
// the live state. query_token issues the Bearer tokens the other interfaces require.
#include <openssl/rand.h>

#include <spdlog/spdlog.h>

#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/log.hpp"
#include "orderly/gateway/tcec.hpp"
#include "demand_response.hpp"
#include "platform_messages.hpp"

namespace orderly::gateway {
namespace {

using json = nlohmann::json;
using namespace std::chrono;
using tcec::Ret;

// How long a token issued to the platform stays valid (TokenAvailableTime). The tokens live in
// memory: after a restart the platform's next call gets 4002 and it asks again, as the
// standard has it renew.
constexpr seconds kTokenValidity = hours(24);
// query_station_stats reads the sessions on the core thread; a month of them is milliseconds.
constexpr days kLongestStatsPeriod{31};

std::string random_token() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed: no entropy for a token");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

// A business field the interface requires, or the 4004 refusal naming it.
struct Refusal {
  Ret ret;
  std::string msg;
};

const json& required(const json& data, const char* name, json::value_t type, const char* what) {
  const auto it = data.find(name);
  if (it == data.end() || it->type() != type)
    throw Refusal{Ret::data, std::string("Data.") + name + (it == data.end() ? " is missing" : " is invalid") +
                                 "; expected " + what};
  return *it;
}

TimePoint required_date(const json& data, const char* name, minutes offset) {
  const auto& text = required(data, name, json::value_t::string, "a date \"yyyy-MM-dd\"").get_ref<const std::string&>();
  const auto t = tcec::parse_business_time(text + " 00:00:00", offset);
  if (!t) throw Refusal{Ret::data, std::string("Data.") + name + " is invalid; expected a date \"yyyy-MM-dd\""};
  return *t;
}

// orderly_dr_event's Data (docs/platform-api.md, "Demand response").
PlatformDrRequest read_dr_request(const json& data, minutes offset) {
  PlatformDrRequest r;
  r.id = required(data, "EventID", json::value_t::string, "the event's id, a non-empty string").get<std::string>();
  if (r.id.empty()) throw Refusal{Ret::data, "Data.EventID is invalid; expected the event's id, a non-empty string"};
  const auto type = data.find("EventType");
  if (type == data.end() || !type->is_number_integer() || (*type != 1 && *type != 2))
    throw Refusal{Ret::data, std::string("Data.EventType is ") + (type == data.end() ? "missing" : "invalid") +
                                 "; expected 1 (peak shaving) or 2 (valley filling)"};
  r.kind = *type == 1 ? DrKind::peak_shaving : DrKind::valley_filling;
  const auto time = [&](const char* name) {
    const auto& text = required(data, name, json::value_t::string, "\"yyyy-MM-dd HH:mm:ss\"").get_ref<const std::string&>();
    const auto t = tcec::parse_business_time(text, offset);
    if (!t) throw Refusal{Ret::data, std::string("Data.") + name + " is invalid; expected \"yyyy-MM-dd HH:mm:ss\""};
    return *t;
  };
  r.start = time("StartTime");
  r.end = time("EndTime");
  if (r.end <= r.start) throw Refusal{Ret::data, "Data.EndTime must be after Data.StartTime"};
  const auto power = [&](const char* name) -> std::optional<double> {
    const auto it = data.find(name);
    if (it == data.end()) return std::nullopt;
    if (!it->is_number() || !(it->get<double>() > 0))
      throw Refusal{Ret::data, std::string("Data.") + name + " is invalid; expected a positive number of kW"};
    return it->get<double>();
  };
  r.cap_kw = power("CapPower");
  r.reduction_kw = power("ReductionPower");
  if (r.cap_kw.has_value() == r.reduction_kw.has_value())
    throw Refusal{Ret::data, std::string("Data.CapPower and Data.ReductionPower: give exactly one, not ") +
                                 (r.cap_kw ? "both" : "neither")};
  return r;
}

}  // namespace

void Gateway::answer_platform(const web::ApiRequest& request, const Reply& reply) {
  if (auto now_answer = answer_platform_now(request, reply)) reply(std::move(*now_answer));
}

std::optional<web::ApiResponse> Gateway::answer_platform_now(const web::ApiRequest& request, const Reply& reply) {
  constexpr const char* kJson = "application/json; charset=utf-8";
  const PlatformConfig& p = config_.platform;
  const auto plain_error = [&](int status, const std::string& message, std::string allow = {}) {
    return web::ApiResponse{status, kJson, json{{"error", message}, {"path", request.path}}.dump(), "", std::move(allow), {}};
  };
  if (!p.enabled) return plain_error(404, "the T/CEC 102 interface is off: [platform] enabled = false");
  if (request.method != "POST") return plain_error(405, "T/CEC 102 interfaces take POST", "POST");
  const std::string interface = request.path.substr(request.path.rfind('/') + 1);
  const auto answer = [&](Ret ret, std::string msg, json data) {
    if (ret != Ret::ok) spdlog::warn("platform pull refused interface={} ret={} msg={}", interface, static_cast<int>(ret), logfmt(msg));
    return web::ApiResponse{200, kJson, tcec::encode_response({ret, std::move(msg), std::move(data)}, p.from_platform), "", "", {}};
  };
  const TimePoint now = clock_.now();
  const auto decoded = tcec::decode_request(request.body, p.from_platform);
  if (!decoded.ok()) return answer(decoded.ret, decoded.error, nullptr);
  const json& data = decoded.value.data;
  if (decoded.value.operator_id != p.platform_operator_id)
    return answer(Ret::envelope, "OperatorID '" + decoded.value.operator_id + "' is not the platform this gateway knows", nullptr);
  try {
    if (interface == "query_token") {
      const auto id = data.value("OperatorID", std::string());
      const auto secret = data.value("OperatorSecret", std::string());
      json out = {{"OperatorID", id}, {"SuccStat", 1}, {"AccessToken", ""}, {"TokenAvailableTime", 0}};
      if (id != p.platform_operator_id) {
        out["FailReason"] = 1;  // no such operator
      } else if (secret != p.from_platform.operator_secret) {
        out["FailReason"] = 2;  // wrong secret
      } else {
        std::erase_if(platform_tokens_, [&](const auto& t) { return t.second <= now; });
        const std::string token = random_token();
        platform_tokens_[token] = now + kTokenValidity;
        out = {{"OperatorID", id}, {"SuccStat", 0}, {"AccessToken", token},
               {"TokenAvailableTime", kTokenValidity.count()}, {"FailReason", 0}};
      }
      return answer(Ret::ok, "", out);
    }
    constexpr std::string_view kBearer = "Bearer ";
    const std::string token = request.authorization.starts_with(kBearer) ? request.authorization.substr(kBearer.size()) : "";
    const auto issued = platform_tokens_.find(token);
    if (issued == platform_tokens_.end() || issued->second <= now)
      return answer(Ret::token, "Authorization: Bearer token missing, unknown or expired; call query_token", nullptr);

    if (interface == "query_stations_info") return answer(Ret::ok, "", platform_messages::stations_info(config_));
    if (interface == "query_station_status") {
      json infos = json::array();
      for (const auto& id : required(data, "StationIDs", json::value_t::array, "an array of StationID strings")) {
        if (!id.is_string()) throw Refusal{Ret::data, "Data.StationIDs is invalid; expected an array of StationID strings"};
        if (id == p.station_id) infos.push_back(platform_messages::station_status(config_, controller_));
      }
      return answer(Ret::ok, "", {{"Total", infos.size()}, {"StationStatusInfos", infos}});
    }
    if (interface == "query_equip_charge_status") {
      const auto& seq = required(data, "StartChargeSeq", json::value_t::string, "the session's StartChargeSeq");
      for (const auto& [id, c] : controller_.chargers()) {
        const auto session = sessions().open_session(id);
        if (session && session->id == seq) return answer(Ret::ok, "", platform_messages::equip_charge_status(config_, c, *session, now));
      }
      throw Refusal{Ret::data, "Data.StartChargeSeq '" + seq.get<std::string>() + "' is no session in progress here"};
    }
    if (interface == "query_station_stats") {
      const auto& station = required(data, "StationID", json::value_t::string, "this site's StationID");
      if (station != p.station_id) throw Refusal{Ret::data, "Data.StationID '" + station.get<std::string>() + "' is not this site"};
      const TimePoint from = required_date(data, "StartTime", config_.site.utc_offset);
      const TimePoint to = required_date(data, "EndTime", config_.site.utc_offset) + days(1);
      if (to <= from || to - from > kLongestStatsPeriod)
        throw Refusal{Ret::data, "Data.StartTime..EndTime must be 1 to 31 days, EndTime not before StartTime"};
      const Store store(config_.store.path);
      return answer(Ret::ok, "", platform_messages::station_stats(config_, store.sessions(from, to), from, to));
    }
    if (interface == "orderly_query_area_load")
      return answer(Ret::ok, "", platform_messages::area_load(config_, controller_, now));
    if (interface == "orderly_query_charging_plan")
      return answer(Ret::ok, "", platform_messages::charging_plan(config_, controller_));
    if (interface == "orderly_query_flexibility")
      return answer(Ret::ok, "", platform_messages::flexibility(config_, controller_, now));
    if (interface == "orderly_dr_event" || interface == "orderly_dr_cancel") {
      // Acknowledged once the event's record is on disk: a platform told Ret 0 may rely on it
      // surviving a restart.
      auto acknowledged = std::make_shared<json>();
      const auto when_durable = [this, reply, acknowledged, interface](const Durability& d) {
        const Ret ret = d.committed ? Ret::ok : Ret::internal;
        std::string msg = d.committed ? "" : "the gateway could not save this (" + d.error + "); send it again";
        if (!d.committed) spdlog::warn("platform DR refused interface={} msg={}", interface, logfmt(msg));
        reply(web::ApiResponse{200, "application/json; charset=utf-8",
                               tcec::encode_response({ret, std::move(msg), d.committed ? *acknowledged : json(nullptr)},
                                                     config_.platform.from_platform),
                               "", "", {}});
      };
      if (interface == "orderly_dr_cancel") {
        const std::string id = required(data, "EventID", json::value_t::string, "the event's EventID").get<std::string>();
        const auto known = controller_.dr_book().find(id);
        if (!known || known->source != "platform")
          throw Refusal{Ret::data, "Data.EventID '" + id + "' is no demand-response event of the platform's here"};
        *acknowledged = {{"EventID", id}, {"SuccStat", 0}, {"FailReason", 0}};
        cancel_dr_event(id, when_durable);
        return std::nullopt;
      }
      const PlatformDrRequest wanted = read_dr_request(data, config_.site.utc_offset);
      try {
        const DrEvent e = add_platform_dr_event(wanted, when_durable);
        *acknowledged = {{"EventID", e.id}, {"SuccStat", 0}, {"FailReason", 0}, {"PowerLimit", e.limit_kw}};
      } catch (const std::invalid_argument& e) {
        throw Refusal{Ret::data, e.what()};
      }
      return std::nullopt;
    }
  } catch (const Refusal& r) {
    return answer(r.ret, r.msg, nullptr);
  } catch (const std::exception& e) {
    spdlog::error("platform pull failed interface={} error={}", interface, logfmt(e.what()));
    return answer(Ret::internal, std::string("the gateway failed: ") + e.what(), nullptr);
  }
  return plain_error(404, "no T/CEC 102 interface '" + interface +
                              "' here; served: query_token, query_stations_info, query_station_status, "
                              "query_equip_charge_status, query_station_stats, orderly_query_area_load, "
                              "orderly_query_charging_plan, orderly_query_flexibility, orderly_dr_event, orderly_dr_cancel "
                              "(docs/platform-api.md)");
}

}  // namespace orderly::gateway
