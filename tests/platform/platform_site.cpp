#include "platform_site.hpp"

#include "config_text.hpp"

namespace orderly::test {
namespace {

using namespace std::chrono;

std::string site_text(const TempDir& dir, const std::string& platform_url, const std::string& platform_keys) {
  write_file(dir / "platform.secrets", kPlatformSecretsToml);
  return R"(
[site]
name = "Platform test community"
[site.transformer]
id = "tx"
limit_kw = 100

)" + gateway::testing::kSimpleTariff + R"(

[web]
listen = "127.0.0.1"

[platform]
enabled = true
url = ")" + platform_url + R"("
operator_id = "MA59J8YL8"
station_id = "S-001"
secret_file = ")" + (dir / "platform.secrets").string() + R"("
push_interval_s = 60
retry_initial_s = 10
retry_max_s = 1800
)" + platform_keys + R"(
[store]
path = ")" + (dir / "orderly.db").string() + R"("

[log]
level = "warn"

)" + gateway::testing::kMeterAndTwoHomePiles;
}

}  // namespace

PlatformSite::PlatformSite(PlatformSimOptions sim, const std::string& platform_keys, const std::string& url)
    : platform(std::move(sim)) {
  platform.start();
  const auto with_sim = [&](std::string text) {
    const std::string sim_at = "127.0.0.1:" + std::to_string(platform.port());
    for (auto at = text.find("{sim}"); at != std::string::npos; at = text.find("{sim}")) text.replace(at, 5, sim_at);
    return text;
  };
  config = gateway::parse_config(site_text(dir, url.empty() ? platform.url() : with_sim(url), with_sim(platform_keys)),
                                 "platform_site.toml");
  config.web.port = 0;
  start_gateway();
}

PlatformSite::~PlatformSite() { stop_gateway(); }

void PlatformSite::start_gateway() {
  gateway::GatewayOptions options;
  options.platform.poll_interval = milliseconds(20);
  options.platform.uniform01 = [] { return 0.5; };
  options.devices = [this](const drivers::DeviceEvents& events) {
    events_ = events;
    std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> out;
    for (const char* id : {"p1", "p2"}) out[id] = std::make_shared<IdleCharger>(id);
    return out;
  };
  gateway_ = std::make_unique<RunningGateway>(clock, config, std::move(options));
}

void PlatformSite::stop_gateway() { gateway_.reset(); }

void PlatformSite::online(const std::string& charger_id) {
  on_core(gateway_->io(), [&] {
    drivers::Health h;
    h.online = true;
    h.last_good = clock.now();
    events_.health(charger_id, h);
  });
  car(charger_id, drivers::ChargerState::unplugged, 0, 0);
}

void PlatformSite::car(const std::string& charger_id, drivers::ChargerState state, double power_w, double energy_wh) {
  on_core(gateway_->io(), [&] {
    drivers::ChargerSnapshot s;
    s.at = clock.now();
    s.state = state;
    s.power_w = power_w;
    s.session_energy_wh = energy_wh;
    events_.charger_snapshot(charger_id, s);
  });
}

void PlatformSite::meter(double power_kw) {
  on_core(gateway_->io(), [&] {
    drivers::MeterSnapshot m;
    m.at = clock.now();
    m.power_w = power_kw * 1000;
    events_.meter_snapshot("tx-meter", m);
  });
}

std::string PlatformSite::session(const std::string& charger_id, double energy_kwh) {
  using drivers::ChargerState;
  car(charger_id, ChargerState::plugged, 0, 0);
  double wh = 0;
  while (wh < energy_kwh * 1000) {
    clock.advance(minutes(5));
    wh = std::min(wh + 7000.0 * 5 / 60, energy_kwh * 1000);
    car(charger_id, ChargerState::charging, 7000, wh);
    meter(20 + 7);
  }
  const std::string id = on_core(gateway_->io(), [&] { return gateway().sessions().open_session(charger_id)->id; });
  car(charger_id, ChargerState::unplugged, 0, wh);
  return id;
}

std::vector<gateway::OutboxEntry> PlatformSite::outbox() const {
  return gateway::Store(config.store.path).outbox(100000);
}

nlohmann::json PlatformSite::status() {
  return on_core(gateway_->io(), [&] { return gateway().status(); });
}

}  // namespace orderly::test
