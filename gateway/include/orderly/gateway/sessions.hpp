#pragma once
// Charging sessions: what a car plugged into a pile wants and what it has had. SessionBook is
// plain logic on the core thread (no I/O, no clock: every call is given `now`); the gateway feeds
// it charger snapshots and resident requests, persists the records it returns, and hands
// active() to the planner.
//
// A session opens when a pile leaves `unplugged` (plugged or charging) and closes when it goes
// back to `unplugged`. The owner is the pile's household (private pile) or, on a shared pile, the
// resident who claimed it on the web page or the RFID card the pile reports.
//
// The request (departure + energy) comes from the resident; when they set none, from what this
// household usually does (departure by weekday, typical energy: learned from its closed
// sessions), and with no history from the site defaults. docs/sessions.md has the rules.
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/store.hpp"

namespace orderly::gateway {

// A request a resident (or the platform) asked for that cannot be taken. what() says which
// field is wrong and what is accepted; the web API answers 400 with it.
class RequestError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// What the resident asks for. Unset fields keep the session's current (learned/default) value.
struct ChargeRequest {
  std::optional<TimePoint> departure;      // the car must be ready by then
  std::optional<double> energy_kwh;        // energy to add in this session
  std::optional<bool> boost;               // "charge now": full power at once, peak price accepted
  std::optional<TimePoint> not_before;     // "do not charge until"; a past time clears it
  std::string household;                   // shared piles: who claims the session (web login)
};

// One open session as the planner needs it.
struct ActiveSession {
  std::string session_id;
  std::string charger_id;
  TimePoint plugged_at{};
  TimePoint departure{};                   // effective (resident's, learned or default)
  double remaining_kwh = 0;                // still to deliver; 0 when met or the car is full
  bool boost = false;
  std::optional<TimePoint> not_before;
  bool is_private = true;
  bool full = false;                       // the car stopped drawing with power offered
};

class SessionBook {
 public:
  explicit SessionBook(const Config& config);

  // After a restart: the open sessions as last persisted, and recent closed sessions (learning:
  // Store::closed_sessions(now - [sessions] learning_days)). Replaces what the book held, so call
  // it before the first snapshot.
  void restore(const std::vector<SessionRecord>& open, const std::vector<SessionRecord>& closed_history);

  // Feeds one charger snapshot; `offered_limit_w` is the limit the pile was last told (the "car is
  // full" rule needs to know power was offered). Returns the records that changed and must be
  // persisted: session opened, closed (with its settlement), card/owner or met_at changed, or
  // energy progressed (at most once a minute). Snapshots of unconfigured piles are ignored.
  std::vector<SessionRecord> on_snapshot(const std::string& charger_id, const drivers::ChargerSnapshot& s,
                                         double offered_limit_w, TimePoint now);

  // A resident's request for the car on `charger_id`. Throws RequestError (no car plugged in,
  // departure in the past, energy out of range, ...). Returns the record to persist.
  SessionRecord set_request(const std::string& charger_id, const ChargeRequest& request, TimePoint now);

  std::vector<ActiveSession> active(TimePoint now) const;
  std::optional<SessionRecord> open_session(const std::string& charger_id) const;
  // Every open session's record, by charger id (a final persist at shutdown, diagnostics).
  std::vector<SessionRecord> open_sessions() const;

 private:
  // What a household's closed sessions say about its habits (learning).
  struct Habit {
    TimePoint started_at{};
    TimePoint ended_at{};
    double energy_wh = 0;
  };
  struct OpenSession {
    SessionRecord record;
    bool resident_departure = false;       // the resident set it; learning leaves it alone
    bool resident_energy = false;
    bool claimed = false;                  // shared pile: a resident claimed it on the web page
    // Unrounded cost of the energy charged so far: rounding once, at the end, as settle() does.
    double charge_cost_yuan = 0;
    double counter_offset_wh = 0;          // added to the pile's counter after it restarted
    double last_power_w = 0;               // for integrating power when there is no counter
    std::optional<TimePoint> low_draw_since;
    bool full = false;
    TimePoint persisted_at{};
    double persisted_reading_wh = 0;
  };
  struct Pile {
    std::optional<OpenSession> session;
  };

  const ChargerConfig* find_charger(const std::string& charger_id) const;
  const ChargerConfig& charger(const std::string& charger_id) const;  // throws RequestError
  OpenSession open(const ChargerConfig& c, const drivers::ChargerSnapshot& s, TimePoint now) const;
  // Fills departure/energy the resident did not set, from habits or site defaults.
  void fill_request(OpenSession& o, TimePoint now) const;
  // The session's energy counter at `now`: the pile's, or its power integrated.
  double next_reading(OpenSession& o, const ChargerConfig& c, const drivers::ChargerSnapshot& s,
                      TimePoint now) const;
  // Settles the counter moving from the last reading to `reading_wh` at `now`.
  void settle_to(OpenSession& o, double reading_wh, TimePoint now) const;
  bool update_met(OpenSession& o, TimePoint now) const;  // true when met_at was set now
  void remember(const SessionRecord& closed);
  std::string local_text(TimePoint t) const;             // for messages: site local time

  Config config_;
  std::map<std::string, std::size_t> charger_index_;     // id -> config_.chargers[i]
  std::map<std::string, Pile> piles_;                    // by charger id
  std::map<std::string, std::deque<Habit>> habits_;      // by household, oldest first
};

}  // namespace orderly::gateway
