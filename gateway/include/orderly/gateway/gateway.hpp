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
#include "orderly/gateway/accounts.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/clock_watch.hpp"
#include "orderly/gateway/controller.hpp"
#include "orderly/gateway/core_metrics.hpp"
#include "orderly/gateway/planning.hpp"
#include "orderly/gateway/platform.hpp"
#include "orderly/gateway/replan_debounce.hpp"
#include "orderly/gateway/sessions.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/web/application.hpp"

namespace orderly::web {
class Server;
}

namespace orderly::gateway {

class DeviceRegistry;
class DrLedger;
class LoadHistory;
class PlatformSender;
struct PlatformDrRequest;

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
  // Web session lifetimes and lock-outs count human time, not the demo's fast simulated time:
  // null = real time. Tests give a manual clock.
  const Clock* session_clock = nullptr;
  SessionRules session_rules;
  // Tests: the platform sender's (the jitter's source, the poll interval); on_status is the gateway's.
  PlatformSenderOptions platform;
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
  // A resident sees only the piles of their household and the shared piles their household's
  // session runs on (gateway_auth.cpp).
  nlohmann::json status_for(const web::Principal& who) const override;
  std::optional<web::Principal> authenticate(const web::Credentials& credentials) override;
  // gateway/src/health_metrics.cpp (docs/web-api.md): the core loop's heartbeat, the
  // transformer meter, the store writer and, when enabled, the platform outbox.
  std::vector<web::HealthCheck> health() const override;
  std::string metrics_text() const override;
  // The drivers', store writer's and control loop's counts, as the status shows them under
  // "counters".
  nlohmann::json counters_json() const;
  void on_status_changed(std::function<void()> callback) override;
  // The accounts of the store file (open from start()).
  Accounts& accounts() { return *accounts_; }
  // Defined in gateway_api.cpp (docs/web-api.md). Writes (a request, a DR event) are answered
  // once their record is committed, 503 if it cannot be; store reads (KPIs, sessions,
  // statements) on a worker thread, so a year's KPIs never hold the control loop.
  void handle_api_async(const web::ApiRequest& request, std::function<void(web::ApiResponse)> reply) override;
  // The same for callers that need the answer at once: throws std::logic_error for a request
  // that is answered later (a write on a started gateway); use handle_api_async for those.
  web::ApiResponse handle_api(const web::ApiRequest& request) override;
  // OCPP charge points at /ocpp/<ocpp_id> (gateway/src/ocpp_channel.cpp, docs/ocpp.md): the
  // subprotocol ocpp1.6 and the pile's basic-auth password, else the upgrade is refused.
  web::ChannelAnswer open_channel(const web::ChannelRequest& request, web::ChannelOutlet outlet) override;

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
  // Demand response the city platform asks for (T/CEC orderly_dr_event or POST
  // /api/v1/dr-events as the platform): its cap, or the baseline's highest slot minus its
  // reduction, put in force through add_dr_event; the result is pushed once the window has passed
  // (docs/platform-api.md). Throws std::invalid_argument naming what is wrong.
  DrEvent add_platform_dr_event(const PlatformDrRequest& request, OnDurable durable = {});
  // The platform's events: the books of those open and the results of those past.
  const DrLedger& dr_ledger() const { return *dr_ledger_; }

  // The city platform's outbox as its sender last saw it (queued, oldest, last error): what the
  // status JSON shows under "platform", for /metrics too. Empty before the first pass, or with
  // [platform] enabled = false.
  const std::optional<OutboxStatus>& platform_outbox() const { return platform_status_; }

  // The store writer's counters (empty before start()): the status JSON's "store", for
  // /metrics and /healthz too. store_failing_since() is set from the first record given up on until
  // the next commit; it is the status's `store` alarm.
  std::optional<StoreWriterStats> store_stats() const;
  const std::optional<TimePoint>& store_failing_since() const { return store_failing_since_; }

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
  // gateway_auth.cpp: login, logout, me, invites and the audit log; false for other paths.
  bool answer_accounts(const web::ApiRequest& request, const Reply& reply);
  // Whether `who` may see and change the pile (staff and in-process callers: always).
  bool may_use_charger(const std::optional<web::Principal>& who, const std::string& charger_id) const;
  // Records an operator's or admin's action (residents' and the platform's are not audited here).
  void audit(const web::ApiRequest& request, const std::string& action, const std::string& target);
  // Runs `work` on a worker thread and the function it returns on the core thread; false (and
  // nothing runs) when the workers are all busy (gateway_api.cpp).
  bool beside_core(std::function<std::function<void()>()> work);
  // Human time for sessions, lock-outs and link expiry (GatewayOptions::session_clock).
  const Clock& session_clock() const { return options_.session_clock ? *options_.session_clock : real_clock_; }
  // platform_api.cpp: the T/CEC 102 interfaces the platform pulls (docs/platform-api.md).
  // A DR event is answered once its record is committed; the rest at once.
  void answer_platform(const web::ApiRequest& request, const Reply& reply);
  // The answer when it can be given at once; nullopt when `reply` will be called later.
  std::optional<web::ApiResponse> answer_platform_now(const web::ApiRequest& request, const Reply& reply);
  // Messages owed to the platform (none with [platform] enabled = false): a connector whose
  // T/CEC status differs from the last one reported, and the periodic pushes when due.
  std::vector<OutboxMessage> connector_reports(const std::string& charger_id, TimePoint now);
  void push_periodic(Instant now);
  // The platform's DR events: the load measured into their slots, the results of those past
  // queued for the platform.
  void account_dr(Instant now);
  // After a DR re-plan: a notice on every pile whose car's plan it changed, for its resident.
  void note_dr_changes(Instant now, const ActivePlan* before, const ActivePlan& after);
  // "mqtt", "bus" (a [[modbus.bus]] device: Modbus or DL/T 645) or "ocpp": the metrics' link label.
  const std::string& link_of(const std::string& device_id) const;

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
  std::optional<TimePoint> store_failing_since_;
  std::string store_failing_error_;  // the first failed report's, for the recovery event
  std::int64_t last_prune_day_ = -1;
  ClockWatch clock_watch_;
  std::optional<RetentionGuard> retention_guard_;  // from start()
  std::vector<std::function<void()>> status_listeners_;
  RealClock real_clock_;
  std::unique_ptr<Accounts> accounts_;          // from start()
  WebSessions web_sessions_;
  std::unique_ptr<PlatformSender> platform_;
  std::optional<OutboxStatus> platform_status_;
  std::map<std::string, int> reported_status_;        // charger id -> T/CEC status last queued
  MonoPoint periodic_pushed_at_{};
  std::uint64_t platform_messages_ = 0;               // makes message ids unique within a run
  std::map<std::string, TimePoint> platform_tokens_;  // issued to the platform -> expiry
  std::unique_ptr<DrLedger> dr_ledger_;
  // Charger id -> what the last DR re-plan changed in its car's plan (shown while that session runs).
  struct DrNotice {
    std::string session_id;
    TimePoint at{};
    std::vector<std::string> events;
    std::optional<TimePoint> finish_before, finish_after;
    double expected_kwh_before = 0, expected_kwh_after = 0;
  };
  std::map<std::string, DrNotice> dr_notices_;
  CoreMetrics metrics_;
  std::map<std::string, std::string> device_links_;  // device id -> link_of()
  struct ApiReads;                              // gateway_api.cpp: the worker threads of store reads
  std::shared_ptr<ApiReads> api_reads_;         // joined when the gateway is destroyed
};

}  // namespace orderly::gateway
