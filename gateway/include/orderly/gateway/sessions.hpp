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
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "orderly/drivers/clock.hpp"
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

  // After a restart: the open sessions as last persisted, and recent closed sessions (learning).
  void restore(const std::vector<SessionRecord>& open, const std::vector<SessionRecord>& closed_history);

  // Feeds one charger snapshot. Returns the records that changed and must be persisted (session
  // opened, progressed - at most once a minute - or closed, with its settlement).
  std::vector<SessionRecord> on_snapshot(const std::string& charger_id, const drivers::ChargerSnapshot& s,
                                         double offered_limit_w, TimePoint now);

  // A resident's request for the car on `charger_id`. Throws RequestError (no car plugged in,
  // departure in the past, energy out of range, ...). Returns the record to persist.
  SessionRecord set_request(const std::string& charger_id, const ChargeRequest& request, TimePoint now);

  std::vector<ActiveSession> active(TimePoint now) const;
  std::optional<SessionRecord> open_session(const std::string& charger_id) const;
};

}  // namespace orderly::gateway
