#pragma once
// The sender of the city platform's outbox (docs/platform-api.md). The core writes each message
// into the platform_outbox table in the transaction of the data it reports (store.hpp
// OutboxMessage); this thread, beside the core loop, reads the outbox on a connection of its own
// and POSTs the oldest undelivered message of each kind to <url>/<kind> with libcurl, so the
// kinds are each delivered in order and a stuck one does not hold the others. A message is
// marked delivered only when the platform answers Ret=0; otherwise it waits an exponentially
// growing, jittered delay. The Bearer token comes from query_token, is renewed before it
// expires and on a 4002 answer (then the message is sent once more at once).
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/store.hpp"

namespace orderly::gateway {

// The wait before the next attempt after `failed_attempts` (>= 1) failures: initial doubled per
// failure up to `max`, then "equal jitter": half of it fixed, half scaled by `uniform01` in
// [0, 1), so a hundred gateways coming back from one outage do not retry in step.
Duration retry_delay(int failed_attempts, Duration initial, Duration max, double uniform01);

struct PlatformSenderOptions {
  // The jitter's source; empty: a generator seeded from std::random_device.
  std::function<double()> uniform01;
  // Real time between looks at the outbox when nothing pokes the sender.
  std::chrono::milliseconds poll_interval{500};
  // The outbox's state after every pass, on the sender's thread (post it to the core loop).
  std::function<void(const OutboxStatus&)> on_status;
};

class PlatformSender {
 public:
  // Opens its own connection to the store (throws StoreError). Nothing is sent before start().
  PlatformSender(const Clock& clock, const Config& config, PlatformSenderOptions options = {});
  ~PlatformSender();
  PlatformSender(const PlatformSender&) = delete;
  PlatformSender& operator=(const PlatformSender&) = delete;

  void start();
  // New messages were committed: look at the outbox now rather than at the next poll.
  void poke();
  // Aborts the request under way (its message stays queued, no attempt counted) and joins.
  // Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::gateway
