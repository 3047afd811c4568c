// GET /healthz and GET /metrics for the gateway (docs/web-api.md): what a monitoring system
// needs to page someone, from the core's own counters and the store writer's.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "orderly/gateway/gateway.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
namespace prom = orderly::prometheus;

// Control steps a healthy loop makes in this many of its ticks; fewer means it is stuck.
constexpr int kMissedTicks = 5;
// The tick's floor in real time (Gateway::schedule_control_tick): a demo at 60x runs fewer
// steps per simulated second than its control period asks for.
constexpr auto kTickFloor = milliseconds(250);

std::string seconds_text(Duration d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", duration<double>(d).count());
  return buffer;
}

double as_double(std::uint64_t n) { return static_cast<double>(n); }

}  // namespace

std::vector<web::HealthCheck> Gateway::health() const {
  const Instant now = clock_.instant();
  std::vector<web::HealthCheck> checks;

  const Duration tick = std::max(duration_cast<Duration>(duration<double>(config_.control.control_period_s)),
                                 duration_cast<Duration>(kTickFloor * clock_.speed()));
  const Duration step_age = now.mono - metrics_.last_step;
  if (!running_ || metrics_.last_step == MonoPoint{}) {
    checks.push_back({"core_loop", false, "the gateway is not running"});
  } else {
    checks.push_back({"core_loop", step_age <= kMissedTicks * tick,
                      "last control step " + seconds_text(step_age) + " ago (stuck beyond " +
                          seconds_text(kMissedTicks * tick) + ")"});
  }

  const bool metered = std::any_of(config_.meters.begin(), config_.meters.end(),
                                   [](const MeterConfig& m) { return m.role == MeterRole::transformer; });
  if (!metered) {
    checks.push_back({"transformer_meter", true,
                      "no transformer meter configured: limits count [site.transformer] assumed_load_kw"});
  } else if (controller_.meter_fresh(now.mono)) {
    checks.push_back({"transformer_meter", true,
                      std::string("reading fresh; the limiter runs on: ") + to_string(controller_.load_source())});
  } else {
    checks.push_back({"transformer_meter", false,
                      std::string("no reading within 10 s; the limiter runs on: ") +
                          to_string(controller_.load_source())});
  }

  if (!store_) {
    checks.push_back({"store", false, "the store is not open"});
  } else if (metrics_.last_commit && !metrics_.last_commit->committed) {
    checks.push_back({"store", false,
                      "records given up on after failed writes (" + metrics_.last_commit->error +
                          "); the API answers writes with 503 until a commit succeeds"});
  } else {
    checks.push_back({"store", true,
                      std::to_string(store_->queued()) + " records queued, " +
                          std::to_string(store_->failures()) + " failed attempts since start"});
  }

  if (config_.platform.enabled) {
    const auto stuck_after = seconds(2 * config_.platform.retry_max_s + config_.platform.timeout_s);
    if (!platform_status_) {
      checks.push_back({"platform_outbox", true, "the sender has not made its first pass yet"});
    } else if (!platform_status_->oldest_queued_at) {
      checks.push_back({"platform_outbox", true, "nothing queued"});
    } else {
      const Duration age = now.wall - *platform_status_->oldest_queued_at;
      checks.push_back({"platform_outbox", age <= stuck_after,
                        std::to_string(platform_status_->queued) + " messages queued, the oldest " +
                            seconds_text(age) + " (stuck beyond " + seconds_text(stuck_after) + ")"});
    }
  }
  return checks;
}

nlohmann::json Gateway::counters_json() const {
  nlohmann::json devices = {{"errors", 0}, {"timeouts", 0}, {"dropped", 0}};
  const auto add = [&devices](const drivers::Health& h) {
    devices["errors"] = devices["errors"].get<std::uint64_t>() + h.errors;
    devices["timeouts"] = devices["timeouts"].get<std::uint64_t>() + h.timeouts;
    devices["dropped"] = devices["dropped"].get<std::uint64_t>() + h.dropped;
  };
  for (const auto& [id, c] : controller_.chargers()) add(c.health);
  for (const auto& [id, h] : controller_.meter_health()) add(h);
  nlohmann::json store = nullptr;
  if (store_)
    store = {{"queued", store_->queued()},
             {"committed_records", store_->committed_records()},
             {"transactions", store_->transactions()},
             {"failed_attempts", store_->failures()},
             {"dropped_records", store_->dropped_records()}};
  return {{"devices", devices},
          {"store", store},
          {"control", {{"steps", metrics_.control_steps}, {"plans", metrics_.planner.count()},
                       {"planner_failures", metrics_.planner_failures}}}};
}

std::string Gateway::metrics_text() const {
  const Instant now = clock_.instant();
  prom::Text t;
  metrics_.loop_latency.write(t, "orderly_core_loop_latency_seconds",
                              "how late the control timer's handler ran on the core loop (real time)");
  t.counter("orderly_control_steps_total", "limiter steps (control steps) run",
            as_double(metrics_.control_steps));
  t.family("orderly_replans_total", "counter", "plans made, by reason (a plan with several reasons counts under each)");
  for (const auto& [reason, n] : metrics_.replans) t.sample(as_double(n), {{"reason", reason}});
  metrics_.planner.write(t, "orderly_planner_seconds", "the planner's real time per plan");
  t.counter("orderly_planner_failures_total", "plans that failed (the headroom was shared instead)",
            as_double(metrics_.planner_failures));

  // Devices by link and kind, online now, and their drivers' counts since start.
  std::map<std::tuple<std::string, std::string>, std::pair<int, int>> online;  // -> (online, configured)
  std::map<std::string, drivers::Health> by_link;
  const auto note = [&](const std::string& id, const std::string& kind, const drivers::Health& h, bool up) {
    auto& [on, all] = online[{link_of(id), kind}];
    on += up ? 1 : 0;
    ++all;
    auto& sum = by_link[link_of(id)];
    sum.errors += h.errors;
    sum.timeouts += h.timeouts;
    sum.dropped += h.dropped;
  };
  for (const auto& [id, c] : controller_.chargers())
    note(id, c.config->kind == ChargerKind::private_pile ? "private_charger" : "shared_charger", c.health, c.reachable());
  for (const auto& m : config_.meters) {
    const auto h = controller_.meter_health().find(m.id);
    const drivers::Health health = h == controller_.meter_health().end() ? drivers::Health{} : h->second;
    note(m.id, std::string(to_string(m.role)) + "_meter", health, health.online);
  }
  t.family("orderly_devices_online", "gauge", "devices answering now, by link (mqtt, bus, ocpp) and kind");
  for (const auto& [key, n] : online)
    t.sample(n.first, {{"link", std::get<0>(key)}, {"kind", std::get<1>(key)}});
  t.family("orderly_devices_configured", "gauge", "devices in the configuration, by link and kind");
  for (const auto& [key, n] : online)
    t.sample(n.second, {{"link", std::get<0>(key)}, {"kind", std::get<1>(key)}});
  t.family("orderly_device_reports_total", "counter",
           "device messages the core received, by link and type (snapshots, limit acknowledgements)");
  for (const auto& [key, n] : metrics_.reports)
    t.sample(as_double(n), {{"link", std::get<0>(key)}, {"type", std::get<1>(key)}});
  t.family("orderly_limits_sent_total", "counter", "power limits sent to chargers, by link and reason");
  for (const auto& [key, n] : metrics_.limits_sent)
    t.sample(as_double(n), {{"link", std::get<0>(key)}, {"reason", std::get<1>(key)}});
  t.family("orderly_device_errors_total", "counter",
           "protocol errors, exceptions and malformed payloads the drivers counted, by link (bus = Modbus and DL/T 645)");
  for (const auto& [link, h] : by_link) t.sample(as_double(h.errors), {{"link", link}});
  t.family("orderly_device_timeouts_total", "counter", "requests a device did not answer in time, by link");
  for (const auto& [link, h] : by_link) t.sample(as_double(h.timeouts), {{"link", link}});
  t.family("orderly_device_messages_dropped_total", "counter",
           "MQTT messages over a device's rate limit, discarded unread, by link");
  for (const auto& [link, h] : by_link) t.sample(as_double(h.dropped), {{"link", link}});

  if (store_) {
    t.gauge("orderly_store_queue_records", "records waiting for the store writer", as_double(store_->queued()));
    t.counter("orderly_store_committed_records_total", "records committed to SQLite",
              as_double(store_->committed_records()));
    t.counter("orderly_store_transactions_total", "store transactions committed", as_double(store_->transactions()));
    t.counter("orderly_store_write_failures_total", "failed attempts at a store transaction (retried)",
              as_double(store_->failures()));
    t.counter("orderly_store_dropped_records_total",
              "records given up on: writes failed three times, the queue overflowed, or appended after stop",
              as_double(store_->dropped_records()));
  }
  t.gauge("orderly_store_healthy", "1 when the store writer's last report was a commit (or none came yet)",
          metrics_.last_commit && !metrics_.last_commit->committed ? 0 : 1);

  t.gauge("orderly_platform_enabled", "1 when [platform] enabled", config_.platform.enabled ? 1 : 0);
  if (platform_status_) {
    t.gauge("orderly_platform_outbox_queued_messages", "messages owed to the city platform",
            as_double(static_cast<std::uint64_t>(std::max<std::int64_t>(platform_status_->queued, 0))));
    t.gauge("orderly_platform_outbox_oldest_age_seconds", "age of the oldest undelivered message (0: none)",
            platform_status_->oldest_queued_at ? duration<double>(now.wall - *platform_status_->oldest_queued_at).count()
                                               : 0.0);
    t.gauge("orderly_platform_outbox_failing", "1 when the most recent attempt still queued failed (last_error set)",
            platform_status_->last_error.empty() ? 0 : 1);
  }
  t.gauge("orderly_alarms", "alarms in force (meters, load source, nodes that cannot hold)",
          static_cast<double>(controller_.alarms().size()));
  return t.str();
}

}  // namespace orderly::gateway
