#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <future>
#include <map>
#include <set>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <utility>

#include "orderly/base/units.hpp"
#include "orderly/drivers/mqtt.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"
#include "orderly/drivers/mqtt_payload.hpp"
#include "orderly/drivers/points.hpp"
#include "tls_probe.hpp"

namespace orderly::drivers {
namespace {

using namespace std::chrono_literals;

// logfmt quoting, as the gateway's log lines use (`key="value with spaces"`).
std::string q(const std::string& v) {
  bool bare = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) bare = false;
  if (bare) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  }
  return out + '"';
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// Paho hands us a return code only: CONNACK codes from MQTT 3.1.1 section 3.2.2.3, negative
// ones are Paho C's MQTTASYNC_* (-1 covers refused and unreachable TCP connections).
std::string connect_failure_text(int rc) {
  switch (rc) {
    case 1: return "broker refused the connection: unacceptable protocol version (CONNACK 1)";
    case 2: return "broker refused the client id (CONNACK 2)";
    case 3: return "broker unavailable (CONNACK 3)";
    case 4: return "bad user name or password (CONNACK 4) - check [mqtt] username/password";
    case 5: return "not authorized (CONNACK 5) - check the broker's ACL for this client";
    default: break;
  }
  return "TCP connection refused, unreachable or timed out (Paho return code " + std::to_string(rc) + ")";
}

constexpr int kMaxBufferedMessages = 16384;

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}


}  // namespace

struct MqttDevices::Impl : std::enable_shared_from_this<MqttDevices::Impl> {
  using DeviceKind = mqtt::DeviceKind;  // the native protocol's, not the profiles' DeviceKind
  struct PendingAck {
    std::uint64_t gateway_seq = 0;
    double requested_a = 0;  // profile chargers: the current sent
    std::optional<FailsafeSettings> failsafe;  // set: this is a failsafe command, not a limit
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  // A native charger's failsafe settings: what the gateway wants and what the pile confirmed.
  struct FailsafeState {
    FailsafeSettings wanted;
    std::optional<FailsafeSettings> confirmed;
    bool in_flight = false;
  };

  // A profile-described charger: what its [mqtt] section says, with {base} expanded. Immutable
  // after start() except `latest`, which lives on the core.
  struct ProfileState {
    std::string base_topic;
    std::map<std::string, std::vector<MqttPointDef>> reads;  // by expanded topic
    MqttPointDef set_current;                                // topic expanded
    std::optional<MqttPointDef> enable;                      // topic expanded; set = pauses by it
    std::string ack_topic;                                   // expanded; empty = no ack
    std::string ack_json_path;
    std::string ack_success;                                 // set: the ack is a result text
    MqttAvailabilityDef availability;                        // topic expanded; empty = none
    PointValues latest;                                      // last good value of every read point
    SessionEnergyFromTotal session_energy;                   // on the core, as `latest`
  };

  // Everything about one device; touched on the core executor only, except `kind`, `id` and
  // `bounds`, which are immutable after start() and read by the decoder on Paho's thread.
  struct Device {
    DeviceKind kind = DeviceKind::charger;
    std::string id;
    Capabilities caps;
    mqtt::ChargerBounds bounds;
    Health health;
    std::optional<bool> online_flag;     // last "online" message, if any
    // Monotonic: an offline timeout measured on the wall clock would fire for every device at
    // once on a step forward, and never on a step back.
    std::optional<MonoPoint> last_status;
    std::chrono::milliseconds stale_after{0};     // 0 = options_.stale_after
    std::string offline_reason;
    MonoPoint last_error_log{};
    std::uint64_t suppressed_logs = 0;
    bool ever_logged = false;
    std::uint64_t reported_errors = 0;   // Health::errors in the last DeviceEvents::health
    std::uint64_t reported_dropped = 0;  // Health::dropped in the last DeviceEvents::health
    std::map<std::uint64_t, PendingAck> pending;  // by wire seq
    std::unique_ptr<ProfileState> profile;        // set for profile-described chargers
    std::optional<FailsafeState> failsafe;        // native chargers the gateway configures
    // Paho's callback thread only: the message rate limit (MqttOptions::max_messages_per_s).
    struct RateBucket {
      double tokens = 0;
      MonoPoint refilled{};         // {} = no message yet: the bucket starts full
      std::uint64_t unreported = 0;  // dropped, not yet posted to the core
      MonoPoint reported{};
    } rate;
  };

  class Charger final : public ChargerDriver {
   public:
    Charger(std::shared_ptr<Impl> impl, Device& d) : impl_(std::move(impl)), d_(d) {}
    const std::string& id() const override { return d_.id; }
    Capabilities capabilities() const override { return d_.caps; }
    void apply_limit(const PowerLimit& limit) override { impl_->apply_limit(d_, limit); }

   private:
    std::shared_ptr<Impl> impl_;
    Device& d_;
  };

  class Meter final : public MeterDriver {
   public:
    Meter(std::shared_ptr<Impl> impl, Device& d) : impl_(std::move(impl)), d_(d) {}
    const std::string& id() const override { return d_.id; }

   private:
    std::shared_ptr<Impl> impl_;
    Device& d_;
  };

  // What the Paho thread hands to the core: a decoded message or why it was rejected.
  struct Inbound {
    Device* device = nullptr;
    std::string topic;
    std::string leaf;
    std::optional<ChargerSnapshot> charger;
    std::optional<MeterSnapshot> meter;
    std::optional<mqtt::AckMessage> ack;
    std::optional<bool> online;
    PointValues profile_values;
    std::optional<double> profile_ack_a;
    std::optional<std::string> profile_ack_result;
    std::string error;
  };

  Impl(boost::asio::any_io_executor core, const Clock& clock, MqttOptions options, DeviceEvents events)
      : core_(std::move(core)),
        clock_(clock),
        options_(std::move(options)),
        events_(std::move(events)),
        host_port_(options_.host + ":" + std::to_string(options_.port)),
        uri_((options_.tls ? "ssl://" : "tcp://") + host_port_),
        reconnect_timer_(core_),
        sweep_timer_(core_) {}

  ~Impl() {
    shutdown();
    client_.reset();
  }

  Device& add(DeviceKind kind, const std::string& id, const Capabilities& caps) {
    if (started_) throw std::logic_error("MqttDevices: add device \"" + id + "\" before start()");
    if (auto why = mqtt::check_device_id(id); !why.empty()) throw std::invalid_argument("MQTT device: " + why);
    auto& map = kind == DeviceKind::charger ? chargers_ : meters_;
    if (map.count(id))
      throw std::invalid_argument(std::string("MQTT ") + (kind == DeviceKind::charger ? "charger" : "meter") + " \"" + id +
                                  "\" is configured twice; device ids must be unique");
    auto d = std::make_unique<Device>();
    d->kind = kind;
    d->id = id;
    d->caps = caps;
    d->bounds = {caps.max_power_w, caps.max_current_a};
    d->offline_reason = "no status received yet";
    d->health.last_error = d->offline_reason;
    return *map.emplace(id, std::move(d)).first->second;
  }

  Device& add_profile(const std::string& id, const DeviceProfile& profile, const std::string& base_topic,
                      Capabilities caps) {
    const std::string where = "charger \"" + id + "\" (profile '" + profile.id + "')";
    if (!profile.mqtt)
      throw std::invalid_argument(where + ": the profile has no [mqtt] section; MQTT profile chargers need one");
    const MqttDef& def = *profile.mqtt;
    auto set_it = def.write.find("set_current_a");
    if (set_it == def.write.end())
      throw std::invalid_argument(where + ": the profile has no [mqtt.write.set_current_a]; the gateway cannot set a limit");
    auto st = std::make_unique<ProfileState>();
    st->base_topic = base_topic.empty() ? def.base_topic : base_topic;
    auto topic_ok = [&](const std::string& topic, const std::string& what) {
      if (topic.empty() || topic.find_first_of("+#") != std::string::npos)
        throw std::invalid_argument(where + ": " + what + " topic '" + topic +
                                    "' is empty or contains an MQTT wildcard (+ or #); fix mqtt_base_topic or the profile");
      if (profile_topics_.count(topic))
        throw std::invalid_argument(where + ": topic '" + topic + "' is already used by charger \"" +
                                    profile_topics_.at(topic)->id + "\"; give each pile its own mqtt_base_topic");
    };
    for (const auto& [name, point] : def.read) {
      MqttPointDef p = point;
      p.topic = mqtt::expand_base(p.topic, st->base_topic);
      st->reads[p.topic].push_back(p);
    }
    st->set_current = set_it->second;
    st->set_current.topic = mqtt::expand_base(st->set_current.topic, st->base_topic);
    topic_ok(st->set_current.topic, "set_current_a");
    if (auto en = def.write.find("enable"); en != def.write.end() && profile.control.pause == PauseMethod::enable_register) {
      st->enable = en->second;
      st->enable->topic = mqtt::expand_base(st->enable->topic, st->base_topic);
      if (st->enable->topic != st->set_current.topic) topic_ok(st->enable->topic, "enable");
    }
    if (!def.ack_topic.empty()) st->ack_topic = mqtt::expand_base(def.ack_topic, st->base_topic);
    st->ack_json_path = def.ack_json_path;
    st->ack_success = def.ack_success;
    for (const auto& [topic, points] : st->reads) topic_ok(topic, "read point " + points.front().name);
    if (!st->ack_topic.empty() && !st->reads.count(st->ack_topic)) topic_ok(st->ack_topic, "ack");
    st->availability = def.availability;
    if (!st->availability.topic.empty()) {
      st->availability.topic = mqtt::expand_base(st->availability.topic, st->base_topic);
      topic_ok(st->availability.topic, "availability");
      if (st->reads.count(st->availability.topic) || st->availability.topic == st->ack_topic)
        throw std::invalid_argument(where + ": availability topic '" + st->availability.topic +
                                    "' is also a read or ack topic; a presence word is not a measurement");
    }
    // Failsafe is what the device does on its own when the gateway goes quiet: the profile says.
    caps.failsafe = profile.supports_failsafe();
    // The profile says how (profile.cpp refuses an MQTT charger that does not).
    caps.pause = profile.control.pause;
    caps.measures_phase_currents =
        reads_phase_currents(caps.phases, [&def](const std::string& name) { return def.read.count(name) > 0; });
    Device& d = add(DeviceKind::charger, id, caps);
    // A device that only publishes every N s is not offline after the native protocol's 3 s.
    d.stale_after = std::max(options_.stale_after, std::chrono::milliseconds(static_cast<long>(3000 * def.publish_period_s)));
    for (const auto& [topic, points] : st->reads) profile_topics_[topic] = &d;
    if (!st->ack_topic.empty()) profile_topics_[st->ack_topic] = &d;
    if (!st->availability.topic.empty()) profile_topics_[st->availability.topic] = &d;
    d.profile = std::move(st);
    return d;
  }

  // ---- lifecycle (core executor)

  void start() {
    if (started_) return;
    started_ = true;
    stopping_ = false;
    try {
      // Paho C queues at most 100 outgoing messages by default (MQTTAsync_createOptions
      // maxBufferedMessages) and refuses more with "No more messages can be buffered": one control
      // tick sending limits to a few hundred piles at once hit it in tests/mqtt. Room for 16 limits
      // per pile of a 1000-pile site is plenty.
      client_ = std::make_unique<::mqtt::async_client>(uri_, options_.client_id, kMaxBufferedMessages, nullptr);
    } catch (const ::mqtt::exception& e) {
      // A malformed address is a configuration error, unlike an unreachable broker.
      started_ = false;
      throw std::invalid_argument("MQTT broker address " + uri_ + " is not usable (" + e.what() +
                                  "): check [mqtt] host and port");
    }
    // The Paho callbacks capture `this` and read only immutable members; anything stateful is
    // posted to the core with a weak reference, so a late callback after shutdown is a no-op.
    client_->set_connected_handler([this](const std::string&) { post([](Impl& self) { self.on_connected(); }); });
    client_->set_connection_lost_handler([this](const std::string& cause) {
      post([cause](Impl& self) { self.on_connection_lost(cause.empty() ? "connection lost" : cause); });
    });
    client_->set_message_callback([this](::mqtt::const_message_ptr msg) {
      if (msg) on_message_paho(msg->get_topic(), msg->get_payload_str());
    });
    connect();
    schedule_sweep();
  }

  void stop() {
    if (!started_ || stopping_) return;
    stopping_ = true;
    reconnect_timer_.cancel();
    sweep_timer_.cancel();
    for (auto* map : {&chargers_, &meters_})
      for (auto& [id, d] : *map) {
        for (auto& [seq, p] : d->pending) p.timer->cancel();
        d->pending.clear();
        if (d->failsafe) d->failsafe->in_flight = false;
      }
    if (client_) {
      try {
        if (client_->is_connected()) {
          // A clean DISCONNECT suppresses the will (MQTT 3.1.1 section 3.14.4), so say it ourselves.
          client_->publish(mqtt::gateway_online_topic(options_.topic_prefix), mqtt::kOffline.data(), mqtt::kOffline.size(),
                           1, true)->wait_for(1s);
          client_->disconnect()->wait_for(2s);
        }
      } catch (const ::mqtt::exception& e) {
        spdlog::debug("mqtt disconnect failed broker={} error={}", uri_, q(e.what()));
      }
    }
    connected_ = false;
    spdlog::info("mqtt stopped broker={}", uri_);
  }

  void shutdown() {
    stop();
    if (probe_.valid()) probe_.wait();  // it posts to core_, which may not outlive us
    if (client_) {
      try {
        client_->disable_callbacks();
      } catch (const std::exception&) {
      }
    }
  }

  template <class F>
  void post(F&& f) {
    boost::asio::post(core_, [w = weak_from_this(), f = std::forward<F>(f)]() mutable {
      if (auto self = w.lock(); self && !self->stopping_) f(*self);
    });
  }

  class ConnectListener final : public ::mqtt::iaction_listener {
   public:
    explicit ConnectListener(Impl& impl) : impl_(impl) {}
    void on_failure(const ::mqtt::token& tok) override {
      const int rc = tok.get_return_code();
      impl_.post([rc](Impl& self) { self.on_attempt_failed(rc); });
    }
    void on_success(const ::mqtt::token&) override {}

   private:
    Impl& impl_;
  };

  void connect() {
    ::mqtt::connect_options opts;
    opts.set_clean_session(true);
    opts.set_keep_alive_interval(options_.keepalive);
    opts.set_connect_timeout(5s);
    opts.set_automatic_reconnect(false);  // we back off on the core, the same way for a first failure as for a loss
    opts.set_will(::mqtt::will_options(mqtt::gateway_online_topic(options_.topic_prefix), std::string(mqtt::kOffline), 1, true));
    if (!options_.username.empty()) {
      opts.set_user_name(options_.username);
      opts.set_password(options_.password);
    }
    if (options_.tls) {
      ::mqtt::ssl_options ssl;
      // Paho C leaves host name checking off by default (MQTTAsync_SSLOptions.verify = 0): a
      // certificate of any host signed by the CA would pass, so turn it on.
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(true);
      if (!options_.ca_file.empty()) ssl.set_trust_store(options_.ca_file);  // else OpenSSL's default paths
      if (!options_.cert_file.empty()) {
        ssl.set_key_store(options_.cert_file);
        ssl.set_private_key(options_.key_file);
      }
      opts.set_ssl(std::move(ssl));
    }
    try {
      client_->connect(opts, nullptr, connect_listener_);
    } catch (const ::mqtt::exception& e) {
      on_connect_failed(e.what());
    }
  }

  // Paho gives a TLS failure as return code -1 only: find out why with a handshake of our own,
  // off the core thread (it blocks), then report and back off as for any failure.
  void on_attempt_failed(int rc) {
    if (stopping_) return;
    if (!options_.tls || rc > 0) return on_connect_failed(connect_failure(rc, {}));
    const mqtt_tls::ProbeTarget target{options_.host, options_.port, options_.ca_file, options_.cert_file,
                                       options_.key_file};
    // The previous probe has posted its result already, so this does not wait.
    probe_ = std::async(std::launch::async, [target, rc, core = core_, w = weak_from_this()] {
      std::string why = mqtt_tls::probe(target, 1500ms);
      boost::asio::post(core, [w, rc, why = std::move(why)] {
        if (auto self = w.lock(); self && !self->stopping_) self->on_connect_failed(self->connect_failure(rc, why));
      });
    });
  }

  // Why a connection attempt with Paho return code `rc` failed, with what to check; `tls_failure`
  // is the probe's finding.
  std::string connect_failure(int rc, const std::string& tls_failure) const {
    if (!options_.tls)
      return connect_failure_text(rc) +
             (rc < 0 ? "; if the broker's port is a TLS listener, set [mqtt] tls = true and its ca_file" : "");
    if (rc > 0) return connect_failure_text(rc);  // TLS held, the broker answered with a CONNACK code
    if (mqtt_tls::unreachable(tls_failure))
      return "cannot reach " + host_port_ + " (" + tls_failure + "); " + mqtt_tls::advice(tls_failure, options_.host);
    if (!tls_failure.empty())
      return "TLS handshake with " + host_port_ + " failed: " + tls_failure + "; " +
             mqtt_tls::advice(tls_failure, options_.host);
    return "TLS connection to " + host_port_ + " failed (Paho return code " + std::to_string(rc) +
           ") although a test handshake with the same files succeeded; see the broker's log";
  }

  void on_connect_failed(const std::string& why) {
    if (stopping_) return;
    // Logged once per reason: a broker that stays down does not flood the log, a new reason
    // (e.g. a certificate replaced by a wrong one) is still seen.
    if (!failure_logged_ || why != last_failure_) {
      spdlog::warn("mqtt broker unreachable broker={} error={} action={}", uri_, q(why),
                   q("MQTT devices report offline; retrying in the background - check that mosquitto runs and "
                     "[mqtt] host/port" + std::string(options_.tls ? "/TLS files" : "") + " in the config"));
      failure_logged_ = true;
    }
    const bool changed = why != last_failure_;
    last_failure_ = why;
    if (changed) refresh_all();  // the devices' offline reason carries it to the status
    schedule_reconnect();
  }

  void schedule_reconnect() {
    backoff_ = backoff_.count() == 0 ? options_.reconnect_min_delay : std::min(backoff_ * 2, options_.reconnect_max_delay);
    reconnect_timer_.expires_after(backoff_);
    reconnect_timer_.async_wait([w = weak_from_this()](boost::system::error_code ec) {
      if (auto self = w.lock(); self && !ec && !self->stopping_) self->connect();
    });
  }

  void on_connected() {
    connected_ = true;
    backoff_ = 0ms;
    spdlog::info("mqtt connected broker={} client_id={}{}", uri_, options_.client_id,
                 failure_logged_ ? " (connection restored)" : "");
    failure_logged_ = false;
    last_failure_.clear();
    // Status and acks are taken at QoS 0: the broker runs on this box, so loopback TCP does not
    // lose them; a clean session drops in-flight QoS 1 messages on reconnect anyway; a lost
    // status is replaced within one period and a lost ack ends in the ack timeout. QoS 1 would
    // add a PUBACK from us per message, and those small writes meet Nagle's algorithm and the
    // broker's delayed ACKs: measured ~35 ms per limit round trip instead of ~0.5 ms (tests/mqtt/mqtt_bench).
    std::vector<std::string> topics;
    ::mqtt::iasync_client::qos_collection qos;
    auto want = [&](DeviceKind kind, const std::string& id, const char* leaf, int q) {
      topics.push_back(mqtt::device_topic(options_.topic_prefix, kind, id, leaf));
      qos.push_back(q);
    };
    for (auto& [topic, d] : profile_topics_) {
      topics.push_back(topic);
      qos.push_back(0);
    }
    for (auto& [id, d] : chargers_) {
      if (d->profile) continue;
      want(DeviceKind::charger, id, "status", 0);
      want(DeviceKind::charger, id, "online", 1);
      want(DeviceKind::charger, id, "ack", 0);
    }
    for (auto& [id, d] : meters_) {
      want(DeviceKind::meter, id, "status", 0);
      want(DeviceKind::meter, id, "online", 1);
    }
    try {
      if (!topics.empty()) client_->subscribe(::mqtt::string_collection::create(topics), qos);
      client_->publish(mqtt::gateway_online_topic(options_.topic_prefix), mqtt::kOnline.data(), mqtt::kOnline.size(), 1, true);
    } catch (const ::mqtt::exception& e) {
      spdlog::warn("mqtt subscribe failed broker={} error={}", uri_, q(e.what()));
    }
    refresh_all();
  }

  void on_connection_lost(const std::string& why) {
    connected_ = false;
    spdlog::warn("mqtt connection lost broker={} error={} action={}", uri_, q(why), q("reconnecting in the background"));
    failure_logged_ = true;
    backoff_ = 0ms;
    refresh_all();
    schedule_reconnect();
  }

  // ---- inbound (Paho thread: decode only, then post)

  void on_message_paho(const std::string& topic, const std::string& payload) {
    if (auto pit = profile_topics_.find(topic); pit != profile_topics_.end()) {
      if (!admit(*pit->second)) return;
      Inbound in = decode_profile(*pit->second, topic, payload);
      post([in = std::move(in)](Impl& self) { self.on_inbound(in); });
      return;
    }
    auto ref = mqtt::parse_topic(options_.topic_prefix, topic);
    if (!ref) return;
    auto& map = ref->kind == DeviceKind::charger ? chargers_ : meters_;
    auto it = map.find(ref->id);
    if (it == map.end()) return;  // not ours (only registered devices are subscribed)
    if (!admit(*it->second)) return;
    Inbound in;
    in.device = it->second.get();
    in.topic = topic;
    in.leaf = ref->leaf;
    if (ref->leaf == "online") {
      auto r = mqtt::decode_online(payload);
      in.online = r.value;
      in.error = r.error;
    } else if (ref->leaf == "status" && ref->kind == DeviceKind::charger) {
      auto r = mqtt::decode_charger_status(payload, in.device->bounds);
      in.charger = std::move(r.value);
      in.error = std::move(r.error);
    } else if (ref->leaf == "status") {
      auto r = mqtt::decode_meter_status(payload);
      in.meter = std::move(r.value);
      in.error = std::move(r.error);
    } else if (ref->leaf == "ack" && ref->kind == DeviceKind::charger) {
      auto r = mqtt::decode_ack(payload);
      in.ack = std::move(r.value);
      in.error = std::move(r.error);
    } else {
      return;
    }
    post([in = std::move(in)](Impl& self) { self.on_inbound(in); });
  }

  // Paho thread: a token bucket per device, in real time like the transport's other timings
  // (the simulators publish on real periods whatever the injected clock's speed). Drops are
  // counted here and handed to the core at most once a second, and with the next message let
  // through, so a flood costs the core one message per second, not one per message.
  bool admit(Device& d) {
    auto& r = d.rate;
    const MonoPoint now = MonoClock::now();
    const double burst = std::max(1.0, options_.message_burst);
    r.tokens = r.refilled == MonoPoint{}
                   ? burst
                   : std::min(burst, r.tokens + std::chrono::duration<double>(now - r.refilled).count() *
                                                    options_.max_messages_per_s);
    r.refilled = now;
    const bool admitted = r.tokens >= 1;
    if (admitted) r.tokens -= 1;
    else ++r.unreported;
    if (r.unreported > 0 && (admitted || now - r.reported >= std::chrono::seconds(1))) {
      r.reported = now;
      post([&d, n = std::exchange(r.unreported, 0)](Impl& self) { self.record_dropped(d, n); });
    }
    return admitted;
  }

  // Paho thread: reads only immutable parts of `d` (caps, profile definitions).
  Inbound decode_profile(Device& d, const std::string& topic, const std::string& payload) {
    Inbound in;
    in.device = &d;
    in.topic = topic;
    const ProfileState& st = *d.profile;
    if (topic == st.availability.topic) {
      std::string error;
      const auto word = mqtt::extract_value(payload, st.availability.json_path, error);
      if (word == st.availability.online || word == st.availability.offline) in.online = word == st.availability.online;
      else in.error = "availability: " + (word ? "'" + word->substr(0, 40) + "' is neither '" + st.availability.online +
                                                     "' nor '" + st.availability.offline + "'"
                                               : error);
      return in;
    }
    if (topic == st.ack_topic && !st.ack_success.empty()) {
      std::string error;
      auto text = mqtt::extract_value(payload, st.ack_json_path, error);
      if (text) in.profile_ack_result = *text;
      else in.error = "acknowledgement: " + error;
      return in;
    }
    if (topic == st.ack_topic) {
      std::string error;
      auto text = mqtt::extract_value(payload, st.ack_json_path, error);
      auto amps = text ? mqtt::parse_number(*text) : std::nullopt;
      if (amps && *amps >= 0 && *amps <= d.caps.max_current_a * 1.5 + 1) in.profile_ack_a = *amps;
      else if (text && st.reads.count(topic) == 0) in.error = "acknowledged current '" + *text + "' is not a current in 0.." +
                                                             std::to_string(static_cast<int>(d.caps.max_current_a)) + " A";
      else if (!text && st.reads.count(topic) == 0) in.error = "acknowledgement: " + error;
      if (!st.reads.count(topic)) return in;
    }
    for (const MqttPointDef& p : st.reads.at(topic)) {
      std::string error;
      auto text = mqtt::extract_value(payload, p.json_path, error);
      if (!text) {
        in.error = p.name + ": " + error;
        return in;
      }
      if (!p.value_map.empty()) {
        auto m = p.value_map.find(*text);
        if (m == p.value_map.end()) {
          in.error = p.name + ": value '" + text->substr(0, 40) + "' is not in the profile's map";
          return in;
        }
        *text = m->second;
      }
      if (p.name == "state" && !charger_state_from_string(*text)) {
        in.error = "state: '" + text->substr(0, 40) + "' is not a charger state";
        return in;
      }
      if (is_word_point(p.name)) {
        in.profile_values.words[p.name] = *text;
        continue;
      }
      auto num = mqtt::parse_number(*text);
      if (!num) {
        in.error = p.name + ": '" + text->substr(0, 40) + "' is not a finite number";
        return in;
      }
      const double value = *num * p.scale;
      if (auto why = out_of_range(d.caps, p.name, value); !why.empty()) {
        in.error = p.name + ": " + why;
        return in;
      }
      in.profile_values.numbers[p.name] = value;
    }
    return in;
  }

  // Generous plausibility bounds: they catch unit mix-ups and garbage, not measurement noise.
  static std::string out_of_range(const Capabilities& caps, const std::string& name, double v) {
    auto outside = [&](double lo, double hi) {
      return v < lo || v > hi ? std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi) : std::string();
    };
    const double i_max = caps.max_current_a * 1.5 + 1;
    const double p_max = caps.max_power_w * 1.5 + 1000;
    if (name.rfind("current_", 0) == 0 || name == "applied_current_a") return outside(caps.bidirectional ? -i_max : 0, i_max);
    if (name.rfind("voltage_", 0) == 0) return outside(0, 500);
    if (name == "power_w") return outside(caps.bidirectional ? -p_max : 0, p_max);
    if (name == "session_energy_wh" || name == "total_energy_wh") return outside(0, 1e12);
    return {};
  }

  void on_profile_inbound(Device& d, const Inbound& in) {
    const Instant now = clock_.instant();
    if (in.online) {
      d.online_flag = *in.online;
      refresh(d);
      return;
    }
    if (in.profile_ack_a || in.profile_ack_result) on_profile_ack(d, in.profile_ack_a, in.profile_ack_result);
    if (in.profile_values.numbers.empty() && in.profile_values.words.empty()) return;
    PointValues& latest = d.profile->latest;
    for (const auto& [name, value] : in.profile_values.numbers) latest.numbers[name] = value;
    for (const auto& [name, word] : in.profile_values.words) latest.words[name] = word;
    d.last_status = now.mono;
    d.health.last_good = now.wall;
    ++d.health.reads_ok;
    refresh(d);
    ChargerSnapshot s = charger_snapshot(latest, std::max(1, d.caps.phases));
    d.profile->session_energy.apply(s);
    s.at = now.wall;
    if (events_.charger_snapshot) events_.charger_snapshot(d.id, s);
  }

  // Neither an echo nor a result carries a sequence number: it answers every command still
  // pending, since each supersedes the one before (the device applies the last one it heard).
  // An echo says the current applied; a result only whether the command was carried out.
  void on_profile_ack(Device& d, std::optional<double> echoed_a, const std::optional<std::string>& result) {
    if (d.pending.empty()) return;
    const bool accepted = !result || *result == d.profile->ack_success;
    auto pending = std::move(d.pending);
    d.pending.clear();
    for (auto& [seq, p] : pending) {
      p.timer->cancel();
      const double applied_w = power_w_at_nominal(echoed_a.value_or(p.requested_a), std::max(1, d.caps.phases));
      const std::string error = accepted ? std::string() : "the pile answered '" + result->substr(0, 80) + "', not '" +
                                                               d.profile->ack_success + "'";
      if (events_.limit_ack)
        events_.limit_ack(d.id, LimitAck{p.gateway_seq, accepted, accepted ? applied_w : kNotMeasured, error});
    }
  }

  // ---- inbound (core)

  void on_inbound(const Inbound& in) {
    Device& d = *in.device;
    if (!in.error.empty()) {
      record_error(d, in.topic, in.error);
      return;
    }
    if (d.profile) {
      on_profile_inbound(d, in);
      return;
    }
    const Instant now = clock_.instant();
    if (in.online) {
      d.online_flag = *in.online;
      refresh(d);
      return;
    }
    if (in.ack) {
      on_ack(d, *in.ack);
      return;
    }
    // A status: stamped with our receipt time, because cheap piles often run without NTP and
    // their "ts" may be hours off; "ts" is validated but informational.
    d.last_status = now.mono;
    d.health.last_good = now.wall;
    ++d.health.reads_ok;
    refresh(d);
    if (in.charger) {
      ChargerSnapshot s = *in.charger;
      s.at = now.wall;
      if (events_.charger_snapshot) events_.charger_snapshot(d.id, s);
    } else if (in.meter) {
      MeterSnapshot s = *in.meter;
      s.at = now.wall;
      if (events_.meter_snapshot) events_.meter_snapshot(d.id, s);
    }
  }

  void record_error(Device& d, const std::string& topic, const std::string& error) {
    ++d.health.errors;
    d.health.last_error = error;
    log_throttled(d, [&](const std::string& suppressed) {
      spdlog::warn("mqtt message rejected {}={} topic={} error={}{}", kind_name(d), q(d.id), q(topic), q(error),
                   suppressed);
    });
  }

  void record_dropped(Device& d, std::uint64_t n) {
    d.health.dropped += n;
    d.health.last_error = std::to_string(d.health.dropped) + " messages dropped over the rate limit of " +
                          std::to_string(static_cast<int>(options_.max_messages_per_s)) + "/s";
    log_throttled(d, [&](const std::string& suppressed) {
      spdlog::warn("mqtt messages over the rate limit dropped {}={} dropped={} total_dropped={} limit_per_s={}{}",
                   kind_name(d), q(d.id), n, d.health.dropped, options_.max_messages_per_s, suppressed);
    });
  }

  static const char* kind_name(const Device& d) { return d.kind == DeviceKind::charger ? "charger" : "meter"; }

  // A device's warnings are logged at most once per error_log_interval; the next line says how
  // many were held back, and Health counts every one.
  template <class Log>
  void log_throttled(Device& d, Log&& log) {
    const MonoPoint now = clock_.monotonic();
    if (!d.ever_logged || now - d.last_error_log >= scaled(options_.error_log_interval)) {
      log(d.suppressed_logs ? " suppressed=" + std::to_string(d.suppressed_logs) : std::string());
      d.ever_logged = true;
      d.last_error_log = now;
      d.suppressed_logs = 0;
      emit_health(d);
    } else {
      // A flood must not flood the core either: the periodic sweep reports the count.
      ++d.suppressed_logs;
    }
  }

  // ---- limits (core)

  void apply_limit(Device& d, const PowerLimit& limit) {
    auto reject = [&](std::string why) {
      post([&d, seq = limit.seq, why = std::move(why)](Impl& self) {
        if (self.events_.limit_ack) self.events_.limit_ack(d.id, LimitAck{seq, false, kNotMeasured, why});
      });
    };
    if (!std::isfinite(limit.power_w)) return reject("limit power is not a finite number");
    if (limit.power_w < 0 && !d.caps.bidirectional)
      return reject("charger " + d.id + " cannot discharge (not bidirectional); negative limit refused");
    if (limit.valid_for.count() <= 0) return reject("limit validity must be positive");
    double amps = 0;
    std::optional<std::uint64_t> wire_seq;
    if (d.profile) {
      amps = profile_amps(d, limit.power_w);
      wire_seq = publish_profile_current(d, amps);
    } else {
      wire_seq = publish_limit(d, limit.power_w, static_cast<double>(limit.valid_for.count()));
    }
    if (!wire_seq) return reject("not connected to the MQTT broker " + uri_ + "; limit not sent");
    auto& p = d.pending[*wire_seq];
    p.gateway_seq = limit.seq;
    p.requested_a = amps;
    p.timer = std::make_unique<boost::asio::steady_timer>(core_, options_.ack_timeout);
    p.timer->async_wait([w = weak_from_this(), &d, ws = *wire_seq](boost::system::error_code ec) {
      auto self = w.lock();
      if (!self || ec || self->stopping_) return;
      self->on_ack_timeout(d, ws);
    });
  }

  std::optional<std::uint64_t> publish_limit(Device& d, double power_w, double valid_for_s) {
    if (!connected_ || !client_) return std::nullopt;
    const std::uint64_t seq = ++wire_seq_;
    const std::string payload = mqtt::encode_limit({seq, power_w, valid_for_s});
    try {
      client_->publish(mqtt::device_topic(options_.topic_prefix, DeviceKind::charger, d.id, "limit"), payload.data(),
                       payload.size(), 1, false);
    } catch (const ::mqtt::exception& e) {
      spdlog::warn("mqtt publish failed charger={} error={}", q(d.id), q(e.what()));
      return std::nullopt;
    }
    return seq;
  }

  // Whole amps, never rounded up past the limit; below the pile's minimum it pauses (0 A), as
  // IEC 61851-1 allows no PWM duty cycle under 6 A.
  static double profile_amps(const Device& d, double power_w) {
    double amps = std::floor(current_a_at_nominal(power_w, std::max(1, d.caps.phases)) + 1e-9);
    amps = std::min(amps, std::floor(d.caps.max_current_a + 1e-9));
    return amps < d.caps.min_current_a ? 0.0 : amps;
  }

  // 0 A pauses: by the enable point where the profile pauses that way (then it alone is sent),
  // else as a 0 A current. Going on, the enable point is switched on with the current, in one
  // payload when both share a topic (a claim replaces the one before it).
  std::optional<std::uint64_t> publish_profile_current(Device& d, double amps) {
    if (!connected_ || !client_) return std::nullopt;
    const ProfileState& st = *d.profile;
    std::vector<std::pair<std::string, nlohmann::json>> messages;  // topic, document
    auto add = [&](const MqttPointDef& w, const nlohmann::json& value) {
      for (auto& [topic, doc] : messages)
        if (topic == w.topic && !w.json_path.empty()) return mqtt::set_value(doc, w.json_path, value);
      nlohmann::json doc;
      if (w.json_path.empty()) doc = value;
      else mqtt::set_value(doc, w.json_path, value);
      messages.emplace_back(w.topic, std::move(doc));
    };
    if (st.enable) {
      const char* on = amps > 0 ? "true" : "false";
      auto mapped = st.enable->value_map.find(on);
      add(*st.enable, mapped != st.enable->value_map.end() ? nlohmann::json(mapped->second) : nlohmann::json(amps > 0));
    }
    if (!st.enable || amps > 0) {
      const MqttPointDef& w = st.set_current;
      const double raw = w.scale != 0 ? amps / w.scale : amps;
      add(w, nlohmann::json(static_cast<long long>(std::llround(raw))));
    }
    try {
      for (const auto& [topic, doc] : messages) {
        const std::string payload = doc.is_string() ? doc.get<std::string>() : doc.dump();
        client_->publish(topic, payload.data(), payload.size(), 1, false);
      }
    } catch (const ::mqtt::exception& e) {
      spdlog::warn("mqtt publish failed charger={} error={}", q(d.id), q(e.what()));
      return std::nullopt;
    }
    return ++wire_seq_;
  }

  void on_ack(Device& d, const mqtt::AckMessage& ack) {
    auto it = d.pending.find(ack.seq);
    if (it == d.pending.end()) {
      spdlog::debug("mqtt ack ignored charger={} seq={} reason={}", q(d.id), ack.seq,
                    q("not pending (late or duplicate)"));
      return;
    }
    it->second.timer->cancel();
    const std::uint64_t gateway_seq = it->second.gateway_seq;
    const auto failsafe = it->second.failsafe;
    d.pending.erase(it);
    if (failsafe) return on_failsafe_ack(d, *failsafe, ack);
    if (events_.limit_ack) events_.limit_ack(d.id, LimitAck{gateway_seq, ack.accepted, ack.applied_w, ack.error});
  }

  // ---- failsafe settings (core)

  void send_failsafe(Device& d) {
    FailsafeState& fs = *d.failsafe;
    if (fs.in_flight || fs.confirmed == fs.wanted || !connected_ || !client_) return;
    const std::uint64_t seq = ++wire_seq_;
    const std::string payload = mqtt::encode_failsafe(
        {seq, fs.wanted.current_a, static_cast<double>(fs.wanted.timeout.count())});
    try {
      client_->publish(mqtt::device_topic(options_.topic_prefix, DeviceKind::charger, d.id, "failsafe"), payload.data(),
                       payload.size(), 1, false);
    } catch (const ::mqtt::exception& e) {
      spdlog::warn("mqtt publish failed charger={} error={}", q(d.id), q(e.what()));
      return;
    }
    fs.in_flight = true;
    auto& p = d.pending[seq];
    p.failsafe = fs.wanted;
    p.timer = std::make_unique<boost::asio::steady_timer>(core_, options_.ack_timeout);
    p.timer->async_wait([w = weak_from_this(), &d, seq](boost::system::error_code ec) {
      auto self = w.lock();
      if (!self || ec || self->stopping_) return;
      self->on_ack_timeout(d, seq);
    });
  }

  // The pile may round down (a timeout it cannot hold, a current below its minimum pauses), but
  // an answer above what was sent would leave more load than the failsafe budget counts.
  static std::string check_failsafe_answer(const FailsafeSettings& sent, const mqtt::AckMessage& ack) {
    if (!ack.accepted) return "pile refused its failsafe settings: " + ack.error;
    if (std::isfinite(ack.applied_current_a) && ack.applied_current_a > sent.current_a + 1e-6)
      return "pile acknowledged a failsafe current of " + number_text(ack.applied_current_a) + " A, above the " +
             number_text(sent.current_a) + " A sent";
    if (std::isfinite(ack.applied_timeout_s) && ack.applied_timeout_s > static_cast<double>(sent.timeout.count()) + 1e-6)
      return "pile acknowledged a failsafe timeout of " + number_text(ack.applied_timeout_s) + " s, above the " +
             std::to_string(sent.timeout.count()) + " s sent";
    if (!std::isfinite(ack.applied_current_a) || !std::isfinite(ack.applied_timeout_s))
      return "failsafe acknowledgement without applied_current_a and applied_timeout_s (an answer to a limit?)";
    return {};
  }

  void on_failsafe_ack(Device& d, const FailsafeSettings& sent, const mqtt::AckMessage& ack) {
    FailsafeState& fs = *d.failsafe;
    fs.in_flight = false;
    if (const std::string why = check_failsafe_answer(sent, ack); !why.empty()) {
      ++d.health.errors;
      d.health.last_error = why;
      spdlog::error("mqtt failsafe not set charger={} current_a={} timeout_s={} error={} action={}", q(d.id),
                    sent.current_a, sent.timeout.count(), q(why),
                    q("the pile may draw more than the failsafe budget counts when the gateway stops; "
                      "check its firmware, it is sent again when the pile reconnects"));
      emit_health(d);
      return;
    }
    fs.confirmed = sent;
    spdlog::info("mqtt failsafe set charger={} current_a={} timeout_s={}", q(d.id), ack.applied_current_a,
                 ack.applied_timeout_s);
    send_failsafe(d);  // changed while this one was on its way
  }

  void on_ack_timeout(Device& d, std::uint64_t wire_seq) {
    auto it = d.pending.find(wire_seq);
    if (it == d.pending.end()) return;
    const std::uint64_t gateway_seq = it->second.gateway_seq;
    const bool failsafe = it->second.failsafe.has_value();
    d.pending.erase(it);
    ++d.health.timeouts;
    const std::string why = "no acknowledgement within " + seconds_text(options_.ack_timeout) + " s";
    if (failsafe) {
      d.failsafe->in_flight = false;
      d.health.last_error = "failsafe settings: " + why;
      spdlog::error("mqtt failsafe not acknowledged charger={} error={} action={}", q(d.id), q(why),
                    q("sent again when the pile reconnects"));
      emit_health(d);
      return;
    }
    d.health.last_error = why;
    spdlog::warn("mqtt limit not acknowledged charger={} seq={} error={}", q(d.id), gateway_seq, q(why));
    if (events_.limit_ack) events_.limit_ack(d.id, LimitAck{gateway_seq, false, kNotMeasured, why});
    emit_health(d);
  }

  // ---- health (core)

  // Transport durations are real time; the Clock may run faster (demo), so scale to its time.
  Duration scaled(std::chrono::milliseconds real) const {
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(real.count() * clock_.speed()));
  }

  void refresh(Device& d) {
    std::string reason;
    if (!connected_)
      reason = "gateway not connected to the MQTT broker " + uri_ + (last_failure_.empty() ? "" : ": " + last_failure_);
    else if (d.online_flag == false)
      reason = d.profile ? "device announced offline on " + d.profile->availability.topic + " (e.g. its last will)"
                         : "device announced offline (online=false, e.g. its last will)";
    else if (!d.last_status)
      reason = "no status received yet";
    else if (const auto stale = d.stale_after.count() > 0 ? d.stale_after : options_.stale_after;
             clock_.monotonic() - *d.last_status > scaled(stale))
      reason = "no status for more than " + seconds_text(stale) + " s";
    const bool online = reason.empty();
    if (online == d.health.online && reason == d.offline_reason) return;
    const bool changed = online != d.health.online;
    d.health.online = online;
    d.offline_reason = reason;
    if (!online) d.health.last_error = reason;
    else if (changed) d.health.last_error.clear();
    if (changed)
      spdlog::info("mqtt device {} {}={}{}", online ? "online" : "offline",
                   d.kind == DeviceKind::charger ? "charger" : "meter", q(d.id), online ? "" : " reason=" + q(reason));
    emit_health(d);
    // A pile that was away may have rebooted with its factory failsafe: tell it again.
    if (d.failsafe && !online) {
      // An answer still owed is not coming from a pile that is away; it is asked afresh on return.
      d.failsafe->confirmed.reset();
      d.failsafe->in_flight = false;
      std::erase_if(d.pending, [](auto& entry) {
        if (entry.second.failsafe) entry.second.timer->cancel();
        return entry.second.failsafe.has_value();
      });
    } else if (d.failsafe && changed) {
      send_failsafe(d);
    }
  }

  void refresh_all() {
    for (auto* map : {&chargers_, &meters_})
      for (auto& [id, d] : *map) refresh(*d);
  }

  void emit_health(Device& d) {
    d.reported_errors = d.health.errors;
    d.reported_dropped = d.health.dropped;
    if (events_.health) events_.health(d.id, d.health);
  }

  void schedule_sweep() {
    const auto period = std::max<std::chrono::milliseconds>(50ms, options_.stale_after / 4);
    sweep_timer_.expires_after(period);
    sweep_timer_.async_wait([w = weak_from_this()](boost::system::error_code ec) {
      auto self = w.lock();
      if (!self || ec || self->stopping_) return;
      self->refresh_all();
      for (auto* map : {&self->chargers_, &self->meters_})
        for (auto& [id, d] : *map)
          if (d->health.errors != d->reported_errors || d->health.dropped != d->reported_dropped) self->emit_health(*d);
      self->schedule_sweep();
    });
  }

  boost::asio::any_io_executor core_;
  const Clock& clock_;
  MqttOptions options_;
  DeviceEvents events_;
  std::string host_port_, uri_;
  std::map<std::string, std::unique_ptr<Device>> chargers_, meters_;
  std::map<std::string, Device*> profile_topics_;  // profile chargers' read and ack topics; immutable after start()
  // Declared before the client so it outlives it: Paho may still hold a pending connect.
  ConnectListener connect_listener_{*this};
  std::unique_ptr<::mqtt::async_client> client_;
  boost::asio::steady_timer reconnect_timer_, sweep_timer_;
  std::chrono::milliseconds backoff_{0};
  std::atomic<bool> connected_{false};
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  bool failure_logged_ = false;
  std::string last_failure_;             // why the last connection attempt failed; empty once connected
  std::future<void> probe_;              // the TLS failure probe under way, if any
  std::uint64_t wire_seq_ = 0;
};

MqttDevices::MqttDevices(boost::asio::any_io_executor core, const Clock& clock, MqttOptions options, DeviceEvents events)
    : impl_(std::make_shared<Impl>(std::move(core), clock, std::move(options), std::move(events))) {}

MqttDevices::~MqttDevices() { impl_->shutdown(); }

std::shared_ptr<ChargerDriver> MqttDevices::add_charger(const std::string& id, const Capabilities& caps,
                                                       std::optional<FailsafeSettings> failsafe) {
  // docs/mqtt-protocol.md: a 0 W limit pauses, a lapsed limit falls back to the pile's failsafe
  // power, and the status carries current_a per phase.
  Capabilities declared = caps;
  declared.pause = PauseMethod::protocol;
  declared.failsafe = true;
  declared.measures_phase_currents = true;
  auto& device = impl_->add(Impl::DeviceKind::charger, id, declared);
  if (failsafe) device.failsafe = Impl::FailsafeState{*failsafe, std::nullopt, false};
  return std::make_shared<Impl::Charger>(impl_, device);
}

void MqttDevices::set_failsafe(const std::string& charger_id, const FailsafeSettings& failsafe) {
  auto it = impl_->chargers_.find(charger_id);
  if (it == impl_->chargers_.end() || it->second->profile)
    throw std::invalid_argument("MQTT charger \"" + charger_id + "\" is not a native charger of this connection");
  auto& d = *it->second;
  if (!d.failsafe) d.failsafe = Impl::FailsafeState{};
  d.failsafe->wanted = failsafe;
  if (d.health.online) impl_->send_failsafe(d);
}

std::string mosquitto_acl_for_profile_charger(const std::string& charger_id, const DeviceProfile& profile,
                                              const std::string& base_topic, const std::string& gateway_user) {
  if (!profile.mqtt)
    throw std::invalid_argument("charger \"" + charger_id + "\": profile '" + profile.id + "' has no [mqtt] section");
  const MqttDef& def = *profile.mqtt;
  const std::string base = base_topic.empty() ? def.base_topic : base_topic;
  std::set<std::string> published, commanded;  // by the pile; sets: one line per topic
  for (const auto& [name, p] : def.read) published.insert(mqtt::expand_base(p.topic, base));
  if (!def.ack_topic.empty()) published.insert(mqtt::expand_base(def.ack_topic, base));
  if (!def.availability.topic.empty()) published.insert(mqtt::expand_base(def.availability.topic, base));
  for (const auto& [name, p] : def.write) commanded.insert(mqtt::expand_base(p.topic, base));
  std::string out = "# charger " + charger_id + " (profile " + profile.id + ") on its own topics\nuser " + gateway_user + "\n";
  for (const auto& t : published) out += "topic read " + t + "\n";
  for (const auto& t : commanded) out += "topic write " + t + "\n";
  out += "user " + charger_id + "\n";
  for (const auto& t : published) out += "topic write " + t + "\n";
  for (const auto& t : commanded) out += "topic read " + t + "\n";
  return out;
}

std::shared_ptr<ChargerDriver> MqttDevices::add_profile_charger(const std::string& id, const DeviceProfile& profile,
                                                               const std::string& base_topic, const Capabilities& caps) {
  return std::make_shared<Impl::Charger>(impl_, impl_->add_profile(id, profile, base_topic, caps));
}

std::shared_ptr<MeterDriver> MqttDevices::add_meter(const std::string& id) {
  return std::make_shared<Impl::Meter>(impl_, impl_->add(Impl::DeviceKind::meter, id, Capabilities{}));
}

void MqttDevices::start() { impl_->start(); }
void MqttDevices::stop() { impl_->stop(); }
bool MqttDevices::connected() const { return impl_->connected_; }
const MqttOptions& MqttDevices::options() const { return impl_->options_; }

}  // namespace orderly::drivers
