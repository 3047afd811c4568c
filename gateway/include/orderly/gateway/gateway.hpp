#pragma once
// The gateway core: owns the device registry, the control loop and what the web page shows.
// Everything here runs on one io_context thread; drivers deliver device data by posting to it,
// the store writer and web server take values from it. No locks.
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/planning.hpp"
#include "orderly/gateway/sessions.hpp"
#include "orderly/web/application.hpp"

namespace orderly::web {
class Server;
}

namespace orderly::gateway {

class StoreWriter;
class DeviceRegistry;

struct GatewayOptions {
  std::filesystem::path static_dir;   // web assets; empty = [web].static_dir or the packaged UI
  double demo_speed = 0;              // shown on the page when running the demo
  std::filesystem::path profile_dir;  // device profiles; empty = default_profile_dir()
  // Tests: when set, start() takes the chargers' drivers from here instead of connecting MQTT or
  // Modbus, and the test reports device data through the events it is handed (on the thread that
  // runs the io_context, or on the test thread while that one is idle).
  std::function<std::map<std::string, std::shared_ptr<drivers::ChargerDriver>>(const drivers::DeviceEvents&)> devices;
};

// A demand-response event (from the city platform or the operator): the transformer may draw at
// most limit_kw from start to end.
struct DrEvent {
  std::string id;
  TimePoint start{};
  TimePoint end{};
  double limit_kw = 0;
  std::string source;                 // "platform", "operator", ...
};

// One charger as the core sees it.
struct ChargerRuntime {
  const ChargerConfig* config = nullptr;
  std::shared_ptr<drivers::ChargerDriver> driver;   // null: no driver for this transport yet
  drivers::Capabilities caps;
  drivers::ChargerSnapshot snapshot;
  drivers::Health health;
  double setpoint_w = -1;             // last limit sent; -1 = none yet
  TimePoint setpoint_sent_at{};
  TimePoint setpoint_changed_at{};  // when the value last changed (re-sends do not count)
  std::uint64_t seq = 0;
  TimePoint last_sample_stored{};
  // Drawing clearly above its limit since this instant (clock time); {} = following.
  TimePoint over_limit_since{};
  bool not_following = false;       // confirmed: treated as unresponsive until it follows again
  int node = 0;                     // index of its capacity node in the control loop's tree
};

struct HistoryPoint {
  TimePoint at{};
  double load_kw = 0;
  double charging_kw = 0;
  double limit_kw = 0;
};

class Gateway final : public web::Application {
 public:
  Gateway(boost::asio::io_context& io, const Clock& clock, Config config, GatewayOptions options = {});
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Opens the store, starts the drivers, the web server and the control loop. Throws (with what
  // to do) when the store cannot be opened or the web port cannot be bound.
  void start();
  // Stops sending limits, stops drivers and web, commits what the store has queued. Idempotent.
  void stop();

  std::uint16_t web_port() const;
  const Config& config() const { return config_; }
  const std::map<std::string, ChargerRuntime>& chargers() const { return chargers_; }

  // web::Application
  nlohmann::json status() const override;
  void on_status_changed(std::function<void()> callback) override;
  // Defined in gateway_api.cpp: requests, sessions, KPIs, statements (docs/web-api.md).
  web::ApiResponse handle_api(const web::ApiRequest& request) override;
  // Also gateway_api.cpp: store reads (KPIs, sessions, statements) are answered from a worker
  // thread so a year's KPIs never hold the control loop; everything else as handle_api.
  void handle_api_async(const web::ApiRequest& request, std::function<void(web::ApiResponse)> reply) override;

  // A resident's request for the car on `charger_id`: validated, committed to the store before
  // returning (it is acknowledged to a person), then re-planned. Throws RequestError.
  SessionRecord set_request(const std::string& charger_id, const ChargeRequest& request);
  const SessionBook& sessions() const;

  // Demand response: persisted before returning, applied by the limiter at once and by a
  // re-plan. add_dr_event throws std::invalid_argument for an empty id, end <= start or a limit
  // <= 0; an existing id is replaced. cancel_dr_event returns false for an unknown id.
  void add_dr_event(const DrEvent& event);
  bool cancel_dr_event(const std::string& id);
  std::vector<DrEvent> dr_events() const;    // active and upcoming, by start

  // The plan in force (null before the first one).
  const ActivePlan* plan() const { return plan_ ? &*plan_ : nullptr; }

  // One pass of the control loop; runs on every transformer meter sample and every control
  // period. Public so tests can drive it with a manual clock.
  void control_step();

 private:
  void on_charger_snapshot(const std::string& id, const drivers::ChargerSnapshot& s);
  void on_meter_snapshot(const std::string& id, const drivers::MeterSnapshot& s);
  void on_limit_ack(const std::string& id, const drivers::LimitAck& ack);
  void on_health(const std::string& id, const drivers::Health& h);
  void send_limit(const std::string& id, ChargerRuntime& rt, double power_w, TimePoint now);
  void check_following(const std::string& id, ChargerRuntime& rt, TimePoint now);
  void schedule_control_tick();
  void record_history(TimePoint now);
  void notify_status();
  void event(const std::string& level, const std::string& source, const std::string& message);
  bool meter_fresh(TimePoint now) const;
  double charging_w() const;
  void request_replan(const std::string& reason);
  void replan(TimePoint now);
  void apply_limits(TimePoint now);
  void check_forecast(TimePoint now);
  void check_dr_and_tariff(TimePoint now);
  void prune_daily(TimePoint now);
  void restore(TimePoint now);
  void persist_sessions(const std::vector<SessionRecord>& records);
  double reserved_kw(const ChargerRuntime& rt) const;
  std::vector<LimitWindow> limit_windows() const;
  nlohmann::json session_status(const std::string& charger_id, TimePoint now) const;

  boost::asio::io_context& io_;
  const Clock& clock_;
  Config config_;
  GatewayOptions options_;
  std::unique_ptr<StoreWriter> store_;
  std::unique_ptr<DeviceRegistry> devices_;
  std::unique_ptr<web::Server> web_;
  boost::asio::steady_timer control_timer_;
  bool running_ = false;

  std::map<std::string, ChargerRuntime> chargers_;
  std::map<std::string, drivers::Health> meter_health_;
  drivers::MeterSnapshot transformer_;          // latest transformer meter reading
  bool have_transformer_ = false;
  TimePoint last_meter_stored_{};
  double base_load_w_ = 0;                      // transformer load minus measured charging
  std::deque<HistoryPoint> history_;            // one point a (clock) minute, last 24 h
  std::map<std::string, std::pair<TimePoint, double>> feeder_kw_;  // node id -> (at, kW)

  // Planning: the plan in force, why the next one is wanted, what it is planned from.
  std::unique_ptr<SessionBook> sessions_;
  CapacityTree tree_;
  BaseLoadSlots base_history_;
  std::optional<ActivePlan> plan_;
  std::string replan_reason_;                    // empty: no re-plan wanted
  TimePoint planner_slow_until_{};               // event re-plans skipped until then
  TimePoint deviation_since_{};                  // base load off the forecast since then
  std::map<std::string, DrEvent> dr_events_;
  std::vector<std::string> active_dr_;           // ids in force at the last control step
  std::optional<Period> last_period_;
  std::int64_t last_prune_day_ = -1;
  std::vector<std::function<void()>> status_listeners_;
  struct ApiReads;                              // gateway_api.cpp: the worker threads of store reads
  std::shared_ptr<ApiReads> api_reads_;         // joined when the gateway is destroyed
};

}  // namespace orderly::gateway
