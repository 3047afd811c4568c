#pragma once
// The gateway core: wires the devices, the controller, the session book, the planner, the
// store and the web server on one io_context thread. Drivers deliver device data by posting to
// it; it folds each report into the controller and the session book and marks the state dirty;
// one posted control step then handles everything that arrived together (plan if due, limits,
// records). The store writer commits on its own thread and reports back by message: nothing on
// this thread waits for a disk. No locks.
#include <chrono>
#include <cstdint>
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
#include "orderly/gateway/clock_watch.hpp"
#include "orderly/gateway/controller.hpp"
#include "orderly/gateway/planning.hpp"
#include "orderly/gateway/replan_debounce.hpp"
#include "orderly/gateway/sessions.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/web/application.hpp"

namespace orderly::web {
class Server;
}

namespace orderly::gateway {

class DeviceRegistry;
class LoadHistory;

struct GatewayOptions {
  std::filesystem::path static_dir;   // web assets; empty = [web].static_dir or the packaged UI
  double demo_speed = 0;              // shown on the page when running the demo
  std::filesystem::path profile_dir;  // device profiles; empty = default_profile_dir()
  // Tests: when set, start() takes the chargers' drivers from here instead of connecting MQTT or
  // Modbus, and the test reports device data through the events it is handed (on the thread that
  // runs the io_context, or on the test thread while that one is idle).
  std::function<std::map<std::string, std::shared_ptr<drivers::ChargerDriver>>(const drivers::DeviceEvents&)> devices;
  // Tests: the store writer's settings (e.g. a slow disk through before_commit).
  StoreWriterOptions store;
};

// Whether a write a person or the platform is waiting for reached the disk.
struct Durability {
  bool committed = false;
  std::string error;  // why not, when not
};
using OnDurable = std::function<void(const Durability&)>;

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
  const Controller& controller() const { return controller_; }

  // web::Application
  nlohmann::json status() const override;
  void on_status_changed(std::function<void()> callback) override;
  // Defined in gateway_api.cpp (docs/web-api.md). Writes (a request, a DR event) are answered
  // once their record is committed, 503 if it cannot be; store reads (KPIs, sessions,
  // statements) on a worker thread, so a year's KPIs never hold the control loop.
  void handle_api_async(const web::ApiRequest& request, std::function<void(web::ApiResponse)> reply) override;
  // The same for callers that need the answer at once: throws std::logic_error for a request
  // that is answered later (a write on a started gateway); use handle_api_async for those.
  web::ApiResponse handle_api(const web::ApiRequest& request) override;

  // A resident's request for the car on `charger_id`: validated (throws RequestError), in force
  // at once (a control step is posted), and `durable` is told when its record is committed.
  SessionRecord set_request(const std::string& charger_id, const ChargeRequest& request, OnDurable durable = {});
  const SessionBook& sessions() const { return *sessions_; }

  // Demand response: in force at once (the limiter applies it in the next step, then a
  // re-plan), and `durable` is told when the record is committed. add_dr_event throws
  // std::invalid_argument for an empty id, end <= start or a limit <= 0; an existing id is
  // replaced. cancel_dr_event returns false (and says nothing more) for an unknown id.
  void add_dr_event(const DrEvent& event, OnDurable durable = {});
  bool cancel_dr_event(const std::string& id, OnDurable durable = {});
  std::vector<DrEvent> dr_events() const { return controller_.dr_book().events(); }

  // The plan in force (null before the first one).
  const ActivePlan* plan() const { return controller_.plan(); }

  // One control step now: plan if due, limits out, records queued. Runs on every wake (device
  // events posted together share one) and every control period; public so tests can drive it
  // with a manual clock.
  void control_step();

 private:
  void on_charger_snapshot(const std::string& id, const drivers::ChargerSnapshot& s);
  void on_meter_snapshot(const std::string& id, const drivers::MeterSnapshot& s);
  void on_limit_ack(const std::string& id, const drivers::LimitAck& ack);
  void on_health(const std::string& id, const drivers::Health& h);
  void on_commit(const CommitReport& report);
  // A device's 1-minute sample is due (always on a state change); notes it as stored.
  bool sample_due(const std::string& device_id, MonoPoint now, bool state_changed);
  void wake();
  void schedule_control_tick();
  void replan(Instant now, const ReplanReasons& reasons);
  void send(const Controller::Limits& limits, TimePoint now);
  void watch_clock(Instant now);
  void prune_daily(Instant now);
  void restore(Instant now);
  void event(const ControlEvent& e);
  void notify_status();
  // Queues a record whose commit someone waits for, and asks for it to be committed now.
  void append_durable(StoreRecord record, OnDurable durable);
  using Reply = std::function<void(web::ApiResponse)>;
  // gateway_api.cpp: every API call but the store reads; throws its ApiError for a refusal.
  void answer_on_core(const web::ApiRequest& request, const Reply& reply);

  boost::asio::io_context& io_;
  const Clock& clock_;
  Config config_;
  GatewayOptions options_;
  Controller controller_;
  std::unique_ptr<SessionBook> sessions_;
  std::unique_ptr<LoadHistory> history_;
  std::unique_ptr<StoreWriter> store_;
  std::unique_ptr<DeviceRegistry> devices_;
  std::unique_ptr<web::Server> web_;
  boost::asio::steady_timer control_timer_;
  bool running_ = false;
  bool step_posted_ = false;
  // Handlers posted from other threads (commit reports) hold it weakly: expired, the gateway is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::map<std::string, MonoPoint> sample_stored_at_;  // device id -> last 1-minute sample stored
  // Plug-in and unplug re-plans (and their forced commits) per charger: a flapping contact
  // re-plans once per interval, not once per flap.
  ReplanDebounce plug_replans_{std::chrono::seconds(5)};
  std::map<std::uint64_t, OnDurable> durable_waiting_;  // store seq -> who waits for its commit
  std::int64_t last_prune_day_ = -1;
  ClockWatch clock_watch_;
  std::optional<RetentionGuard> retention_guard_;  // from start()
  std::vector<std::function<void()>> status_listeners_;
  struct ApiReads;                              // gateway_api.cpp: the worker threads of store reads
  std::shared_ptr<ApiReads> api_reads_;         // joined when the gateway is destroyed
};

}  // namespace orderly::gateway
