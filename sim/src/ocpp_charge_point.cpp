#include "orderly/sim/ocpp_charge_point.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
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
}  // namespace

struct SimOcppChargePoint::Impl : std::enable_shared_from_this<SimOcppChargePoint::Impl> {
  Impl(SimOcppOptions o, const Clock& c) : options(std::move(o)), clock(c), tick_timer(io), heartbeat_timer(io), retry_timer(io) {
    car.last_update = clock.monotonic();
    meter_interval = options.meter_value_interval;
    heartbeat = options.heartbeat_interval;
  }

  SimOcppOptions options;
  const Clock& clock;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;
  net::steady_timer tick_timer, heartbeat_timer, retry_timer;
  std::optional<websocket::stream<beast::tcp_stream>> ws;
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
  SimCar car;
  bool is_connected = false;
  bool is_booted = false;
  std::optional<int> transaction;
  std::string pending_id_tag;        // a card whose StartTransaction is under way
  MonoPoint transaction_started{};
  TimePoint transaction_started_wall{};
  std::map<std::string, Profile> profiles;  // by purpose
  std::vector<ReceivedProfile> received;
  std::string status = "Available";
  seconds meter_interval;
  seconds heartbeat;
  MonoPoint last_meter_values{};
  std::uint64_t errors_sent = 0;
  std::uint64_t refused = 0;

  // ---- physics (under mutex) ----

  bool in_force(const Profile& p, TimePoint now) const {
    TimePoint start;
    if (p.kind == "Absolute") {
      if (!p.start) return false;
      start = *p.start;
    } else {
      if (!transaction) return false;  // Relative: from the transaction's start
      start = transaction_started_wall;
    }
    if (now < start) return false;
    return !p.duration_s || now < start + seconds(*p.duration_s);
  }

  // 3.13.1: the TxProfile wins over the TxDefaultProfile; the ChargePointMaxProfile caps both.
  std::pair<double, std::string> limit_locked(TimePoint now) const {
    double limit_a = options.max_power_w / (options.voltage_v * options.phases);
    std::string by;
    const auto tx = profiles.find("TxProfile");
    const auto def = profiles.find("TxDefaultProfile");
    if (tx != profiles.end() && transaction && tx->second.transaction_id == transaction && in_force(tx->second, now)) {
      limit_a = tx->second.limit_a;
      by = "TxProfile";
    } else if (def != profiles.end() && in_force(def->second, now)) {
      limit_a = def->second.limit_a;
      by = "TxDefaultProfile";
    }
    if (const auto max = profiles.find("ChargePointMaxProfile");
        max != profiles.end() && in_force(max->second, now) && max->second.limit_a < limit_a) {
      limit_a = max->second.limit_a;
      by = "ChargePointMaxProfile";
    }
    return {std::min(options.max_power_w, limit_a * options.voltage_v * options.phases), by};
  }

  double power_locked(TimePoint now) const {
    if (!transaction || !car.wants_power()) return 0;
    const double p = std::min(limit_locked(now).first, car.max_power_w);
    return p < options.min_current_a * options.voltage_v * options.phases ? 0 : p;
  }

  std::string status_locked(TimePoint now) const {
    if (!car.plugged) return "Available";
    if (!transaction) return "Preparing";
    if (!car.wants_power()) return "SuspendedEV";
    return power_locked(now) > 0 ? "Charging" : "SuspendedEVSE";
  }

  // ---- transport (io thread) ----

  void connect() {
    if (stopping) return;
    const std::uint64_t conn = ++connection;
    ws.emplace(io);
    beast::get_lowest_layer(*ws).expires_after(seconds(5));
    beast::get_lowest_layer(*ws).async_connect(
        tcp::endpoint(net::ip::make_address(options.host), options.port),
        [self = shared_from_this(), conn](beast::error_code ec) {
          if (conn != self->connection) return;
          if (ec) return self->retry();
          // The handshake runs under the stream's 5 s expiry, not under a websocket timeout
          // option: that one's timer outlives a refused handshake by 30 s and holds stop() up.
          beast::get_lowest_layer(*self->ws).expires_after(seconds(5));
          self->ws->set_option(websocket::stream_base::decorator([self](websocket::request_type& r) {
            r.set(beast::http::field::sec_websocket_protocol, ocpp::kSubprotocol);
            r.set(beast::http::field::authorization,
                  ocpp::basic_authorization(self->options.charge_point_id, self->options.password));
          }));
          self->ws->text(true);
          self->ws->async_handshake(self->options.host + ":" + std::to_string(self->options.port),
                                    "/ocpp/" + self->options.charge_point_id,
                                    [self, conn](beast::error_code hec) { self->on_handshake(conn, hec); });
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
    beast::get_lowest_layer(*ws).expires_never();
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
           });
    }
    send_status(true);
    send_next();
    arm_heartbeat();
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
    ws->async_read(buffer, [self = shared_from_this(), conn](beast::error_code ec, std::size_t) {
      if (conn != self->connection) return;
      if (ec) return self->lost(conn);
      const auto data = self->buffer.cdata();
      const std::string text(static_cast<const char*>(data.data()), data.size());
      self->buffer.consume(self->buffer.size());
      self->on_frame(text);
      self->do_read(conn);
    });
  }

  void write(std::string text) {
    writes.push_back(std::move(text));
    write_next();
  }

  void write_next() {
    if (writing || writes.empty() || !ws) return;
    {
      std::lock_guard lock(mutex);
      if (!is_connected) return;
    }
    writing = true;
    ws->async_write(net::buffer(writes.front()), [self = shared_from_this(), conn = connection](beast::error_code ec, std::size_t) {
      if (conn != self->connection) return;
      self->writing = false;
      self->writes.pop_front();
      if (ec) return self->lost(conn);
      self->write_next();
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
      self->call("Heartbeat", json::object());
      self->arm_heartbeat();
    });
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

  void on_call(const ocpp::Call& c) {
    if (auto v = ocpp::validate(c.action, ocpp::Direction::request, c.payload))
      return refuse(ocpp::CallError{c.id, v->code, v->describe(), json::object()});
    if (c.action == "SetChargingProfile") return answer(c.id, {{"status", set_profile(c.payload)}});
    if (c.action == "ClearChargingProfile") return answer(c.id, {{"status", clear_profiles(c.payload)}});
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
      bool ok;
      {
        std::lock_guard lock(mutex);
        ok = car.plugged && !transaction && pending_id_tag.empty();
      }
      answer(c.id, {{"status", ok ? "Accepted" : "Rejected"}});
      if (ok) start_transaction(c.payload["idTag"].get<std::string>());
      return;
    }
    if (c.action == "RemoteStopTransaction") {
      bool ok;
      {
        std::lock_guard lock(mutex);
        ok = transaction && *transaction == c.payload["transactionId"].get<int>();
      }
      answer(c.id, {{"status", ok ? "Accepted" : "Rejected"}});
      if (ok) stop_transaction("Remote");
      return;
    }
    refuse(ocpp::CallError{c.id, ocpp::ErrorCode::NotSupported, c.action + " is not for a charge point", json::object()});
  }

  std::string set_profile(const json& req) {
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
    if (purpose == "TxProfile" && (!transaction || profile.transaction_id != transaction)) return "Rejected";
    profiles[purpose] = profile;
    received.push_back({purpose, profile.limit_a, profile.duration_s, profile.transaction_id, steady_clock::now()});
    return "Accepted";
  }

  std::string clear_profiles(const json& req) {
    std::lock_guard lock(mutex);
    advance_locked();
    bool any = false;
    for (auto it = profiles.begin(); it != profiles.end();) {
      const bool match = (!req.contains("id") || req["id"] == it->second.id) &&
                         (!req.contains("chargingProfilePurpose") || req["chargingProfilePurpose"] == it->first);
      if (match) {
        it = profiles.erase(it);
        any = true;
      } else {
        ++it;
      }
    }
    return any ? "Accepted" : "Unknown";
  }

  void start_transaction(const std::string& id_tag) {
    double meter_start;
    {
      std::lock_guard lock(mutex);
      pending_id_tag = id_tag;
      meter_start = car.total_energy_wh;
    }
    call("StartTransaction",
         {{"connectorId", 1}, {"idTag", id_tag}, {"meterStart", static_cast<long long>(std::floor(meter_start))},
          {"timestamp", ocpp::format_date_time(clock.now())}},
         [self = shared_from_this()](const json& r) {
           {
             std::lock_guard lock(self->mutex);
             self->pending_id_tag.clear();
             if (r["idTagInfo"].value("status", "") != "Accepted" || !self->car.plugged) return;
             self->advance_locked();
             self->transaction = r["transactionId"].get<int>();
             self->transaction_started = self->clock.monotonic();
             self->transaction_started_wall = self->clock.now();
           }
           self->send_status(false);
         });
  }

  void stop_transaction(const char* reason) {
    json req;
    {
      std::lock_guard lock(mutex);
      if (!transaction) return;
      advance_locked();
      req = {{"transactionId", *transaction}, {"meterStop", static_cast<long long>(std::floor(car.total_energy_wh))},
             {"timestamp", ocpp::format_date_time(clock.now())}, {"reason", reason}};
      transaction.reset();
      profiles.erase("TxProfile");  // 3.13.1: a TxProfile ends with its transaction
    }
    call("StopTransaction", std::move(req));
    send_status(false);
  }

  void advance_locked() { car.integrate_to(clock.monotonic(), power_locked(clock.now())); }

  // StatusNotification when the status changed (or always, on a new connection).
  void send_status(bool always) {
    std::string now_status;
    {
      std::lock_guard lock(mutex);
      now_status = status_locked(clock.now());
      if (!always && now_status == status) return;
      status = now_status;
    }
    call("StatusNotification", {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", now_status},
                                {"timestamp", ocpp::format_date_time(clock.now())}});
  }

  void tick() {
    json meter;
    {
      std::lock_guard lock(mutex);
      advance_locked();
      const MonoPoint now = clock.monotonic();
      if (is_connected && transaction && now - last_meter_values >= meter_interval) {
        last_meter_values = now;
        const double p = power_locked(clock.now());
        const auto v = [](double x) { return std::to_string(x); };
        meter = {{"connectorId", 1},
                 {"transactionId", *transaction},
                 {"meterValue",
                  json::array({{{"timestamp", ocpp::format_date_time(clock.now())},
                                {"sampledValue",
                                 json::array({{{"value", v(car.total_energy_wh)}, {"measurand", "Energy.Active.Import.Register"}, {"unit", "Wh"}},
                                              {{"value", v(p)}, {"measurand", "Power.Active.Import"}, {"unit", "W"}},
                                              {{"value", v(p / (options.voltage_v * options.phases))},
                                               {"measurand", "Current.Import"}, {"unit", "A"}, {"phase", "L1"}}})}}})}};
      }
    }
    send_status(false);
    if (!meter.is_null()) call("MeterValues", std::move(meter));
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
    if (impl->ws) {
      beast::error_code ignored;
      beast::get_lowest_layer(*impl->ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(*impl->ws).socket().close(ignored);
    }
    std::lock_guard lock(impl->mutex);
    impl->is_connected = false;
  });
  impl_->work.reset();
  impl_->thread.join();
  impl_->io.restart();
}

void SimOcppChargePoint::plug_in(double energy_need_wh, double car_max_power_w) {
  net::post(impl_->io, [impl = impl_, energy_need_wh, car_max_power_w] {
    {
      std::lock_guard lock(impl->mutex);
      impl->advance_locked();
      impl->car.plug_in(energy_need_wh, car_max_power_w);
    }
    impl->send_status(false);
  });
}

void SimOcppChargePoint::present_card(const std::string& id_tag) {
  net::post(impl_->io, [impl = impl_, id_tag] {
    impl->call("Authorize", {{"idTag", id_tag}}, [impl, id_tag](const json& r) {
      if (r["idTagInfo"].value("status", "") == "Accepted") impl->start_transaction(id_tag);
    });
  });
}

void SimOcppChargePoint::unplug() {
  net::post(impl_->io, [impl = impl_] {
    impl->stop_transaction("EVDisconnected");
    {
      std::lock_guard lock(impl->mutex);
      impl->advance_locked();
      impl->car.plugged = false;
    }
    impl->send_status(false);
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
std::optional<int> SimOcppChargePoint::transaction_id() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->transaction;
}
double SimOcppChargePoint::limit_w() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->limit_locked(impl_->clock.now()).first;
}
std::string SimOcppChargePoint::limiting_profile() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->limit_locked(impl_->clock.now()).second;
}
double SimOcppChargePoint::power_w() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->power_locked(impl_->clock.now());
}
double SimOcppChargePoint::session_energy_wh() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->car.session_energy_wh;
}
seconds SimOcppChargePoint::meter_value_interval() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->meter_interval;
}
std::vector<ReceivedProfile> SimOcppChargePoint::profiles() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
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
