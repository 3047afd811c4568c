// The gateway's local OCPP 1.6J central system: one State per configured charge point, fed by
// whichever WebSocket link is open for it. OCPP 1.6 edition 2 section numbers in comments.
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "orderly/base/units.hpp"
#include "orderly/drivers/ocpp.hpp"

namespace orderly::drivers::ocpp {

using nlohmann::json;
using namespace std::chrono;

namespace {

// Every profile the gateway installs has its own id, so a newer one replaces the older (3.13.2:
// same id = replace) and nothing else the pile holds is touched by mistake.
constexpr int kMaxProfileId = 1;
constexpr int kDefaultProfileId = 2;
constexpr int kTxProfileId = 3;

// Actions of OCPP 1.6 that a charge point may send and this central system does not handle:
// answered NotSupported rather than NotImplemented (OCPP-J 1.6, 4.2.3).
bool ocpp16_charge_point_action(std::string_view action) {
  for (const char* a : {"DataTransfer", "DiagnosticsStatusNotification", "FirmwareStatusNotification"})
    if (action == a) return true;
  return false;
}

ChargerState state_of(std::string_view status) {
  // 4.9: Preparing/Finishing/Suspended* are a car at the pile not (or not yet) drawing.
  if (status == "Available" || status == "Reserved") return ChargerState::unplugged;
  if (status == "Charging") return ChargerState::charging;
  if (status == "Preparing" || status == "SuspendedEV" || status == "SuspendedEVSE" || status == "Finishing")
    return ChargerState::plugged;
  if (status == "Faulted") return ChargerState::fault;
  return ChargerState::unknown;  // Unavailable
}

// 4.9: the statuses of a connector with a transaction running.
bool in_transaction(std::string_view status) {
  return status == "Charging" || status == "SuspendedEV" || status == "SuspendedEVSE";
}

std::optional<double> number_in(const std::string& text) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int phase_index(const json& sampled) {
  const std::string phase = sampled.value("phase", "");
  if (phase.rfind("L1", 0) == 0) return 0;
  if (phase.rfind("L2", 0) == 0) return 1;
  if (phase.rfind("L3", 0) == 0) return 2;
  return -1;
}

std::string decode_base64(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = value(c);
    if (v < 0) return {};
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i)
    diff |= static_cast<unsigned>(i < a.size() ? a[i] : 0) ^ static_cast<unsigned>(i < b.size() ? b[i] : 0);
  return diff == 0;
}

}  // namespace

std::string basic_authorization(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = std::string(user) + ":" + std::string(password);
  std::string out = "Basic ";
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

double limit_current_a(double power_w, int phases) {
  return std::floor(current_a_at_nominal(std::max(0.0, power_w), phases) * 10 + 1e-9) / 10;
}

// ---- one charge point -----------------------------------------------------------------------

// One connector of a charge point: the gateway's charger (its own id, snapshot, transaction and
// limits). OCPP 1.6 numbers connectors from 1; connector 0 is the charge point as a whole.
struct ConnectorState {
  ChargePointSettings settings;
  ChargerSnapshot snapshot;
  std::optional<int> transaction;
  double meter_start_wh = kNotMeasured;
  std::string status = "Unavailable";
  bool status_heard = false;       // a StatusNotification arrived on the current link
  bool meter_values_heard = false; // a MeterValues arrived on the current link
  bool remote_start_sent = false;  // once per Preparing episode
  std::optional<PowerLimit> last_limit;
  MonoPoint last_limit_at{};
  double profile_limit_w = kNotMeasured;  // what the pile accepted in its TxProfile
  MonoPoint profile_until{};

  bool limit_in_force(MonoPoint now) const { return last_limit && now < last_limit_at + last_limit->valid_for; }
};

struct OcppCharger::State : std::enable_shared_from_this<OcppCharger::State> {
  State(boost::asio::any_io_executor ex, const Clock& c, CentralSystemOptions o, DeviceEvents e, ChargePointSettings s,
        std::shared_ptr<int> last_transaction)
      : clock(c),
        options(std::move(o)),
        events(std::move(e)),
        settings(s),
        last_transaction_id(std::move(last_transaction)),
        silence_timer(ex),
        call_timer(ex) {
    add_connector(std::move(s));
  }

  using Answer = std::function<void(const std::optional<json>& result, const std::string& error)>;
  struct Outgoing {
    Call call;
    Answer answer;
  };

  const Clock& clock;
  const CentralSystemOptions options;
  const DeviceEvents events;
  // The charge point's own settings (password, interval, tolerance) are its first connector's;
  // the gateway's config checks that every connector gives the same.
  const ChargePointSettings settings;
  std::map<int, ConnectorState> connectors;
  std::shared_ptr<int> last_transaction_id;  // shared by the central system's piles

  // The open link: its generation tells a late report of a replaced link from the current one.
  std::uint64_t generation = 0;
  std::function<void(std::string)> send_text;
  std::function<void()> close_link;
  bool configured = false;        // TxDefault/Max profiles and the interval sent on this link
  bool booted_on_link = false;    // the link began with a BootNotification

  // 4.1.1 of OCPP-J: one CALL in flight at a time; the rest wait their turn.
  std::deque<Outgoing> queue;
  std::optional<Outgoing> in_flight;
  std::uint64_t next_message_id = 1;
  boost::asio::steady_timer silence_timer;
  boost::asio::steady_timer call_timer;

  Health health;
  bool clock_skewed = false;       // the pile's last timestamp was off by more than the tolerance

  void add_connector(ChargePointSettings s) {
    const int n = s.connector_id;
    connectors[n].settings = std::move(s);
  }

  bool connected() const { return static_cast<bool>(send_text); }
  const std::string& name() const { return settings.charge_point_id; }

  void report_health() {
    if (!events.health) return;
    for (const auto& [n, c] : connectors) events.health(c.settings.id, health);
  }
  void report_snapshot(ConnectorState& c) {
    c.snapshot.at = clock.now();
    c.snapshot.applied_limit_w = clock.monotonic() < c.profile_until ? c.profile_limit_w : kNotMeasured;
    if (events.charger_snapshot) events.charger_snapshot(c.settings.id, c.snapshot);
  }
  void count_error(const std::string& what) {
    ++health.errors;
    health.last_error = what;
    spdlog::warn("ocpp: {} charge_point={}", what, name());
    report_health();
  }
  ConnectorState* connector(int n) {
    const auto it = connectors.find(n);
    return it == connectors.end() ? nullptr : &it->second;
  }

  void opened(std::uint64_t gen, std::function<void(std::string)> send, std::function<void()> close) {
    // A pile reconnecting replaces its old link; that link's closed() report then carries an
    // old generation and is ignored.
    auto old_close = std::move(close_link);
    drop_link("replaced by a new connection");
    generation = gen;
    send_text = std::move(send);
    close_link = std::move(close);
    if (old_close) old_close();
    configured = false;
    booted_on_link = false;
    for (auto& [n, c] : connectors) c.status_heard = c.meter_values_heard = false;
    health.online = true;
    health.last_error.clear();
    health.last_good = clock.now();
    report_health();
    arm_silence();
    spdlog::info("ocpp: charge point connected charge_point={} connectors={}", name(), connectors.size());
  }

  void closed(std::uint64_t gen) {
    if (gen != generation || !connected()) return;
    drop_link("connection closed");
    health.online = false;
    health.last_error = "OCPP connection closed";
    report_health();
    spdlog::info("ocpp: charge point disconnected charge_point={}", name());
  }

  void drop_link(const std::string& why) {
    send_text = nullptr;
    close_link = nullptr;
    silence_timer.cancel();
    call_timer.cancel();
    auto pending = std::move(queue);
    queue.clear();
    if (in_flight) pending.push_front(std::move(*in_flight));
    in_flight.reset();
    for (auto& o : pending)
      if (o.answer) o.answer(std::nullopt, o.call.action + " not answered: " + why);
  }

  void arm_silence() {
    silence_timer.expires_after(settings.silence_timeout);
    silence_timer.async_wait([weak = weak_from_this(), gen = generation](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || gen != self->generation || !self->connected()) return;
      ++self->health.timeouts;
      const auto close = self->close_link;
      self->drop_link("silent");
      self->health.online = false;
      self->health.last_error = "no OCPP message for " + std::to_string(self->settings.silence_timeout.count()) + " s";
      self->report_health();
      if (close) close();
    });
  }

  // ---- sending ----

  void call(std::string action, json payload, Answer answer) {
    if (!connected()) {
      if (answer) answer(std::nullopt, action + " not sent: charge point '" + name() + "' is not connected");
      return;
    }
    queue.push_back({Call{std::to_string(next_message_id++), std::move(action), std::move(payload)}, std::move(answer)});
    send_next();
  }

  void send_next() {
    if (in_flight || queue.empty() || !connected()) return;
    in_flight = std::move(queue.front());
    queue.pop_front();
    send_text(encode(in_flight->call));
    call_timer.expires_after(options.call_timeout);
    call_timer.async_wait([weak = weak_from_this(), id = in_flight->call.id](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->in_flight || self->in_flight->call.id != id) return;
      ++self->health.timeouts;
      self->finish_call(std::nullopt, "no answer within " +
                                          std::to_string(duration_cast<milliseconds>(self->options.call_timeout).count()) +
                                          " ms");
    });
  }

  void finish_call(const std::optional<json>& result, const std::string& error) {
    if (!in_flight) return;
    call_timer.cancel();
    Outgoing done = std::move(*in_flight);
    in_flight.reset();
    if (done.answer) done.answer(result, error.empty() ? error : done.call.action + ": " + error);
    send_next();
  }

  void reply(const std::string& id, json payload) { send_text(encode(CallResult{id, std::move(payload)})); }
  void reply_error(const std::string& id, ErrorCode code, const std::string& what) {
    send_text(encode(CallError{id, code, what, json::object()}));
  }

  // A request of ours whose answer only says Accepted or not; `ok` lists the good statuses.
  void call_for_status(std::string action, json payload, std::vector<std::string> ok,
                       std::function<void(bool, const std::string&)> done) {
    call(action, std::move(payload),
         [this, action, ok = std::move(ok), done = std::move(done)](const std::optional<json>& r, const std::string& error) {
           if (!r) return done(false, error);
           const std::string status = r->value("status", "");
           if (std::find(ok.begin(), ok.end(), status) != ok.end()) return done(true, "");
           done(false, action + " answered " + status);
         });
  }

  // ---- profiles (3.13) ----

  json profile(int id, const char* purpose, double current_a, int phases, std::optional<seconds> duration) const {
    json schedule = {{"chargingRateUnit", "A"},
                     {"chargingSchedulePeriod",
                      json::array({{{"startPeriod", 0}, {"limit", current_a}, {"numberPhases", phases}}})}};
    json p = {{"chargingProfileId", id}, {"stackLevel", 0}, {"chargingProfilePurpose", purpose}};
    if (std::string_view(purpose) == "TxDefaultProfile") {
      // Relative: each new transaction starts the schedule afresh; no duration, so it holds
      // for as long as the gateway stays away.
      p["chargingProfileKind"] = "Relative";
    } else {
      p["chargingProfileKind"] = "Absolute";
      schedule["startSchedule"] = format_date_time(clock.now());
    }
    if (duration) schedule["duration"] = duration->count();
    p["chargingSchedule"] = std::move(schedule);
    return p;
  }

  // The station's ceiling: what the site gives it, else what its connectors add up to.
  double station_max_power_w() const {
    if (std::isfinite(settings.station_max_power_w)) return settings.station_max_power_w;
    double sum = 0;
    for (const auto& [n, c] : connectors) sum += c.settings.caps.max_power_w;
    return sum;
  }
  int station_phases() const {
    int phases = 1;
    for (const auto& [n, c] : connectors) phases = std::max(phases, c.settings.caps.phases);
    return phases;
  }

  void configure() {
    configured = true;
    auto warn_unless = [self = shared_from_this()](bool ok, const std::string& error) {
      if (!ok) self->count_error(error);
    };
    call_for_status("ChangeConfiguration",
                    {{"key", "MeterValueSampleInterval"}, {"value", std::to_string(settings.meter_value_interval.count())}},
                    {"Accepted", "RebootRequired"}, warn_unless);
    // Others' failsafe and ceiling profiles would override or cap ours: removed first (3.13.3).
    for (const char* purpose : {"TxDefaultProfile", "ChargePointMaxProfile"})
      call_for_status("ClearChargingProfile", {{"connectorId", 0}, {"chargingProfilePurpose", purpose}},
                      {"Accepted", "Unknown"}, warn_unless);
    // One connector: its failsafe on connector 0, for the whole pile. Several: each its own, as
    // 3.13.2 allows a TxDefaultProfile per connector, so each follows its own failsafe_current_a.
    for (const auto& [n, c] : connectors)
      call_for_status("SetChargingProfile",
                      {{"connectorId", connectors.size() == 1 ? 0 : n},
                       {"csChargingProfiles", profile(kDefaultProfileId, "TxDefaultProfile",
                                                      std::floor(c.settings.failsafe_current_a * 10) / 10,
                                                      c.settings.caps.phases, std::nullopt)}},
                      {"Accepted"}, warn_unless);
    // 3.13.1: a ChargePointMaxProfile is set on connector 0 only and caps the station as a whole.
    call_for_status("SetChargingProfile",
                    {{"connectorId", 0},
                     {"csChargingProfiles", profile(kMaxProfileId, "ChargePointMaxProfile",
                                                    limit_current_a(station_max_power_w(), station_phases()),
                                                    station_phases(), std::nullopt)}},
                    {"Accepted"}, [self = shared_from_this()](bool ok, const std::string& error) {
                      if (!ok) self->count_error(error);
                      self->catch_up();
                    });
  }

  // After a (re)connection and the configuration, the gateway brings itself up to date: a pile
  // that reconnected without booting may say nothing until its state next changes, and one
  // that kept charging through a restarted gateway holds a transaction this gateway never saw.
  void catch_up() {
    for (auto& [n, c] : connectors) {
      // 4.2: a booting pile reports every connector's status right after its boot; only a
      // reconnected one is asked.
      const bool status_unknown = !c.status_heard && !booted_on_link;
      const bool transaction_unknown = !c.transaction && in_transaction(c.status);
      if (status_unknown) trigger("StatusNotification", n);
      if ((status_unknown || transaction_unknown || c.transaction) && !c.meter_values_heard) trigger("MeterValues", n);
      // Its TxProfile may have run out while the link was down: the limit in force goes again.
      if (c.transaction && c.limit_in_force(clock.monotonic())) send_tx_profile(c, *c.last_limit);
    }
  }

  void trigger(const char* message, int connector_id) {
    call_for_status("TriggerMessage", {{"requestedMessage", message}, {"connectorId", connector_id}}, {"Accepted"},
                    [self = shared_from_this(), message, connector_id](bool ok, const std::string& error) {
                      if (!ok)
                        spdlog::info("ocpp: {} for connector {} not triggered charge_point={}: {}", message,
                                     connector_id, self->name(), error);
                    });
  }

  void apply_limit(ConnectorState& c, const PowerLimit& limit) {
    c.last_limit = limit;
    c.last_limit_at = clock.monotonic();
    if (!connected()) {
      ack(c, limit.seq, false, "charge point '" + name() + "' is not connected");
      return;
    }
    if (!c.transaction) {
      // Nothing draws without a transaction; its TxProfile is sent when one starts.
      ack(c, limit.seq, true, "");
      return;
    }
    send_tx_profile(c, limit);
  }

  void send_tx_profile(ConnectorState& c, const PowerLimit& limit) {
    const int phases = c.settings.caps.phases;
    const double current_a = limit_current_a(limit.power_w, phases);
    const double applied_w = power_w_at_nominal(current_a, phases);
    json p = profile(kTxProfileId, "TxProfile", current_a, phases, limit.valid_for);
    p["transactionId"] = *c.transaction;
    const int n = c.settings.connector_id;
    call_for_status("SetChargingProfile", {{"connectorId", n}, {"csChargingProfiles", std::move(p)}}, {"Accepted"},
                    [weak = weak_from_this(), n, seq = limit.seq, applied_w, valid_for = limit.valid_for](
                        bool ok, const std::string& error) {
                      auto self = weak.lock();
                      ConnectorState* c = self ? self->connector(n) : nullptr;
                      if (!c) return;
                      if (ok) {
                        c->profile_limit_w = applied_w;
                        c->profile_until = self->clock.monotonic() + valid_for;
                      }
                      self->ack(*c, seq, ok, error, ok ? applied_w : kNotMeasured);
                    });
  }

  void ack(const ConnectorState& c, std::uint64_t seq, bool accepted, const std::string& error,
           double applied_w = kNotMeasured) {
    if (events.limit_ack) events.limit_ack(c.settings.id, LimitAck{seq, accepted, applied_w, error});
  }

  // ---- the pile's clock ----

  // A timestamp the pile put on a message, judged against when it arrived. The gateway books
  // everything at its own receive time, so a wrong pile clock cannot move energy between
  // tariff periods; beyond the tolerance it is a fault worth fixing (its Absolute profiles
  // start and end at the wrong time), warned once each time the clock goes off.
  void check_clock(const json& timestamp) {
    if (!timestamp.is_string()) return;
    const auto t = parse_date_time(timestamp.get<std::string>());
    if (!t) return;
    const auto offset = round<seconds>(*t - clock.now());
    const bool skewed = offset > settings.clock_tolerance || -offset > settings.clock_tolerance;
    if (skewed && !clock_skewed)
      count_error("clock off by " + std::to_string(offset.count()) + " s (tolerance " +
                  std::to_string(settings.clock_tolerance.count()) +
                  " s): its timestamps are not used and its TxProfiles start and end off by as much; set the "
                  "pile's clock (NTP) or let it take the time from the Heartbeat answers");
    else if (!skewed && clock_skewed)
      spdlog::info("ocpp: clock back within {} s charge_point={}", settings.clock_tolerance.count(), name());
    clock_skewed = skewed;
  }

  // ---- receiving ----

  void receive(std::string_view text) {
    health.last_good = clock.now();
    arm_silence();
    auto decoded = decode(text);
    if (auto* bad = std::get_if<BadFrame>(&decoded)) {
      count_error("malformed frame: " + bad->answer.description);
      if (bad->is_call) send_text(encode(bad->answer));
      return;
    }
    auto& message = std::get<Message>(decoded);
    if (auto* c = std::get_if<Call>(&message)) return on_call(*c);
    if (auto* r = std::get_if<CallResult>(&message)) {
      if (!in_flight || in_flight->call.id != r->id) return count_error("CALLRESULT for no pending request, id " + r->id);
      if (auto v = validate(in_flight->call.action, Direction::response, r->payload)) {
        ++health.errors;
        return finish_call(std::nullopt, "answer does not conform to the schema: " + v->describe());
      }
      return finish_call(r->payload, "");
    }
    const auto& e = std::get<CallError>(message);
    if (!in_flight || in_flight->call.id != e.id) return count_error("CALLERROR for no pending request, id " + e.id);
    finish_call(std::nullopt, std::string(to_string(e.code)) + " " + e.description);
  }

  void on_call(const Call& c) {
    if (auto v = validate(c.action, Direction::request, c.payload)) {
      if (v->code == ErrorCode::NotImplemented && ocpp16_charge_point_action(c.action)) {
        v->code = ErrorCode::NotSupported;
        v->what = "action '" + c.action + "' is not supported by this central system";
      }
      count_error(c.action + " refused: " + v->describe());
      return reply_error(c.id, v->code, v->describe());
    }
    ++health.reads_ok;
    // A pile that reconnects without rebooting sends no BootNotification (4.2): it is
    // configured on its first message of the link either way.
    const bool boot = c.action == "BootNotification";
    try {
      if (boot) on_boot(c);
      else if (c.action == "Heartbeat") reply(c.id, {{"currentTime", format_date_time(clock.now())}});
      else if (c.action == "StatusNotification") on_status(c);
      else if (c.action == "MeterValues") on_meter_values(c);
      else if (c.action == "Authorize") reply(c.id, {{"idTagInfo", {{"status", "Accepted"}}}});
      else if (c.action == "StartTransaction") on_start(c);
      else if (c.action == "StopTransaction") on_stop(c);
      else return reply_error(c.id, ErrorCode::NotSupported, "a charge point does not send " + c.action);
    } catch (const std::exception& e) {
      count_error(c.action + " failed: " + e.what());
      return reply_error(c.id, ErrorCode::InternalError, e.what());
    }
    if (!configured && connected()) configure();
  }

  void on_boot(const Call& c) {
    reply(c.id, {{"status", "Accepted"},
                 {"currentTime", format_date_time(clock.now())},
                 {"interval", options.heartbeat_interval.count()}});
    spdlog::info("ocpp: boot charge_point={} vendor={} model={} firmware={}", name(),
                 c.payload.value("chargePointVendor", ""), c.payload.value("chargePointModel", ""),
                 c.payload.value("firmwareVersion", ""));
    configured = false;  // a rebooted pile may have lost what it was given
    booted_on_link = true;
  }

  // A message about a connector the site has no [[charger]] for: acknowledged and not used.
  ConnectorState* known_connector(const json& payload, const char* action) {
    const int n = payload["connectorId"].get<int>();
    if (n == 0) return nullptr;  // the charge point as a whole
    ConnectorState* c = connector(n);
    if (!c) spdlog::debug("ocpp: {} for connector {} ignored, no [[charger]] for it charge_point={}", action, n, name());
    return c;
  }

  void on_status(const Call& c) {
    reply(c.id, json::object());
    ConnectorState* con = known_connector(c.payload, "StatusNotification");
    if (!con) return;
    if (c.payload.contains("timestamp")) check_clock(c.payload["timestamp"]);
    con->status_heard = true;
    con->status = c.payload["status"].get<std::string>();
    con->snapshot.state = state_of(con->status);
    if (con->snapshot.state == ChargerState::unplugged) con->snapshot.rfid.clear();
    if (con->status != "Preparing") con->remote_start_sent = false;
    report_snapshot(*con);
    const std::string& tag = con->settings.remote_start_id_tag;
    if (con->status == "Preparing" && !con->transaction && !tag.empty() && !con->remote_start_sent) {
      con->remote_start_sent = true;
      remote_start(*con, tag, [self = shared_from_this()](bool ok) {
        if (!ok) self->count_error("RemoteStartTransaction refused for the plugged-in car");
      });
    }
    if (configured && !con->transaction && in_transaction(con->status) && !con->meter_values_heard)
      trigger("MeterValues", con->settings.connector_id);
  }

  void on_meter_values(const Call& c) {
    reply(c.id, json::object());
    ConnectorState* con = known_connector(c.payload, "MeterValues");
    if (!con) return;
    con->meter_values_heard = true;
    if (c.payload.contains("transactionId") && !con->transaction) adopt_transaction(*con, c.payload["transactionId"]);
    for (const auto& mv : c.payload["meterValue"]) check_clock(mv["timestamp"]);
    read_meter_values(*con, c.payload["meterValue"]);
    report_snapshot(*con);
  }

  // A pile that kept its transaction through a restarted gateway (or a lost StartTransaction
  // answer) names it in its MeterValues: the gateway takes it on, so the connector is not idle
  // and its limits go out as that transaction's TxProfile. Its meterStart is not known: the
  // session energy is left to the gateway's lifetime-counter accounting.
  void adopt_transaction(ConnectorState& c, const json& id) {
    c.transaction = id.get<int>();
    c.meter_start_wh = kNotMeasured;
    c.snapshot.session_energy_wh = kNotMeasured;
    spdlog::info("ocpp: transaction {} taken on from the pile charger={} charge_point={}", *c.transaction,
                 c.settings.id, name());
    if (c.limit_in_force(clock.monotonic())) send_tx_profile(c, *c.last_limit);
  }

  // 7.31 SampledValue: measurand defaults to the energy register, unit to its measurand's base.
  void read_meter_values(ConnectorState& c, const json& meter_values) {
    ChargerSnapshot& snapshot = c.snapshot;
    double power_w = kNotMeasured;
    std::array<double, 3> phase_power{kNotMeasured, kNotMeasured, kNotMeasured};
    for (const auto& mv : meter_values) {
      for (const auto& sv : mv["sampledValue"]) {
        const auto value = number_in(sv["value"].get<std::string>());
        if (!value) {
          ++health.errors;
          health.last_error = "sampled value '" + sv["value"].get<std::string>() + "' is not a number";
          continue;
        }
        const std::string measurand = sv.value("measurand", "Energy.Active.Import.Register");
        const std::string unit = sv.value("unit", "");
        const bool kilo = unit == "kW" || unit == "kWh";
        const double v = *value * (kilo ? 1000 : 1);
        const int phase = phase_index(sv);
        if (measurand == "Energy.Active.Import.Register" && phase < 0) {
          snapshot.total_energy_wh = v;
          if (std::isfinite(c.meter_start_wh)) snapshot.session_energy_wh = std::max(0.0, v - c.meter_start_wh);
        } else if (measurand == "Power.Active.Import") {
          (phase < 0 ? power_w : phase_power[static_cast<std::size_t>(phase)]) = v;
        } else if (measurand == "Current.Import") {
          snapshot.current_a[static_cast<std::size_t>(std::max(phase, 0))] = v;
        } else if (measurand == "Voltage") {
          snapshot.voltage_v[static_cast<std::size_t>(std::max(phase, 0))] = v;
        }
      }
    }
    if (!std::isfinite(power_w)) {
      double sum = 0;
      bool any = false;
      for (double p : phase_power)
        if (std::isfinite(p)) sum += p, any = true;
      if (any) power_w = sum;
    }
    if (std::isfinite(power_w)) snapshot.power_w = power_w;
  }

  void on_start(const Call& c) {
    ConnectorState* con = known_connector(c.payload, "StartTransaction");
    if (!con) {
      // The gateway cannot limit a connector it does not know, so it does not let it draw.
      reply(c.id, {{"idTagInfo", {{"status", "Invalid"}}}, {"transactionId", 0}});
      return count_error("StartTransaction on connector " + std::to_string(c.payload["connectorId"].get<int>()) +
                         " refused: no [[charger]] has this ocpp_id and ocpp_connector");
    }
    // Transaction ids from the wall clock: a restarted gateway does not hand out an id the pile
    // still remembers from before.
    const int id = std::max(*last_transaction_id + 1, static_cast<int>(
        duration_cast<seconds>(clock.now().time_since_epoch()).count() % 1'000'000'000));
    *last_transaction_id = id;
    con->transaction = id;
    con->meter_start_wh = c.payload["meterStart"].get<double>();
    con->snapshot.rfid = c.payload["idTag"].get<std::string>();
    con->snapshot.session_energy_wh = 0;
    check_clock(c.payload["timestamp"]);
    reply(c.id, {{"idTagInfo", {{"status", "Accepted"}}}, {"transactionId", id}});
    spdlog::info("ocpp: transaction started charger={} transaction={} id_tag={}", con->settings.id, id, con->snapshot.rfid);
    report_snapshot(*con);
    if (con->limit_in_force(clock.monotonic())) send_tx_profile(*con, *con->last_limit);
  }

  void on_stop(const Call& c) {
    reply(c.id, {{"idTagInfo", {{"status", "Accepted"}}}});
    const int id = c.payload["transactionId"].get<int>();
    check_clock(c.payload["timestamp"]);
    // StopTransaction names no connector (6.46): the transaction does.
    for (auto& [n, con] : connectors) {
      if (con.transaction != id) continue;
      con.transaction.reset();
      con.meter_start_wh = kNotMeasured;
      con.profile_until = {};
      con.snapshot.total_energy_wh = c.payload["meterStop"].get<double>();
      spdlog::info("ocpp: transaction stopped charger={} transaction={} reason={}", con.settings.id, id,
                   c.payload.value("reason", "Local"));
      report_snapshot(con);
    }
  }

  void remote_start(const ConnectorState& c, const std::string& id_tag, std::function<void(bool)> done) {
    call_for_status("RemoteStartTransaction", {{"connectorId", c.settings.connector_id}, {"idTag", id_tag}}, {"Accepted"},
                    [done = std::move(done)](bool ok, const std::string&) {
                      if (done) done(ok);
                    });
  }

  void remote_stop(const ConnectorState& c, std::function<void(bool)> done) {
    if (!c.transaction) {
      if (done) done(false);
      return;
    }
    call_for_status("RemoteStopTransaction", {{"transactionId", *c.transaction}}, {"Accepted"},
                    [done = std::move(done)](bool ok, const std::string&) {
                      if (done) done(ok);
                    });
  }
};

OcppCharger::OcppCharger(std::shared_ptr<State> state, int connector)
    : state_(std::move(state)), connector_(&state_->connectors.at(connector)) {}
const std::string& OcppCharger::id() const { return connector_->settings.id; }
Capabilities OcppCharger::capabilities() const {
  Capabilities caps = connector_->settings.caps;
  caps.bidirectional = false;  // OCPP 1.6 has no discharge
  caps.pause = PauseMethod::zero_current;
  caps.failsafe = true;        // the TxDefaultProfile sent on every connection
  return caps;
}
void OcppCharger::apply_limit(const PowerLimit& limit) { state_->apply_limit(*connector_, limit); }
void OcppCharger::remote_start(const std::string& id_tag, std::function<void(bool)> done) {
  state_->remote_start(*connector_, id_tag, std::move(done));
}
void OcppCharger::remote_stop(std::function<void(bool)> done) { state_->remote_stop(*connector_, std::move(done)); }
bool OcppCharger::connected() const { return state_->connected(); }
std::optional<int> OcppCharger::transaction_id() const { return connector_->transaction; }

// ---- the central system ---------------------------------------------------------------------

struct CentralSystem::Impl {
  Impl(boost::asio::any_io_executor ex, const Clock& c, CentralSystemOptions o, DeviceEvents e)
      : executor(std::move(ex)), clock(c), options(std::move(o)), events(std::move(e)) {}
  boost::asio::any_io_executor executor;
  const Clock& clock;
  CentralSystemOptions options;
  DeviceEvents events;
  std::map<std::string, std::shared_ptr<OcppCharger::State>, std::less<>> by_charge_point;
  std::uint64_t next_generation = 1;
  std::shared_ptr<int> last_transaction_id = std::make_shared<int>(0);
};

namespace {

class LinkImpl final : public CentralSystem::Link {
 public:
  LinkImpl(std::shared_ptr<OcppCharger::State> state, std::uint64_t generation)
      : state_(std::move(state)), generation_(generation) {}
  void receive(std::string_view text) override {
    if (state_->generation == generation_ && state_->connected()) state_->receive(text);
  }
  void closed() override { state_->closed(generation_); }

 private:
  std::shared_ptr<OcppCharger::State> state_;
  std::uint64_t generation_;
};

}  // namespace

CentralSystem::CentralSystem(boost::asio::any_io_executor core, const Clock& clock, CentralSystemOptions options,
                             DeviceEvents events)
    : impl_(std::make_shared<Impl>(std::move(core), clock, std::move(options), std::move(events))) {}

CentralSystem::~CentralSystem() { stop(); }

std::shared_ptr<OcppCharger> CentralSystem::add_charger(const ChargePointSettings& settings) {
  if (settings.charge_point_id.empty() || settings.id.empty())
    throw std::invalid_argument("OCPP charger needs an id and a charge point id");
  if (settings.connector_id < 1)
    throw std::invalid_argument("OCPP charger '" + settings.id + "': connector ids start at 1 (0 is the whole pile)");
  for (const auto& [cp, s] : impl_->by_charge_point)
    for (const auto& [n, c] : s->connectors)
      if (c.settings.id == settings.id) throw std::invalid_argument("OCPP charger '" + settings.id + "' added twice");
  if (const auto it = impl_->by_charge_point.find(settings.charge_point_id); it != impl_->by_charge_point.end()) {
    // Another connector of a charge point already known: one link, one password.
    auto& state = it->second;
    if (state->connectors.count(settings.connector_id))
      throw std::invalid_argument("OCPP charge point '" + settings.charge_point_id + "' connector " +
                                  std::to_string(settings.connector_id) + " is used twice");
    if (state->settings.password != settings.password)
      throw std::invalid_argument("OCPP charge point '" + settings.charge_point_id +
                                  "': its connectors give different passwords");
    state->add_connector(settings);
    return std::make_shared<OcppCharger>(state, settings.connector_id);
  }
  auto state = std::make_shared<OcppCharger::State>(impl_->executor, impl_->clock, impl_->options, impl_->events,
                                                    settings, impl_->last_transaction_id);
  state->health.last_error = "no OCPP connection yet";
  impl_->by_charge_point.emplace(settings.charge_point_id, state);
  return std::make_shared<OcppCharger>(state, settings.connector_id);
}

bool CentralSystem::authorize(std::string_view charge_point_id, std::string_view authorization) const {
  const auto it = impl_->by_charge_point.find(charge_point_id);
  if (it == impl_->by_charge_point.end() || it->second->settings.password.empty()) return false;
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.substr(0, kBasic.size()) != kBasic) return false;
  const std::string credentials = decode_base64(authorization.substr(kBasic.size()));
  const auto colon = credentials.find(':');
  if (colon == std::string::npos) return false;
  // Security profile 1: the user name is the charge point id.
  return credentials.substr(0, colon) == charge_point_id &&
         same_secret(std::string_view(credentials).substr(colon + 1), it->second->settings.password);
}

std::shared_ptr<CentralSystem::Link> CentralSystem::open(std::string_view charge_point_id,
                                                        std::function<void(std::string)> send,
                                                        std::function<void()> close) {
  const auto it = impl_->by_charge_point.find(charge_point_id);
  if (it == impl_->by_charge_point.end()) return nullptr;
  const std::uint64_t generation = impl_->next_generation++;
  it->second->opened(generation, std::move(send), std::move(close));
  return std::make_shared<LinkImpl>(it->second, generation);
}

void CentralSystem::stop() {
  for (auto& [cp, state] : impl_->by_charge_point) {
    const auto close = state->close_link;
    state->drop_link("central system stopped");
    if (close) close();
  }
}

}  // namespace orderly::drivers::ocpp
