#pragma once
// The gateway's control decisions as plain logic: no I/O, no threads, no clock of its own (every
// call is given `now`, an Instant: the wall time for slots, tariffs and DR windows, the monotonic
// time for every age, grace and keep-alive, so a wall clock step does not fake or hide one). Fed with what the devices report, the DR events and the plan in force,
// it answers with the limit each charger gets and why, the events worth writing down, and which
// re-plans are due. The gateway core owns one on its event loop and does the I/O around it:
// sends the limits, stores the records, runs the planner. Rules: docs/control.md.
//
// One control step is three calls in this order:
//   due_replans(now)  -> the reasons to plan again now (slot, DR, tariff, and those requested);
//   set_plan(...)     -> the new plan, when the gateway planned;
//   limit(now)        -> the limits to send now, and the events noted since the last step.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/meter_check.hpp"
#include "orderly/gateway/planning.hpp"

namespace orderly::gateway {

// Why a plan is made. Stored with the plan ("plug-in,request") and shown on the page.
enum class ReplanReason : std::uint8_t {
  start,          // the gateway started
  slot,           // a slot boundary passed
  plug_in,        // a session opened
  unplug,         // a session closed
  request,        // a resident changed a request
  forecast,       // the measured non-EV load stayed off the plan's forecast
  dr_event,       // a DR event was added, cancelled, started or ended
  tariff,         // the tariff period changed
  device,         // a charger went offline or came back
  not_following,  // a charger stopped or resumed following its limit
  clock_step,     // the wall clock stepped: the slots are taken from the new time
  phases,         // a three-phase pile's currents showed which phases its car draws on
};
const char* to_string(ReplanReason r);

class ReplanReasons {
 public:
  void add(ReplanReason r) { bits_ |= bit(r); }
  void add(const ReplanReasons& other) { bits_ |= other.bits_; }
  bool contains(ReplanReason r) const { return (bits_ & bit(r)) != 0; }
  bool empty() const { return bits_ == 0; }
  // Comma-separated in the enum's order: "plug-in,request".
  std::string to_string() const;

 private:
  static std::uint16_t bit(ReplanReason r) { return static_cast<std::uint16_t>(1u << static_cast<unsigned>(r)); }
  std::uint16_t bits_ = 0;
};

// A demand-response event (from the city platform or the operator): the transformer may draw at
// most limit_kw from start to end.
struct DrEvent {
  std::string id;
  TimePoint start{};
  TimePoint end{};
  double limit_kw = 0;
  std::string source;  // "platform", "operator", ...
};

// The DR events in force and to come.
class DrBook {
 public:
  // Throws std::invalid_argument for an empty id, end <= start or a limit <= 0, saying which.
  // An event with the same id is replaced.
  void add(const DrEvent& event);
  bool cancel(const std::string& id);        // false: no such event
  std::optional<DrEvent> find(const std::string& id) const;
  std::vector<DrEvent> events() const;       // active and upcoming, by start
  std::vector<LimitWindow> windows() const;  // the same, as the planner's limit windows
  bool empty() const { return events_.empty(); }

  struct Advance {
    std::vector<DrEvent> ended;   // dropped: their end has passed
    bool active_changed = false;  // an event started or ended since the last call
  };
  Advance advance(TimePoint now);

 private:
  std::map<std::string, DrEvent> events_;
  std::vector<std::string> active_;  // ids in force at the last advance()
};

// Why a charger gets the limit it gets.
enum class LimitReason : std::uint8_t {
  plan,        // the plan's power for this slot
  asap,        // charge now or past its departure: full power while the limiter allows
  share,       // no plan entry yet: an equal share of what the planned cars leave
  cut,         // the limiter cut it below its ceiling to keep a capacity node inside its limit
  no_meter,    // no believable transformer reading for too long (failsafe): no headroom at all
  forecast,    // no believable transformer reading: limited on the forecast base load + margin
  keep_alive,  // unchanged, re-sent before half its validity passes
};
const char* to_string(LimitReason r);

struct LimitCommand {
  std::string charger_id;
  drivers::PowerLimit limit;
  LimitReason reason = LimitReason::plan;
};

// Something the controller's checks found: for the event log (the store) and the journal.
struct ControlEvent {
  std::string level;    // "info", "warn", "error"
  std::string source;   // "charger:p-101", "device:p-101", "dr:evening-1", "control"
  std::string message;
  bool store = true;    // into the event log the operator reads
  bool journal = true;  // into the journal; false where the driver has logged it already
};

// What the limiter takes as the transformer's non-EV load (docs/control.md).
enum class LoadSource : std::uint8_t {
  meter,     // the transformer meter: fresh and plausible
  forecast,  // the meter is stale or implausible: the forecast + meter_fallback_margin_kw, for
             // [control] meter_fallback_s
  assumed,   // no transformer meter configured: [site.transformer] assumed_load_kw + the margin
  failsafe,  // nothing believable: no headroom at all (LimitReason::no_meter)
};
const char* to_string(LoadSource s);  // "meter", "running-on-forecast", "running-on-assumed-load", "failsafe"

// A condition the operator must see, for as long as it lasts: in the status (docs/web-api.md),
// and each change of state as a ControlEvent (journal and store) under `id`.
struct Alarm {
  std::string id;                   // "meter:<id>", "control:load" or "node:<id>"
  std::string state;                // "suspect", "running-on-forecast", "running-on-assumed-load",
                                    // "failsafe", "limits-cannot-hold"
  std::string level = "warn";       // "warn" or "error"
  std::string reason;               // short, stable: "negative", "stale", "not-following", ...
  std::string message;              // in words, with the figures
  std::string meter_id;             // meter and load alarms
  std::string node_id;              // the capacity node concerned
  std::vector<std::string> piles;   // limits-cannot-hold: the piles at fault
  TimePoint since{};
};

// One charger as the controller sees it.
struct ChargerControl {
  const ChargerConfig* config = nullptr;
  int node = 0;                       // its capacity node's index in the tree
  drivers::Capabilities caps;         // configured, and declared by its driver once attached
  bool has_driver = false;            // false: nothing reaches it; counted at its maximum
  drivers::ChargerSnapshot snapshot;
  drivers::Health health;
  double setpoint_w = -1;             // the limit last sent; -1 = none yet (or since it was lost)
  MonoPoint setpoint_sent_at{};
  MonoPoint setpoint_changed_at{};    // when the value last changed (re-sends do not count)
  std::uint64_t seq = 0;              // of the last limit sent
  MonoPoint over_limit_since{};       // drawing clearly above its limit since; {} = following
  bool not_following = false;         // confirmed: counted at what it draws until it follows
  // Whose turn it is to pause when not every car can charge at its minimum (docs/control.md,
  // "Who pauses"): paused by the limiter although it wanted power since / given power since;
  // {} = not.
  MonoPoint paused_since{};
  MonoPoint running_since{};
  // What a three-phase pile's currents showed in this session (planning.hpp phases_shown()).
  std::optional<scheduler::PhaseSet> shown_phases;

  bool reachable() const { return has_driver && health.online; }
  scheduler::PhaseSet phases() const { return counted_phases(config->phase, shown_phases); }
};

// What the configuration says a charger is (phases, min current, max power and current at the
// nominal voltage, bidirectional), before its driver declares how it pauses, whether it has a
// failsafe and whether it measures its phase currents.
drivers::Capabilities configured_capabilities(const ChargerConfig& c);

class Controller {
 public:
  // `clock_speed` is the injected Clock's speed: the timings that describe devices (meters
  // report >= 1 Hz, IEC 61851-1 gives a car 5 s to follow) are real seconds.
  Controller(const Config& config, double clock_speed);

  // ---- what the devices report -----------------------------------------------------------
  // The charger's driver is attached and declares what it can do.
  void attach_driver(const std::string& charger_id, const drivers::Capabilities& declared);
  // True when a step is wanted at once: the state changed, or the pile stopped or resumed
  // following its limit (judged on every snapshot, against the limit it was last sent).
  bool on_charger_snapshot(const std::string& charger_id, const drivers::ChargerSnapshot& s, Instant now);
  // True for a transformer reading (the limiter reacts to every one); feeder readings are kept
  // for the next step. Unknown meters and readings without a power are ignored.
  bool on_meter_snapshot(const std::string& meter_id, const drivers::MeterSnapshot& s, Instant now);
  // True when the device went online or offline (a step is wanted).
  bool on_health(const std::string& device_id, const drivers::Health& h, Instant now);

  // ---- what the rest of the gateway decides -----------------------------------------------
  // A slot boundary, the start and the first plan are always planned; other reasons wait while
  // the planner is slow (until the next slot boundary).
  void request_replan(ReplanReason why, Instant now);
  DrBook& dr_book() { return dr_; }
  const DrBook& dr_book() const { return dr_; }
  // History for the forecast, read back from the store at start.
  void add_base_history(TimePoint at, double base_kw) { base_history_.add(at, base_kw); }
  // A plan kept from before a restart, in force until the first re-plan replaces it.
  void restore_plan(ActivePlan plan) { plan_ = std::move(plan); }

  // ---- the step ---------------------------------------------------------------------------
  // The reasons to plan now (empty: keep the plan). Drops DR events that ended.
  ReplanReasons due_replans(Instant now);
  // What the planner needs besides the sessions.
  PlanningInput planning_input(Instant now, std::vector<ActiveSession> sessions) const;
  // The plan now in force; `took` is the planner's real time. A plan slower than the budget
  // holds event re-plans until the next slot boundary.
  void set_plan(ActivePlan plan, std::chrono::steady_clock::duration took);

  struct Limits {
    std::vector<LimitCommand> commands;  // to send now: by charger id, not-following refreshes last
    std::vector<ControlEvent> events;    // noted since the last step: health, following, DR, planner
  };
  Limits limit(Instant now);

  // ---- views (status page, tests) ----------------------------------------------------------
  const std::map<std::string, ChargerControl>& chargers() const { return chargers_; }
  const ActivePlan* plan() const { return plan_ ? &*plan_ : nullptr; }
  const std::optional<drivers::MeterSnapshot>& transformer() const { return transformer_; }
  const std::map<std::string, drivers::Health>& meter_health() const { return meter_health_; }
  double base_load_w() const { return base_load_w_; }  // transformer load minus measured charging
  // What online chargers draw now, in total or (phase 0-2) known to be on one phase (a car on an
  // unknown phase is on none).
  double charging_w(int phase = -1) const;
  bool meter_fresh(MonoPoint now) const;               // a transformer reading, plausible or not
  double transformer_limit_kw(TimePoint now) const;    // the limit in force (DR applied)
  // The transformer's phase limits in force: configured ones lowered by DR in proportion.
  std::array<std::optional<double>, 3> transformer_phase_limit_kw(TimePoint now) const;
  // What the last step took as the transformer's non-EV load, and since when.
  LoadSource load_source() const { return load_source_; }
  // Alarms in force, by id; cleared ones are gone (their end is a ControlEvent).
  const std::map<std::string, Alarm>& alarms() const { return alarms_; }

 private:
  bool check_following(const std::string& id, ChargerControl& c, Instant now);
  bool check_phases(ChargerControl& c, Instant now);
  void check_forecast(Instant now);
  double reserved_kw(const ChargerControl& c) const;
  Duration real(Duration d) const;
  std::int64_t pause_order(const ChargerControl& c, MonoPoint now) const;
  void note(ControlEvent event);
  // Meters and the load figure (docs/control.md, "Implausible meters").
  struct WatchedMeter {
    std::string node;    // the capacity node it measures
    MeterCheck check;
  };
  double chargers_below_kw(const std::string& node) const;
  void judge_meter(const std::string& meter_id, WatchedMeter& m, double power_kw, Instant now);
  bool meter_usable(MonoPoint now) const;
  std::optional<double> non_ev_kw(Instant now);  // nullopt: failsafe
  void raise(Alarm alarm, Instant now);
  void clear(const std::string& id, const std::string& message);
  // The limiter's verdict that fixed load alone overloads a node: the piles to blame, alarms.
  std::vector<ChargerControl*> check_limits_hold(const scheduler::LimiterResult& result,
                                                 const std::vector<scheduler::LimitNode>& nodes,
                                                 const std::vector<scheduler::ChargerSetpoint>& setpoints,
                                                 const std::vector<ChargerControl*>& of, Instant now);

  const Config& config_;
  double clock_speed_;
  CapacityTree tree_;
  std::map<std::string, ChargerControl> chargers_;
  std::map<std::string, drivers::Health> meter_health_;  // online flags of meters
  std::optional<drivers::MeterSnapshot> transformer_;  // latest transformer meter reading
  MonoPoint transformer_received_{};                    // when it arrived (its `at` is wall time)
  double base_load_w_ = 0;
  // Non-EV transformer load per phase at the last sample, when the meter measures its phases.
  std::optional<std::array<double, scheduler::kPhases>> base_phase_w_;
  std::map<std::string, std::pair<MonoPoint, NodeReading>> feeder_kw_;  // node id -> (received, reading)
  BaseLoadSlots base_history_;
  DrBook dr_;
  std::optional<ActivePlan> plan_;
  ReplanReasons wanted_;
  TimePoint planner_slow_until_{};   // event re-plans wait until then
  MonoPoint deviation_since_{};      // base load off the forecast since then
  std::optional<Period> last_period_;
  std::vector<ControlEvent> pending_events_;
  std::map<std::string, WatchedMeter> meters_;         // transformer and feeder meters
  bool transformer_metered_ = false;                   // a transformer meter is configured
  LoadSource load_source_ = LoadSource::failsafe;
  MonoPoint started_at_{};                             // the first step
  MonoPoint unusable_since_{};                         // transformer reading not believable since
  std::map<std::string, Alarm> alarms_;
};

}  // namespace orderly::gateway
