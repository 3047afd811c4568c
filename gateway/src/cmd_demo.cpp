// `orderly demo`: the real gateway (drivers -> gateway -> scheduler -> drivers, web) on an
// embedded simulated community: a private Mosquitto broker, simulated chargers (each its own
// MQTT client, like real piles, and every eighth an OCPP 1.6J pile on the gateway's WebSocket),
// a simulated transformer meter, and cars arriving and leaving as residents' cars do, on an
// accelerated clock.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "cli_args.hpp"
#include "demo_community.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/sim/ocpp_charge_point.hpp"
#include "orderly/sim/timeline.hpp"
#include "orderly/gateway/commands.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/log.hpp"
#include "run_loop.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

struct DemoOptions {
  double speed = 60;
  int chargers = 24;
  int port = 8080;
  std::string listen = "127.0.0.1";
  std::string broker;            // host:port of an existing broker; empty = start our own
  std::filesystem::path db;      // empty = a fresh file in a temp directory
  std::uint64_t seed = 20260105;
  std::string log_level = "info";
};

void demo_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: orderly demo [--speed N] [--chargers N] [--port P] [--listen ADDR]\n"
               "                    [--broker HOST:PORT] [--db FILE] [--seed N] [--log-level L]\n"
               "  --speed N       simulated seconds per real second (default 60: a day in 24 min)\n"
               "  --chargers N    simulated piles, 1..500 (default 24)\n"
               "  --port P        web UI port (default 8080)\n"
               "  --broker H:P    use this MQTT broker instead of starting a private mosquitto\n"
               "  --db FILE       SQLite file (default: a fresh file in a temp directory)\n");
}

// Parses a numeric option value, saying which option was wrong.
template <class T>
T number(const std::string& opt, const std::string& v, T lo, T hi) {
  const auto x = parse_number<T>(v);
  if (!x || *x < lo || *x > hi)
    throw std::invalid_argument(opt + ": expected a number between " + std::to_string(lo) + " and " +
                                std::to_string(hi) + ", got '" + v + "'");
  return *x;
}

// Every eighth pile speaks OCPP 1.6J (the sixth of each eight: a shared pile, so the card
// presented at it names the session's owner); the demo's others speak MQTT.
bool is_ocpp_pile(int index) { return index % 8 == 5; }
std::string demo_ocpp_password(const std::string& id) { return "demo-" + id; }

// The demo community as configuration text, so the demo goes through exactly the parser and
// validation an installer's file does.
std::string demo_config(const DemoOptions& o, const std::string& mqtt_host, int mqtt_port,
                        const std::filesystem::path& db) {
  std::ostringstream t;
  t << "[site]\nname = \"幸福里小区 1# 台区 (demo)\"\nutc_offset = \"+08:00\"\n"
    << "[site.transformer]\nid = \"transformer\"\nlimit_kw = 360\n\n"
    // Illustrative two-part TOU tariff in the style of Chinese provincial residential/commercial
    // schedules (valley 23:00-07:00); the numbers are examples, not any grid company's prices.
    << "[[tariff.schedule]]\neffective_from = 2020-01-01\n"
    << "[[tariff.schedule.season]]\nname = \"all-year\"\nmonths = [1,2,3,4,5,6,7,8,9,10,11,12]\n"
    << "sharp_months = [7, 8, 12, 1]\n"
    << "[tariff.schedule.season.price_yuan_per_kwh]\nsharp = 1.25\npeak = 1.02\nflat = 0.62\nvalley = 0.30\n"
    << "[tariff.schedule.season.hours]\nsharp = [\"19:00-21:00\"]\npeak = [\"08:00-11:00\", \"18:00-23:00\"]\n"
    << "flat = [\"07:00-08:00\", \"11:00-18:00\"]\nvalley = [\"23:00-07:00\"]\n\n"
    << "[mqtt]\nhost = \"" << mqtt_host << "\"\nport = " << mqtt_port << "\nclient_id = \"orderly-demo-gateway\"\n\n"
    << "[control]\nslot_minutes = 15\ncontrol_period_s = 5\n"
    // At 60x, 60 simulated seconds pass every real second: a validity of 10 simulated minutes
    // gives the gateway 10 real seconds to refresh each limit.
    << "limit_validity_s = 600\nfailsafe_current_a = 6\nfailsafe_timeout_s = 1200\nsafety_margin_kw = 5\n\n"
    << "[web]\nlisten = \"" << o.listen << "\"\nport = " << o.port << "\n\n"
    << "[store]\npath = \"" << db.string() << "\"\n\n"
    << "[log]\nlevel = \"" << o.log_level << "\"\nsink = \"stdout\"\n\n"
    << "[[meter]]\nid = \"tm-1\"\nname = \"1# 配变总表\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n";
  static const char* phases[] = {"A", "B", "C"};
  for (int i = 0; i < o.chargers; ++i) {
    char id[16], household[32];
    std::snprintf(id, sizeof id, "p-%02d", i + 1);
    // Buildings 1-4, units 1-2, floors from 1: "3-1-1201" = building 3, unit 1, flat 1201.
    std::snprintf(household, sizeof household, "%d-%d-%d%02d", i % 4 + 1, i / 4 % 2 + 1, i / 8 % 30 + 1, i % 2 + 1);
    const bool ocpp = is_ocpp_pile(i);
    const bool shared = ocpp || i % 3 == 2;  // OCPP piles take RFID cards: shared ones
    t << "\n[[charger]]\nid = \"" << id << "\"\nname = \"" << (shared ? std::string("公共桩 ") + id : household)
      << "\"\nkind = \"" << (shared ? "shared" : "private") << "\"\n";
    if (!shared) t << "household = \"" << household << "\"\n";
    t << "phase = \"" << phases[i % 3] << "\"\nmax_power_kw = 7\n";
    if (ocpp) {
      // At 60x a simulated minute is a real second: meter values once a real second.
      t << "driver = \"ocpp\"\nocpp_password = \"" << demo_ocpp_password(id) << "\"\nocpp_meter_interval_s = 60\n";
    } else {
      t << "driver = \"mqtt\"\n";
    }
  }
  return t.str();
}

// The community's visits as the outside world plays them: cars plugged into and out of the
// simulated piles on the accelerated clock.
// What the timeline does to a pile, whatever it speaks.
struct DemoPile {
  std::function<void(double energy_wh, int visit)> plug_in;
  std::function<void()> unplug;
};

std::vector<sim::Timeline::Event> community_events(const std::vector<DemoPile>& piles,
                                                   const std::vector<demo::Visit>& visits) {
  std::vector<sim::Timeline::Event> events;
  int visit = 0;
  for (const auto& v : visits) {
    const DemoPile& pile = piles[static_cast<std::size_t>(v.charger)];
    events.push_back({v.arrive, [&pile, energy_wh = v.energy_wh, n = visit++] { pile.plug_in(energy_wh, n); }});
    events.push_back({v.depart, [&pile] { pile.unplug(); }});
  }
  return events;
}

}  // namespace

namespace {

// The demo's people, made afresh each run (new passwords, so a --db kept between runs never has
// a known one): an operator and the resident of the first private pile. Each line has the
// password and a one-time login link.
void print_demo_accounts(Accounts& accounts, const Config& config, const std::string& url) {
  RealClock human;
  std::vector<Account> people = {{"operator", web::Role::site_operator, "", {}}};
  for (const auto& c : config.chargers) {
    if (c.kind == ChargerKind::private_pile) {
      people.push_back({"resident-" + c.household, web::Role::resident, c.household, {}});
      break;
    }
  }
  for (const auto& a : people) {
    const std::string password = accounts.find(a.name) ? accounts.reset(a.name)
                                                       : accounts.add(a.name, a.role, a.household, human.now());
    const std::string link = accounts.create_link({"login", a.name, ""}, "demo", human.now() + std::chrono::hours(24));
    std::printf("  %-8s user %-20s password %s   or open %s/#login=%s\n", std::string(web::to_string(a.role)).c_str(),
                a.name.c_str(), password.c_str(), url.c_str(), link.c_str());
  }
}

}  // namespace

int cmd_demo(const Args& args) {
  DemoOptions o;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--help" || a == "-h") {
        demo_usage(stdout);
        return 0;
      }
      if (i + 1 >= args.size()) throw std::invalid_argument(a + ": unknown option or missing value");
      const std::string& v = args[++i];
      if (a == "--speed") o.speed = number<double>(a, v, 1, 3600);
      else if (a == "--chargers") o.chargers = number<int>(a, v, 1, 500);
      else if (a == "--port") o.port = number<int>(a, v, 1, 65535);
      else if (a == "--listen") o.listen = v;
      else if (a == "--broker") o.broker = v;
      else if (a == "--db") o.db = v;
      else if (a == "--seed") o.seed = number<std::uint64_t>(a, v, 0, UINT64_MAX);
      else if (a == "--log-level") o.log_level = v;
      else throw std::invalid_argument(a + ": unknown option");
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "orderly demo: %s\n", e.what());
    demo_usage(stderr);
    return 2;
  }

  // Start the simulated day at 16:00 local time today, so the evening peak comes within minutes.
  const auto offset = hours(8);
  const auto today = floor<days>(SysClock::now() + offset);
  const TimePoint start = TimePoint(today) + hours(16) - offset;
  AcceleratedClock clock(start, o.speed);

  std::unique_ptr<sim::MosquittoBroker> broker;
  std::string host = "127.0.0.1";
  int mqtt_port = 0;
  if (o.broker.empty()) {
    broker = sim::MosquittoBroker::start();
    mqtt_port = broker->port();
  } else {
    const auto colon = o.broker.rfind(':');
    host = o.broker.substr(0, colon);
    mqtt_port = colon == std::string::npos ? 1883 : number<int>("--broker", o.broker.substr(colon + 1), 1, 65535);
  }

  std::filesystem::path db = o.db;
  std::filesystem::path tmp;
  if (db.empty()) {
    tmp = std::filesystem::temp_directory_path() / ("orderly-demo-" + std::to_string(::getpid()));
    std::filesystem::create_directories(tmp);
    db = tmp / "orderly.db";
  }

  Config config = parse_config(demo_config(o, host, mqtt_port, db), "<demo>");
  init_logging(config.log);

  boost::asio::io_context io;
  GatewayOptions go;
  go.demo_speed = o.speed;
  const std::filesystem::path built_pages = ORDERLY_WEB_ASSETS_DIR;
  go.static_dir = std::filesystem::exists(built_pages) ? built_pages : "/usr/share/orderly/web";
  Gateway gateway(io, clock, config, go);
  gateway.start();

  std::vector<std::unique_ptr<sim::SimMqttCharger>> piles;
  std::vector<std::unique_ptr<sim::SimOcppChargePoint>> ocpp_piles;
  std::vector<DemoPile> demo_piles;
  for (const auto& c : config.chargers) {
    if (c.driver == DriverKind::ocpp) {
      sim::SimOcppOptions so;
      so.charge_point_id = c.ocpp_id;
      so.port = gateway.web_port();
      so.password = c.resolved_ocpp_password();
      so.max_power_w = c.max_power_kw * 1000;
      auto* pile = ocpp_piles.emplace_back(std::make_unique<sim::SimOcppChargePoint>(so, clock)).get();
      pile->start();
      // Residents' cards: a handful per shared pile, so statements show several owners.
      demo_piles.push_back({[pile](double energy_wh, int visit) {
                              pile->plug_in(energy_wh, 7000);
                              pile->present_card("CARD-" + std::to_string(1001 + visit % 7));
                            },
                            [pile] { pile->unplug(); }});
      continue;
    }
    sim::SimChargerOptions so;
    so.id = c.id;
    so.host = host;
    so.port = static_cast<std::uint16_t>(mqtt_port);
    so.max_power_w = c.max_power_kw * 1000;
    auto* pile = piles.emplace_back(std::make_unique<sim::SimMqttCharger>(so, clock)).get();
    pile->start();
    demo_piles.push_back({[pile](double energy_wh, int) { pile->plug_in(energy_wh, 7000); }, [pile] { pile->unplug(); }});
  }
  // The meter adds the MQTT piles' power from their topics; the OCPP piles' it is told here.
  sim::SimMqttMeter meter("tm-1", host, static_cast<std::uint16_t>(mqtt_port), clock, [&ocpp_piles, offset](TimePoint t) {
    double w = demo::base_load_w(t, offset, 300'000);
    for (const auto& p : ocpp_piles) w += p->power_w();
    return w;
  });
  meter.start();

  std::optional<sim::Timeline> community;
  community.emplace(clock, community_events(demo_piles, demo::generate_visits(o.chargers, 7000, start, start + days(60),
                                                                              offset, o.seed)));

  const std::string url = "http://" + std::string(o.listen == "0.0.0.0" ? "127.0.0.1" : o.listen) + ":" +
                          std::to_string(gateway.web_port());
  std::printf("Orderly demo: %d simulated chargers, %.0fx speed, broker %s:%d, database %s\n"
              "Open %s in a browser and log in (Ctrl-C stops):\n",
              o.chargers, o.speed, host.c_str(), mqtt_port, db.c_str(), url.c_str());
  print_demo_accounts(gateway.accounts(), config, url);
  std::fflush(stdout);

  run_until_signalled(io, gateway);

  community.reset();
  meter.stop();
  for (auto& p : piles) p->stop();
  for (auto& p : ocpp_piles) p->stop();
  if (!tmp.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
  }
  return EXIT_SUCCESS;
}

}  // namespace orderly::gateway
