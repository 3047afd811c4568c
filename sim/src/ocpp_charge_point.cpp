#include "orderly/sim/ocpp_charge_point.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

#include "orderly/drivers/ocpp.hpp"
#include "sim_car.hpp"

namespace orderly::sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ocpp = drivers::ocpp;
using nlohmann::json;
using tcp = net::ip::tcp;
using namespace std::chrono;

namespace {
// Physics and status are brought up to date this often (real time).
constexpr auto kTick = milliseconds(100);

struct Profile {
  std::string kind;                  // Absolute or Relative
  std::optional<TimePoint> start;    // Absolute: startSchedule
  std::optional<int> duration_s;
  double limit_a = 0;
  int id = 0;
  std::optional<int> transaction_id;
};

// One connector with its car and its transaction.
struct Socket {
  SimCar car;
  std::optional<int> transaction;
  std::string pending_id_tag;        // a card whose StartTransaction is under way
  TimePoint transaction_started{};   // the pile's clock
  std::string status = "Available";
  MonoPoint last_meter_values{};
};

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
}  // namespace

struct SimOcppChargePoint::Impl : std::enable_shared_from_this<SimOcppChargePoint::Impl> {
  Impl(SimOcppOptions o, const Clock& c)
      : options(std::move(o)), clock(c), tick_timer(io), heartbeat_timer(io), retry_timer(io) {
    for (int n = 1; n <= std::max(1, options.connectors); ++n) sockets[n].car.last_update = clock.monotonic();
    meter_interval = options.meter_value_interval;
    heartbeat = options.heartbeat_interval;
    offset = options.clock_offset;
    if (!options.tls_ca_file.empty()) {
      tls.emplace(net::ssl::context::tls_client);
      tls->load_verify_file(options.tls_ca_file);
      tls->set_verify_mode(net::ssl::verify_peer);
    }
  }

  SimOcppOptions options;
  const Clock& clock;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;
  net::steady_timer tick_timer, heartbeat_timer, retry_timer;
  std::optional<net::ssl::context> tls;
  std::variant<std::monostate, PlainWs, TlsWs> ws;
  beast::flat_buffer buffer;
  std::deque<std::string> writes;
  bool writing = false;
  bool stopping = false;
  std::uint64_t connection = 0;  // tells a late handler of an old connection from the current

  // Outgoing CALLs, one in flight (OCPP-J 4.1.1); they wait for a connection.
  struct Outgoing {
    ocpp::Call call;
    std::function<void(const json&)> on_result;
  };
  std::deque<Outgoing> queue;
  std::optional<Outgoing> in_flight;
  std::uint64_t next_id = 1;

  // Everything below under `mutex`: the io thread changes it, observers read it.
  mutable std::mutex mutex;
  std::map<int, Socket> sockets;
  // By connector (0 = the whole charge point), then purpose.
  std::map<int, std::map<std::string, Profile>> profiles;
  std::vector<ReceivedProfile> received;
  std::vector<std::string> triggered;
  bool is_connected = false;
  bool is_booted = false;
  std::uint64_t handshakes = 0;
  seconds meter_interval;
  seconds heartbeat;
  seconds offset;
  std::uint64_t errors_sent = 0;
  std::uint64_t refused = 0;

  template <typename F>
  void with_ws(F&& f) {
    if (auto* p = std::get_if<PlainWs>(&ws)) f(*p);
    else if (auto* t = std::get_if<TlsWs>(&ws)) f(*t);
  }
  tcp::socket& socket() {
    if (auto* t = std::get_if<TlsWs>(&ws)) return beast::get_lowest_layer(*t).socket();
    return beast::get_lowest_layer(std::get<PlainWs>(ws)).socket();
  }

  TimePoint pile_now_locked() const { return clock.now() + offset; }
  TimePoint pile_now() const {
    std::lock_guard lock(mutex);
    return pile_now_locked();
  }

  // ---- physics (under mutex) ----

  bool in_force(const Profile& p, const Socket& s, TimePoint now) const {
    TimePoint start;
    if (p.kind == "Absolute") {
      if (!p.start) return false;
      start = *p.start;
    } else {
      if (!s.transaction) return false;  // Relative: from the transaction's start
      start = s.transaction_started;
    }
    if (now < start) return false;
    return !p.duration_s || now < start + seconds(*p.duration_s);
  }

  const Profile* find(int connector, const char* purpose) const {
    const auto c = profiles.find(connector);
    if (c == profiles.end()) return nullptr;
    const auto p = c->second.find(purpose);
    return p == c->second.end() ? nullptr : &p->second;
  }

  // 3.13.1: the TxProfile wins over the TxDefaultProfile (the connector's own before connector
  // 0's); the ChargePointMaxProfile caps the charge point as a whole, given out in connector order.
  std::pair<double, std::string> own_limit_locked(int n, TimePoint now) const {
    const Socket& s = sockets.at(n);
    double limit_a = options.max_power_w / (options.voltage_v * options.phases);
    std::string by;
    const Profile* tx = find(n, "TxProfile");
    const Profile* def = find(n, "TxDefaultProfile");
    if (!def || !in_force(*def, s, now)) def = find(0, "TxDefaultProfile");
    if (tx && s.transaction && tx->transaction_id == s.transaction && in_force(*tx, s, now)) {
      limit_a = tx->limit_a;
      by = "TxProfile";
    } else if (def && in_force(*def, s, now)) {
      limit_a = def->limit_a;
      by = "TxDefaultProfile";
    }
    return {std::min(options.max_power_w, limit_a * options.voltage_v * options.phases), by};
  }

  double station_max_w(TimePoint now) const {
    const Profile* max = find(0, "ChargePointMaxProfile");
    if (!max || !in_force(*max, sockets.begin()->second, now)) return std::numeric_limits<double>::infinity();
    return max->limit_a * options.voltage_v * options.phases;
  }

  // What connector n may draw: its own limit, within what the station ceiling leaves after the
  // connectors before it.
  std::pair<double, std::string> limit_locked(int n, TimePoint now) const {
    double left = station_max_w(now);
    for (const auto& [m, s] : sockets) {
      if (m == n) break;
      left -= power_of_locked(m, now, left);
    }
    auto own = own_limit_locked(n, now);
    if (left < own.first) return {std::max(0.0, left), "ChargePointMaxProfile"};
    return own;
  }

  double power_of_locked(int n, TimePoint now, double station_left_w) const {
    const Socket& s = sockets.at(n);
    if (!s.transaction || !s.car.wants_power()) return 0;
    const double p = std::min({own_limit_locked(n, now).first, station_left_w, s.car.max_power_w});
    return p < options.min_current_a * options.voltage_v * options.phases ? 0 : p;
  }

  double power_locked(int n, TimePoint now) const {
    if (n == 0) {
      double sum = 0;
      for (const auto& [m, s] : sockets) sum += power_locked(m, now);
      return sum;
    }
    const Socket& s = sockets.at(n);
    if (!s.transaction || !s.car.wants_power()) return 0;
    const double p = std::min(limit_locked(n, now).first, s.car.max_power_w);
    return p < options.min_current_a * options.voltage_v * options.phases ? 0 : p;
  }

  std::string status_locked(int n, TimePoint now) const {
    const Socket& s = sockets.at(n);
    if (!s.car.plugged) return "Available";
    if (!s.transaction) return "Preparing";
    if (!s.car.wants_power()) return "SuspendedEV";
    return power_locked(n, now) > 0 ? "Charging" : "SuspendedEVSE";
  }

  void advance_locked() {
    const TimePoint now = pile_now_locked();
    for (auto& [n, s] : sockets) s.car.integrate_to(clock.monotonic(), power_locked(n, now));
  }

  // ---- transport (io thread) ----

  void connect() {
    if (stopping) return;
    const std::uint64_t conn = ++connection;
    if (tls) ws.emplace<TlsWs>(io, *tls);
    else ws.emplace<PlainWs>(io);
    with_ws([&](auto& w) {
      beast::get_lowest_layer(w).expires_after(seconds(5));
      beast::get_lowest_layer(w).async_connect(tcp::endpoint(net::ip::make_address(options.host), options.port),
                                               [self = shared_from_this(), conn](beast::error_code ec) {
                                                 if (conn != self->connection) return;
                                                 if (ec) return self->retry();
                                                 self->secure(conn);
                                               });
    });
  }

  // wss: the TLS handshake, checking the certificate names `host`, before the WebSocket's.
  void secure(std::uint64_t conn) {
    auto* t = std::get_if<TlsWs>(&ws);
    if (!t) return handshake(conn);
    t->next_layer().set_verify_callback(net::ssl::host_name_verification(options.host));
    t->next_layer().async_handshake(net::ssl::stream_base::client, [self = shared_from_this(), conn](beast::error_code ec) {
      if (conn != self->connection) return;
      if (ec) {
        std::lock_guard lock(self->mutex);
        ++self->refused;
      }
      if (ec) return self->retry();
      self->handshake(conn);
    });
  }

  void handshake(std::uint64_t conn) {
    with_ws([&](auto& w) {
      // The handshake runs under the stream's 5 s expiry, not under a websocket timeout
      // option: that one's timer outlives a refused handshake by 30 s and holds stop() up.
      beast::get_lowest_layer(w).expires_after(seconds(5));
      w.set_option(websocket::stream_base::decorator([self = shared_from_this()](websocket::request_type& r) {
        r.set(beast::http::field::sec_websocket_protocol, ocpp::kSubprotocol);
        r.set(beast::http::field::authorization,
              ocpp::basic_authorization(self->options.charge_point_id, self->options.password));
      }));
      w.text(true);
      w.async_handshake(options.host + ":" + std::to_string(options.port), "/ocpp/" + options.charge_point_id,
                        [self = shared_from_this(), conn](beast::error_code hec) { self->on_handshake(conn, hec); });
    });
  }

  void retry() {
    {
      std::lock_guard lock(mutex);
      is_connected = false;
    }
    if (stopping) return;
    retry_timer.expires_after(options.reconnect_delay);
    retry_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->connect();
    });
  }

  void on_handshake(std::uint64_t conn, beast::error_code ec) {
    if (conn != connection) return;
    with_ws([](auto& w) { beast::get_lowest_layer(w).expires_never(); });
    if (ec) {
      if (ec == websocket::error::upgrade_declined) {
        std::lock_guard lock(mutex);
        ++refused;
      }
      return retry();
    }
    bool boot;
    {
      std::lock_guard lock(mutex);
      is_connected = true;
      ++handshakes;
      boot = !is_booted;
    }
    do_read(conn);
    // 4.2: a pile boots once per power-up; after a lost connection it only tells its status.
    if (boot) {
      call("BootNotification", {{"chargePointVendor", "Orderly"}, {"chargePointModel", "SimOcpp16"},
                                {"firmwareVersion", "sim-1"}},
           [self = shared_from_this()](const json& r) {
             std::lock_guard lock(self->mutex);
             if (r.value("status", "") != "Accepted") return;
             self->is_booted = true;
             self->heartbeat = seconds(std::max(1, r.value("interval", 60)));
             self->take_time_locked(r);
           });
    }
    if (boot || options.status_on_connect)
      for (const auto& [n, s] : sockets) send_status(n, true);
    send_next();
    arm_heartbeat();
  }

  // BootNotification.conf and Heartbeat.conf carry the central system's time (6.3, 6.31).
  void take_time_locked(const json& answer) {
    if (!options.clock_from_central_system || !answer.contains("currentTime")) return;
    if (const auto t = ocpp::parse_date_time(answer["currentTime"].get<std::string>()))
      offset = duration_cast<seconds>(*t - clock.now());
  }

  void lost(std::uint64_t conn) {
    if (conn != connection) return;
    ++connection;  // every handler of the old connection is now stale
    writes.clear();
    writing = false;
    if (in_flight) queue.push_front(std::move(*in_flight));
    in_flight.reset();
    heartbeat_timer.cancel();
    retry();
  }

  void do_read(std::uint64_t conn) {
    with_ws([&](auto& w) {
      w.async_read(buffer, [self = shared_from_this(), conn](beast::error_code ec, std::size_t) {
        if (conn != self->connection) return;
        if (ec) return self->lost(conn);
        const auto data = self->buffer.cdata();
        const std::string text(static_cast<const char*>(data.data()), data.size());
        self->buffer.consume(self->buffer.size());
        self->on_frame(text);
        self->do_read(conn);
      });
    });
  }

  void write(std::string text) {
    writes.push_back(std::move(text));
    write_next();
  }

  void write_next() {
    if (writing || writes.empty() || std::holds_alternative<std::monostate>(ws)) return;
    {
      std::lock_guard lock(mutex);
      if (!is_connected) return;
    }
    writing = true;
    with_ws([&](auto& w) {
      w.async_write(net::buffer(writes.front()), [self = shared_from_this(), conn = connection](beast::error_code ec, std::size_t) {
        if (conn != self->connection) return;
        self->writing = false;
        self->writes.pop_front();
        if (ec) return self->lost(conn);
        self->write_next();
      });
    });
  }

  void call(std::string action, json payload, std::function<void(const json&)> on_result = {}) {
    queue.push_back({ocpp::Call{std::to_string(next_id++), std::move(action), std::move(payload)}, std::move(on_result)});
    send_next();
  }

  void send_next() {
    if (in_flight || queue.empty()) return;
    {
      std::lock_guard lock(mutex);
      if (!is_connected) return;
    }
    in_flight = std::move(queue.front());
    queue.pop_front();
    write(ocpp::encode(in_flight->call));
  }

  void arm_heartbeat() {
    seconds period;
    {
      std::lock_guard lock(mutex);
      period = heartbeat;
    }
    heartbeat_timer.expires_after(period);
    heartbeat_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->call("Heartbeat", json::object(), [self](const json& r) {
        std::lock_guard lock(self->mutex);
        self->take_time_locked(r);
      });
      self->arm_heartbeat();
    });
  }

  void close_socket() {
    if (std::holds_alternative<std::monostate>(ws)) return;
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  // ---- OCPP (io thread) ----

  void on_frame(const std::string& text) {
    auto decoded = ocpp::decode(text);
    if (auto* bad = std::get_if<ocpp::BadFrame>(&decoded)) {
      if (bad->is_call) refuse(bad->answer);
      return;
    }
    auto& m = std::get<ocpp::Message>(decoded);
    if (auto* c = std::get_if<ocpp::Call>(&m)) return on_call(*c);
    std::string id = std::holds_alternative<ocpp::CallResult>(m) ? std::get<ocpp::CallResult>(m).id : std::get<ocpp::CallError>(m).id;
    if (!in_flight || in_flight->call.id != id) return;
    auto done = std::move(*in_flight);
    in_flight.reset();
    if (auto* r = std::get_if<ocpp::CallResult>(&m); r && done.on_result) done.on_result(r->payload);
    send_next();
  }

  void refuse(const ocpp::CallError& e) {
    {
      std::lock_guard lock(mutex);
      ++errors_sent;
    }
    write(ocpp::encode(e));
  }

  void answer(const std::string& id, json payload) { write(ocpp::encode(ocpp::CallResult{id, std::move(payload)})); }

  bool has_socket(const json& payload, const char* key = "connectorId") const {
    if (!payload.contains(key)) return false;
    return sockets.count(payload[key].get<int>()) > 0;
  }

  void on_call(const ocpp::Call& c) {
    if (auto v = ocpp::validate(c.action, ocpp::Direction::request, c.payload))
      return refuse(ocpp::CallError{c.id, v->code, v->describe(), json::object()});
    if (c.action == "SetChargingProfile") return answer(c.id, {{"status", set_profile(c.payload)}});
    if (c.action == "ClearChargingProfile") return answer(c.id, {{"status", clear_profiles(c.payload)}});
    if (c.action == "TriggerMessage") return on_trigger(c);
    if (c.action == "ChangeConfiguration") {
      if (c.payload["key"] != "MeterValueSampleInterval") return answer(c.id, {{"status", "NotSupported"}});
      int s = 0;
      try {
        s = std::stoi(c.payload["value"].get<std::string>());
      } catch (const std::exception&) {
      }
      if (s < 1) return answer(c.id, {{"status", "Rejected"}});
      {
        std::lock_guard lock(mutex);
        meter_interval = seconds(s);
      }
      return answer(c.id, {{"status", "Accepted"}});
    }
    if (c.action == "RemoteStartTransaction") {
      const int n = c.payload.value("connectorId", 1);
      bool ok;
      {
        std::lock_guard lock(mutex);
        const auto it = sockets.find(n);
        ok = it != sockets.end() && it->second.car.plugged && !it->second.transaction && it->second.pending_id_tag.empty();
      }
      answer(c.id, {{"status", ok ? "Accepted" : "Rejected"}});
      if (ok) start_transaction(n, c.payload["idTag"].get<std::string>());
      return;
    }
    if (c.action == "RemoteStopTransaction") {
      std::optional<int> n;
      {
        std::lock_guard lock(mutex);
        for (const auto& [m, s] : sockets)
          if (s.transaction == c.payload["transactionId"].get<int>()) n = m;
      }
      answer(c.id, {{"status", n ? "Accepted" : "Rejected"}});
      if (n) stop_transaction(*n, "Remote");
      return;
    }
    refuse(ocpp::CallError{c.id, ocpp::ErrorCode::NotSupported, c.action + " is not for a charge point", json::object()});
  }

  // 5.17: the requested message goes out after the answer.
  void on_trigger(const ocpp::Call& c) {
    const std::string what = c.payload["requestedMessage"];
    std::vector<int> which;
    if (c.payload.contains("connectorId")) {
      if (!has_socket(c.payload)) return answer(c.id, {{"status", "Rejected"}});
      which.push_back(c.payload["connectorId"].get<int>());
    } else {
      for (const auto& [n, s] : sockets) which.push_back(n);
    }
    if (what != "StatusNotification" && what != "MeterValues" && what != "Heartbeat")
      return answer(c.id, {{"status", "NotImplemented"}});
    {
      std::lock_guard lock(mutex);
      for (int n : which) triggered.push_back(what + ":" + std::to_string(n));
    }
    answer(c.id, {{"status", "Accepted"}});
    if (what == "Heartbeat") return call("Heartbeat", json::object());
    for (int n : which) {
      if (what == "StatusNotification") send_status(n, true);
      else send_meter_values(n, "Trigger");
    }
  }

  std::string set_profile(const json& req) {
    const int n = req["connectorId"].get<int>();
    const auto& p = req["csChargingProfiles"];
    const std::string purpose = p["chargingProfilePurpose"];
    const std::string kind = p["chargingProfileKind"];
    const auto& schedule = p["chargingSchedule"];
    const auto& periods = schedule["chargingSchedulePeriod"];
    // One period from the schedule's start is what this pile does; W schedules and recurring
    // profiles it leaves to real piles.
    if (kind == "Recurring" || schedule["chargingRateUnit"] != "A" || periods.size() != 1 ||
        periods[0]["startPeriod"] != 0)
      return "NotSupported";
    if (n != 0 && !sockets.count(n)) return "Rejected";
    // 3.13.1: ChargePointMaxProfile on connector 0 only; a TxProfile on a connector only.
    if ((purpose == "ChargePointMaxProfile" && n != 0) || (purpose == "TxProfile" && n == 0)) return "Rejected";
    Profile profile;
    profile.kind = kind;
    profile.id = p["chargingProfileId"];
    if (schedule.contains("startSchedule")) profile.start = ocpp::parse_date_time(schedule["startSchedule"].get<std::string>());
    if (schedule.contains("duration")) profile.duration_s = schedule["duration"].get<int>();
    profile.limit_a = periods[0]["limit"].get<double>();
    if (p.contains("transactionId")) profile.transaction_id = p["transactionId"].get<int>();
    std::lock_guard lock(mutex);
    advance_locked();
    // 5.16.3: a TxProfile without a matching running transaction is rejected.
    if (purpose == "TxProfile" && (!sockets[n].transaction || profile.transaction_id != sockets[n].transaction))
      return "Rejected";
    profiles[n][purpose] = profile;
    received.push_back({purpose, profile.limit_a, profile.duration_s, profile.transaction_id, n, steady_clock::now()});
    return "Accepted";
  }

  std::string clear_profiles(const json& req) {
    std::lock_guard lock(mutex);
    advance_locked();
    bool any = false;
    for (auto& [n, by_purpose] : profiles) {
      if (req.contains("connectorId") && req["connectorId"] != n) continue;
      for (auto it = by_purpose.begin(); it != by_purpose.end();) {
        const bool match = (!req.contains("id") || req["id"] == it->second.id) &&
                           (!req.contains("chargingProfilePurpose") || req["chargingProfilePurpose"] == it->first);
        if (match) {
          it = by_purpose.erase(it);
          any = true;
        } else {
          ++it;
        }
      }
    }
    return any ? "Accepted" : "Unknown";
  }

  void start_transaction(int n, const std::string& id_tag) {
    double meter_start;
    {
      std::lock_guard lock(mutex);
      sockets[n].pending_id_tag = id_tag;
      meter_start = sockets[n].car.total_energy_wh;
    }
    call("StartTransaction",
         {{"connectorId", n}, {"idTag", id_tag}, {"meterStart", static_cast<long long>(std::floor(meter_start))},
          {"timestamp", ocpp::format_date_time(pile_now())}},
         [self = shared_from_this(), n](const json& r) {
           {
             std::lock_guard lock(self->mutex);
             Socket& s = self->sockets[n];
             s.pending_id_tag.clear();
             if (r["idTagInfo"].value("status", "") != "Accepted" || !s.car.plugged) return;
             self->advance_locked();
             s.transaction = r["transactionId"].get<int>();
             s.transaction_started = self->pile_now_locked();
           }
           self->send_status(n, false);
         });
  }

  void stop_transaction(int n, const char* reason) {
    json req;
    {
      std::lock_guard lock(mutex);
      Socket& s = sockets[n];
      if (!s.transaction) return;
      advance_locked();
      req = {{"transactionId", *s.transaction}, {"meterStop", static_cast<long long>(std::floor(s.car.total_energy_wh))},
             {"timestamp", ocpp::format_date_time(pile_now_locked())}, {"reason", reason}};
      s.transaction.reset();
      profiles[n].erase("TxProfile");  // 3.13.1: a TxProfile ends with its transaction
    }
    call("StopTransaction", std::move(req));
    send_status(n, false);
  }

  // StatusNotification when the status changed (or always, on a new connection).
  void send_status(int n, bool always) {
    std::string now_status;
    TimePoint at;
    {
      std::lock_guard lock(mutex);
      at = pile_now_locked();
      now_status = status_locked(n, at);
      if (!always && now_status == sockets[n].status) return;
      sockets[n].status = now_status;
    }
    call("StatusNotification", {{"connectorId", n}, {"errorCode", "NoError"}, {"status", now_status},
                                {"timestamp", ocpp::format_date_time(at)}});
  }

  json meter_values_locked(int n, const char* context) {
    const Socket& s = sockets.at(n);
    const TimePoint now = pile_now_locked();
    const double p = power_locked(n, now);
    const auto v = [](double x) { return std::to_string(x); };
    json sampled = json::array(
        {{{"value", v(s.car.total_energy_wh)}, {"context", context}, {"measurand", "Energy.Active.Import.Register"}, {"unit", "Wh"}},
         {{"value", v(p)}, {"context", context}, {"measurand", "Power.Active.Import"}, {"unit", "W"}},
         {{"value", v(p / (options.voltage_v * options.phases))}, {"context", context}, {"measurand", "Current.Import"},
          {"unit", "A"}, {"phase", "L1"}}});
    json m = {{"connectorId", n},
              {"meterValue", json::array({{{"timestamp", ocpp::format_date_time(now)}, {"sampledValue", std::move(sampled)}}})}};
    if (s.transaction) m["transactionId"] = *s.transaction;
    return m;
  }

  void send_meter_values(int n, const char* context) {
    json m;
    {
      std::lock_guard lock(mutex);
      advance_locked();
      m = meter_values_locked(n, context);
    }
    call("MeterValues", std::move(m));
  }

  void tick() {
    std::vector<json> meters;
    {
      std::lock_guard lock(mutex);
      advance_locked();
      const MonoPoint now = clock.monotonic();
      for (auto& [n, s] : sockets) {
        if (!is_connected || !s.transaction || now - s.last_meter_values < meter_interval) continue;
        s.last_meter_values = now;
        meters.push_back(meter_values_locked(n, "Sample.Periodic"));
      }
    }
    for (const auto& [n, s] : sockets) send_status(n, false);
    for (auto& m : meters) call("MeterValues", std::move(m));
    tick_timer.expires_after(kTick);
    tick_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->stopping) self->tick();
    });
  }
};

SimOcppChargePoint::SimOcppChargePoint(SimOcppOptions options, const Clock& clock)
    : impl_(std::make_shared<Impl>(std::move(options), clock)) {}

SimOcppChargePoint::~SimOcppChargePoint() { stop(); }

void SimOcppChargePoint::start() {
  if (impl_->thread.joinable()) return;
  impl_->stopping = false;
  impl_->work.emplace(impl_->io.get_executor());
  net::post(impl_->io, [impl = impl_] {
    impl->connect();
    impl->tick();
  });
  impl_->thread = std::thread([impl = impl_] { impl->io.run(); });
}

void SimOcppChargePoint::stop() {
  if (!impl_->thread.joinable()) return;
  net::post(impl_->io, [impl = impl_] {
    impl->stopping = true;
    impl->tick_timer.cancel();
    impl->heartbeat_timer.cancel();
    impl->retry_timer.cancel();
    ++impl->connection;
    impl->close_socket();
    std::lock_guard lock(impl->mutex);
    impl->is_connected = false;
  });
  impl_->work.reset();
  impl_->thread.join();
  impl_->io.restart();
}

void SimOcppChargePoint::drop_connection() {
  net::post(impl_->io, [impl = impl_] {
    const auto conn = impl->connection;
    impl->close_socket();
    impl->lost(conn);
  });
}

void SimOcppChargePoint::plug_in(double energy_need_wh, double car_max_power_w, int connector_id) {
  net::post(impl_->io, [impl = impl_, energy_need_wh, car_max_power_w, connector_id] {
    {
      std::lock_guard lock(impl->mutex);
      impl->advance_locked();
      impl->sockets.at(connector_id).car.plug_in(energy_need_wh, car_max_power_w);
    }
    impl->send_status(connector_id, false);
  });
}

void SimOcppChargePoint::present_card(const std::string& id_tag, int connector_id) {
  net::post(impl_->io, [impl = impl_, id_tag, connector_id] {
    impl->call("Authorize", {{"idTag", id_tag}}, [impl, id_tag, connector_id](const json& r) {
      if (r["idTagInfo"].value("status", "") == "Accepted") impl->start_transaction(connector_id, id_tag);
    });
  });
}

void SimOcppChargePoint::unplug(int connector_id) {
  net::post(impl_->io, [impl = impl_, connector_id] {
    impl->stop_transaction(connector_id, "EVDisconnected");
    {
      std::lock_guard lock(impl->mutex);
      impl->advance_locked();
      impl->sockets.at(connector_id).car.plugged = false;
    }
    impl->send_status(connector_id, false);
  });
}

bool SimOcppChargePoint::connected() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->is_connected;
}
bool SimOcppChargePoint::booted() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->is_booted;
}
std::uint64_t SimOcppChargePoint::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->handshakes;
}
std::optional<int> SimOcppChargePoint::transaction_id(int connector_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sockets.at(connector_id).transaction;
}
double SimOcppChargePoint::limit_w(int connector_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->limit_locked(connector_id, impl_->pile_now_locked()).first;
}
std::string SimOcppChargePoint::limiting_profile(int connector_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->limit_locked(connector_id, impl_->pile_now_locked()).second;
}
double SimOcppChargePoint::power_w(int connector_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->power_locked(connector_id, impl_->pile_now_locked());
}
double SimOcppChargePoint::session_energy_wh(int connector_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sockets.at(connector_id).car.session_energy_wh;
}
seconds SimOcppChargePoint::meter_value_interval() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->meter_interval;
}
seconds SimOcppChargePoint::clock_offset() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->offset;
}
std::vector<ReceivedProfile> SimOcppChargePoint::profiles() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}
std::vector<std::string> SimOcppChargePoint::triggers() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->triggered;
}
std::uint64_t SimOcppChargePoint::call_errors_sent() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->errors_sent;
}
std::uint64_t SimOcppChargePoint::upgrades_refused() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->refused;
}

}  // namespace orderly::sim
