#pragma once
// The failsafe budget: what the site would draw if the gateway died now. Every pile then runs on
// its own: at its failsafe current once its limit lapses, or at its maximum if it has no
// failsafe. Added to the non-EV (base) load peak, that load must fit every limit: the
// transformer, each [[capacity]] node and each configured phase limit. One pure function, used
// by `orderly check-config` (from the file) and by the live status (from the running
// controller), so both say the same thing (docs/control.md, "Failsafe budget").
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orderly/gateway/config.hpp"

namespace orderly::gateway {

// What one pile draws when the gateway is gone.
struct FailsafePileLoad {
  std::string id;
  double kw = 0;                 // on the limit it is listed under (a phase: its share)
  bool has_failsafe = false;     // false: counted at its maximum power
};

// One limit: its load if the gateway died now.
struct FailsafeLimitBudget {
  std::string limit;             // "transformer 'T1'", "transformer 'T1' phase A", "capacity node 'feeder-1'"
  double limit_kw = 0;
  // The non-EV load counted; nullopt when no figure is known for this limit (then only the
  // piles are counted, and the caller must say so).
  std::optional<double> base_kw;
  double piles_kw = 0;
  std::vector<FailsafePileLoad> piles;  // every pile loading this limit, largest first
  // The fewest piles, largest first, whose failsafe load covers the excess: fixing those (a
  // failsafe, or a lower failsafe current) brings the limit back within bounds. Empty when it fits.
  std::vector<FailsafePileLoad> to_fix;

  double load_kw() const { return base_kw.value_or(0.0) + piles_kw; }
  double excess_kw() const { return load_kw() - limit_kw; }
  bool over() const { return excess_kw() > 1e-9; }
};

struct FailsafeBudget {
  std::vector<FailsafeLimitBudget> limits;  // transformer, its phases (when configured), nodes in config order, each followed by its phases
  bool over() const;
};

// Where the base load figure comes from; what the outputs say about it.
struct FailsafeBaseLoad {
  // Peak non-EV load on the transformer, kW; nullopt = unknown (piles alone are counted).
  std::optional<double> transformer_peak_kw;
  // The same per phase A, B, C; each nullopt = transformer_peak_kw x the transformer's
  // base_load_phase_split (the planner's convention when no per-phase base load is known).
  // Phase limits of [[capacity]] nodes split node_peak_kw by the node's split the same way.
  std::array<std::optional<double>, 3> phase_peak_kw{};
  // Non-EV load peak below a [[capacity]] node by id; a node not listed (or no function) takes
  // its assumed load (assumed_load_kw, or its share of transformer_peak_kw: meter_check.hpp);
  // with neither figure it counts its piles only.
  std::function<std::optional<double>(const std::string& node_id)> node_peak_kw;
};

// The load on a pile if the gateway died now, kW: failsafe_current_a at the nominal voltage on
// each of its phases, capped at the pile's maximum; its maximum without a failsafe.
double failsafe_kw(const ChargerConfig& charger, bool has_failsafe);

// `has_failsafe(charger)`: whether the pile honours a failsafe current (from its driver or
// profile). `transformer_limit_kw` overrides the configured limit (a DR event in force).
FailsafeBudget failsafe_budget(const Config& config, const std::function<bool(const ChargerConfig&)>& has_failsafe,
                               const FailsafeBaseLoad& base, std::optional<double> transformer_limit_kw = std::nullopt);

// "3.6 kW p-101 (failsafe 6 A x 1 phase), 7 kW p-104 (no failsafe: its maximum)" for messages.
std::string describe_piles(const std::vector<FailsafePileLoad>& piles);

}  // namespace orderly::gateway
