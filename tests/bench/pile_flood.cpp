// The piles of the MQTT load run (mqtt_load.sh): N idle piles in Orderly's native protocol, each
// publishing its status once a second, and a transformer meter doing the same, through a real
// Mosquitto. Real piles are one client each; here the piles share a few connections (each pile's
// own topics, so the gateway sees N devices), because 2,000 client threads would load the
// machine more than the gateway being measured.
//   pile_flood <host> <port> <piles> <connections> <seconds>
#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"

namespace mqtt = orderly::drivers::mqtt;
using orderly::drivers::mqtt::DeviceKind;

namespace {

const std::string kPrefix = "orderly/v1";  // [mqtt] topic_prefix's default

std::string pile_id(int i) {
  char id[16];
  std::snprintf(id, sizeof id, "p-%04d", i + 1);
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: pile_flood <host> <port> <piles> <connections> <seconds>\n");
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::atoi(argv[2]);
  const int piles = std::atoi(argv[3]);
  const int connections = std::atoi(argv[4]);
  const int seconds = std::atoi(argv[5]);
  mosquitto_lib_init();
  const orderly::RealClock clock;
  std::atomic<long> published{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      mosquitto* m = mosquitto_new(("orderly-flood-" + std::to_string(c)).c_str(), true, nullptr);
      if (!m || mosquitto_connect(m, host.c_str(), port, 30) != MOSQ_ERR_SUCCESS || mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
        ++failed;
        return;
      }
      std::vector<int> mine;
      for (int i = c; i < piles; i += connections) mine.push_back(i);
      for (int i : mine) {
        const std::string topic = mqtt::device_topic(kPrefix, DeviceKind::charger, pile_id(i), "online");
        mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(mqtt::kOnline.size()), mqtt::kOnline.data(), 1, true);
      }
      // Each connection spreads its piles over the second, as independent piles would be.
      const auto start = std::chrono::steady_clock::now();
      for (int s = 0; s < seconds; ++s) {
        for (std::size_t k = 0; k < mine.size(); ++k) {
          std::this_thread::sleep_until(start + std::chrono::seconds(s) +
                                        std::chrono::microseconds(1'000'000 * static_cast<long>(k) / static_cast<long>(mine.size())));
          orderly::drivers::ChargerSnapshot snapshot;
          snapshot.at = clock.now();
          snapshot.state = orderly::drivers::ChargerState::unplugged;
          snapshot.power_w = 0;
          snapshot.total_energy_wh = 1000.0 * mine[k];
          const std::string payload = mqtt::encode_charger_status(snapshot);
          const std::string topic = mqtt::device_topic(kPrefix, DeviceKind::charger, pile_id(mine[k]), "status");
          if (mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 0, false) ==
              MOSQ_ERR_SUCCESS)
            ++published;
        }
        if (c == 0) {
          orderly::drivers::MeterSnapshot meter;
          meter.at = clock.now();
          meter.power_w = 300'000;
          const std::string payload = mqtt::encode_meter_status(meter);
          const std::string topic = mqtt::device_topic(kPrefix, DeviceKind::meter, "tm-1", "status");
          mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 0, false);
        }
      }
      mosquitto_disconnect(m);
      mosquitto_loop_stop(m, false);
      mosquitto_destroy(m);
    });
  }
  for (auto& t : threads) t.join();
  mosquitto_lib_cleanup();
  std::printf("pile_flood: piles=%d connections=%d seconds=%d published=%ld failed_connections=%d\n", piles,
              connections, seconds, published.load(), failed.load());
  return failed ? 1 : 0;
}
