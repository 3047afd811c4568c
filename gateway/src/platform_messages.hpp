#pragma once
// The business Data of the T/CEC 102 messages the gateway sends and serves
// (docs/platform-api.md has every field), built from the core's state on the core thread. Pure:
// nothing here sends, stores or reads a clock.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/controller.hpp"
#include "orderly/gateway/store.hpp"
#include "demand_response.hpp"

namespace orderly::gateway::platform_messages {

// ConnectorStatus: 0 offline, 1 idle, 2 occupied (not charging), 3 charging, 255 fault.
int connector_status(const ChargerControl& charger);
nlohmann::json connector_status_info(const std::string& charger_id, const ChargerControl& charger);
// query_stations_info's answer (one station: this site), page 1 of 1.
nlohmann::json stations_info(const Config& config);
// One StationStatusInfo: the station and every connector.
nlohmann::json station_status(const Config& config, const Controller& controller);
// notification_equip_charge_status / query_equip_charge_status for a session in progress.
nlohmann::json equip_charge_status(const Config& config, const ChargerControl& charger, const SessionRecord& session,
                                   TimePoint now);
// notification_charge_order_info for a closed session, ChargeDetails one per tariff period.
nlohmann::json charge_order_info(const Config& config, const SessionRecord& session);
// notification_realtime_power_info: the transformer's load and every connector's power.
nlohmann::json realtime_power(const Config& config, const Controller& controller, TimePoint now);
// query_station_stats's answer: energy per station, equipment and connector over [from, to)
// from the sessions that started in it.
nlohmann::json station_stats(const Config& config, const std::vector<SessionRecord>& sessions, TimePoint from,
                             TimePoint to);

// Orderly's extension messages (docs/platform-api.md, "Transformer area, plan and flexibility"),
// pulled as orderly_query_<name> and pushed as orderly_notification_<name>, per slot of the plan
// in force (empty arrays before the first plan).
// area_load: the transformer's measured load now, the base-load forecast, the planned load and
// the limit (DR applied) per slot.
nlohmann::json area_load(const Config& config, const Controller& controller, TimePoint now);
// charging_plan: every planned car's power per slot.
nlohmann::json charging_plan(const Config& config, const Controller& controller);
// flexibility: how far the charging could go up (headroom the planned cars could still take)
// and down (planned charging that could be paused) per slot.
nlohmann::json flexibility(const Config& config, const Controller& controller, TimePoint now);

// orderly_notification_dr_result: a platform DR event's baseline, load and reduction per slot
// and in total.
nlohmann::json dr_result(const Config& config, const DrResult& result);

OutboxMessage message(std::string kind, std::string message_id, const nlohmann::json& data, TimePoint at,
                      std::string supersede_key = {});

}  // namespace orderly::gateway::platform_messages
