// How long the MQTT side takes: decoding one charger status on Paho's thread, and a limit's
// round trip through a real local Mosquitto to a simulated pile and back as a LimitAck on the
// core io_context.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <stdexcept>

#include "orderly/drivers/mqtt.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"

namespace orderly::drivers {
namespace {

using namespace std::chrono_literals;

void BM_DecodeChargerStatus(benchmark::State& state) {
  ChargerSnapshot s;
  s.at = TimePoint(std::chrono::hours(500000));
  s.state = ChargerState::charging;
  s.power_w = 3680;
  s.current_a = {16, kNotMeasured, kNotMeasured};
  s.voltage_v = {230, kNotMeasured, kNotMeasured};
  s.session_energy_wh = 1234.5;
  s.total_energy_wh = 987654;
  s.applied_limit_w = 3680;
  const std::string payload = mqtt::encode_charger_status(s);
  for (auto _ : state) {
    auto d = mqtt::decode_charger_status(payload, {7000, 32});
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
}
BENCHMARK(BM_DecodeChargerStatus);

void BM_LimitRoundTripThroughMosquitto(benchmark::State& state) {
  auto broker = sim::MosquittoBroker::start();
  boost::asio::io_context io;
  RealClock clock;
  std::uint64_t acked = 0;
  bool online = false;
  DeviceEvents events;
  events.limit_ack = [&](const std::string&, const LimitAck& a) {
    if (!a.accepted) throw std::runtime_error("limit refused: " + a.error);
    acked = a.seq;
  };
  events.health = [&](const std::string&, const Health& h) { online = h.online; };
  MqttOptions o;
  o.port = broker->port();
  MqttDevices devices(io.get_executor(), clock, o, events);
  auto charger = devices.add_charger("bench", Capabilities{});
  devices.start();
  sim::SimChargerOptions so;
  so.id = "bench";
  so.port = broker->port();
  sim::SimMqttCharger sim(so, clock);
  sim.start();
  auto work = boost::asio::make_work_guard(io);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(devices.connected() && sim.connected() && online)) {
    io.run_for(10ms);
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("gateway or simulated pile did not connect");
  }
  std::uint64_t seq = 0;
  for (auto _ : state) {
    charger->apply_limit(PowerLimit{static_cast<double>(2000 + seq % 4000), 60s, ++seq});
    while (acked != seq) io.run_one_for(1s);
  }
  devices.stop();
}
BENCHMARK(BM_LimitRoundTripThroughMosquitto)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace orderly::drivers

BENCHMARK_MAIN();
