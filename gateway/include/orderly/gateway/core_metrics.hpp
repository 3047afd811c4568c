#pragma once
// What the core loop counts for GET /metrics and GET /healthz (gateway/src/health_metrics.cpp,
// docs/web-api.md). Touched on the core thread only, like the rest of the gateway's state.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "orderly/base/clock.hpp"
#include "orderly/base/prometheus.hpp"
#include "orderly/gateway/store.hpp"

namespace orderly::gateway {

struct CoreMetrics {
  // How late the control timer's handler ran: the time ready work waits for the core loop.
  prometheus::Histogram loop_latency{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
  prometheus::Histogram planner{{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  // The heartbeat: the last control step, on the injected monotonic clock. {} = none yet.
  MonoPoint last_step{};
  std::uint64_t control_steps = 0;
  std::uint64_t planner_failures = 0;
  std::map<std::string, std::uint64_t> replans;                      // reason -> plans made for it
  std::map<std::tuple<std::string, std::string>, std::uint64_t> limits_sent;  // (link, reason)
  std::map<std::tuple<std::string, std::string>, std::uint64_t> reports;      // (link, type)
  // The store writer's last report: a failed one means records were given up on and nothing
  // committed since.
  std::optional<CommitReport> last_commit;
  std::uint64_t failed_reports = 0;
};

}  // namespace orderly::gateway
